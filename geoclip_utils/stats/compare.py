"""Paired comparisons of two classifiers on the same images: one result type (:class:`PairedComparison`),
McNemar's exact test and the paired bootstrap, per group, pairing two predictions tables, and the comparison
like for like (:func:`restricted_paired`: both runs restricted to the labels both could answer)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
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
    "RestrictedAnswers",
    "RestrictedComparison",
    "restricted_answers",
    "restricted_paired",
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
    n_boot, seed : bootstrap settings of :func:`paired`.

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


# --------------------------------------------------------------------------- like for like: common labels
@dataclass(frozen=True)
class RestrictedAnswers:
    """One run's first answers once its candidates are cut down to a set of common labels.

    The stored top-``k`` is re-ranked keeping only the common labels (the order of the remaining candidates
    is unchanged by the cut, so the first common label of the stored list *is* the restricted first answer).
    Where no common label is stored (the top-``k`` "runs out"), the restricted answer is some label below the
    stored ones: it is counted wrong in ``lower`` and right in ``upper`` when the gold label could be that
    hidden answer (a common label, and a candidate of the run for that image).

    Attributes
    ----------
    lower, upper : per-image correctness at the two ends (equal where nothing ran out).
    outside : the stored first answer is not a common label.
    ran_out : no common label among the stored answers.
    """

    lower: np.ndarray
    upper: np.ndarray
    outside: np.ndarray
    ran_out: np.ndarray


def restricted_answers(
    top_labels: Sequence[Sequence[str]],
    gold: Sequence[str],
    common: Collection[str],
    *,
    gold_possible: Sequence[bool] | np.ndarray | None = None,
) -> RestrictedAnswers:
    """Re-rank one run's stored answers keeping only the ``common`` labels.

    Parameters
    ----------
    top_labels : the stored answers of each image, best first.
    gold : the gold label of each image.
    common : the labels both runs of a comparison could answer.
    gold_possible : per image, whether the gold label was a candidate of this run for that image (default:
        every image; e.g. stage 2 of the two-stage run only offers the countries of the stage-1 region). Only
        used where the top-k runs out.

    Returns
    -------
    RestrictedAnswers

    Raises
    ------
    ConfigError
        If the inputs differ in length.

    Example
    -------
    >>> r = restricted_answers([("Z", "A"), ("Z", "Y"), ("B", "A")], ["A", "B", "A"], {"A", "B"})
    >>> r.lower.tolist(), r.upper.tolist(), r.outside.tolist(), r.ran_out.tolist()
    ([True, False, False], [True, True, False], [True, True, False], [False, True, False])
    """
    common = frozenset(common)
    tops, golds = list(top_labels), list(gold)
    possible = np.ones(len(golds), bool) if gold_possible is None else np.asarray(gold_possible, bool)
    if not (len(tops) == len(golds) == len(possible)):
        raise ConfigError(
            f"lengths differ: {len(tops)} answers, {len(golds)} gold labels, {len(possible)} flags"
        )
    first = [next((lab for lab in t if lab in common), None) for t in tops]
    ran_out = np.fromiter((f is None for f in first), bool, len(first))
    lower = np.fromiter(
        (f is not None and f == g for f, g in zip(first, golds, strict=True)), bool, len(first)
    )
    gold_common = np.fromiter((g in common for g in golds), bool, len(golds))
    outside = np.fromiter((not t or t[0] not in common for t in tops), bool, len(tops))
    return RestrictedAnswers(lower, lower | (ran_out & gold_common & possible), outside, ran_out)


@dataclass(frozen=True)
class RestrictedComparison:
    """Two runs compared with both restricted to the labels both could answer (:func:`restricted_paired`).

    Attributes
    ----------
    n : images compared (every shared image; an image whose gold label is no common label is wrong for both).
    labels, a_labels, b_labels : how many labels are common, and how many each run could answer.
    gold_outside : images whose gold label is not a common label.
    a_outside, b_outside : images whose stored first answer is not a common label (answers the other run
        could not give).
    a_ran_out, b_ran_out : images with no common label among the stored answers (the bound comes from them).
    point : the paired comparison with every run-out counted wrong on both sides (exact when nothing ran out).
    low, high : the lowest and highest difference the stored answers allow (A at its upper and B at its lower
        end, and the reverse); equal to ``point`` when nothing ran out.
    gold_outside_labels : the gold labels of the ``gold_outside`` images, sorted.
    """

    n: int
    labels: int
    a_labels: int
    b_labels: int
    gold_outside: int
    a_outside: int
    b_outside: int
    a_ran_out: int
    b_ran_out: int
    point: PairedComparison
    low: PairedComparison
    high: PairedComparison
    gold_outside_labels: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        """True when no run ran out of common labels (the restricted answers are all known)."""
        return self.a_ran_out == 0 and self.b_ran_out == 0

    @property
    def diff_bounds(self) -> tuple[float, float]:
        """The lowest and highest difference (B − A) the stored answers allow."""
        return (self.low.diff, self.high.diff)

    @property
    def diff_bounds_ci95(self) -> tuple[float, float]:
        """The lower 95 % limit of the lowest difference and the upper limit of the highest one."""
        return (self.low.diff_ci95[0], self.high.diff_ci95[1])

    def to_dict(self) -> dict:
        """The ``restricted`` JSON object of ``geoclip compare``: ``labels``, ``a_labels``, ``b_labels``,
        ``gold_outside``, ``a_outside``, ``b_outside``, ``a_ran_out``, ``b_ran_out``, ``a_top1`` and
        ``b_top1`` (run-outs counted wrong), ``a_top1_max`` and ``b_top1_max`` (run-outs counted right where
        possible), ``diff``, ``diff_ci95``, ``mcnemar_p`` (of ``point``), ``diff_bounds``,
        ``diff_bounds_ci95`` and ``exact``."""
        return {
            "n": self.n,
            "labels": self.labels,
            "a_labels": self.a_labels,
            "b_labels": self.b_labels,
            "gold_outside": self.gold_outside,
            "a_outside": self.a_outside,
            "b_outside": self.b_outside,
            "a_ran_out": self.a_ran_out,
            "b_ran_out": self.b_ran_out,
            "a_top1": self.point.accuracy_a,
            "b_top1": self.point.accuracy_b,
            "a_top1_max": self.low.accuracy_a,
            "b_top1_max": self.high.accuracy_b,
            "diff": self.point.diff,
            "diff_ci95": list(self.point.diff_ci95),
            "mcnemar_p": self.point.mcnemar_p,
            "diff_bounds": list(self.diff_bounds),
            "diff_bounds_ci95": list(self.diff_bounds_ci95),
            "exact": self.exact,
        }


def restricted_paired(
    a: pd.DataFrame,
    b: pd.DataFrame,
    a_labels: Collection[str],
    b_labels: Collection[str],
    *,
    a_possible: pd.Series | None = None,
    b_possible: pd.Series | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> RestrictedComparison:
    """Compare two runs at top-1 with both restricted to the labels both could answer.

    Each run's stored top-``k`` is re-ranked keeping only the common labels (:func:`restricted_answers`);
    where the stored answers run out the result is a bound: :attr:`RestrictedComparison.low` and ``high``
    are the differences with the unknown answers counted against B and against A.

    Parameters
    ----------
    a, b : predictions tables (A and B; differences are B − A), paired on their shared images by
        :func:`paired_tables`.
    a_labels, b_labels : the labels each run could answer (its candidates).
    a_possible, b_possible : booleans indexed by image id: was the image's gold label a candidate of that
        run for that image (see :func:`restricted_answers`; default every image, a missing id counts as
        ``False``).
    n_boot, seed : bootstrap settings (the same resamples for the three comparisons).

    Returns
    -------
    RestrictedComparison

    Raises
    ------
    DataError
        As :func:`paired_tables`; or when the two runs share no label.

    Example
    -------
    >>> from geoclip_utils.schema import make_predictions
    >>> a = make_predictions(["1", "2"], ["X", "Y"], [("X", "Y"), ("Y", "X")], experiment="a", source="local")
    >>> b = make_predictions(["1", "2"], ["X", "Y"], [("W", "X"), ("W", "V")], experiment="b", source="local")
    >>> r = restricted_paired(a, b, {"X", "Y"}, {"X", "Y", "W", "V"}, n_boot=10)
    >>> r.labels, r.b_outside, r.b_ran_out, r.point.accuracy_b, r.diff_bounds
    (2, 2, 1, 0.5, (-0.5, 0.0))
    """
    common = frozenset(a_labels) & frozenset(b_labels)
    if not common:
        raise DataError(f"{a.attrs.get('experiment')!r} and {b.attrs.get('experiment')!r} share no label")
    aa, bb = paired_tables(a, b)
    gold = aa["gold"].tolist()

    def possible(flags: pd.Series | None) -> np.ndarray | None:
        if flags is None:
            return None
        return flags.reindex(aa["image_id"].to_numpy(), fill_value=False).to_numpy(bool)

    ra = restricted_answers(aa["top_labels"], gold, common, gold_possible=possible(a_possible))
    rb = restricted_answers(bb["top_labels"], gold, common, gold_possible=possible(b_possible))
    kw = {"n_boot": n_boot, "seed": seed}
    return RestrictedComparison(
        n=len(aa),
        labels=len(common),
        a_labels=len(frozenset(a_labels)),
        b_labels=len(frozenset(b_labels)),
        gold_outside=int(sum(g not in common for g in gold)),
        a_outside=int(ra.outside.sum()),
        b_outside=int(rb.outside.sum()),
        a_ran_out=int(ra.ran_out.sum()),
        b_ran_out=int(rb.ran_out.sum()),
        point=paired(ra.lower, rb.lower, **kw),
        low=paired(ra.upper, rb.lower, **kw),
        high=paired(ra.lower, rb.upper, **kw),
        gold_outside_labels=tuple(sorted({g for g in gold if g not in common})),
    )
