"""The *Training data* chapter: does CLIP know the places it read about? LAION-400M caption counts against
per-class F1.

Named after its chapter (``book/training_data.md``; it was ``label_frequency``); the caption counting itself
is :mod:`geoclip_utils.captions`.

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

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .. import experiments, stats
from ..captions.synthetic import COUNTRIES, generate_captions
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


# --------------------------------------------------------------------------- the chapter's tables and wording
def count_tables(kind: str = "substring") -> dict[str, pd.DataFrame]:
    """:func:`count_vs_f1` of every counted label set (:func:`counted_sets`), with ``label_set``, ``place``
    and ``kind`` columns; a set without ``kind`` counts falls back to ``substring``.

    Raises
    ------
    ConfigError
        Unknown count kind.
    """
    if kind not in experiments.COUNT_KINDS:
        raise ConfigError(f"kind={kind!r} is not allowed: choose one of {list(experiments.COUNT_KINDS)}")
    tables = {}
    for name, (place, kinds) in counted_sets().items():
        k = kind if kind in kinds else "substring"
        tables[name] = count_vs_f1(name, k).assign(label_set=name, place=place, kind=k)
    return tables


def long_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The tables of :func:`count_tables` stacked, one row per (label set, class), the label as a column."""
    return pd.concat(tables.values()).rename_axis("label").reset_index()


def match_glue(corr: pd.DataFrame, allt: pd.DataFrame) -> dict:
    """How the labels matched the count keys: ``n_sets``, ``n_classes_total``, ``n_unmatched`` (over all sets
    and both kinds, from :func:`correlation_table`), ``n_exact``, ``n_case``, ``n_normalized``, ``n_zero``
    (classes counted zero times) and ``n_france`` (French regions)."""
    kinds = allt["match"].value_counts()
    return {
        "n_sets": allt["label_set"].nunique(),
        "n_classes_total": len(allt),
        "n_unmatched": int((corr["classes"] - corr["matched"]).sum()),
        "n_case": int(kinds.get("case", 0)),
        "n_exact": int(kinds.get("exact", 0)),
        "n_normalized": int(kinds.get("normalized", 0)),
        "n_zero": int((allt["count"] == 0).sum()),
        "n_france": int((allt["label_set"] == "France_states_max100").sum()),
    }


def correlation_glue(corr: pd.DataFrame) -> dict:
    """Every row of :func:`correlation_table` as glue values ``<label set>_<kind>`` (lower case) with
    ``_lo``, ``_hi`` and ``_width`` (of the interval).

    Example
    -------
    >>> corr = pd.DataFrame({"label_set": ["city300"], "kind": ["tokens"], "rho": [0.4], "lo": [0.25], "hi": [0.5]})
    >>> correlation_glue(corr)
    {'city300_tokens': 0.4, 'city300_tokens_lo': 0.25, 'city300_tokens_hi': 0.5, 'city300_tokens_width': 0.25}
    """
    out = {}
    for r in corr.itertuples():
        key = f"{r.label_set}_{r.kind}".lower()
        out |= {key: r.rho, key + "_lo": r.lo, key + "_hi": r.hi, key + "_width": r.hi - r.lo}
    return out


def correlation_text(corr: pd.DataFrame) -> str:
    """The chapter's checked lines: one per (label set, kind), classes used, rho and its bootstrap CI."""
    lines = ["Spearman rho, caption count vs per-class F1 (95% bootstrap CI over classes)"]
    lines += [
        f"{r.label_set:>21} {r.kind:>9}: n={r.matched:>3}  rho {r.rho:+.2f}  [{r.lo:+.2f}, {r.hi:+.2f}]"
        for r in corr.itertuples()
    ]
    return "\n".join(lines)


#: Bands of ``|rho|`` for the wording (Cohen 1988): below 0.1 negligible, below 0.3 weak, below 0.5
#: moderate, else strong.
RHO_BANDS: tuple[tuple[float, str], ...] = ((0.1, "negligible"), (0.3, "weak"), (0.5, "moderate"))
#: Places that lie within one country (the rest are countries or cities of the world).
WITHIN_ONE_COUNTRY: tuple[str, ...] = ("US state", "US city", "French region")
#: Plurals of the places of :func:`counted_sets`, for prose.
PLACE_PLURALS: dict[str, str] = {
    "country": "countries",
    "city": "cities",
    "US state": "US states",
    "US city": "US cities",
    "French region": "French regions",
}


def rho_words(rho: float, lo: float, hi: float) -> str:
    """A correlation in words: its ``|rho|`` band (:data:`RHO_BANDS`), "negative" when below zero, and
    "uncertain" when its 95 % CI includes zero.

    Example
    -------
    >>> rho_words(0.44, 0.28, 0.57), rho_words(0.19, -0.13, 0.45), rho_words(-0.6, -0.8, -0.4)
    ('moderate', 'weak, uncertain', 'strong negative')
    """
    band = next((word for limit, word in RHO_BANDS if abs(rho) < limit), "strong")
    if rho < 0:
        band += " negative"
    return band + (", uncertain" if lo <= 0 <= hi else "")


def _row(corr: pd.DataFrame, name: str, kind: str = "substring"):
    r = corr[(corr["label_set"] == name) & (corr["kind"] == kind)]
    return r.iloc[0] if len(r) else None


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


#: :func:`correlation_words` says the counts "leave most of the ranking unexplained" when ``rho ** 2`` (the
#: share of the variance of the F1 ranks that the count ranks explain) is below this.
MOST = 0.5
#: :func:`correlation_words`: the two count kinds give "nearly the same ranks" when the Spearman correlation
#: of the two counts is at least this in every set with both, "similar ranks" at :data:`SIMILAR_RANKS`.
SAME_RANKS = 0.9
SIMILAR_RANKS = 0.7
#: … and "the choice of count does not change the picture" when the two rhos of every set lie within this.
SAME_RHO = 0.1


def count_kind_agreement(sets=None) -> pd.DataFrame:
    """For each counted label set with both count kinds: the Spearman correlation between its classes'
    substring and token counts (``count_rho``) and the two rhos against F1 (``rho_substring``,
    ``rho_tokens``)."""
    rows = []
    counted = counted_sets()
    for name in sets or counted:
        if set(counted[name][1]) != {"substring", "tokens"}:
            continue
        df = experiments.load_results(name, source="paper")
        s, t = count_vs_f1(name, "substring", df=df), count_vs_f1(name, "tokens", df=df)
        both = s[["count", "f1"]].join(t[["count"]], rsuffix="_tokens").dropna()
        rows.append(
            {
                "label_set": name,
                "count_rho": spearman(both["count"], both["count_tokens"]),
                "rho_substring": spearman(both["count"], both["f1"]),
                "rho_tokens": spearman(both["count_tokens"], both["f1"]),
            }
        )
    return pd.DataFrame(rows, columns=["label_set", "count_rho", "rho_substring", "rho_tokens"])


def correlation_words(corr: pd.DataFrame, kinds: pd.DataFrame, *, country: str = "country100") -> dict:
    """The chapter's conclusions about the correlations, each worded by the numbers.

    Parameters
    ----------
    corr : :func:`correlation_table`.
    kinds : :func:`count_kind_agreement`.
    country : the label set of countries.

    Returns
    -------
    ``country_finding`` (direction from the CI of the country rho with substring counts: "recognised better"
    only when the CI lies above zero; "leave most of the ranking unexplained" when ``rho ** 2 < MOST``);
    ``within_lead`` (the sets of :data:`WITHIN_ONE_COUNTRY`: "weaker" when every interval includes zero,
    "as clear" when none does, else "mixed"); ``count_kinds`` (:data:`SAME_RANKS`, :data:`SIMILAR_RANKS`,
    :data:`SAME_RHO`); ``trend`` (the sign of every substring rho); ``bands`` (each place with its
    :func:`rho_words`, places with the same words together).
    """
    out = {}
    c = _row(corr, country)
    if c is None:
        out["country_finding"] = "there is no country label set to measure"
    elif c["lo"] > 0:
        tail = (
            ", but the counts leave most of the ranking unexplained"
            if c["rho"] ** 2 < MOST
            else ", and the counts explain much of the ranking"
        )
        out["country_finding"] = "countries named more often in captions are recognised better" + tail
    elif c["hi"] < 0:
        out["country_finding"] = "countries named more often in captions are recognised worse"
    else:
        out["country_finding"] = (
            "the data do not show whether countries named more often in captions are recognised better"
        )

    sub = corr[corr["kind"] == "substring"]
    within = sub[sub["place"].isin(WITHIN_ONE_COUNTRY)]
    unsure = int(((within["lo"] <= 0) & (within["hi"] >= 0)).sum())
    if len(within) and unsure == len(within):
        out["within_lead"] = "Within one country the evidence is weaker (every interval includes zero)"
    elif unsure == 0:
        out["within_lead"] = "Within one country the evidence is as clear (no interval includes zero)"
    else:
        out["within_lead"] = (
            f"Within one country the evidence is mixed ({unsure} of {len(within)} intervals include zero)"
        )

    if kinds.empty:
        out["count_kinds"] = "Only one way of counting exists for these sets."
    else:
        low = kinds["count_rho"].min()
        ranks = (
            "nearly the same ranks"
            if low >= SAME_RANKS
            else "similar ranks"
            if low >= SIMILAR_RANKS
            else "different ranks"
        )
        gap = (kinds["rho_substring"] - kinds["rho_tokens"]).abs().max()
        picture = (
            "so the choice of count does not change the picture"
            if gap <= SAME_RHO
            else f"and the correlations with F1 differ by up to {gap:.2f}, so the choice of count matters"
        )
        out["count_kinds"] = f"The two ways of counting give {ranks}, {picture}."

    signs = np.sign(sub["rho"].to_numpy())
    out["trend"] = (
        "tend to be recognised better"
        if (signs > 0).all()
        else "tend to be recognised worse"
        if (signs < 0).all()
        else "are not consistently recognised better or worse"
    )
    groups: dict[str, list[str]] = {}
    for r in sub.itertuples():
        words = rho_words(r.rho, r.lo, r.hi)
        place = PLACE_PLURALS.get(r.place, r.place)
        same_place = [x for x in sub.itertuples() if x.place == r.place]
        if len({rho_words(x.rho, x.lo, x.hi) for x in same_place}) > 1:
            place = f"{place} ({r.label_set})"  # the sets of one place disagree: name each
        if place not in groups.setdefault(words, []):
            groups[words].append(place)
    parts = [
        f"a {words} {'rank correlation' if i == 0 else 'one'} for {_join(places)}"
        for i, (words, places) in enumerate(groups.items())
    ]
    if len(parts) > 2:
        out["bands"] = "; ".join(parts[:-1]) + "; and " + parts[-1]
    else:
        out["bands"] = " and ".join(parts) if parts else "no correlation to report"
    return out


def flag_table(tables: dict[str, pd.DataFrame], n: int = 5) -> pd.DataFrame:
    """The flagged classes of every label set (:func:`rank_residuals` with ``n`` per side), stacked, with
    ``label`` and ``label_set`` columns."""
    flags = []
    for name, t in tables.items():
        r = rank_residuals(t, n=n)
        flags.append(r[r["flag"] != ""].assign(label_set=name))
    return pd.concat(flags).rename_axis("label").reset_index()


def flag_examples(flags: pd.DataFrame, label_set: str = "country100") -> dict:
    """The flagged classes of one label set furthest below and above the trend: ``worst_country``,
    ``worst_count``, ``worst_f1``, ``best_country``, ``best_count``, ``best_f1``.

    Raises
    ------
    ConfigError
        When the label set has no flagged class.
    """
    mine = flags[flags["label_set"] == label_set].sort_values("residual")
    if mine.empty:
        raise ConfigError(f"no flagged class in {label_set!r}")
    worst, best = mine.iloc[0], mine.iloc[-1]
    return {
        "worst_country": worst["label"],
        "worst_count": worst["count"],
        "worst_f1": worst["f1"],
        "best_country": best["label"],
        "best_count": best["count"],
        "best_f1": best["f1"],
    }


#: Display formats of :func:`flag_view`'s columns.
FLAG_FORMATS: dict[str, str] = {
    "count": "{:,.0f}",
    "f1": "{:.2f}",
    "count_rank": "{:.2f}",
    "f1_rank": "{:.2f}",
    "residual": "{:+.2f}",
}


def flag_view(flags: pd.DataFrame) -> pd.DataFrame:
    """The columns of :func:`flag_table` the chapter shows, sorted by label set, flag and residual."""
    cols = ["label_set", "flag", "label", "count", "f1", "count_rank", "f1_rank", "residual"]
    return flags[cols].sort_values(["label_set", "flag", "residual"])


#: Labels of the counting demonstration: the country labels and two look-alikes.
DEMO_LABELS: tuple[str, ...] = (*COUNTRIES, "Niger", "Guinea")
#: Labels whose counts the chapter discusses, by glue prefix.
DEMO_SHOWN: dict[str, str] = {
    "niger": "Niger",
    "nigeria": "Nigeria",
    "dominica": "Dominica",
    "china": "China",
}


def synthetic_counts(
    n_captions: int,
    *,
    seed: int = DEFAULT_SEED,
    labels=DEMO_LABELS,
    check: Callable | None = None,
    check_name: str = "authors' loop",
) -> pd.DataFrame:
    """Count ``labels`` in ``n_captions`` synthetic LAION-like captions with every mode of
    :func:`geoclip_utils.captions.count_captions`.

    Parameters
    ----------
    n_captions : captions to generate (:func:`geoclip_utils.captions.synthetic.generate_captions`).
    seed : their seed.
    labels : the labels to count.
    check : optional ``check(path, labels) -> {label: count}`` run on the same file (e.g. the authors' loop),
        added as the column ``check_name``.

    Returns
    -------
    DataFrame indexed by label, one column per mode (and ``check_name``).
    """
    from ..captions import MODES, count_captions

    labels = list(labels)
    with tempfile.TemporaryDirectory() as tmp:
        path = generate_captions(Path(tmp) / "captions.txt", n_captions, seed=seed)
        out = pd.DataFrame(
            {mode: count_captions([path], labels, mode=mode, workers=1, progress=False) for mode in MODES}
        )
        if check is not None:
            out[check_name] = pd.Series(check(path, labels))
    return out


def synthetic_glue(counts: pd.DataFrame, n_captions: int, *, check_name: str = "authors' loop") -> dict:
    """``demo_n``, ``n_labels``, ``n_equal`` (labels where ``tokens`` equals the check) and
    ``<label>_<mode>`` for the labels of :data:`DEMO_SHOWN`."""
    from ..captions import MODES

    return {
        "demo_n": n_captions,
        "n_labels": len(counts),
        "n_equal": int((counts["tokens"] == counts[check_name]).sum()),
        **{f"{key}_{mode}": int(counts.loc[lab, mode]) for key, lab in DEMO_SHOWN.items() for mode in MODES},
    }


def synthetic_text(counts: pd.DataFrame, n_captions: int, *, check_name: str = "authors' loop") -> str:
    """The chapter's checked lines of the counting demonstration."""
    n_equal = int((counts["tokens"] == counts[check_name]).sum())
    head = (
        f"tokens mode equals the authors' loop for {n_equal} of {len(counts)} labels on {n_captions} captions"
    )
    shown = counts.loc[list(DEMO_SHOWN.values()), ["tokens", check_name, "substring", "phrase"]]
    return head + "\n" + shown.to_string()


# --------------------------------------------------------------------------- the fitted law: F1 per tenfold count
def _set_seed(seed: int, name: str) -> int:
    """A label set's own bootstrap seed, derived from ``seed`` and its name: two sets get independent
    resamples, and a set's interval does not depend on which other sets are fitted."""
    import zlib

    return int(np.random.SeedSequence([int(seed), zlib.crc32(name.encode())]).generate_state(1)[0])


def _weighted_slopes(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slopes of ``y`` on ``x`` for each row of weights ``w`` (NaN where ``x`` is constant)."""
    total = w.sum(axis=1)
    mx, my = (w @ x) / total, (w @ y) / total
    sxy = w @ (x * y) - total * mx * my
    sxx = w @ (x * x) - total * mx * mx
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sxx > 1e-12 * np.maximum(total, 1), sxy / sxx, np.nan)


def frequency_fit(
    count, f1, *, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED, name: str = ""
) -> dict:
    """The least-squares line of F1 on ``log10(count)`` over classes, with a bootstrap CI of its slope.

    Classes with no count (unmatched) or a count of zero (whose logarithm is undefined) are left out and
    counted. The slope is the change in F1 per tenfold increase in caption count. Its interval resamples the
    *classes* with :func:`geoclip_utils.stats.bootstrap_weights`, seeded by ``seed`` and ``name``
    (:func:`_set_seed`); resamples whose counts are all equal are skipped.

    Returns
    -------
    ``{"slope", "intercept", "ci95": [lo, hi], "n" (classes used), "n_zero" (left out for a zero count),
    "x_min", "x_max" (the used counts' range), "boot" (the resampled slopes)}``.

    Raises
    ------
    ConfigError
        Fewer than 3 classes with a positive count, or all with the same count.

    Example
    -------
    >>> r = frequency_fit([10, 100, 1000, 0], [0.2, 0.4, 0.6, 0.9], n_boot=50)
    >>> round(r["slope"], 6), round(r["intercept"], 6), r["n"], r["n_zero"]
    (0.2, 0.0, 3, 1)
    """
    c = np.asarray(count, float)
    f = np.asarray(f1, float)
    if c.shape != f.shape or c.ndim != 1:
        raise ConfigError(f"frequency_fit needs two 1-D arrays of one length, got {c.shape} and {f.shape}")
    known = ~(np.isnan(c) | np.isnan(f))
    zero = known & (c <= 0)
    ok = known & (c > 0)
    x, y = np.log10(c[ok]), f[ok]
    n = len(x)
    if n < 3 or np.ptp(x) == 0:
        raise ConfigError(
            f"a line of F1 on log10(count) needs at least 3 classes with different positive counts, got {n}"
        )
    slope = float(_weighted_slopes(np.ones((1, n)), x, y)[0])
    intercept = float(y.mean() - slope * x.mean())
    boot = stats.bootstrap_distribution(
        lambda w: _weighted_slopes(w, x, y), n, n_boot=n_boot, seed=_set_seed(seed, name), vectorized=True
    )
    boot = boot[np.isfinite(boot)]
    ci = [float(v) for v in np.percentile(boot, [2.5, 97.5])] if boot.size else [float("nan")] * 2
    return {
        "slope": slope,
        "intercept": intercept,
        "ci95": ci,
        "n": int(n),
        "n_zero": int(zero.sum()),
        "x_min": float(c[ok].min()),
        "x_max": float(c[ok].max()),
        "boot": boot,
    }


def fit_table(
    tables: dict[str, pd.DataFrame], *, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """:func:`frequency_fit` of every table of :func:`count_tables`, one row per label set.

    Returns
    -------
    DataFrame indexed by ``label_set`` with ``place``, ``kind``, ``classes``, ``used``, ``zero``, ``slope``,
    ``lo``, ``hi``, ``intercept``, ``x_min``, ``x_max`` and ``boot`` (the resampled slopes, an array per
    set, for :func:`slope_differences`; :data:`FIT_COLUMNS` are the ones to show).
    """
    rows = []
    for name, t in tables.items():
        r = frequency_fit(t["count"], t["f1"], n_boot=n_boot, seed=seed, name=name)
        rows.append(
            {
                "label_set": name,
                "place": t["place"].iloc[0],
                "kind": t["kind"].iloc[0],
                "classes": len(t),
                "used": r["n"],
                "zero": r["n_zero"],
                "slope": r["slope"],
                "lo": r["ci95"][0],
                "hi": r["ci95"][1],
                "intercept": r["intercept"],
                "x_min": r["x_min"],
                "x_max": r["x_max"],
                "boot": r["boot"],
            }
        )
    return pd.DataFrame(rows).set_index("label_set")


#: The columns of :func:`fit_table` the chapter shows, and their formats.
FIT_FORMATS: dict[str, str] = {"slope": "{:+.3f}", "lo": "{:+.3f}", "hi": "{:+.3f}", "intercept": "{:.2f}"}
FIT_COLUMNS: tuple[str, ...] = ("place", "kind", "classes", "used", "zero", "slope", "lo", "hi", "intercept")


def slope_differences(fits: pd.DataFrame) -> pd.DataFrame:
    """Every pair of label sets: the difference of their slopes with a bootstrap 95 % CI.

    The two sets hold different classes, so they are resampled independently (each with its own stream,
    :func:`_set_seed`); the interval is the percentile interval of the differences of paired resamples,
    resample ``i`` of one set against resample ``i`` of the other.

    Returns
    -------
    DataFrame with ``a``, ``b``, ``diff`` (slope of ``a`` minus slope of ``b``), ``lo``, ``hi``, ``differ``
    (the interval excludes zero), one row per pair in the order of ``fits``.
    """
    boots = fits["boot"].to_dict() if "boot" in fits.columns else {}
    names = list(fits.index)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            ba, bb = boots.get(a, np.array([])), boots.get(b, np.array([]))
            m = min(len(ba), len(bb))
            d = ba[:m] - bb[:m]
            lo, hi = np.percentile(d, [2.5, 97.5]) if m else (np.nan, np.nan)
            rows.append(
                {
                    "a": a,
                    "b": b,
                    "diff": float(fits.loc[a, "slope"] - fits.loc[b, "slope"]),
                    "lo": float(lo),
                    "hi": float(hi),
                    "differ": bool(lo > 0 or hi < 0),
                }
            )
    return pd.DataFrame(rows, columns=["a", "b", "diff", "lo", "hi", "differ"])


def fit_text(fits: pd.DataFrame, diffs: pd.DataFrame) -> str:
    """The chapter's checked lines: each set's slope (F1 per tenfold count) with its 95 % CI, then the pairs
    whose slopes differ."""
    lines = ["F1 per tenfold caption count: least-squares slope over classes (95% bootstrap CI)"]
    lines += [
        f"{name:>21} {r.kind:>9}: n={r.used:>3}  slope {r.slope:+.3f}  [{r.lo:+.3f}, {r.hi:+.3f}]"
        for name, r in fits.iterrows()
    ]
    differ = diffs[diffs["differ"]]
    lines.append(
        f"pairs whose slopes differ (CI of the difference excludes 0): {len(differ)} of {len(diffs)}"
    )
    lines += [f"  {r.a} − {r.b}: {r.diff:+.3f}  [{r.lo:+.3f}, {r.hi:+.3f}]" for r in differ.itertuples()]
    return "\n".join(lines)


def fit_glue(fits: pd.DataFrame, diffs: pd.DataFrame, *, country: str = "country100") -> dict:
    """The numbers and words the chapter quotes from :func:`fit_table` and :func:`slope_differences`.

    Example
    -------
    >>> fits = pd.DataFrame({"slope": [0.1, 0.3], "lo": [0.05, 0.2], "hi": [0.15, 0.4], "zero": [0, 2],
    ...                      "place": ["country", "city"]}, index=["a", "b"])
    >>> diffs = pd.DataFrame({"a": ["a"], "b": ["b"], "diff": [-0.2], "lo": [-0.3], "hi": [-0.1], "differ": [True]})
    >>> fit_glue(fits, diffs, country="a")["differ_sentence"]
    'the slopes of a and b differ (a − b −0.20, 95 % CI −0.30 – −0.10)'
    """
    out: dict = {}
    for name, r in fits.iterrows():
        key = f"slope_{name}".lower()
        out |= {key: r["slope"], key + "_lo": r["lo"], key + "_hi": r["hi"]}
    steepest, flattest = fits["slope"].idxmax(), fits["slope"].idxmin()
    out |= {
        "fit_country_slope": fits.loc[country, "slope"] if country in fits.index else float("nan"),
        "fit_steepest": steepest,
        "fit_steepest_slope": fits.loc[steepest, "slope"],
        "fit_flattest": flattest,
        "fit_flattest_slope": fits.loc[flattest, "slope"],
        "fit_n_zero": int(fits["zero"].sum()),
        "fit_n_sets": len(fits),
        "fit_n_positive": int((fits["lo"] > 0).sum()),
        "n_pairs": len(diffs),
        "n_pairs_differ": int(diffs["differ"].sum()),
        "n_pairs_chance": 0.05 * len(diffs),
    }
    differ = diffs[diffs["differ"]]

    def num(v: float) -> str:
        return f"{v:+.2f}".replace("-", "−")

    def one(r) -> str:
        return f"{r['a']} − {r['b']} {num(r['diff'])}, 95 % CI {num(r['lo'])} – {num(r['hi'])}"

    if differ.empty:
        sentence = "no two label sets' slopes can be told apart: every interval of a difference includes zero"
    elif len(differ) == 1:
        r = differ.iloc[0]
        sentence = f"the slopes of {r['a']} and {r['b']} differ ({one(r)})"
    else:
        big = differ.reindex(differ["diff"].abs().sort_values(ascending=False).index).iloc[0]
        sentence = (
            f"{len(differ)} of the {len(diffs)} pairs of label sets have slopes that differ; the largest "
            f"difference is {one(big)}"
        )
    out["differ_sentence"] = sentence
    k, chance = len(differ), 0.05 * len(diffs)
    pairs = "1 pair" if len(diffs) == 1 else f"{len(diffs)} pairs"
    text = f"with {pairs}, about {chance:.1f} intervals would exclude zero by chance alone"
    if k == 0:
        text += ", and none does"
    elif k <= 2 * chance:
        are = "pair apart is" if k == 1 else "pairs apart are"
        text += f", so {k} {are} weak evidence that the law differs between kinds of place"
    else:
        text += f", and {k} do: more than chance alone would give"
    out["chance_sentence"] = text
    return out


def add_fit_lines(fig, fits: pd.DataFrame, allt: pd.DataFrame):
    """Draw each label set's fitted line (:func:`fit_table`) on its panel of the count-vs-F1 scatter.

    A panel is found by its points: the trace whose hover labels are all classes of one label set. The line
    runs over the counts the fit used (a straight line on the log axis).
    """
    import plotly.graph_objects as go

    labels = {name: set(g["label"]) for name, g in allt.groupby("label_set")}
    done = set()
    for trace in list(fig.data):
        shown = set(() if trace.hovertext is None else trace.hovertext)
        owners = [n for n, labs in labels.items() if shown and shown <= labs and n in fits.index]
        if len(owners) != 1 or owners[0] in done:
            continue
        name = owners[0]
        r = fits.loc[name]
        xs = np.array([r["x_min"], r["x_max"]])
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=r["intercept"] + r["slope"] * np.log10(xs),
                mode="lines",
                line={"color": "black", "width": 2},
                name="least-squares line",
                legendgroup="fit",
                showlegend=not done,
                hovertemplate=f"{name}: F1 {r['slope']:+.3f} per tenfold count<extra></extra>",
                xaxis=trace.xaxis,
                yaxis=trace.yaxis,
            )
        )
        done.add(name)
    return fig
