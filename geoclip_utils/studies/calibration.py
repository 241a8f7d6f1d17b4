"""Is CLIP's confidence meaningful? Calibration of the stored top-1 probabilities, and temperature rescaling."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import stats
from ..errors import ConfigError, DataError
from ..stats.bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED

__all__ = ["top1_confidence", "tempered_top1", "fit_temperature", "calibration_summary"]


def top1_confidence(df: pd.DataFrame) -> np.ndarray:
    """CLIP's probability for its first answer, per image.

    Raises
    ------
    DataError
        If the table stores no probabilities (the authors' older city files).
    """
    conf = np.array([p[0] if len(p) else np.nan for p in df["top_probs"]], dtype=float)
    if np.isnan(conf).all():
        raise DataError(f"{df.attrs.get('experiment')!r} stores no probabilities")
    return conf


def tempered_top1(top_probs: Sequence[Sequence[float]], temperature: float) -> np.ndarray:
    """Top-1 confidence after dividing the log-probabilities by ``temperature`` and renormalising.

    Only the stored top-k probabilities are known, so the softmax is renormalised over them (the mass
    outside the top-k is ignored — negligible for these files, whose top-5 sums to about one). Dividing the
    logits by a positive constant never changes their order, so the ranking — and every accuracy — stays
    the same; only the confidence changes.

    Example
    -------
    >>> tempered_top1([[0.5, 0.5], [0.9, 0.1]], 1.0).round(2).tolist()
    [0.5, 0.9]
    """
    if temperature <= 0:
        raise ConfigError(f"temperature must be positive, got {temperature}")
    k = max(len(p) for p in top_probs)
    p = np.array([list(x) + [0.0] * (k - len(x)) for x in top_probs], dtype=float)
    logp = np.log(np.clip(p, 1e-300, None)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    q = np.exp(logp) * (p > 0)
    return q[:, 0] / q.sum(axis=1)


def fit_temperature(
    top_probs: Sequence[Sequence[float]],
    correct: Sequence[bool] | np.ndarray,
    grid: Sequence[float] | np.ndarray | None = None,
    n_bins: int = 10,
) -> tuple[float, float]:
    """The temperature (from ``grid``) whose :func:`tempered_top1` has the lowest ECE, and that ECE.

    In-sample: the temperature is chosen on the same images it is scored on, so the ECE is optimistic.
    Default grid: 60 values from 1 to 1000, log-spaced.
    """
    grid = np.geomspace(1, 1000, 60) if grid is None else np.asarray(grid, float)
    c = np.asarray(correct, float)
    eces = [stats.expected_calibration_error(tempered_top1(top_probs, t), c, n_bins) for t in grid]
    i = int(np.argmin(eces))
    return float(grid[i]), float(eces[i])


def calibration_summary(
    df: pd.DataFrame,
    *,
    n_bins: int = 10,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> dict:
    """Calibration of one run's top-1 probabilities.

    Returns
    -------
    dict
        ``experiment``, ``n``, ``accuracy`` (top-1, set-valued gold respected), ``accuracy_ci95``,
        ``confidence`` (mean top-1 probability), ``ece``, ``ece_ci95`` (bootstrap over images; the same
        resamples for every run of this size), ``share_one`` (top-1 probability exactly 1.0),
        ``share_99`` (≥ 0.99), ``overconfidence`` (mean confidence − accuracy).
    """
    conf = top1_confidence(df)
    correct = stats.correct_at_k(df, 1).astype(float)
    ok = ~np.isnan(conf)
    conf, correct = conf[ok], correct[ok]
    n = len(conf)
    kw = {"n_boot": n_boot, "seed": seed}
    return {
        "experiment": df.attrs.get("experiment"),
        "n": n,
        "accuracy": float(correct.mean()),
        "accuracy_ci95": list(stats.accuracy_ci(correct, **kw)),
        "confidence": float(conf.mean()),
        "ece": stats.expected_calibration_error(conf, correct, n_bins),
        "ece_ci95": list(stats.ece_ci(conf, correct, n_bins, **kw)),
        "share_one": float((conf == 1.0).mean()),
        "share_99": float((conf >= 0.99).mean()),
        "overconfidence": float(conf.mean() - correct.mean()),
    }
