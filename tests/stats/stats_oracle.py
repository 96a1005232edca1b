"""Reference implementations, one (neuron, concept) pair at a time, from scikit-learn / scipy or
the papers' formulas written out plainly. Slow on purpose: they are what the fast code must equal."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats
from sklearn import metrics as skm


def top_mask(a: np.ndarray, alpha: float) -> np.ndarray:
    k = max(1, math.ceil(round(alpha * len(a), 9)))
    cut = np.sort(a)[::-1][k - 1]
    return a >= cut


def soft_wpmi_column(acts: np.ndarray, p_d: np.ndarray) -> np.ndarray:
    """CLIP-Dissect soft_wpmi for a layer (n, N) and P(d|x) (n, C), written as in its code."""
    n, N = acts.shape
    top = min(100, n)
    p = 0.998 - np.arange(top) / top * (0.998 - 0.97)
    log_p = np.empty((N, p_d.shape[1]))
    for r in range(N):
        rows = np.argsort(-acts[:, r], kind="stable")[:top]
        log_p[r] = np.log(1 + p[:, None] * (p_d[rows] - 1) + 1e-7).sum(axis=0)
    marginal = np.log(np.mean(np.exp(log_p - log_p.max(0)), axis=0)) + log_p.max(0)
    return log_p - marginal


def pair(metric: str, a: np.ndarray, c: np.ndarray, alpha: float = 0.01) -> float:
    f = top_mask(a, alpha)
    p = c >= 0.5
    nan = np.nan
    if metric == "recall":
        return skm.recall_score(f, p, zero_division=nan)
    if metric == "precision":
        return skm.precision_score(f, p, zero_division=nan)
    if metric == "f1":
        return skm.f1_score(f, p, zero_division=nan)
    if metric == "iou":
        return skm.jaccard_score(f, p) if (f | p).any() else nan
    if metric == "accuracy":
        return skm.accuracy_score(f, p)
    if metric == "balanced_accuracy":
        return skm.balanced_accuracy_score(f, p)
    if metric == "inverse_balanced_accuracy":
        return skm.balanced_accuracy_score(p, f) if 0 < p.sum() < len(p) else nan
    if metric == "auroc":
        return skm.roc_auc_score(f, c)
    if metric == "inverse_auroc":
        return skm.roc_auc_score(p, a) if 0 < p.sum() < len(p) else nan
    if metric == "auprc":
        return skm.average_precision_score(f, c)
    if metric == "inverse_auprc":
        return skm.average_precision_score(p, a) if p.any() else nan
    if metric == "pearson":
        return stats.pearsonr(a, c).statistic if np.ptp(c) > 0 else nan
    if metric == "spearman":
        return stats.spearmanr(a, c).statistic if np.ptp(c) > 0 else nan
    if metric == "cosine":
        den = np.linalg.norm(a) * np.linalg.norm(c)
        return float(a @ c / den) if den > 0 else nan
    if metric == "mad":
        return a[p].mean() - a[~p].mean() if 0 < p.sum() < len(p) else nan
    if metric == "wpmi":
        mean_c = c.mean()
        return np.log(np.maximum(c[f], 1e-8)).mean() - np.log(mean_c) if mean_c > 0 else nan
    raise KeyError(metric)


def matrix(metric: str, acts: np.ndarray, concepts: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    if metric == "soft_wpmi":
        return soft_wpmi_column(acts, concepts)
    return np.array([[pair(metric, acts[:, r], concepts[:, j], alpha) for j in range(concepts.shape[1])]
                     for r in range(acts.shape[1])], dtype=float)
