"""The control concept of a Verify: the candidate least associated with the hypothesis."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from neurodash.protocol import ProbeView


def choose_control(ws: ProbeView, concept: str, *, candidates: Optional[Sequence[str]] = None, clip=None) -> str:
    """The control concept for `concept`: the candidate least associated with it.

    A control answers "do renders of any unrelated concept fire the neuron as often?". For a
    concept of the workspace's set, "unrelated" is measured on the probe: the candidate whose
    concept activations have the smallest absolute Pearson correlation with the hypothesis's
    (constant columns and names sharing a word with the hypothesis are skipped; ties to the lower
    index). For a free-text concept, the candidate with the lowest CLIP text cosine.
    """
    names = list(ws.concept_names)
    pool = list(names if candidates is None else candidates)
    words = set(concept.lower().split())
    pool = [c for c in pool if c != concept and not (set(c.lower().split()) & words)]
    if not pool:
        raise ValueError(f"no control concept unrelated to {concept!r} among the candidates")
    if concept in names:
        C = np.asarray(ws.concepts)
        idx = {n: i for i, n in enumerate(names)}
        target = C[:, idx[concept]].astype(np.float64)
        best, best_r = None, np.inf
        for c in pool:
            if c not in idx:
                continue
            col = C[:, idx[c]].astype(np.float64)
            if target.std() == 0 or col.std() == 0:
                continue
            r = abs(float(np.corrcoef(target, col)[0, 1]))
            if r < best_r - 1e-12:
                best, best_r = c, r
        if best is not None:
            return best
    clip = ws.clip() if clip is None else clip
    t = np.asarray(clip.encode_texts([concept] + pool), dtype=np.float64)
    return pool[int(np.argmin(t[1:] @ t[0]))]
