"""Classification metrics on predictions tables: correctness, per-class scores, confusion, the summary.

Every function takes a predictions table (:mod:`geoclip_utils.schema`) or plain arrays; nothing here
reads files.

Definitions
    *Correct at k*: the gold label is among the first ``k`` predicted labels. When the table has a
    ``gold_set`` column (set-valued gold, e.g. the region experiment where several regions contain the
    gold country), a prediction is correct when it is in that set.

    *Macro-F1*: the unweighted mean of per-class F1 over the union of gold and predicted top-1 labels
    (scikit-learn's default); a class never predicted has F1 = 0.

    Confidence intervals come from :mod:`geoclip_utils.stats.bootstrap`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..schema import top1
from .bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED, accuracy_ci, bootstrap_ci

__all__ = [
    "correct_at_k",
    "topk_accuracy",
    "per_class_report",
    "macro_f1",
    "macro_f1_ci",
    "confusion_matrix",
    "summarize",
]


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
    pred = top1(df).to_numpy(dtype=str)
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
    pred = top1(df).astype(str)
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


def macro_f1_ci(df: pd.DataFrame, **kw) -> tuple[float, float]:
    """Bootstrap CI of macro-F1 (classes fixed to those of the full sample)."""
    gold = df["gold"].to_numpy(dtype=str)
    pred = top1(df).to_numpy(dtype=str)
    classes, g, p = _codes(gold, pred)
    return bootstrap_ci(lambda w: float(_f1_from_weights(g, p, len(classes), w).mean()), len(df), **kw)


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
