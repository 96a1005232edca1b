"""Generator backends for SIEVE's Verify step, behind one interface.

`get_generator(name, **options)` returns an object with
`.render(concept, m, seed, progress=None, cancel=None) -> uint8 (m, H, W, 3)`:

- ``world``: the shapes-world concept renderer. Exact (every image shows the concept), instant,
  offline; the default. Prototypical renders (2-3 medium-sized instances) unless ``hard=True`` (one).
- ``diffusers``: a text-to-image pipeline (Stable Diffusion 1.x/2.x/SDXL/SD-Turbo through
  ``AutoPipelineForText2Image``) loaded from a local directory or a model id through the Hugging Face
  cache: a cached id loads without the network; a missing one downloads with progress when online,
  and offline (``--offline`` / ``NEURODASH_OFFLINE=1``) one line names the file and the folder.
  CUDA and fp16 when present.

Image i of a render depends only on (seed, i), so a render of m images is a prefix of a render of
more. Every failure a user can cause or meet (missing weights, out of memory, cancel) surfaces as a
`GeneratorError` with a readable message (a cancel raises `neurodash.progress.Cancelled`); nothing
else is touched.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Optional, Protocol

import numpy as np

from neurodash.progress import Cancelled, Progress, check, report

GENERATORS = ("world", "diffusers")


class GeneratorError(RuntimeError):
    """A generator could not produce images; the message says why and what to do."""


class Generator(Protocol):
    name: str

    def identity(self) -> dict: ...

    def render(self, concept: str, m: int, seed: int = 0, progress: Optional[Progress] = None,
               cancel: Any = None) -> np.ndarray: ...


def image_seed(seed: int, i: int) -> int:
    """Seed of image i of a render: a hash of (seed, i), so renders with different seeds never overlap."""
    return int(np.random.SeedSequence([int(seed), int(i)]).generate_state(1)[0])


# --------------------------------------------------------------------------- world


class WorldGenerator:
    """The shapes world's renderer: m fresh scenes that show the concept. By default prototypical
    (2-3 medium-sized instances, like a detector's top images); hard=True: one instance of random size."""

    name = "world"
    EDITION = 3  # 2: object kinds, prototypical renders; 3: the balanced probe, medium prototypes

    def __init__(self, size: int = 64, chunk: int = 64, hard: bool = False):
        self.size = int(size)
        self.chunk = int(chunk)
        self.hard = bool(hard)

    def identity(self) -> dict:
        return {"generator": "world", "size": self.size, "edition": self.EDITION,
                "render": "hard" if self.hard else "prototypical"}

    def prompt(self, concept: str) -> str:
        return concept

    def render(self, concept: str, m: int, seed: int = 0, progress: Optional[Progress] = None,
               cancel: Any = None) -> np.ndarray:
        from neurodash import world

        try:
            world.set_of(concept)
        except ValueError:
            raise GeneratorError(
                f"the world renderer knows no concept {concept!r}; it renders the shapes-world "
                f"vocabulary ({', '.join(world.vocabulary())}) and its attributes "
                f"({', '.join(world.vocabulary('attributes'))})") from None
        check(cancel)
        report(progress, 0.0, f"rendering {m} images of {concept!r}")
        images, _, _ = world.render_concept(concept, int(m), seed=int(seed), size=self.size, hard=self.hard,
                                            masks=False)
        check(cancel)
        report(progress, 1.0, f"rendered {m} images of {concept!r}")
        return np.ascontiguousarray(images, dtype=np.uint8)


# --------------------------------------------------------------------------- diffusers

_PIPELINES: dict[tuple, Any] = {}
_PIPELINES_LOCK = threading.Lock()


def _is_oom(err: BaseException) -> bool:
    import torch

    if isinstance(err, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


class DiffusersGenerator:
    """Text-to-image with diffusers, from local weights only.

    model: a directory holding a diffusers pipeline (model_index.json) or a model id already in the
    Hugging Face cache. template: the prompt, with ``{}`` standing for the concept.
    """

    name = "diffusers"

    def __init__(self, model: str | Path | None = None, *, template: str = "a photo of {}",
                 steps: int = 25, guidance_scale: float = 7.5, height: Optional[int] = None,
                 width: Optional[int] = None, batch_size: int = 4, device: Optional[str] = None,
                 fp16: Optional[bool] = None, negative_prompt: Optional[str] = None):
        if model is None or str(model).strip() == "":
            raise GeneratorError(
                "the diffusers generator needs a model: a local pipeline directory or the id of a "
                "model already in the Hugging Face cache (nothing is downloaded)")
        if "{}" not in template:
            raise GeneratorError(f"the prompt template {template!r} has no '{{}}' for the concept")
        if steps < 1 or batch_size < 1:
            raise GeneratorError("steps and batch_size must be at least 1")
        self.model = str(model)
        self.template = template
        self.steps = int(steps)
        self.guidance_scale = float(guidance_scale)
        self.height, self.width = height, width
        self.batch_size = int(batch_size)
        self._device = device
        self._fp16 = fp16
        self.negative_prompt = negative_prompt

    # where and how it runs
    @property
    def device(self) -> str:
        if self._device is not None:
            return self._device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    @property
    def fp16(self) -> bool:
        return self.device.startswith("cuda") if self._fp16 is None else bool(self._fp16)

    def identity(self) -> dict:
        return {"generator": "diffusers", "model": self.model, "template": self.template,
                "steps": self.steps, "guidance_scale": self.guidance_scale, "height": self.height,
                "width": self.width, "negative_prompt": self.negative_prompt,
                # fp16 and fp32 renders differ in the last bits; keep them apart in the cache
                "fp16": self.fp16}

    def prompt(self, concept: str) -> str:
        return self.template.format(concept)

    def pipeline(self):
        """The loaded pipeline, shared between generators with the same (model, device, dtype)."""
        key = (self.model, self.device, self.fp16)
        with _PIPELINES_LOCK:
            if key not in _PIPELINES:
                _PIPELINES[key] = self._load()
            return _PIPELINES[key]

    def _load(self):
        import torch

        try:
            from diffusers import AutoPipelineForText2Image
        except ImportError as err:  # pragma: no cover - diffusers is in requirements.txt
            raise GeneratorError(f"diffusers is not installed: {err}") from err
        from neurodash import hub

        dtype = torch.float16 if self.fp16 else torch.float32
        local = Path(self.model).expanduser()
        is_dir = local.is_dir() or self.model.startswith((".", "/", "~")) or self.model.count("/") != 1
        try:
            if is_dir:
                pipe = AutoPipelineForText2Image.from_pretrained(
                    str(local), torch_dtype=dtype, local_files_only=True)
            else:  # a model id: the Hugging Face cache, downloading (with progress) only online
                pipe = AutoPipelineForText2Image.from_pretrained(
                    self.model, torch_dtype=dtype, cache_dir=hub.hf_cache_dir(),
                    local_files_only=hub.offline())
        except (OSError, ValueError, EnvironmentError) as err:
            if is_dir:
                raise GeneratorError(
                    f"no diffusers pipeline in {local} (it needs model_index.json and the "
                    f"component folders) ({type(err).__name__}: {str(err)[:200]})") from err
            why = None if hub.offline() else f"the download failed ({type(err).__name__})"
            raise GeneratorError(str(hub.missing(
                "model_index.json", hub.hf_repo_dir(self.model),
                f"https://huggingface.co/{self.model}", why))
                + "; a complete pipeline snapshot is needed there") from err
        try:
            pipe = pipe.to(self.device)
        except Exception as err:
            if _is_oom(err):
                raise GeneratorError(f"out of memory moving {self.model!r} to {self.device}") from err
            raise
        pipe.set_progress_bar_config(disable=True)
        if getattr(pipe, "safety_checker", None) is not None:
            # a safety checker blacks out images at random with respect to the neuron: that would
            # bias the Activation Rate downward, so renders are kept as generated
            pipe.safety_checker = None
        return pipe

    def render(self, concept: str, m: int, seed: int = 0, progress: Optional[Progress] = None,
               cancel: Any = None) -> np.ndarray:
        import torch

        m = int(m)
        if m < 1:
            raise GeneratorError("m must be at least 1")
        check(cancel)
        report(progress, 0.0, f"loading {self.model}")
        pipe = self.pipeline()
        prompt = self.prompt(concept)
        total = m * self.steps
        out: list[np.ndarray] = []
        for start in range(0, m, self.batch_size):
            count = min(self.batch_size, m - start)
            done_before = start * self.steps

            def on_step(_pipe, step, _timestep, kwargs, _count=count, _done=done_before):
                check(cancel)
                report(progress, (_done + (step + 1) * _count) / total,
                        f"{prompt!r}: image {start + 1}-{start + _count} of {m}, step {step + 1}/{self.steps}")
                return kwargs

            gens = [torch.Generator(device="cpu").manual_seed(image_seed(seed, start + j))
                    for j in range(count)]
            kwargs = dict(prompt=[prompt] * count, num_inference_steps=self.steps,
                          guidance_scale=self.guidance_scale, generator=gens, output_type="np",
                          callback_on_step_end=on_step)
            if self.negative_prompt:
                kwargs["negative_prompt"] = [self.negative_prompt] * count
            if self.height:
                kwargs["height"] = int(self.height)
            if self.width:
                kwargs["width"] = int(self.width)
            try:
                with torch.inference_mode():
                    images = pipe(**kwargs).images
            except (GeneratorError, Cancelled):
                raise
            except Exception as err:
                if _is_oom(err):
                    if self.device.startswith("cuda"):
                        torch.cuda.empty_cache()
                    raise GeneratorError(
                        f"out of memory generating {count} images with {self.model!r} on "
                        f"{self.device}: lower batch_size (now {self.batch_size}) or the resolution"
                    ) from err
                raise GeneratorError(f"{self.model!r} failed: {type(err).__name__}: {err}") from err
            arr = np.asarray(images, dtype=np.float32)
            out.append(np.clip(np.round(arr * 255.0), 0, 255).astype(np.uint8))
        report(progress, 1.0, f"rendered {m} images of {prompt!r}")
        return np.concatenate(out, axis=0)


def get_generator(name: str = "world", **options) -> Generator:
    """A generator by name ("world" or "diffusers") with its options."""
    if name == "world":
        allowed = {"size", "chunk", "hard"}
        unknown = set(options) - allowed
        if unknown:
            raise GeneratorError(f"the world generator takes no option(s) {sorted(unknown)}")
        return WorldGenerator(**options)
    if name == "diffusers":
        try:
            return DiffusersGenerator(**options)
        except TypeError as err:
            raise GeneratorError(f"bad diffusers option: {err}") from err
    raise GeneratorError(f"unknown generator {name!r}; choose one of {', '.join(GENERATORS)}")
