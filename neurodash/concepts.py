"""Concept sets (names) and concept activations (n×C in [0, 1]) for a probe.

Sets (NAMED_SETS, chosen by name), or a text file:
- "world": the shapes-world vocabulary;
- "imagenet": the 1000 ImageNet classes (assets/imagenet_classes.txt, in class-index order);
- "words-20k": CLIP-Dissect's 20k most common English words; "words-3k": the 3k common words SIEVE
  uses. Both from the ``wordfreq`` package's English frequency list (its data ships with the package,
  so offline works), keeping alphabetic words only (no digits, no contractions such as "don't");
- "broden:<folder>": the labels of a Broden dataset (its label.csv, see neurodash.broden);
- any other value: a text file, one concept a line (trimmed, blank and '#' lines dropped, exact
  duplicates after unicode NFC normalisation dropped, case kept: ImageNet has both "Cardigan" and
  "cardigan").

Activations:
- ground truth: the probe's own labels (world labels, or a labels CSV for a folder), bool;
- CLIP (any open_clip model, the shipped tiny CLIP included): cosine of image and prompt-averaged
  text embeddings, turned into [0, 1] by
    "softmax":  CLIP-Dissect's P(concept | image) = softmax over concepts of 10·cos;
    "sigmoid":  a per-concept calibrated sigmoid: cos is standardised over the probe and
                p = sigmoid(z − 2), so a concept is "present" (p ≥ 0.5) where its similarity is two
                standard deviations above its own mean on the probe.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np

from neurodash.assets import ASSETS
from neurodash.paths import regular_file

IMAGENET_FILE = ASSETS / "imagenet_classes.txt"

DEFAULT_TEMPLATES = ("a photo of a {}.", "a picture of a {}.", "an image showing a {}.", "{}")
CLIP_MODES = ("softmax", "sigmoid")
SIGMOID_SHIFT = 2.0


class ConceptError(ValueError):
    """A concept set or concept source cannot be used (the message says why)."""


# ---- concept sets ---------------------------------------------------------------------------------

def parse_concept_lines(lines) -> list[str]:
    out, seen = [], set()
    for raw in lines:
        name = unicodedata.normalize("NFC", raw.strip())
        if not name or name.startswith("#"):
            continue
        name = " ".join(name.split())  # inner runs of whitespace count as one space
        if name not in seen:  # exact after NFC: "Cardigan" (a dog) is not "cardigan" (a sweater)
            seen.add(name)
            out.append(name)
    return out


MAX_CONCEPT_FILE_BYTES = 50_000_000  # far above 20k words; /dev/zero or a disk image is refused


def read_concept_file(path) -> list[str]:
    path = regular_file(path, "concept file", ConceptError, kind="text file")
    if path.stat().st_size > MAX_CONCEPT_FILE_BYTES:
        raise ConceptError(f"concept file {path} is larger than {MAX_CONCEPT_FILE_BYTES:,} bytes")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise ConceptError(f"concept file {path} cannot be read ({err.strerror or err})") from err
    except UnicodeDecodeError as err:
        raise ConceptError(f"concept file {path} is not UTF-8 text ({err.reason})") from err
    names = parse_concept_lines(text.splitlines())
    if not names:
        raise ConceptError(f"concept file {path} has no concepts (one per line expected)")
    return names


NAMED_SETS = {
    "world": "the shapes-world vocabulary",
    "imagenet": "the 1000 ImageNet classes",
    "words-20k": "CLIP-Dissect's 20k most common English words (wordfreq)",
    "words-3k": "SIEVE's 3k common English words (wordfreq)",
    "broden:<folder>": "the labels of a Broden dataset (label.csv)",
}
WORD_SETS = {"words-20k": 20000, "words-3k": 3000}


def is_named_set(spec: str) -> bool:
    """True for a set chosen by name (not a file path), so it is never turned into a path."""
    return spec in NAMED_SETS or spec in WORD_SETS


def common_words(n: int) -> list[str]:
    """The n most frequent alphabetic English words of wordfreq's list, most frequent first."""
    import wordfreq
    words, size = [], int(n * 1.1) + 100
    while True:
        words = [w for w in wordfreq.top_n_list("en", size) if w.isalpha()]
        if len(words) >= n or size > 10 * n:
            return words[:n]
        size *= 2


def concept_set(spec: str) -> list[str]:
    """Names of a concept set: a named set (NAMED_SETS), "broden:<folder>", or a text-file path."""
    if spec == "world":
        from neurodash import world
        return list(world.vocabulary())
    if spec == "imagenet":
        return read_concept_file(IMAGENET_FILE)
    if spec in WORD_SETS:
        return common_words(WORD_SETS[spec])
    if spec.startswith("broden:"):
        from neurodash.broden import read_labels
        return [label.name for label in read_labels(spec.split(":", 1)[1])]
    return read_concept_file(spec)


# ---- ground truth ---------------------------------------------------------------------------------

def ground_truth(probe, names: list[str]) -> np.ndarray:
    """bool (n,C): the probe's labels, columns in the order of ``names``."""
    if probe.labels is None:
        raise ConceptError("this probe has no labels: use a CLIP concept source, or give the "
                           "folder a labels CSV")
    index = {n: i for i, n in enumerate(probe.label_names)}
    unknown = [n for n in names if n not in index]
    if unknown:
        raise ConceptError(f"{len(unknown)} concept(s) have no ground-truth labels in this probe, "
                           f"e.g. {', '.join(unknown[:3])}; use the probe's own concept set")
    return np.asarray(probe.labels)[:, [index[n] for n in names]].astype(bool)


# ---- CLIP -----------------------------------------------------------------------------------------

class ClipScorer:
    """Image and text embeddings of one open_clip model (normalised), batched, on its device."""

    def __init__(self, model, tokenizer, *, device=None):
        import torch
        self.model, self.tokenizer = model, tokenizer
        self.device = device or next(model.parameters()).device
        visual = model.visual
        size = visual.image_size
        self.size = int(size[0] if isinstance(size, (tuple, list)) else size)
        mean = getattr(visual, "image_mean", None) or (0.48145466, 0.4578275, 0.40821073)
        std = getattr(visual, "image_std", None) or (0.26862954, 0.26130258, 0.27577711)
        self.mean = torch.tensor(mean, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=self.device).view(1, 3, 1, 1)

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        import torch
        from neurodash.models import make_to_input
        x = make_to_input(self.size, self.device)(images)
        with torch.inference_mode():
            e = self.model.encode_image((x - self.mean) / self.std).float()
        return torch.nn.functional.normalize(e, dim=-1).cpu().numpy()

    def encode_texts(self, names: list[str], templates=DEFAULT_TEMPLATES, batch: int = 256) -> np.ndarray:
        """(C,D): per concept, the normalised mean of its normalised prompt embeddings."""
        import torch
        prompts = [t.format(n) for n in names for t in templates]
        outs = []
        with torch.inference_mode():
            for s in range(0, len(prompts), batch):
                tokens = self.tokenizer(prompts[s:s + batch]).to(self.device)
                e = self.model.encode_text(tokens).float()
                outs.append(torch.nn.functional.normalize(e, dim=-1))
        e = torch.cat(outs).view(len(names), len(templates), -1).mean(1)
        return torch.nn.functional.normalize(e, dim=-1).cpu().numpy()


def clip_activations(cos: np.ndarray, mode: str = "softmax", temperature: float = 10.0) -> np.ndarray:
    """Cosine similarities (n,C) -> concept activations in [0,1] (see module doc)."""
    cos = np.asarray(cos, dtype=np.float64)
    if mode == "softmax":
        z = temperature * cos
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    if mode == "sigmoid":
        sd = cos.std(axis=0, keepdims=True)
        z = (cos - cos.mean(axis=0, keepdims=True)) / np.where(sd > 0, sd, 1.0)
        return (1.0 / (1.0 + np.exp(-(z - SIGMOID_SHIFT)))).astype(np.float32)
    raise ConceptError(f"unknown CLIP mode {mode!r}; choose one of {', '.join(CLIP_MODES)}")


def load_clip_source(source: str, weights=None):
    """(model, tokenizer) for a concept source "clip" (the shipped tiny CLIP, or other weights for
    its architecture) or "open_clip:<arch>" (weights: a local checkpoint)."""
    if source == "clip":
        from neurodash.world import clip as world_clip
        if weights is not None:
            from neurodash.models import ModelError, load_state_dict_file
            try:
                load_state_dict_file(weights)  # refuses pickles, .npz, folders, naming the file
            except ModelError as err:
                raise ConceptError(f"--clip-weights: {err}") from err
        try:
            model, _, tokenizer = world_clip.load_clip(weights)
        except (FileNotFoundError, ValueError, RuntimeError) as err:
            where = f"CLIP weights {weights}: " if weights is not None else ""
            raise ConceptError(where + str(err).splitlines()[0]) from err
        return model.eval(), tokenizer
    if source.startswith("open_clip:"):
        from neurodash.models import load_open_clip
        model, _, tokenizer = load_open_clip(source.split(":", 1)[1], weights)
        return model, tokenizer
    raise ConceptError(f"unknown concept source {source!r}; use ground_truth, clip or open_clip:<arch>")


class TemplatedClip:
    """A CLIP scorer whose text side averages a fixed set of prompt templates: the interface SIEVE
    uses (encode_images(uint8 images), encode_texts(names)), both L2-normalised."""

    def __init__(self, scorer: ClipScorer, templates, key: str = ""):
        self.scorer, self.templates, self.key = scorer, tuple(templates), key

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        return self.scorer.encode_images(images)

    def encode_texts(self, names) -> np.ndarray:
        return self.scorer.encode_texts(list(names), self.templates)


def clip_key(source: str = "clip", weights=None) -> str:
    """What identifies the CLIP of a concept source, without loading it."""
    return f"{source}:{weights}"


@functools.lru_cache(maxsize=4)
def clip_for_source(source: str = "clip", weights: str | None = None) -> TemplatedClip:
    """The CLIP of a concept source ("clip": the shipped tiny CLIP; "open_clip:<arch>"), loaded once."""
    model, tokenizer = load_clip_source(source, weights)
    # the tiny CLIP learnt captions that are bare concept names; real CLIPs do better with
    # CLIP-style prompts
    templates = ("{}",) if source == "clip" else DEFAULT_TEMPLATES
    return TemplatedClip(ClipScorer(model, tokenizer), templates, clip_key(source, weights))


def clip_concepts(probe, names: list[str], scorer: ClipScorer, *, mode: str = "softmax",
                  templates=DEFAULT_TEMPLATES, batch: int = 128, progress=None) -> np.ndarray:
    """float32 (n,C) CLIP concept activations of every probe image."""
    text = scorer.encode_texts(names, templates)
    return clip_activations(clip_cosines(probe, text, scorer, batch=batch, progress=progress), mode)


def clip_cosines(probe, text: np.ndarray, scorer: ClipScorer, *, batch: int = 128, start: int = 0,
                 stop: int | None = None, progress=None) -> np.ndarray:
    """float32 (m,C) cosines of probe images start..stop-1 with the text embeddings (C,D); ranges
    that start on a multiple of ``batch`` see the same batches as the whole probe does."""
    stop = len(probe) if stop is None else stop
    m = stop - start
    cos = np.zeros((m, len(text)), np.float32)
    for first, images in probe.chunks(batch, start=start, stop=stop):
        row = first - start
        cos[row:row + len(images)] = scorer.encode_images(images) @ text.T
        if progress:
            progress(min(1.0, (row + len(images)) / m), "CLIP concept activations")
    return cos
