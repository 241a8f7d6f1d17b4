"""Calibration of predicted probabilities: reliability tables and the expected calibration error (ECE)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .bootstrap import bootstrap_ci

__all__ = ["reliability_table", "expected_calibration_error", "ece_ci"]


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
