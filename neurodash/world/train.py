"""Remake the shipped models: `python -m neurodash.world.train cnn|clip [--steps N] [--out DIR]`.

CPU only, seeded, with a tqdm progress bar; fresh world images every step (the world is infinite),
drawn from training seeds below 100_000 so the evaluation seed (quality.EVAL_SEED) stays unseen.
Writes <out>/shapes_cnn.safetensors or <out>/tiny_clip.safetensors plus a .record.json with the
command, run time and held-out quality. The default out is assets/.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from neurodash.assets import ASSETS

DEFAULTS = {
    "cnn": {"steps": 1500, "batch": 64, "lr": 2e-3, "eval_n": 2000},
    "clip": {"steps": 1000, "batch": 96, "lr": 2e-3, "eval_n": 2000},
}
TRAIN_SEED_BASE = 10_000


def _batches(seed: int, batch: int, steps: int, masks: bool = False):
    """Fresh world batches: step s draws images [s*batch, (s+1)*batch) of training seed."""
    from .sampling import sample

    for step in range(steps):
        yield sample(batch, TRAIN_SEED_BASE + seed, start=step * batch, masks=masks)


def _save(state: dict, path: Path, dtype=None) -> None:
    from safetensors.torch import save_file

    tensors = {k: (v.detach().to(dtype) if dtype is not None and v.is_floating_point() else v.detach())
               .contiguous() for k, v in state.items()}
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp))
    tmp.chmod(0o644)
    tmp.replace(path)


def _write_record(path: Path, record: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)


def _schedule(opt, steps: int, lr: float):
    warm = max(1, steps // 20)
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(s, steps) / steps)))


def train_cnn(out: Path, *, steps: int, batch: int, lr: float, seed: int, eval_n: int,
              init: Path | None = None) -> dict:
    from .cnn import ShapesCNN, images_to_tensor
    from .quality import cnn_attribute_accuracy
    from .vocabulary import vocabulary

    torch.manual_seed(seed)
    model = ShapesCNN(len(vocabulary()))
    if init is not None:  # continue from earlier weights (safetensors only)
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(init), device="cpu"))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = _schedule(opt, steps, lr)
    model.train()
    bar = tqdm(_batches(seed, batch, steps), total=steps, desc="train shapes CNN", unit="step")
    for images, labels, _ in bar:
        logits = model(images_to_tensor(images))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(labels).float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.4f}")
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    _save(model.state_dict(), out / "shapes_cnn.safetensors")
    return {"quality": cnn_attribute_accuracy(model, n=eval_n) if eval_n else None}


def train_clip(out: Path, *, steps: int, batch: int, lr: float, seed: int, eval_n: int,
               init: Path | None = None) -> dict:
    from .clip import clip_quality_and_save, create_untrained_clip, images_to_clip_input, training_texts

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model, tokenizer = create_untrained_clip()
    if init is not None:  # continue from earlier weights (safetensors only)
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(init), device="cpu"))
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0.0}], lr=lr)
    sched = _schedule(opt, steps, lr)
    model.train()
    bar = tqdm(_batches(seed, batch, steps), total=steps, desc="train tiny CLIP", unit="step")
    for images, labels, _ in bar:
        texts, truth = training_texts(labels, rng)
        img = model.encode_image(images_to_clip_input(model, images), normalize=True)
        txt = model.encode_text(tokenizer(texts), normalize=True)
        logits = model.logit_scale.exp().clamp(max=100) * img @ txt.T + model.logit_bias
        # Sigmoid (SigLIP-style) image-text loss: every (image, text) pair is a true or false
        # statement about the image. Many captions are true of many images, which a softmax over
        # the batch handles badly; per-pair targets use all of them.
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(truth).float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.4f}", scale=f"{model.logit_scale.exp().item():.1f}")
    model.eval()
    return clip_quality_and_save(model, out, eval_n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neurodash.world.train", description=__doc__.split("\n")[0])
    parser.add_argument("which", choices=sorted(DEFAULTS), help="which shipped model to remake")
    parser.add_argument("--steps", type=int, help="optimisation steps (default: the shipped run's)")
    parser.add_argument("--batch", type=int, help="images per step")
    parser.add_argument("--lr", type=float, help="peak learning rate")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and training images")
    parser.add_argument("--eval-n", type=int, help="fresh images for the held-out quality (0: skip)")
    parser.add_argument("--out", type=Path, default=ASSETS, help="output folder (default: assets/)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--init", type=Path, help="start from these weights (.safetensors) instead of scratch")
    args = parser.parse_args(argv)
    cfg = dict(DEFAULTS[args.which])
    for key in ("steps", "batch", "lr", "eval_n"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    if cfg["steps"] < 1 or cfg["batch"] < 2:
        parser.error("--steps must be >= 1 and --batch >= 2")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    fn = train_cnn if args.which == "cnn" else train_clip
    if args.init is not None and not args.init.is_file():
        parser.error(f"--init {args.init}: no such file")
    result = fn(args.out, seed=args.seed, init=args.init, **cfg)
    seconds = time.perf_counter() - start
    record = {"command": "python -m neurodash.world.train " + " ".join(argv if argv is not None else sys.argv[1:]),
              "config": cfg, "seed": args.seed, "init": str(args.init) if args.init else None, "train_seconds": round(seconds, 1),
              "torch": torch.__version__, "threads": args.threads, **result}
    name = "shapes_cnn" if args.which == "cnn" else "tiny_clip"
    _write_record(args.out / f"{name}.record.json", record)
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
