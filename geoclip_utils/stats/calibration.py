"""Calibration of predicted probabilities: reliability tables, the expected calibration error (ECE) and
temperature scaling of stored top-k probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .bootstrap import bootstrap_ci

__all__ = [
    "reliability_table",
    "expected_calibration_error",
    "ece_ci",
    "tempered_probs",
    "tempered_top1",
    "fit_temperature",
]


def reliability_table(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Equal-width confidence bins: ``lo``, ``hi``, ``n``, ``confidence`` (mean), ``accuracy``.

    Confidence 1.0 falls in the last bin; empty bins are kept with ``n = 0``.
    """
    conf = np.asarray(confidence, float)
    corr = np.asarray(correct, float)
    if conf.shape != corr.shape:
        raise ConfigError("confidence and correct must have the same length")
    if np.isnan(conf).any():
        raise ConfigError("confidences contain NaN (this experiment stored no probabilities)")
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    n = np.bincount(idx, minlength=n_bins)
    sc = np.bincount(idx, weights=conf, minlength=n_bins)
    sa = np.bincount(idx, weights=corr, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {"lo": edges[:-1], "hi": edges[1:], "n": n, "confidence": sc / n, "accuracy": sa / n}
        )


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> float:
    """ECE: the bin-size-weighted mean of |accuracy − confidence| over equal-width bins."""
    t = reliability_table(confidence, correct, n_bins)
    t = t[t["n"] > 0]
    return float((t["n"] * (t["accuracy"] - t["confidence"]).abs()).sum() / t["n"].sum())


def ece_ci(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10, **kw) -> tuple[float, float]:
    """Bootstrap CI of :func:`expected_calibration_error` (bins fixed; see :func:`bootstrap_ci` options)."""
    conf = np.asarray(confidence, float)
    corr = np.asarray(correct, float)
    reliability_table(conf, corr, n_bins)  # validates
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    onehot = np.zeros((len(conf), n_bins))
    onehot[np.arange(len(conf)), idx] = 1.0
    gap_terms = onehot * (corr - conf)[:, None]

    def stat(w: np.ndarray) -> np.ndarray:
        return np.abs(w @ gap_terms).sum(axis=1) / w.sum(axis=1)

    return bootstrap_ci(stat, len(conf), vectorized=True, **kw)


def tempered_probs(top_probs: Sequence[Sequence[float]] | np.ndarray, temperature: float) -> np.ndarray:
    """The stored top-k probabilities after dividing their log-probabilities by ``temperature`` and
    renormalising over the top-k, one row per image.

    Only the stored top-k probabilities are known, so the softmax is renormalised over them (the mass
    outside the top-k is ignored). A stored probability of exactly 0 (an underflow) stays 0, and rows shorter
    than the longest are padded with 0. Dividing the logits by a positive constant never changes their
    order, so the ranking — and every accuracy — stays the same; only the probabilities change.

    Returns
    -------
    numpy.ndarray ``(n, k)``; every row sums to 1.

    Raises
    ------
    ConfigError
        A temperature that is not a positive number.

    Example
    -------
    >>> tempered_probs([[0.8, 0.2]], 2.0).round(3).tolist()
    [[0.667, 0.333]]
    """
    if not temperature > 0:
        raise ConfigError(f"temperature must be positive, got {temperature}")
    p = _padded(top_probs)
    logp = np.log(np.clip(p, 1e-300, None)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    q = np.exp(logp) * (p > 0)
    return q / q.sum(axis=1, keepdims=True)


def _padded(top_probs: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """The stored top-k probabilities as one ``(n, k)`` array, shorter rows padded with 0 (a 2-D array is
    taken as it is)."""
    if isinstance(top_probs, np.ndarray) and top_probs.ndim == 2:
        return top_probs.astype(float, copy=False)
    k = max(len(p) for p in top_probs)
    return np.array([list(x) + [0.0] * (k - len(x)) for x in top_probs], dtype=float)


def tempered_top1(top_probs: Sequence[Sequence[float]] | np.ndarray, temperature: float) -> np.ndarray:
    """Top-1 confidence after temperature scaling (the first column of :func:`tempered_probs`).

    Example
    -------
    >>> tempered_top1([[0.5, 0.5], [0.9, 0.1]], 1.0).round(2).tolist()
    [0.5, 0.9]
    """
    return tempered_probs(top_probs, temperature)[:, 0]


def fit_temperature(
    top_probs: Sequence[Sequence[float]],
    correct: Sequence[bool] | np.ndarray,
    grid: Sequence[float] | np.ndarray | None = None,
    n_bins: int = 10,
) -> tuple[float, float]:
    """The temperature (from ``grid``) whose :func:`tempered_top1` has the lowest ECE, and that ECE.

    In-sample: the temperature is chosen on the same images it is scored on, so the ECE is optimistic. It
    looks only at the top-1 probability and whether the top-1 answer is right.
    Default grid: 60 values from 1 to 1000, log-spaced.

    Example
    -------
    >>> fit_temperature([[0.99, 0.01], [0.99, 0.01]], [1, 0], grid=[1.0, 10.0, 1000.0])[0]
    1000.0
    """
    grid = np.geomspace(1, 1000, 60) if grid is None else np.asarray(grid, float)
    c = np.asarray(correct, float)
    p = _padded(top_probs)  # once, not once per temperature
    eces = [expected_calibration_error(tempered_top1(p, t), c, n_bins) for t in grid]
    i = int(np.argmin(eces))
    return float(grid[i]), float(eces[i])
