"""Remake the shipped models: `python -m neurodash.world.train cnn|clip [--steps N] [--out DIR]`.

CPU only, seeded, with a tqdm progress bar; fresh world images every step (the world is infinite,
and rendering a batch costs a few % of a step), drawn from training seeds below 100_000 with the
training mix (more object kinds per image than the probe) so the evaluation seed
(quality.EVAL_SEED) stays unseen. Every --checkpoint-every steps the weights and optimiser state go
to <out>/<name>.partial.*; --resume continues from there after a cut-off. At the end it writes
<out>/shapes_cnn.safetensors or <out>/tiny_clip.safetensors plus a .record.json with the command,
run time and held-out quality. The default out is assets/.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from neurodash.assets import ASSETS

from . import CNN_DEFAULT_LAYER
from .store import FILE_STEMS, read_record, save_weights, write_record

DEFAULTS = {
    "cnn": {"steps": 2400, "batch": 64, "lr": 3e-3, "eval_n": 5000},
    "clip": {"steps": 1800, "batch": 64, "lr": 2e-3, "eval_n": 3000},
}
TRAIN_SEED_BASE = 10_000
POS_WEIGHT = 3.0  # kinds are rare even in the training mix; weigh their positives up (BCE)


def _batches(seed: int, batch: int, first: int, steps: int, with_attributes: bool = False):
    """Fresh training batches: step s draws images [s*batch, (s+1)*batch) of the training seed."""
    from .sampling import sample, sample_with_attributes

    for step in range(first, steps):
        if with_attributes:
            yield sample_with_attributes(batch, TRAIN_SEED_BASE + seed, start=step * batch, mix="train")
        else:
            yield sample(batch, TRAIN_SEED_BASE + seed, start=step * batch, masks=False, mix="train")


def _schedule(opt, steps: int):
    warm = max(1, steps // 20)
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: float(min(1.0, (s + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(s, steps) / steps))))


class Checkpoint:
    """Weights + optimiser + scheduler + step under <out>/<stem>.partial.{safetensors,pt}."""

    def __init__(self, out: Path, stem: str):
        self.weights = out / f"{stem}.partial.safetensors"
        self.state = out / f"{stem}.partial.pt"

    def save(self, model, opt, sched, step: int) -> None:
        save_weights(model.state_dict(), self.weights)
        tmp = self.state.with_name(self.state.name + ".tmp")
        torch.save({"opt": opt.state_dict(), "sched": sched.state_dict(), "step": step}, tmp)
        tmp.replace(self.state)

    def load(self, model, opt, sched) -> int:
        from safetensors.torch import load_file

        if not (self.weights.is_file() and self.state.is_file()):
            return 0
        model.load_state_dict(load_file(str(self.weights), device="cpu"))
        # numpy scalars in scheduler state (older checkpoints) are plain data: allow them
        with torch.serialization.safe_globals([np._core.multiarray.scalar, np.dtype, type(np.dtype("float64"))]):
            state = torch.load(self.state, weights_only=True)
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        return int(state["step"])

    def remove(self) -> None:
        self.weights.unlink(missing_ok=True)
        self.state.unlink(missing_ok=True)


def _run(model, opt, steps: int, batches, loss_fn, ckpt: Checkpoint, every: int, resume: bool, desc: str):
    sched = _schedule(opt, steps)
    first = ckpt.load(model, opt, sched) if resume else 0
    model.train()
    bar = tqdm(batches(first), total=steps, initial=first, desc=desc, unit="step", mininterval=10)
    for step, batch in enumerate(bar, start=first):
        loss, info = loss_fn(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.4f}", **info, refresh=False)
        if every and (step + 1) % every == 0 and step + 1 < steps:
            ckpt.save(model, opt, sched, step + 1)
    model.eval()
    return first


def _init_from(model, init: Path | None) -> None:
    if init is not None:  # continue from earlier weights (safetensors only)
        from safetensors.torch import load_file

        state = load_file(str(init), device="cpu")
        if "max_pool" in model.state_dict():  # the run's --pool decides, not the init's
            state["max_pool"] = model.state_dict()["max_pool"].clone()
        model.load_state_dict(state)


def train_cnn(out: Path, *, steps: int, batch: int, lr: float, seed: int, eval_n: int,
              init: Path | None = None, checkpoint_every: int = 200, resume: bool = False,
              pool: str = "mean") -> dict:
    from .cnn import ShapesCNN, images_to_tensor
    from .quality import cnn_attribute_accuracy, cnn_class_accuracy, unit_selectivity
    from .vocabulary import vocabulary

    torch.manual_seed(seed)
    model = ShapesCNN(len(vocabulary()), pool=pool)
    _init_from(model, init)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    pos_weight = torch.full((len(vocabulary()),), POS_WEIGHT)

    def loss_fn(b):
        images, labels, _ = b
        logits = model(images_to_tensor(images))
        return torch.nn.functional.binary_cross_entropy_with_logits(
            logits, torch.from_numpy(labels).float(), pos_weight=pos_weight), {}

    ckpt = Checkpoint(out, FILE_STEMS["cnn"])
    out.mkdir(parents=True, exist_ok=True)
    first = _run(model, opt, steps, lambda s: _batches(seed, batch, s, steps), loss_fn, ckpt,
                 checkpoint_every, resume, "train shapes CNN")
    save_weights(model.state_dict(), out / f"{FILE_STEMS['cnn']}.safetensors")
    ckpt.remove()
    if not eval_n:
        return {"resumed_at_step": first, "quality": None}
    per_class = cnn_class_accuracy(model, n=eval_n)
    return {"resumed_at_step": first, "quality": cnn_attribute_accuracy(model, n=eval_n),
            "per_class": per_class, "selectivity": unit_selectivity(model, CNN_DEFAULT_LAYER, n=eval_n)}


def train_clip(out: Path, *, steps: int, batch: int, lr: float, seed: int, eval_n: int,
               init: Path | None = None, checkpoint_every: int = 200, resume: bool = False) -> dict:
    from .clip import create_untrained_clip, images_to_clip_input, training_texts

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model, tokenizer = create_untrained_clip()
    _init_from(model, init)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0.0}], lr=lr)

    def loss_fn(b):
        images, kinds, attributes = b
        texts, truth = training_texts(kinds, attributes, rng)
        img = model.encode_image(images_to_clip_input(model, images), normalize=True)
        txt = model.encode_text(tokenizer(texts), normalize=True)
        logits = model.logit_scale.exp().clamp(max=100) * img @ txt.T + model.logit_bias
        # Sigmoid (SigLIP-style) image-text loss: every (image, text) pair is a true or false
        # statement about the image. Many captions are true of many images, which a softmax over
        # the batch handles badly; per-pair targets use all of them.
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(truth).float())
        return loss, {"scale": f"{model.logit_scale.exp().item():.1f}"}

    ckpt = Checkpoint(out, FILE_STEMS["clip"])
    out.mkdir(parents=True, exist_ok=True)
    first = _run(model, opt, steps, lambda s: _batches(seed, batch, s, steps, with_attributes=True), loss_fn,
                 ckpt, checkpoint_every, resume, "train tiny CLIP")
    return {"resumed_at_step": first, **clip_quality_and_save(model, out, eval_n)}


def clip_quality_and_save(model, out: Path, eval_n: int) -> dict:
    """Save the trained weights (safetensors, float16: half the bytes, loads into float32 params)
    under out/, reload them through open_clip as load_clip does, and measure the concept AUROC of
    the reloaded model (object kinds; attributes beside them)."""
    from .clip import load_clip
    from .quality import clip_concept_auroc

    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{FILE_STEMS['clip']}.safetensors"
    save_weights(model.state_dict(), path, dtype=torch.float16)
    Checkpoint(out, FILE_STEMS["clip"]).remove()
    if not eval_n:
        return {"quality": None}
    return {"quality": clip_quality(path, eval_n)}


def clip_quality(path: Path, eval_n: int) -> dict:
    """Concept AUROC of the tiny CLIP at `path`, loaded through open_clip as load_clip does."""
    from .clip import load_clip
    from .quality import clip_concept_auroc

    reloaded, _, tokenizer = load_clip(path)
    auroc = clip_concept_auroc(reloaded, tokenizer, n=eval_n)
    attributes = clip_concept_auroc(reloaded, tokenizer, n=eval_n, concept_set="attributes")
    values = np.array(list(auroc.values()))
    return {"mean_auroc": float(np.nanmean(values)), "min_auroc": float(np.nanmin(values)),
            "per_concept": auroc, "attributes_mean_auroc": float(np.nanmean(list(attributes.values()))),
            "attributes": attributes}


def remeasure(which: str, out: Path, eval_n: int) -> dict:
    """The record's held-out quality measured again for the weights in `out` on today's world
    (after the world's probe changed), keeping how they were trained."""
    from .quality import cnn_attribute_accuracy, cnn_class_accuracy, unit_selectivity

    stem = FILE_STEMS[which]
    weights = out / f"{stem}.safetensors"
    if which == "clip":
        return {"quality": clip_quality(weights, eval_n)}
    from .cnn import load_cnn

    model = load_cnn(weights)
    return {"quality": cnn_attribute_accuracy(model, n=eval_n), "per_class": cnn_class_accuracy(model, n=eval_n),
            "selectivity": unit_selectivity(model, CNN_DEFAULT_LAYER, n=eval_n)}


def main(argv: list[str] | None = None) -> int:
    import json

    parser = argparse.ArgumentParser(prog="python -m neurodash.world.train", description=__doc__.split("\n")[0])
    parser.add_argument("which", choices=sorted(DEFAULTS), help="which shipped model to remake")
    parser.add_argument("--steps", type=int, help="optimisation steps (default: the shipped run's)")
    parser.add_argument("--batch", type=int, help="images per step")
    parser.add_argument("--lr", type=float, help="peak learning rate")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and training images")
    parser.add_argument("--eval-n", type=int, help="fresh images for the held-out quality (0: skip)")
    parser.add_argument("--out", type=Path, default=ASSETS, help="output folder (default: assets/)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--init", type=Path, help="start from these weights (.safetensors) instead of scratch")
    parser.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints (0: none)")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/<name>.partial.* if present")
    parser.add_argument("--remeasure", action="store_true",
                        help="train nothing: measure the weights in --out again on today's world and "
                             "update their record's quality (how they were trained stays)")
    parser.add_argument("--pool", choices=("mean", "max"), default="mean",
                        help="cnn only: how the head reads each unit's map (max: its peak)")
    args = parser.parse_args(argv)
    cfg = dict(DEFAULTS[args.which])
    for key in ("steps", "batch", "lr", "eval_n"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    if cfg["steps"] < 1 or cfg["batch"] < 2:
        parser.error("--steps must be >= 1 and --batch >= 2")
    if args.init is not None and not args.init.is_file():
        parser.error(f"--init {args.init}: no such file")
    torch.set_num_threads(args.threads)
    stem = FILE_STEMS[args.which]
    record_path = args.out / f"{stem}.record.json"
    if args.remeasure:
        from datetime import date

        record = read_record(record_path)
        record.update(remeasure(args.which, args.out, cfg["eval_n"]))
        record["remeasured"] = {"command": "python -m neurodash.world.train " + " ".join(
            argv if argv is not None else sys.argv[1:]), "date": date.today().isoformat()}
        write_record(record_path, record)
        print(json.dumps({k: v for k, v in record.items() if k not in ("per_class", "quality")}, indent=2)[:2000])
        return 0
    start = time.perf_counter()
    extra = {"pool": args.pool} if args.which == "cnn" else {}
    fn = train_cnn if args.which == "cnn" else train_clip
    result = fn(args.out, seed=args.seed, init=args.init, checkpoint_every=args.checkpoint_every,
                resume=args.resume, **extra, **cfg)
    seconds = time.perf_counter() - start
    record = {"command": "python -m neurodash.world.train " + " ".join(argv if argv is not None else sys.argv[1:]),
              "config": cfg, "seed": args.seed, "init": str(args.init) if args.init else None,
              "train_seconds": round(seconds, 1), "torch": torch.__version__, "threads": args.threads, **result}
    write_record(record_path, record)
    print(json.dumps({k: v for k, v in record.items() if k not in ("per_class",)}, indent=2)[:4000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
