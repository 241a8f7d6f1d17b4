"""Classification metrics on predictions tables, with uncertainty.

Owns top-k accuracy, per-class precision/recall/F1, macro-F1, confusion matrices, the bootstrap,
paired tests (McNemar) and calibration (ECE). Every function takes a predictions table
(:mod:`geoclip_utils.schema`) or plain arrays, and nothing here reads files.

Definitions
    *Correct at k*: the gold label is among the first ``k`` predicted labels. When the table has a
    ``gold_set`` column (set-valued gold, e.g. the region experiment where several regions contain the
    gold country), a prediction is correct when it is in that set.

    *Macro-F1*: the unweighted mean of per-class F1 over the union of gold and predicted top-1 labels
    (scikit-learn's default); a class never predicted has F1 = 0.

    *Bootstrap CI*: percentile interval over ``n_boot`` resamples of the images (with replacement),
    drawn with ``numpy.random.default_rng(seed)`` and stored as image weights
    (:func:`bootstrap_weights`), so one mechanism serves any statistic, paired differences included, and
    the same seed resamples the same images for every statistic. Default ``n_boot=1000``, ``seed=0``, 95 %.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from .errors import ConfigError

DEFAULT_N_BOOT = 1000
DEFAULT_SEED = 0


# --------------------------------------------------------------------------- correctness
def correct_at_k(df: pd.DataFrame, k: int = 1) -> np.ndarray:
    """Boolean array: is each image's gold label among its top-``k`` predictions?

    Raises
    ------
    ConfigError
        If ``k`` exceeds the number of predictions the table stores.

    Example
    -------
    >>> from geoclip_utils.schema import make_predictions
    >>> df = make_predictions(["a", "b"], ["X", "Y"], [("X", "Y"), ("X", "Y")], experiment="t", source="local")
    >>> correct_at_k(df, 1).tolist(), correct_at_k(df, 2).tolist()
    ([True, False], [True, True])
    """
    stored = int(df.attrs.get("k", len(df["top_labels"].iloc[0])))
    if k < 1 or k > stored:
        raise ConfigError(
            f"top-{k} asked of {df.attrs.get('experiment', 'a table')!r}, which stores top-{stored}"
        )
    tops = df["top_labels"].to_numpy()
    if "gold_set" in df.columns:
        golds = df["gold_set"].to_numpy()
        return np.fromiter(
            (any(p in g for p in t[:k]) for t, g in zip(tops, golds, strict=True)), bool, len(df)
        )
    gold = df["gold"].to_numpy()
    return np.fromiter((g in t[:k] for t, g in zip(tops, gold, strict=True)), bool, len(df))


def topk_accuracy(df: pd.DataFrame, k: int = 1) -> float:
    """Share of images whose gold label is in the top-``k`` predictions."""
    return float(correct_at_k(df, k).mean())


# --------------------------------------------------------------------------- per-class
def _codes(gold: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    classes = np.union1d(gold.astype(str), pred.astype(str))
    return classes, np.searchsorted(classes, gold.astype(str)), np.searchsorted(classes, pred.astype(str))


def _f1_from_weights(g: np.ndarray, p: np.ndarray, n_classes: int, w: np.ndarray) -> np.ndarray:
    tp = np.bincount(g, weights=w * (g == p), minlength=n_classes)
    support = np.bincount(g, weights=w, minlength=n_classes)
    predicted = np.bincount(p, weights=w, minlength=n_classes)
    denom = support + predicted
    return np.divide(2 * tp, denom, out=np.zeros(n_classes), where=denom > 0)


def per_class_report(df: pd.DataFrame) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support of the top-1 predictions.

    Returns
    -------
    DataFrame indexed by ``label`` with ``support`` (gold count), ``predicted`` (times predicted),
    ``tp``, ``precision``, ``recall``, ``f1``; sorted by label. Classes with no support but some
    predictions are included (they lower macro-F1).
    """
    gold = df["gold"].to_numpy(dtype=str)
    pred = df["top_labels"].str[0].to_numpy(dtype=str)
    classes, g, p = _codes(gold, pred)
    n = len(classes)
    tp = np.bincount(g[g == p], minlength=n)
    support = np.bincount(g, minlength=n)
    predicted = np.bincount(p, minlength=n)
    precision = np.divide(tp, predicted, out=np.zeros(n), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(n), where=support > 0)
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros(n), where=(support + predicted) > 0)
    return pd.DataFrame(
        {
            "support": support,
            "predicted": predicted,
            "tp": tp,
            "precision": precision,
            "recall": recall,
            "f1": f1,
        },
        index=pd.Index(classes, name="label"),
    )


def macro_f1(df: pd.DataFrame) -> float:
    """Unweighted mean F1 over the union of gold and predicted top-1 labels."""
    return float(per_class_report(df)["f1"].mean())


def confusion_matrix(
    df: pd.DataFrame, labels: list[str] | None = None, normalize: bool = False
) -> pd.DataFrame:
    """Counts of (gold, top-1 prediction) pairs: rows are gold labels, columns predictions.

    Parameters
    ----------
    labels : row/column order; default the sorted union of gold and predicted labels.
    normalize : divide each row by its total (row = recall profile of that gold class).
    """
    gold = df["gold"].astype(str)
    pred = df["top_labels"].str[0].astype(str)
    if labels is None:
        labels = sorted(set(gold) | set(pred))
    cm = pd.crosstab(
        pd.Categorical(gold, categories=labels), pd.Categorical(pred, categories=labels), dropna=False
    )
    cm.index.name, cm.columns.name = "gold", "predicted"
    cm = cm.reindex(index=labels, columns=labels, fill_value=0)
    if normalize:
        cm = cm.div(cm.sum(axis=1).replace(0, 1), axis=0)
    return cm


# --------------------------------------------------------------------------- bootstrap
def bootstrap_weights(
    n: int,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    max_cells: int = 4_000_000,
) -> Iterator[np.ndarray]:
    """The bootstrap resamples of ``n`` images, as blocks of weight rows.

    Resample ``r`` draws ``n`` images uniformly with replacement (``rng.integers``, then a bincount):
    row ``r`` counts how often each image was drawn. The rows come in blocks of at most ``max_cells``
    numbers (memory stays bounded for any ``n``). The same ``n``, ``n_boot`` and ``seed`` always give the
    same resamples, so every statistic of the same images is resampled identically — paired
    differences and several metrics of one table included.

    Yields
    ------
    numpy.ndarray of shape ``(b, n)``, float64, each row summing to ``n``.
    """
    if n < 1:
        raise ConfigError("bootstrap of an empty sample")
    rng = np.random.default_rng(seed)
    block = max(1, min(n_boot, max_cells // n))
    done = 0
    while done < n_boot:
        b = min(block, n_boot - done)
        idx = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        yield np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        done += b


def bootstrap_distribution(
    stat: Callable[[np.ndarray], np.ndarray | float],
    n: int,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    vectorized: bool = False,
) -> np.ndarray:
    """Values of ``stat`` on each resample of :func:`bootstrap_weights`.

    ``stat`` receives one weight vector (length ``n``) and returns a float, or, with
    ``vectorized=True``, a block of weight rows ``(b, n)`` and returns ``b`` values (or a ``(b, m)``
    array for ``m`` statistics at once).
    """
    out = []
    for w in bootstrap_weights(n, n_boot=n_boot, seed=seed):
        if vectorized:
            out.append(np.asarray(stat(w), dtype=float))
        else:
            out.append(np.array([stat(row) for row in w], dtype=float))
    return np.concatenate(out, axis=0)


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float] | np.ndarray:
    """Percentile interval of bootstrap values (per column for a 2-D array)."""
    if not 0 < level < 1:
        raise ConfigError(f"confidence level must be in (0, 1), got {level}")
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail], axis=0)
    if np.ndim(lo) == 0:
        return float(lo), float(hi)
    return np.stack([lo, hi], axis=-1)


def bootstrap_ci(
    stat: Callable[[np.ndarray], float],
    n: int,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
    vectorized: bool = False,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a statistic over ``n`` images.

    ``stat(w)`` receives a weight vector (how many times each image is drawn in one resample; see
    :func:`bootstrap_weights`) and returns the statistic of that resample, so paired statistics
    resample both members of a pair together. With ``vectorized=True`` it receives a block of rows.

    Example
    -------
    >>> correct = np.array([1, 1, 0, 1] * 50, float)
    >>> lo, hi = bootstrap_ci(lambda w: (w * correct).sum() / w.sum(), len(correct))
    >>> lo < 0.75 < hi
    True
    """
    if not 0 < level < 1:
        raise ConfigError(f"confidence level must be in (0, 1), got {level}")
    values = bootstrap_distribution(stat, n, n_boot=n_boot, seed=seed, vectorized=vectorized)
    return percentile_interval(values, level)


def _weighted_means(values: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Vectorised statistic: the weighted mean of each column of ``values`` (n,) or (n, m)."""
    return lambda w: (w @ values) / w.sum(axis=1, keepdims=values.ndim > 1)


def accuracy_ci(correct: np.ndarray, **kw) -> tuple[float, float]:
    """Bootstrap CI of the mean of a boolean/0-1 array (see :func:`bootstrap_ci` for options)."""
    c = np.asarray(correct, dtype=float)
    return bootstrap_ci(_weighted_means(c), len(c), vectorized=True, **kw)


def macro_f1_ci(df: pd.DataFrame, **kw) -> tuple[float, float]:
    """Bootstrap CI of macro-F1 (classes fixed to those of the full sample)."""
    gold = df["gold"].to_numpy(dtype=str)
    pred = df["top_labels"].str[0].to_numpy(dtype=str)
    classes, g, p = _codes(gold, pred)
    return bootstrap_ci(lambda w: float(_f1_from_weights(g, p, len(classes), w).mean()), len(df), **kw)


# --------------------------------------------------------------------------- paired comparison
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


def paired_accuracy_diff(a_correct: np.ndarray, b_correct: np.ndarray, **kw) -> dict:
    """Accuracy of A and B on the same images, the difference ``b - a`` with a paired bootstrap CI,
    and the exact McNemar p value."""
    a = np.asarray(a_correct, float)
    b = np.asarray(b_correct, float)
    if a.shape != b.shape:
        raise ConfigError(f"paired comparison needs equal lengths, got {a.shape} and {b.shape}")
    d = b - a
    ci = bootstrap_ci(_weighted_means(d), len(d), vectorized=True, **kw)
    return {
        "n": len(d),
        "a_top1": float(a.mean()),
        "b_top1": float(b.mean()),
        "diff": float(d.mean()),
        "diff_ci95": list(ci),
        "mcnemar_p": mcnemar_exact(a > 0, b > 0)["p"],
    }


# --------------------------------------------------------------------------- calibration
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


# --------------------------------------------------------------------------- summary
def summarize(df: pd.DataFrame, *, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED) -> dict:
    """Headline metrics of a predictions table, each with a bootstrap 95 % CI.

    Returns a JSON-ready dict: ``experiment``, ``source``, ``n``, ``classes`` (distinct gold labels),
    ``top1``, ``top1_ci95``, ``top5`` and ``top5_ci95`` (when 5 predictions are stored), ``macro_f1`` and
    ``macro_f1_ci95`` (``None`` for set-valued gold), ``chance`` (1 / classes), ``majority`` (share of the
    most common gold label), ``n_boot``, ``seed``. With set-valued gold, ``chance`` is the mean size of
    the gold set over the number of candidates seen, and ``majority`` the best single-candidate answer.
    """
    n = len(df)
    classes = int(df["gold"].nunique())
    c1 = correct_at_k(df, 1)
    out = {
        "experiment": df.attrs.get("experiment"),
        "source": df.attrs.get("source"),
        "n": n,
        "classes": classes,
        "top1": float(c1.mean()),
        "top1_ci95": list(accuracy_ci(c1, n_boot=n_boot, seed=seed)),
    }
    if df.attrs.get("k", 1) >= 5:
        c5 = correct_at_k(df, 5)
        out["top5"] = float(c5.mean())
        out["top5_ci95"] = list(accuracy_ci(c5, n_boot=n_boot, seed=seed))
    if "gold_set" in df.columns:
        out["macro_f1"] = None
        out["macro_f1_ci95"] = None
        out["note"] = "gold is set-valued (a country sits in several regions): macro-F1 is not defined"
    else:
        out["macro_f1"] = macro_f1(df)
        out["macro_f1_ci95"] = list(macro_f1_ci(df, n_boot=n_boot, seed=seed))
    if "gold_set" in df.columns:
        # chance: a uniformly random candidate is right with probability |gold_set| / |candidates|;
        # majority: always answering the candidate that is right for most images.
        candidates = sorted({lab for t in df["top_labels"] for lab in t})
        sets = df["gold_set"]
        out["chance"] = float(sets.map(len).mean() / len(candidates))
        out["majority"] = float(max(sets.map(lambda s, c=c: c in s).mean() for c in candidates))
    else:
        out["chance"] = 1.0 / classes
        out["majority"] = float(df["gold"].value_counts(normalize=True).iloc[0])
    out["n_boot"] = n_boot
    out["seed"] = seed
    return out
