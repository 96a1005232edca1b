"""The diffusers backend end to end on a tiny randomly initialised pipeline (CPU, 2 steps).

Everything is built here from small configs and files this test writes: no network, no weights.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"),  # diffusers deprecations, not ours
              pytest.mark.filterwarnings("ignore:The `local_dir_use_symlinks`:UserWarning")]

from neurodash.generate import GeneratorError, get_generator
from neurodash.progress import Cancelled, Job


def _bytes_to_unicode() -> list[str]:
    # the byte-level alphabet of GPT-2/CLIP BPE tokenizers
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def _write_tokenizer(directory):
    from transformers import CLIPTokenizer

    chars = _bytes_to_unicode()
    merges = [("r", "e"), ("re", "d</w>")]
    tokens = ["<|startoftext|>", "<|endoftext|>"] + chars + [c + "</w>" for c in chars]
    tokens += ["re", "red</w>"]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
    (directory / "vocab.json").write_text(json.dumps(vocab))
    (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n")
    return CLIPTokenizer(str(directory / "vocab.json"), str(directory / "merges.txt"), model_max_length=77), len(vocab)


@pytest.fixture(scope="module")
def tiny_pipeline_dir(tmp_path_factory):
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    root = tmp_path_factory.mktemp("tiny-sd")
    tok_dir = root / "tok"
    tok_dir.mkdir()
    tokenizer, vocab_size = _write_tokenizer(tok_dir)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(8, 16), norm_num_groups=4, cross_attention_dim=16, attention_head_dim=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"))
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16), norm_num_groups=4,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), sample_size=16)
    text = CLIPTextModel(CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    out = root / "pipeline"
    pipe.save_pretrained(out)
    return out


def test_tiny_pipeline_renders_seeded_images_with_progress(tiny_pipeline_dir):
    gen = get_generator("diffusers", model=str(tiny_pipeline_dir), steps=2, batch_size=2,
                        template="a photo of {}", height=16, width=16)
    assert gen.device == "cpu" and not gen.fp16
    seen: list[tuple[float, str]] = []
    images = gen.render("red", m=3, seed=7, progress=lambda f, msg: seen.append((f, msg)))
    assert images.shape == (3, 16, 16, 3) and images.dtype == np.uint8
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 4
    assert any("step 2/2" in msg for _, msg in seen)
    # image i depends on (seed, i) only: the same seed repeats, a prefix is a prefix, batches do not matter
    again = get_generator("diffusers", model=str(tiny_pipeline_dir), steps=2, batch_size=3,
                          height=16, width=16).render("red", m=2, seed=7)
    np.testing.assert_array_equal(again, images[:2])
    other = gen.render("red", m=2, seed=8)
    assert not np.array_equal(other, images[:2])


def test_cancel_stops_generation_with_a_clear_error(tiny_pipeline_dir):
    gen = get_generator("diffusers", model=str(tiny_pipeline_dir), steps=2, batch_size=1, height=16, width=16)
    cancel = threading.Event()

    def progress(fraction, _msg):
        if fraction > 0:
            cancel.set()  # cancel after the first denoising step

    with pytest.raises(Cancelled):
        gen.render("red", m=4, seed=0, progress=progress, cancel=cancel)
    # the generator still works afterwards
    assert gen.render("red", m=1, seed=0).shape == (1, 16, 16, 3)


def test_job_reports_progress_and_result(tiny_pipeline_dir):
    gen = get_generator("diffusers", model=str(tiny_pipeline_dir), steps=2, batch_size=2, height=16, width=16)
    job = Job(lambda progress, cancel: gen.render("red", 2, 0, progress, cancel))
    images = job.result(timeout=120)
    assert job.state == "done" and job.progress[0] == 1.0
    assert images.shape == (2, 16, 16, 3)


def test_missing_weights_give_a_readable_error(tmp_path):
    gen = get_generator("diffusers", model=str(tmp_path / "no-such-model"))
    with pytest.raises(GeneratorError, match="no diffusers pipeline in"):
        gen.render("red", m=1)
    job = Job(lambda progress, cancel: gen.render("red", 1, 0, progress, cancel))
    job.wait(60)
    assert job.state == "failed" and isinstance(job.error, GeneratorError)


def test_bad_options_are_refused():
    with pytest.raises(GeneratorError, match="needs a model"):
        get_generator("diffusers")
    with pytest.raises(GeneratorError, match="no '\\{\\}'"):
        get_generator("diffusers", model="x", template="a photo")
    with pytest.raises(GeneratorError, match="unknown generator"):
        get_generator("dalle")
    with pytest.raises(GeneratorError, match="no option"):
        get_generator("world", steps=3)


def test_verify_reads_diffusers_renders_and_caches_them(tiny_pipeline_dir, stand_in):
    from neurodash.sieve import rendered_images, verify

    gen = get_generator("diffusers", model=str(tiny_pipeline_dir), steps=2, batch_size=2, height=16, width=16)
    res = verify(stand_in, 0, "red", generator=gen, m=2, seed=0, control="circle", threshold=0.5)
    assert res.generator == "diffusers" and res.m == 2 and len(res.activations) == 2
    assert 0.0 <= res.ar <= 1.0 and res.control == "circle"
    shown = rendered_images(stand_in, "red", generator=gen, m=2, seed=0)
    assert shown is not None and shown.shape == (2, 16, 16, 3)


def test_model_id_loads_from_the_hf_cache_and_offline_names_the_folder(tiny_pipeline_dir, tmp_path,
                                                                       monkeypatch):
    """A diffusers model id resolves through the Hugging Face cache (layout written here, sockets
    closed); offline, a missing id is one line naming model_index.json and the cache folder."""
    import shutil
    import socket

    from neurodash import generate

    def refuse(*a, **k):
        raise AssertionError("a test tried to reach the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("NEURODASH_OFFLINE", "1")
    monkeypatch.setattr(generate, "_PIPELINES", {})
    repo = tmp_path / "hf" / "models--test-org--tiny-sd"
    commit = "89abcdef0123456789abcdef0123456789abcdef"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(tiny_pipeline_dir, repo / "snapshots" / commit)
    by_id = get_generator("diffusers", model="test-org/tiny-sd", steps=2, batch_size=2, height=16, width=16)
    by_dir = get_generator("diffusers", model=str(tiny_pipeline_dir), steps=2, batch_size=2,
                           height=16, width=16)
    np.testing.assert_array_equal(by_id.render("red", 2, seed=3), by_dir.render("red", 2, seed=3))

    missing = get_generator("diffusers", model="test-org/not-cached", steps=2)
    with pytest.raises(GeneratorError) as err:
        missing.render("red", 1)
    msg = str(err.value)
    assert len(msg.splitlines()) == 1 and "model_index.json" in msg and "offline" in msg
    assert str(tmp_path / "hf" / "models--test-org--not-cached") in msg
