"""Paired comparisons of two classifiers on the same images: one result type (:class:`PairedComparison`),
McNemar's exact test and the paired bootstrap, per group, and pairing two predictions tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from .bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED, accuracy_ci, bootstrap_ci, weighted_means
from .metrics import correct_at_k

__all__ = [
    "PairedComparison",
    "paired",
    "paired_predictions",
    "mcnemar_exact",
    "per_group_paired",
    "paired_tables",
]


def mcnemar_exact(a_correct: np.ndarray, b_correct: np.ndarray) -> dict:
    """Exact (binomial) McNemar test of two classifiers on the same images.

    Returns ``b01`` (A right, B wrong), ``b10`` (A wrong, B right) and the two-sided ``p`` value
    of ``min(b01, b10)`` under Binomial(b01 + b10, 1/2). ``p = 1`` when there are no discordant pairs.
    """
    from scipy.stats import binomtest

    a = np.asarray(a_correct, bool)
    b = np.asarray(b_correct, bool)
    if a.shape != b.shape:
        raise ConfigError(f"paired test needs equal lengths, got {a.shape} and {b.shape}")
    b01 = int((a & ~b).sum())
    b10 = int((~a & b).sum())
    n = b01 + b10
    p = 1.0 if n == 0 else float(binomtest(min(b01, b10), n, 0.5).pvalue)
    return {"b01": b01, "b10": b10, "p": p}


@dataclass(frozen=True)
class PairedComparison:
    """Two classifiers scored on the same images: the one result every paired comparison returns.

    Attributes
    ----------
    n : images compared.
    accuracy_a, accuracy_b : share of images each gets right; ``accuracy_a_ci95``, ``accuracy_b_ci95`` their
        bootstrap 95 % intervals.
    diff : ``accuracy_b - accuracy_a``; ``diff_ci95`` its paired bootstrap 95 % interval (both members of a
        pair resampled together, with the resamples of :func:`geoclip_utils.stats.bootstrap_weights`).
    mcnemar_p : exact two-sided McNemar p value.
    only_a, only_b : discordant images: right for A only (``b01``), right for B only (``b10``).
    """

    n: int
    accuracy_a: float
    accuracy_b: float
    diff: float
    diff_ci95: tuple[float, float]
    mcnemar_p: float
    only_a: int
    only_b: int
    accuracy_a_ci95: tuple[float, float]
    accuracy_b_ci95: tuple[float, float]

    def to_dict(self) -> dict:
        """The JSON object of ``geoclip compare``: ``n``, ``a_top1``, ``b_top1``, ``diff``, ``diff_ci95``,
        ``mcnemar_p``, ``b01``, ``b10`` (accuracy intervals left out)."""
        return {
            "n": self.n,
            "a_top1": self.accuracy_a,
            "b_top1": self.accuracy_b,
            "diff": self.diff,
            "diff_ci95": list(self.diff_ci95),
            "mcnemar_p": self.mcnemar_p,
            "b01": self.only_a,
            "b10": self.only_b,
        }

    @property
    def p_text(self) -> str:
        """The p value for prose: ``"= 1.2e-07"``, or ``"< 1e-300"`` when it underflows to zero."""
        return f"= {self.mcnemar_p:.2g}" if self.mcnemar_p > 0 else "< 1e-300"


def paired(
    a_correct: Sequence[bool] | np.ndarray,
    b_correct: Sequence[bool] | np.ndarray,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> PairedComparison:
    """Compare two classifiers on the same images (correctness of A and of B, image by image).

    Two empty inputs give ``n = 0`` and NaN statistics (a chapter on a small local run may have no
    image in a subset).

    Raises
    ------
    ConfigError
        If the two inputs differ in length.

    Example
    -------
    >>> r = paired([1, 1, 0, 1] * 25, [1, 0, 0, 1] * 25, n_boot=100)
    >>> r.accuracy_a, r.accuracy_b, r.only_a, r.only_b
    (0.75, 0.5, 25, 0)
    """
    a = np.asarray(a_correct, bool)
    b = np.asarray(b_correct, bool)
    if a.shape != b.shape:
        raise ConfigError(f"paired comparison needs equal lengths, got {a.shape} and {b.shape}")
    if a.size == 0:
        nan = float("nan")
        return PairedComparison(0, nan, nan, nan, (nan, nan), nan, 0, 0, (nan, nan), (nan, nan))
    kw = {"n_boot": n_boot, "seed": seed}
    d = b.astype(float) - a.astype(float)
    ci = bootstrap_ci(weighted_means(d), len(d), vectorized=True, **kw)
    mc = mcnemar_exact(a, b)
    return PairedComparison(
        n=len(d),
        accuracy_a=float(a.mean()),
        accuracy_b=float(b.mean()),
        diff=float(d.mean()),
        diff_ci95=tuple(ci),
        mcnemar_p=mc["p"],
        only_a=mc["b01"],
        only_b=mc["b10"],
        accuracy_a_ci95=tuple(accuracy_ci(a, **kw)),
        accuracy_b_ci95=tuple(accuracy_ci(b, **kw)),
    )


def per_group_paired(
    a_correct: Sequence[bool] | np.ndarray,
    b_correct: Sequence[bool] | np.ndarray,
    groups: Sequence[str] | np.ndarray,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Paired comparison of two classifiers within each group of images (e.g. the true country's region).

    Parameters
    ----------
    a_correct, b_correct : per-image correctness of A and B, on the same images in the same order.
    groups : the group of each image.
    n_boot, seed : bootstrap settings of :func:`geoclip_utils.paired_accuracy_diff`.

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``n``, ``a``, ``b`` (accuracies), ``diff`` (b − a), ``diff_lo``, ``diff_hi``
        (paired bootstrap 95 % CI), ``mcnemar_p``, ``b01`` (A only), ``b10`` (B only); sorted by ``diff``.

    Raises
    ------
    ConfigError
        If the three inputs differ in length.

    Example
    -------
    >>> t = per_group_paired([1, 1, 0, 0], [1, 0, 1, 1], ["x", "x", "y", "y"], n_boot=50)
    >>> t["diff"].to_dict()
    {'x': -0.5, 'y': 1.0}
    """
    a = np.asarray(a_correct, bool)
    b = np.asarray(b_correct, bool)
    g = np.asarray(groups, dtype=object)
    if not (len(a) == len(b) == len(g)):
        raise ConfigError(f"lengths differ: {len(a)}, {len(b)}, {len(g)}")
    rows = []
    for name in sorted(set(g)):
        m = g == name
        r = paired(a[m], b[m], n_boot=n_boot, seed=seed)
        rows.append(
            {
                "group": name,
                "n": r.n,
                "a": r.accuracy_a,
                "b": r.accuracy_b,
                "diff": r.diff,
                "diff_lo": r.diff_ci95[0],
                "diff_hi": r.diff_ci95[1],
                "mcnemar_p": r.mcnemar_p,
                "b01": r.only_a,
                "b10": r.only_b,
            }
        )
    return pd.DataFrame(rows).set_index("group").sort_values("diff")


def paired_tables(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Restrict two predictions tables to the images both share, in the same order.

    Raises
    ------
    DataError
        If a table has no image ids (the authors' older city files) or the two share no image,
        or if a shared image has different gold labels in the two tables.
    """
    for t in (a, b):
        if (t["image_id"] == "").any():
            raise DataError(f"{t.attrs.get('experiment')!r} has no image ids, so it cannot be paired")
    shared = pd.Index(a["image_id"]).intersection(pd.Index(b["image_id"]))
    if len(shared) == 0:
        raise DataError(f"{a.attrs.get('experiment')!r} and {b.attrs.get('experiment')!r} share no image")
    aa = a.set_index("image_id", drop=False).loc[shared]
    bb = b.set_index("image_id", drop=False).loc[shared]
    diff = aa["gold"].to_numpy() != bb["gold"].to_numpy()
    if diff.any() and "gold_set" not in aa.columns and "gold_set" not in bb.columns:
        i = int(np.flatnonzero(diff)[0])
        raise DataError(
            f"image {shared[i]!r}: gold {aa['gold'].iloc[i]!r} in A but {bb['gold'].iloc[i]!r} in B"
        )
    for t, src in ((aa, a), (bb, b)):
        t.attrs.update(src.attrs)
    return aa.reset_index(drop=True), bb.reset_index(drop=True)


def paired_predictions(
    a: pd.DataFrame,
    b: pd.DataFrame,
    *,
    k: int = 1,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> PairedComparison:
    """Compare two predictions tables at top-``k`` on the images both share (:func:`paired_tables`,
    then :func:`paired` of :func:`~geoclip_utils.stats.correct_at_k`).

    Parameters
    ----------
    a, b : predictions tables (A and B; differences are B − A).
    k : the answers that count (top-``k``); both tables must store at least ``k``.
    n_boot, seed : bootstrap settings.

    Returns
    -------
    PairedComparison

    Raises
    ------
    DataError
        As :func:`paired_tables` (no image ids, no shared image, different gold labels).
    ConfigError
        If a table stores fewer than ``k`` answers.

    Example
    -------
    >>> from geoclip_utils.schema import make_predictions
    >>> a = make_predictions(["1", "2"], ["X", "Y"], [("X",), ("X",)], experiment="a", source="local")
    >>> b = make_predictions(["2", "1"], ["Y", "X"], [("Y",), ("X",)], experiment="b", source="local")
    >>> r = paired_predictions(a, b, n_boot=10)
    >>> r.n, r.accuracy_a, r.accuracy_b, r.only_b
    (2, 0.5, 1.0, 1)
    """
    aa, bb = paired_tables(a, b)
    return paired(correct_at_k(aa, k), correct_at_k(bb, k), n_boot=n_boot, seed=seed)
