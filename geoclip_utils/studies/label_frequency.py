"""Does CLIP know the places it read about? LAION-400M caption counts against per-class F1.

The authors counted, for every label of a label set, how many LAION-400M captions mention it, in two
ways (:func:`geoclip_utils.experiments.label_counts`): ``substring`` (captions containing
``" " + label.lower()``; keys lower-case) and ``tokens`` (captions whose token set contains the label;
keys as written). This module

* **matches** the labels of an experiment to the count keys (:func:`match_counts`): first the exact key,
  then case-insensitively, then after normalisation (Unicode accents removed, hyphens, apostrophes and
  other punctuation turned into spaces, spaces collapsed); a label with no key is reported as
  ``unmatched`` and left out of the correlation;
* joins the counts with the per-class precision / recall / F1 of CLIP's top-1 answers
  (:func:`count_vs_f1`; for the older city files, top-1 is all there is, and F1 is still defined);
* measures the association with **Spearman's rank correlation** and a percentile bootstrap 95 % CI that
  resamples *classes* with replacement (:func:`spearman_ci`);
* flags the classes that do not follow the trend (:func:`rank_residuals`): the F1 rank (scaled to 0–1) is
  regressed by least squares on the count rank (scaled to 0–1); a class's residual is its F1 rank minus the
  fitted one. **Frequent but poorly recognised** = count rank in the top half and one of the most negative
  residuals; **rare but well recognised** = count rank in the bottom half and one of the most positive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import experiments, stats
from ..errors import ConfigError
from ..names import normalize_label
from ..stats.bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED


def counted_sets() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Label sets with LAION caption counts and a flat experiment of the same name, from the registry.

    Returns
    -------
    dict label set → (place, count kinds available), in registry order.

    Example
    -------
    >>> counted_sets()["country100"]
    ('country', ('substring', 'tokens'))
    """
    exps = experiments.experiments()
    return {
        name: (ls.place, tuple(k for k in experiments.COUNT_KINDS if k in ls.counts))
        for name, ls in experiments.label_sets().items()
        if ls.counts and name in exps and exps[name].mode == "flat" and exps[name].published
    }


def match_counts(labels, counts: pd.DataFrame) -> pd.DataFrame:
    """Match each label to a count key: exact, then case-insensitive, then normalised (:func:`geoclip_utils.names.normalize_label`).

    Parameters
    ----------
    labels : the class labels (as in the results file).
    counts : ``label``, ``count`` (from :func:`geoclip_utils.experiments.label_counts`).

    Returns
    -------
    DataFrame (one row per distinct label, in the order given) with ``label``, ``key`` (the count key,
    ``None`` when unmatched), ``count`` (float, NaN when unmatched) and ``match`` (``exact``, ``case``,
    ``normalized``, ``unmatched``). When several keys collide after lower-casing or normalisation, their
    counts are summed (this does not happen in the authors' files).

    Example
    -------
    >>> c = pd.DataFrame({"label": ["france", "cote d'ivoire"], "count": [10, 2]})
    >>> match_counts(["France", "Côte d'Ivoire", "Atlantis"], c)["match"].tolist()
    ['case', 'normalized', 'unmatched']
    """
    if not {"label", "count"} <= set(counts.columns):
        raise ConfigError(f"counts need columns 'label' and 'count', got {list(counts.columns)}")
    keys = counts["label"].astype(str).to_numpy()
    vals = counts["count"].to_numpy(dtype=float)
    exact = dict(zip(keys, vals, strict=True))
    by_case: dict[str, tuple[str, float]] = {}
    by_norm: dict[str, tuple[str, float]] = {}
    for k, v in zip(keys, vals, strict=True):
        for table, kk in ((by_case, k.lower()), (by_norm, normalize_label(k))):
            old = table.get(kk)
            table[kk] = (k if old is None else old[0] + " | " + k, v if old is None else old[1] + v)
    rows = []
    for lab in dict.fromkeys(str(x) for x in labels):
        if lab in exact:
            rows.append((lab, lab, exact[lab], "exact"))
        elif lab.lower() in by_case:
            k, v = by_case[lab.lower()]
            rows.append((lab, k, v, "case"))
        elif normalize_label(lab) in by_norm:
            k, v = by_norm[normalize_label(lab)]
            rows.append((lab, k, v, "normalized"))
        else:
            rows.append((lab, None, np.nan, "unmatched"))
    return pd.DataFrame(rows, columns=["label", "key", "count", "match"])


def count_vs_f1(name: str, kind: str = "substring", df: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-class F1 of CLIP's top-1 answers joined with the LAION-400M caption count of the class label.

    Parameters
    ----------
    name : label set / experiment, e.g. ``"country100"`` (see :func:`counted_sets`).
    kind : ``"substring"`` or ``"tokens"``.
    df : the predictions table (default: the authors' results, :func:`geoclip_utils.experiments.load_results`).

    Returns
    -------
    DataFrame indexed by ``label`` (the gold classes only) with ``support``, ``precision``, ``recall``,
    ``f1``, ``key``, ``count`` (NaN when unmatched) and ``match``.

    Raises
    ------
    ConfigError
        Unknown label set or count kind.
    """
    if df is None:
        df = experiments.load_results(name, source="paper")
    report = stats.per_class_report(df)
    report = report[report["support"] > 0]
    matched = match_counts(report.index, experiments.label_counts(name, kind)).set_index("label")
    return report[["support", "precision", "recall", "f1"]].join(matched)


def _rank(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(x, method="average")


def spearman(x, y) -> float:
    """Spearman's rank correlation (Pearson correlation of average ranks; NaN when a side is constant).

    Example
    -------
    >>> spearman([1, 2, 3, 4], [10, 20, 40, 30])
    0.8
    """
    a = np.asarray(x, float)
    b = np.asarray(y, float)
    if a.shape != b.shape or a.ndim != 1:
        raise ConfigError(f"spearman needs two 1-D arrays of equal length, got {a.shape} and {b.shape}")
    if len(a) < 2:
        return float("nan")
    ra, rb = _rank(a), _rank(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = np.sqrt((ra @ ra) * (rb @ rb))
    return float(ra @ rb / den) if den > 0 else float("nan")


def spearman_ci(
    x,
    y,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> dict:
    """Spearman's rho with a percentile bootstrap CI, resampling classes (pairs) with replacement.

    Parameters
    ----------
    x, y : paired 1-D arrays (one value per class); pairs with a NaN are dropped first.
    n_boot : resamples; resamples where rho is undefined (a constant side) are skipped.
    seed : random seed (same seed, same interval).
    level : confidence level.

    Returns
    -------
    ``{"rho": ..., "ci95": [lo, hi], "n": classes used}``.

    Raises
    ------
    ConfigError
        Fewer than 3 usable pairs.

    Example
    -------
    >>> r = spearman_ci(np.arange(20), np.arange(20) ** 2, n_boot=100)
    >>> r["rho"], r["ci95"]
    (1.0, [1.0, 1.0])
    """
    a = np.asarray(x, float)
    b = np.asarray(y, float)
    ok = ~(np.isnan(a) | np.isnan(b))
    a, b = a[ok], b[ok]
    n = len(a)
    if n < 3:
        raise ConfigError(f"Spearman correlation needs at least 3 classes with a count, got {n}")
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        i = rng.integers(0, n, n)
        r = spearman(a[i], b[i])
        if not np.isnan(r):
            vals.append(r)
    tail = (1 - level) / 2 * 100
    ci = [float(v) for v in np.percentile(vals, [tail, 100 - tail])] if vals else [float("nan")] * 2
    return {"rho": spearman(a, b), "ci95": ci, "n": int(n)}


def rank_residuals(table: pd.DataFrame, *, x: str = "count", y: str = "f1", n: int = 5) -> pd.DataFrame:
    """Residuals of a least-squares line of F1 rank on count rank (ranks scaled to 0–1), with flags.

    Parameters
    ----------
    table : one row per class, with columns ``x`` and ``y`` (rows with a NaN are dropped).
    n : how many classes to flag on each side.

    Returns
    -------
    ``table`` plus ``count_rank``, ``f1_rank`` (0 = lowest, 1 = highest), ``fitted``, ``residual`` and
    ``flag``: ``"frequent, poorly recognised"`` (count rank ≥ 0.5 and among the ``n`` most negative
    residuals of that half), ``"rare, well recognised"`` (count rank < 0.5 and among the ``n`` most positive
    residuals of that half), else ``""``. Sorted by residual.
    """
    t = table.dropna(subset=[x, y]).copy()
    if len(t) < 3:
        raise ConfigError("rank regression needs at least 3 classes")
    m = len(t)
    t["count_rank"] = (_rank(t[x].to_numpy(float)) - 1) / (m - 1)
    t["f1_rank"] = (_rank(t[y].to_numpy(float)) - 1) / (m - 1)
    slope, intercept = np.polyfit(t["count_rank"], t["f1_rank"], 1)
    t["fitted"] = intercept + slope * t["count_rank"]
    t["residual"] = t["f1_rank"] - t["fitted"]
    t["flag"] = ""
    hi = t[t["count_rank"] >= 0.5].nsmallest(n, "residual").index
    lo = t[t["count_rank"] < 0.5].nlargest(n, "residual").index
    t.loc[hi, "flag"] = "frequent, poorly recognised"
    t.loc[lo, "flag"] = "rare, well recognised"
    return t.sort_values("residual")


def correlation_table(
    sets=None,
    kinds=("substring", "tokens"),
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Spearman's rho (count vs F1) with bootstrap CI for every label set and available count kind.

    Returns one row per (label set, kind): ``label_set``, ``place``, ``kind``, ``classes``, ``matched``,
    ``unmatched`` (labels, comma-separated), ``rho``, ``lo``, ``hi``.
    """
    rows = []
    counted = counted_sets()
    for name in sets or counted:
        place, available = counted[name]
        df = experiments.load_results(name, source="paper")
        for kind in kinds:
            if kind not in available:
                continue
            t = count_vs_f1(name, kind, df=df)
            r = spearman_ci(t["count"], t["f1"], n_boot=n_boot, seed=seed)
            rows.append(
                {
                    "label_set": name,
                    "place": place,
                    "kind": kind,
                    "classes": len(t),
                    "matched": int((t["match"] != "unmatched").sum()),
                    "unmatched": ", ".join(t.index[t["match"] == "unmatched"]),
                    "rho": r["rho"],
                    "lo": r["ci95"][0],
                    "hi": r["ci95"][1],
                }
            )
    return pd.DataFrame(rows)
