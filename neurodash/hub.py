"""Where pretrained files come from: each library's own cache, downloaded only when online.

- torchvision: ``$TORCH_HOME/hub/checkpoints/<file of the weights enum's URL>`` (torch.hub's rule);
- Hugging Face (open_clip tags with an ``hf_hub`` entry, diffusers model ids): the Hugging Face
  cache, ``$HF_HUB_CACHE`` or ``$HF_HOME/hub`` or ``~/.cache/huggingface/hub`` (read at call time,
  so a test or a user can point it elsewhere after import);
- open_clip tags with a plain URL: open_clip's own ``~/.cache/clip``.

A file already in the cache is used as is (no network at all). A missing one is downloaded with a
progress bar, unless ``offline()`` (``NEURODASH_OFFLINE=1``, set by ``--offline``, or the Hugging
Face ``HF_HUB_OFFLINE=1``) or the download fails: then one line names the file and the folder to
put it in (``HubError``).
"""

from __future__ import annotations

import os
from pathlib import Path

OFFLINE_ENV = "NEURODASH_OFFLINE"
_TRUE = ("1", "true", "yes", "on")


class HubError(RuntimeError):
    """A pretrained file is not in its cache and cannot be downloaded; the message says where to put it."""


def offline() -> bool:
    return (os.environ.get(OFFLINE_ENV, "").strip().lower() in _TRUE
            or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE)


def set_offline() -> None:
    """What ``--offline`` does: this process and every library it calls stay off the network."""
    os.environ[OFFLINE_ENV] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"


def missing(filename: str, folder: Path, source: str, why: str | None = None) -> HubError:
    why = why or ("offline (--offline / NEURODASH_OFFLINE=1)" if offline() else "the download failed")
    return HubError(f"{filename} is not in {folder} and {why}: put it there (from {source})")


# ---- torch.hub ------------------------------------------------------------------------------------

def torch_checkpoints_dir() -> Path:
    import torch
    return Path(torch.hub.get_dir()) / "checkpoints"


def torch_file(url: str) -> Path:
    """torch.hub's cached copy of ``url`` (TORCH_HOME), downloaded with progress when missing."""
    import torch
    filename = url.rsplit("/", 1)[-1]
    path = torch_checkpoints_dir() / filename
    if path.is_file():
        return path
    if offline():
        raise missing(filename, path.parent, url)
    path.parent.mkdir(parents=True, exist_ok=True)
    match = torch.hub.HASH_REGEX.search(filename)  # torchvision names carry a sha256 prefix
    try:
        torch.hub.download_url_to_file(url, str(path), match.group(1) if match else None, progress=True)
    except (OSError, RuntimeError) as err:  # URLError is an OSError; a hash mismatch a RuntimeError
        raise missing(filename, path.parent, url, f"the download failed ({_first_line(err)})") from err
    return path


# ---- Hugging Face ---------------------------------------------------------------------------------

def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, by huggingface_hub's own rule, read from the environment now."""
    env = os.environ
    if env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE"):
        return Path(env.get("HF_HUB_CACHE") or env["HUGGINGFACE_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    xdg = env.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "huggingface" / "hub"


def hf_repo_dir(repo_id: str) -> Path:
    return hf_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def hf_file(repo_id: str, filenames: list[str], revision: str | None = None) -> Path:
    """The first of ``filenames`` found in ``repo_id`` (cache first, then the network if allowed)."""
    from huggingface_hub import hf_hub_download
    cache = hf_cache_dir()
    for name in filenames:  # cache hits first: no request at all
        try:
            return Path(hf_hub_download(repo_id, name, revision=revision, cache_dir=cache,
                                        local_files_only=True))
        except Exception:  # LocalEntryNotFoundError and friends: not cached
            continue
    if offline():
        raise missing(filenames[-1], hf_repo_dir(repo_id), f"https://huggingface.co/{repo_id}")
    last: Exception | None = None
    for name in filenames:
        try:
            return Path(hf_hub_download(repo_id, name, revision=revision, cache_dir=cache))
        except Exception as err:  # missing alternative, no network, gated repo...
            last = err
    raise missing(filenames[-1], hf_repo_dir(repo_id), f"https://huggingface.co/{repo_id}",
                  f"the download failed ({_first_line(last)})")


def url_file(url: str, folder: Path) -> Path:
    """A plain-URL file kept in ``folder`` (open_clip's ~/.cache/clip), downloaded when missing."""
    import torch
    filename = url.rsplit("/", 1)[-1]
    path = folder / filename
    if path.is_file():
        return path
    if offline():
        raise missing(filename, folder, url)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, str(path), None, progress=True)
    except (OSError, RuntimeError) as err:
        raise missing(filename, folder, url, f"the download failed ({_first_line(err)})") from err
    return path


def _first_line(err) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:200]
