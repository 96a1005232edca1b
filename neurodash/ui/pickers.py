"""The browser's file and folder choices: lists of what lies under the allowed data roots, never a
typed path. A URL value naming a path outside the roots is refused with a text message.

Roots (`neurodash.roots`): ``streamlit run app.py -- --data-root DIR`` (repeatable),
``NEURODASH_DATA`` (os.pathsep-separated), the cache home and the shipped assets.
"""

from __future__ import annotations

import sys

import streamlit as st

from neurodash import roots
from neurodash.ui.widgets import literal as esc

# Recipe field -> the kind of file a picker lists for it; values that are not paths come first.
KIND = {"probe": "probe", "concept_set": "concepts", "weights": "weights", "clip_weights": "weights",
        "labels_csv": "labels"}
def _named(field: str) -> tuple[str, ...]:
    from neurodash.recipe import recipe_fields
    meta = next(f.metadata for f in recipe_fields() if f.name == field)
    return tuple(meta.get("suggestions") or ())


# values that are names, not paths: the Recipe's suggestions ("world", the named concept sets), or none
NOT_PATHS = {"probe": _named("probe"), "concept_set": _named("concept_set"),
             "weights": ("", "random"), "clip_weights": ("",), "labels_csv": ("",)}
BRODEN = "broden:"


def is_path_field(field: str) -> bool:
    return field in KIND


@st.cache_data(ttl=30, show_spinner=False)
def _allowed(argv: tuple[str, ...], env: str, home: str | None) -> list[str]:
    return [str(p) for p in roots.allowed_roots(roots.parse_data_roots(list(argv)), home=home, env=env)]


def allowed_roots() -> list:
    """The allowed roots of this server (re-read every 30 s: the operator may add folders)."""
    import os
    from pathlib import Path

    from neurodash.ui import loaders
    return [Path(p) for p in _allowed(tuple(sys.argv[1:]), os.environ.get(roots.ENV, ""), loaders.home())]


@st.cache_data(ttl=30, show_spinner=False)
def _listing(kind: str, allowed: tuple[str, ...]) -> list[tuple[str, str]]:
    from pathlib import Path
    return [(str(f.path), f.label) for f in roots.listing(kind, [Path(r) for r in allowed])]


def choices(field: str, current=None) -> tuple[list[str], dict[str, str]]:
    """(options, labels) of a path field's picker: the non-path values, then what the roots hold;
    the current value is kept only when it lies inside the roots."""
    allowed = allowed_roots()
    found = _listing(KIND[field], tuple(str(r) for r in allowed))
    if field == "concept_set":  # Broden folders under the roots give their labels as a set
        found += [(BRODEN + p, f"Broden labels: {label}") for p, label in
                  _listing("probe", tuple(str(r) for r in allowed)) if _is_broden(p)]
    options = list(NOT_PATHS[field]) + [p for p, _ in found]
    labels = {p: label for p, label in found}
    labels.update({"": "(none)"})
    cur = "" if current is None else str(current)
    if cur and cur not in options and roots.is_inside(cur.removeprefix(BRODEN), allowed):
        options.append(cur)
        labels[cur] = cur
    return options, labels


def _model_path(model: str) -> str | None:
    """The config JSON an "open_clip:<file>.json" model names (a file read), else None."""
    if model.startswith("open_clip:") and model.endswith(".json"):
        return model.split(":", 1)[1]
    return None


def model_allowed(model: str, *, say: bool = True) -> bool:
    """A model name is fine; a model naming a config file must have it inside the roots."""
    path = _model_path(str(model))
    if path is None or roots.is_inside(path, allowed_roots()):
        return True
    if say:
        st.error(f"The model's config file {esc(path)} is refused: it is not under the data roots "
                 "this server allows.")
    return False


def url_value(field: str, value: str):
    """A path field's value from the URL if it is allowed, else None with a text message."""
    if field == "model":
        return value if model_allowed(value) else None
    if value in NOT_PATHS.get(field, ()):
        return value
    broden = field == "concept_set" and value.startswith(BRODEN)
    try:
        path = roots.confined(value.removeprefix(BRODEN) if broden else value, allowed_roots())
    except roots.RootError:
        st.error(f"The link's {esc(field)} is refused: {esc(value)} is not under the data roots this "
                 "server allows; pick one from the list instead.")
        return None
    want_dir = field == "probe" or broden
    if want_dir != path.is_dir():
        st.error(f"The link's {esc(field)} is refused: {esc(value)} is not a "
                 f"{'folder' if want_dir else 'file'}.")
        return None
    return (BRODEN if broden else "") + str(path)


def _is_broden(path: str) -> bool:
    from pathlib import Path
    return (Path(path) / "index.csv").is_file() and (Path(path) / "label.csv").is_file()


def diffusers_model(value: str) -> str | None:
    """The Verify page's diffusers model: a model id (resolved in the Hugging Face cache) as typed,
    but anything that names a local path (absolute, ~, ./, or an existing file or folder) only
    inside the roots (RootError otherwise)."""
    import os
    v = str(value or "").strip()
    if not v:
        return None
    if v.startswith(("/", ".", "~")) or os.path.exists(os.path.expanduser(v)):
        return str(roots.confined(v, allowed_roots()))
    return v


def recipe_allowed(recipe, *, say: bool = True) -> bool:
    """True when every path the recipe names lies inside the roots (else a text message)."""
    try:
        roots.confine_recipe(recipe, allowed_roots())
    except roots.RootError as err:
        if say:
            st.error(f"This workspace is refused: {esc(err)}")
        return False
    return True
