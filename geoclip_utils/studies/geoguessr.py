"""Would CLIP win at GeoGuessr? CLIP's country answers as pins on the map, scored against GeoEstimation.

A GeoGuessr player sees a street photo, drops a pin, and scores ``5000 * exp(-d / 1492.7)`` points for a pin
``d`` km from where the photo was taken. CLIP names countries; this module turns its answers into pins with the
rules of :mod:`geoclip_utils.geo.pins` and scores them the way GeoEstimation is scored
(:mod:`geoclip_utils.stats.distance`), on the same photos:

``capital``, ``population_centre``, ``photo_prior``
    CLIP's first answer placed at the country's capital, at its population centre, or at the geometric median
    of the data set's other photos of that country (leave-one-out). A photo-prior pin of a country without
    another photo falls back to its population centre (counted).
``hedged``
    among the pins of CLIP's top-k answers under the best of the three rules above (the highest mean GeoScore
    of the first answer's pins on these photos), the one with the highest expected GeoScore under CLIP's
    stored probabilities (:func:`geoclip_utils.geo.pins.hedged_pins`);
``hedged_calibrated``
    the same with the probabilities temperature-scaled first (:func:`geoclip_utils.stats.calibration.tempered_probs`).
    The temperature is the calibration chapter's: the one of a log-spaced grid from 1 to 1000 whose top-1
    probability has the lowest expected calibration error against the *gold country labels*
    (:func:`geoclip_utils.stats.calibration.fit_temperature`). It is chosen from the labels alone, never from
    a distance or a GeoScore;
``oracle_capital``, ``oracle_population_centre``, ``oracle_photo_prior``
    the three rules applied to the gold country: the ceiling of any player who answers with a country.

Every rule is scored on the photos that have coordinates, with shares within 1/25/200/750/2500 km, median
km and mean GeoScore, each with a bootstrap 95 % CI, and paired with GeoEstimation on the same photos: the
mean per-photo GeoScore difference (CLIP's pin minus GeoEstimation's) with a paired bootstrap CI, and the
shares of photos on which each side scores higher. :func:`map_guess` is what ``geoclip metrics --json``
prints as ``map_guess``; the chapter calls the same functions.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import experiments, geo
from ..errors import ConfigError, DataError
from ..geo import gazetteer, pins
from ..names import to_iso3
from ..stats import distance as stats_distance
from ..stats.bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED
from ..stats.calibration import fit_temperature, tempered_probs
from ..stats.metrics import correct_at_k

__all__ = [
    "RULES",
    "SINGLE_RULES",
    "CLIP_MODES",
    "RULE_WORDS",
    "Guesses",
    "clip_experiments",
    "has_map_guess",
    "make_guesses",
    "load_guesses",
    "score_guesses",
    "map_guess",
    "result_table",
    "result_view",
    "wins_view",
    "headline_text",
    "headline_glue",
    "candidates_glue",
    "dropped_sentence",
    "verdict_sentence",
    "rules_sentence",
    "country_wins",
    "wins_glue",
    "curve_rules",
    "distance_curves",
]

#: The single-country pin rules (:data:`geoclip_utils.geo.pins.PIN_RULES`).
SINGLE_RULES: tuple[str, ...] = pins.PIN_RULES
#: Every rule of the ``map_guess`` block, in display order.
RULES: tuple[str, ...] = (
    *SINGLE_RULES,
    "hedged",
    "hedged_calibrated",
    *(f"oracle_{r}" for r in SINGLE_RULES),
)
#: The modes of a run that names a country per photo (the region run names regions).
CLIP_MODES: tuple[str, ...] = ("flat", "two_stage", "mixed")
#: What each rule does, in words (the ``description`` of its ``map_guess`` entry).
RULE_WORDS: dict[str, str] = {
    "capital": "CLIP's first country, pinned at its capital (GeoNames)",
    "population_centre": "CLIP's first country, pinned at the population-weighted centre of its GeoNames places",
    "photo_prior": "CLIP's first country, pinned at the geometric median of the data set's other photos of it",
    "hedged": "the pin of CLIP's top answers with the highest expected GeoScore under CLIP's probabilities",
    "hedged_calibrated": "as hedged, with CLIP's probabilities temperature-scaled (temperature fitted on the country labels)",
    "oracle_capital": "the gold country, pinned at its capital",
    "oracle_population_centre": "the gold country, pinned at its population centre",
    "oracle_photo_prior": "the gold country, pinned at the geometric median of its other photos",
}


@dataclass(frozen=True)
class Guesses:
    """CLIP's pins under every rule for the photos of one run.

    Attributes
    ----------
    table : one row per photo and rule: ``image_id``, ``rule`` (ordered categorical of :data:`RULES`),
        ``answer`` (ISO-3 of the answered country), ``pred_lat``, ``pred_lon``, ``lat``, ``lon`` (true),
        ``gold_iso3``, ``gold`` (country name), ``error_km``, ``geoscore``; sorted by rule, then image id.
    experiment : the run.
    hedge_rule : the single rule the hedged pins use (the best one by mean GeoScore).
    temperature : the temperature of ``hedged_calibrated``.
    moved : per hedged rule, the share of photos whose hedged pin is not the first answer's.
    fallback : photo-prior pins that fell back to the population centre (a country without another photo).
    n_results : photos in the run; ``n_dropped`` of them have no coordinates and ``n_unanswered`` a first
        answer that names no country (the two-stage run's placeholder ``"other"``); both are left out.
    distinct_pins : per rule, how many distinct points its pins take.
    """

    table: pd.DataFrame
    experiment: str
    hedge_rule: str
    temperature: float
    moved: dict[str, float] = field(default_factory=dict)
    fallback: int = 0
    n_results: int = 0
    n_dropped: int = 0
    n_unanswered: int = 0
    distinct_pins: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Photos scored."""
        return int(self.table["image_id"].nunique())

    def rule(self, name: str) -> pd.DataFrame:
        """The rows of one rule, sorted by image id."""
        return self.table[self.table["rule"].astype(str) == name].reset_index(drop=True)


def clip_experiments(source: str = "paper") -> list[str]:
    """Registered CLIP runs that name a country for photos with coordinates (published ones for ``"paper"``).

    Example
    -------
    >>> clip_experiments()[:2]  # doctest: +SKIP
    ['country100', 'filtered_country100']
    """
    return [
        n
        for n, e in experiments.experiments().items()
        if e.mode in CLIP_MODES
        and e.labels.countries
        and e.labels.coordinates
        and (source == "local" or e.published)
    ]


def has_map_guess(label_set: str, mode: str | None) -> bool:
    """Whether runs of ``label_set`` in ``mode`` get a ``map_guess`` block: countries with coordinates."""
    ls = experiments.label_sets().get(label_set)
    return bool(ls is not None and ls.countries and ls.coordinates and mode in CLIP_MODES)


def _answers(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """CLIP's answers as ISO-3 codes (n, k) and their stored probabilities (n, k; 0 where fewer)."""
    k = max(len(t) for t in df["top_labels"])
    names = sorted({str(x) for t in df["top_labels"] for x in t})
    iso = dict(
        zip(names, to_iso3(names, what=str(df.attrs.get("experiment", "results")), strict=False), strict=True)
    )
    answers = np.array(
        [[iso[str(x)] for x in t] + [""] * (k - len(t)) for t in df["top_labels"]], dtype=object
    )
    probs = np.array([list(p) + [0.0] * (k - len(p)) for p in df["top_probs"]], dtype=float)
    return answers, probs


def make_guesses(df: pd.DataFrame, coords: pd.DataFrame, *, experiment: str = "") -> Guesses:
    """CLIP's pins under every rule of :data:`RULES` (see the module docstring).

    Parameters
    ----------
    df : a predictions table of countries (:func:`geoclip_utils.experiments.load_results`), with
        ``top_labels`` and ``top_probs``.
    coords : the photos' ``image_id``, ``lat``, ``lon``, ``label`` (gold country name) and ``iso3`` (its
        code), e.g. :func:`geoclip_utils.experiments.load_coordinates`; photos of ``df`` without a row here
        are left out (counted in ``n_dropped``).
    experiment : the run's name, for messages and the result.

    Returns
    -------
    Guesses

    Raises
    ------
    DataError
        No photo with coordinates, a gold label differing between the two tables, an answer GeoNames cannot
        place, or probabilities that are not stored.
    """
    name = experiment or str(df.attrs.get("experiment", ""))
    c = coords[["image_id", "lat", "lon", "label", "iso3"]]
    t = df.merge(c, on="image_id", how="inner", validate="one_to_one").sort_values("image_id", kind="stable")
    t = t.reset_index(drop=True)
    if t.empty:
        raise DataError(f"{name}: no photo of the run has coordinates")
    if "gold" in t.columns and (t["gold"].astype(str) != t["label"].astype(str)).any():
        i = int(np.flatnonzero(t["gold"].astype(str) != t["label"].astype(str))[0])
        raise DataError(
            f"{name}: image {t['image_id'].iat[i]!r} is {t['gold'].iat[i]!r} in the results but "
            f"{t['label'].iat[i]!r} in the coordinates file"
        )
    answers, probs = _answers(t)
    if not np.isfinite(probs).all():
        raise DataError(f"{name}: the results store no probabilities, so no pin can be hedged")
    gold = t["iso3"].astype(str).to_numpy()
    lat, lon = t["lat"].to_numpy(float), t["lon"].to_numpy(float)
    used = sorted({a for a in answers.ravel() if a} | set(gold))
    # a first answer that names no country (the authors' placeholder "other") places no pin: left out, counted
    keep = answers[:, 0] != ""
    if not keep.any():
        raise DataError(f"{name}: no first answer names a country, so no pin can be placed")
    tables = {
        "capital": gazetteer.capitals(used),
        "population_centre": gazetteer.population_centres(used),
    }
    prior = pins.photo_prior(lat, lon, gold)

    def pins_of(rule: str, ans) -> tuple[np.ndarray, np.ndarray, int]:
        if rule == "photo_prior":
            plat, plon = pins.photo_prior_pins(prior, ans)
            alone = np.isnan(plat) & (np.asarray(ans, dtype=object).reshape(plat.shape) != "")
            flat, flon = pins.table_pins(tables["population_centre"], ans)
            plat, plon = np.where(alone, flat, plat), np.where(alone, flon, plon)
            return plat, plon, int(alone.sum())
        plat, plon = pins.table_pins(tables[rule], ans)
        return plat, plon, 0

    rows: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    topk: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    fallback = 0
    for r in SINGLE_RULES:
        plat, plon, fb = pins_of(r, answers)
        topk[r] = (plat, plon)
        rows[r] = (plat[:, 0], plon[:, 0], answers[:, 0])
        fallback += fb if r == "photo_prior" else 0
        olat, olon, _ = pins_of(r, gold[:, None])
        rows[f"oracle_{r}"] = (olat[:, 0], olon[:, 0], gold)
    # the temperature is fitted on every photo's labels (an answer naming no country is wrong), as the
    # calibration chapter fits it; everything else is computed on the photos with a first answer
    stored = t["top_probs"].tolist()
    temperature, _ = fit_temperature(stored, correct_at_k(t, 1))
    tempered = tempered_probs(stored, temperature)[keep]
    rows = {r: tuple(x[keep] for x in v) for r, v in rows.items()}
    topk = {r: tuple(x[keep] for x in v) for r, v in topk.items()}
    answers, probs, gold, lat, lon = answers[keep], probs[keep], gold[keep], lat[keep], lon[keep]
    t = t[keep].reset_index(drop=True)
    score = {r: float(geo.geoscore(geo.haversine_km(lat, lon, *rows[r][:2])).mean()) for r in SINGLE_RULES}
    best = max(SINGLE_RULES, key=lambda r: (score[r], -SINGLE_RULES.index(r)))
    moved = {}
    blat, blon = topk[best]
    # a missing answer (a shorter top-k) gets probability 0 and the first answer's pin, so it never wins
    ok = np.isfinite(blat) & np.isfinite(blon)
    p_ok = np.where(ok, probs, 0.0)
    blat, blon = np.where(ok, blat, blat[:, :1]), np.where(ok, blon, blon[:, :1])
    for r, p in (
        ("hedged", p_ok),
        ("hedged_calibrated", np.where(ok, tempered, 0.0)),
    ):
        p = np.where(p.sum(axis=1, keepdims=True) > 0, p, np.eye(1, p.shape[1]))
        hlat, hlon, j = pins.hedged_pins(blat, blon, p)
        rows[r] = (hlat, hlon, answers[np.arange(len(j)), j])
        moved[r] = float((j != 0).mean())
    parts = []
    for r in RULES:
        plat, plon, ans = rows[r]
        d = geo.haversine_km(lat, lon, plat, plon)
        parts.append(
            pd.DataFrame(
                {
                    "image_id": t["image_id"].to_numpy(),
                    "rule": r,
                    "answer": ans,
                    "pred_lat": plat,
                    "pred_lon": plon,
                    "lat": lat,
                    "lon": lon,
                    "gold_iso3": gold,
                    "gold": t["label"].to_numpy(),
                    "error_km": d,
                    "geoscore": geo.geoscore(d),
                }
            )
        )
    table = pd.concat(parts, ignore_index=True)
    table["rule"] = pd.Categorical(table["rule"], categories=list(RULES), ordered=True)
    distinct = {
        r: int(pd.MultiIndex.from_arrays([np.round(rows[r][0], 6), np.round(rows[r][1], 6)]).nunique())
        for r in RULES
    }
    return Guesses(
        table=table,
        experiment=name,
        hedge_rule=best,
        temperature=float(temperature),
        moved=moved,
        fallback=fallback,
        n_results=int(len(df)),
        n_dropped=int(len(df) - len(keep)),
        n_unanswered=int((~keep).sum()),
        distinct_pins=distinct,
    )


def _guesses(experiment: str, source: str, results_dir: str | None) -> Guesses | None:
    """The guesses of a run (the authors' files once per process: they never change)."""
    if source == "paper" and results_dir is None:
        return _paper_guesses(experiment)
    return _compute_guesses(experiment, source, results_dir)


@functools.cache
def _paper_guesses(experiment: str) -> Guesses | None:
    return _compute_guesses(experiment, "paper", None)


def _compute_guesses(experiment: str, source: str, results_dir: str | None) -> Guesses | None:
    exp = experiments.experiments().get(experiment)
    df = experiments.load_results(experiment, source=source, results_dir=results_dir)
    label_set = exp.label_set if exp is not None else str(df.attrs.get("label_set", ""))
    mode = exp.mode if exp is not None else df.attrs.get("mode")
    if not has_map_guess(label_set, mode):
        raise ConfigError(
            f"experiment={experiment!r} does not name countries of photos with coordinates; "
            f"pins need one of {clip_experiments(source)}"
        )
    coords = experiments.load_coordinates(label_set)
    if not df["image_id"].isin(coords["image_id"]).any():
        return None  # e.g. a local run on other photos of the label set's countries
    return make_guesses(df, coords, experiment=experiment)


def load_guesses(
    experiment: str, *, source: str = "paper", results_dir: str | os.PathLike | None = None
) -> Guesses:
    """:func:`make_guesses` of a run and its label set's coordinates (computed once per run).

    Raises
    ------
    ConfigError
        A run that does not name countries of photos with coordinates, or none of whose photos has them.
    """
    g = _guesses(experiment, source, None if results_dir is None else str(results_dir))
    if g is None:
        raise ConfigError(
            f"experiment={experiment!r}: none of its photos has coordinates, so no pin can be scored"
        )
    return g


def _paired_frame(g: Guesses, ge_table: pd.DataFrame, partitioning: str) -> tuple[pd.DataFrame, np.ndarray]:
    """GeoEstimation's rows of ``partitioning`` for the photos of ``g`` (sorted by image id) and the ids."""
    sub = ge_table[ge_table["partitioning"].astype(str) == partitioning]
    if sub.empty:
        raise ConfigError(f"no GeoEstimation predictions for partitioning {partitioning!r}")
    ids = np.intersect1d(g.rule(RULES[0])["image_id"].to_numpy(str), sub["image_id"].to_numpy(str))
    sub = sub.set_index("image_id").loc[ids].reset_index()
    return sub, ids


def score_guesses(
    g: Guesses,
    ge_table: pd.DataFrame | None = None,
    *,
    partitioning: str = "hierarchy",
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> dict:
    """The ``map_guess`` block: one entry per rule of :data:`RULES`.

    Parameters
    ----------
    g : :func:`make_guesses`.
    ge_table : :func:`geoclip_utils.studies.geoestimation.geoestimation_table` (``None``: no pairing).
    partitioning : GeoEstimation's partitioning to pair with.
    n_boot, seed : bootstrap settings (one set of resamples for every rule; the paired comparison resamples
        the photos both sides scored).

    Returns
    -------
    ``{rule: {"n", "acc_1km", "acc_1km_ci95", …, "acc_2500km", "median_km", "geoscore" (each with
    ``_ci95``), "description", "vs_geoestimation": {"partitioning", "n", "geoestimation_geoscore",
    "geoscore_diff" (CLIP − GeoEstimation), "geoscore_diff_ci95", "clip_higher", "geoestimation_higher",
    "ties"}}}``; the photo-prior entries add ``fallback``, the hedged ones ``based_on``, ``temperature`` and
    ``moved`` (the share of photos whose pin is not the first answer's).
    """
    metrics = stats_distance.distance_metrics(
        g.table, n_boot=n_boot, seed=seed, by="rule", order=RULES, country=False
    )
    paired = None
    if ge_table is not None:
        ge, ids = _paired_frame(g, ge_table, partitioning)
        if len(ids):
            paired = (ge["geoscore"].to_numpy(float), ids)
    out: dict[str, dict] = {}
    for r in RULES:
        entry = {"description": RULE_WORDS[r], **metrics[r]}
        if r == "photo_prior":
            entry["fallback"] = int(g.fallback)
        if r.startswith("hedged"):
            entry["based_on"] = g.hedge_rule
            entry["temperature"] = g.temperature if r == "hedged_calibrated" else 1.0
            entry["moved"] = g.moved[r]
        if paired is not None:
            ge_scores, ids = paired
            mine = g.rule(r).set_index("image_id").loc[ids, "geoscore"].to_numpy(float)
            p = stats_distance.paired_scores(mine, ge_scores, n_boot=n_boot, seed=seed)
            vs = {
                "partitioning": partitioning,
                "n": p["n"],
                "geoestimation_geoscore": p["mean_b"],
                "geoscore_diff": p["diff"],
            }
            if "diff_ci95" in p:
                vs["geoscore_diff_ci95"] = p["diff_ci95"]
            vs |= {"clip_higher": p["a_higher"], "geoestimation_higher": p["b_higher"], "ties": p["ties"]}
            entry["vs_geoestimation"] = vs
        out[r] = entry
    return out


def map_guess(
    experiment: str,
    *,
    source: str = "paper",
    results_dir: str | os.PathLike | None = None,
    partitioning: str = "hierarchy",
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> dict | None:
    """What ``geoclip metrics --experiment EXP --json`` adds as ``map_guess`` for a run that names countries
    of photos with coordinates (:func:`score_guesses` of :func:`load_guesses`, paired with GeoEstimation's
    ``partitioning``); ``None`` when none of the run's photos has coordinates (a local run on other photos).

    Raises
    ------
    ConfigError
        A run that does not name countries of photos with coordinates.

    Example
    -------
    >>> map_guess("country100", n_boot=100)["photo_prior"]["geoscore"]  # doctest: +SKIP
    """
    from .geoestimation import geoestimation_table

    g = _guesses(experiment, source, None if results_dir is None else str(results_dir))
    if g is None:
        return None
    return score_guesses(g, geoestimation_table(), partitioning=partitioning, n_boot=n_boot, seed=seed)


# --------------------------------------------------------------------------- the chapter's views and words
def result_table(result: dict) -> pd.DataFrame:
    """:func:`score_guesses` as a table, one row per rule: the shares, ``median_km``, ``geoscore`` with
    ``_lo`` / ``_hi``, and ``diff`` / ``diff_lo`` / ``diff_hi`` / ``clip_higher`` against GeoEstimation."""
    rows = {}
    for r, m in result.items():
        row = {"n": m["n"]}
        for k in stats_distance.DISTANCE_KEYS:
            row[k] = m[k]
            if k + "_ci95" in m:
                row[k + "_lo"], row[k + "_hi"] = m[k + "_ci95"]
        vs = m.get("vs_geoestimation")
        if vs:
            row["diff"] = vs["geoscore_diff"]
            row["diff_lo"], row["diff_hi"] = vs.get("geoscore_diff_ci95", [np.nan, np.nan])
            row["clip_higher"] = vs["clip_higher"]
            row["ge_higher"] = vs["geoestimation_higher"]
        rows[r] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("rule")


def headline_text(result: dict, partitioning: str) -> str:
    """The chapter's checked lines: per rule, the shares within 25 / 750 / 2500 km, median km and GeoScore
    with their 95 % CIs, and the paired GeoScore difference against GeoEstimation."""
    from ..notebook import format_ci

    def ci(m: dict, key: str, fmt: str) -> str:
        return (
            format_ci(m[key], *m[key + "_ci95"], fmt=fmt, style="bracket")
            if key + "_ci95" in m
            else format(m[key], fmt)
        )

    first = next(iter(result.values()))
    vs0 = first.get("vs_geoestimation", {})
    lines = [f"{first['n']} photos; 95% bootstrap CIs in brackets"]
    if vs0:
        lines.append(f"GeoEstimation ({partitioning}): GeoScore {vs0['geoestimation_geoscore']:.0f}")
    for r, m in result.items():
        shares = ", ".join(f"{t} km {m[f'acc_{t}km']:.1%}" for t in (25, 750, 2500))
        lines.append(f"{r}")
        lines.append(f"  within {shares}; median {ci(m, 'median_km', '.0f')} km")
        text = f"  GeoScore {ci(m, 'geoscore', '.0f')}"
        vs = m.get("vs_geoestimation")
        if vs and "geoscore_diff_ci95" in vs:
            diff = format_ci(vs["geoscore_diff"], *vs["geoscore_diff_ci95"], fmt="+.0f", style="bracket")
            text += f"; minus GeoEstimation's {diff}"
        lines.append(text)
    return "\n".join(lines)


#: Column names of :func:`result_view` and :func:`wins_view`.
VIEW_NAMES: dict[str, str] = {
    "median_km": "median km",
    "geoscore": "GeoScore",
    "geoscore_lo": "GeoScore lo",
    "geoscore_hi": "GeoScore hi",
    "diff": "minus GeoEst",
    "diff_lo": "diff lo",
    "diff_hi": "diff hi",
    "clip_higher": "CLIP higher",
    "clip": "CLIP GeoScore",
    "geoestimation": "GeoEst GeoScore",
}


def result_view(result: dict):
    """:func:`result_table` as the chapter shows it (a pandas ``Styler``): shares and the share of photos
    CLIP's pin scores higher in %, km and GeoScores rounded, the difference against GeoEstimation signed."""
    shares = [f"acc_{t}km" for t in stats_distance.THRESHOLDS_KM]
    cols = [
        *shares,
        "median_km",
        "geoscore",
        "geoscore_lo",
        "geoscore_hi",
        "diff",
        "diff_lo",
        "diff_hi",
        "clip_higher",
    ]
    t = result_table(result)
    shown = t[[c for c in cols if c in t.columns]].rename(columns=VIEW_NAMES)
    fmt = {c: "{:.1%}" for c in shares} | {"CLIP higher": "{:.1%}"}
    fmt |= {VIEW_NAMES[c]: "{:,.0f}" for c in ("median_km", "geoscore", "geoscore_lo", "geoscore_hi")}
    fmt |= {VIEW_NAMES[c]: "{:+,.0f}" for c in ("diff", "diff_lo", "diff_hi")}
    return shown.style.format({k: v for k, v in fmt.items() if k in shown.columns})


def wins_view(per: pd.DataFrame):
    """:func:`country_wins` as the chapter shows it (a pandas ``Styler``)."""
    shown = per[["country", "n", "clip", "geoestimation", "diff", "clip_higher"]].rename(columns=VIEW_NAMES)
    return shown.style.format(
        {
            "CLIP GeoScore": "{:,.0f}",
            "GeoEst GeoScore": "{:,.0f}",
            "minus GeoEst": "{:+,.0f}",
            "CLIP higher": "{:.0%}",
        }
    )


def dropped_sentence(g: Guesses) -> str:
    """Which photos of the run are left out, and why, worded by the counts.

    Example
    -------
    >>> dropped_sentence(Guesses(pd.DataFrame(), "x", "capital", 1.0, n_results=10, n_unanswered=1))
    "of the run's 10 photos, 1 whose first answer names no country is left out"
    """
    parts = []
    if g.n_dropped:
        parts.append(f"{g.n_dropped:,} without coordinates")
    if g.n_unanswered:
        parts.append(f"{g.n_unanswered:,} whose first answer names no country")
    if not parts:
        return "every photo of the run has coordinates and a country for an answer"
    verb = "is" if g.n_dropped + g.n_unanswered == 1 else "are"
    return f"of the run's {g.n_results:,} photos, {' and '.join(parts)} {verb} left out"


def verdict_sentence(entry: dict, who: str = "CLIP") -> str:
    """Who wins a game of these photos, worded by the paired interval of the GeoScore difference.

    Parameters
    ----------
    entry : a rule's entry of :func:`score_guesses`.
    who : the player of that rule, for the words.

    Example
    -------
    >>> verdict_sentence({"vs_geoestimation": {"geoscore_diff": 120.0, "geoscore_diff_ci95": [80.0, 160.0]}})
    'CLIP would win, the paired interval of the difference lying above zero'
    """
    vs = entry.get("vs_geoestimation")
    if not vs or "geoscore_diff_ci95" not in vs:
        return "the two cannot be compared on the same photos"
    lo, hi = vs["geoscore_diff_ci95"]
    if lo > 0:
        return f"{who} would win, the paired interval of the difference lying above zero"
    if hi < 0:
        return "GeoEstimation would win, the paired interval of the difference lying below zero"
    return f"neither {who} nor GeoEstimation would win clearly, the paired interval of the difference including zero"


def headline_glue(result: dict, g: Guesses, rule: str, partitioning: str) -> dict:
    """The numbers the chapter quotes: the chosen rule against GeoEstimation, the best CLIP rule, the oracle
    ceiling, the hedge's settings, the photos and pins compared, and the verdicts."""
    nan = float("nan")
    m = result[rule]
    vs = m.get("vs_geoestimation", {})
    clip_rules = [r for r in RULES if not r.startswith("oracle_")]
    best = max(clip_rules, key=lambda r: (result[r]["geoscore"], -RULES.index(r)))
    oracles = [r for r in RULES if r.startswith("oracle_")]
    best_oracle = max(oracles, key=lambda r: (result[r]["geoscore"], -RULES.index(r)))
    return {
        "rule": rule,
        "part": partitioning,
        "n_photos": g.n,
        "n_results": g.n_results,
        "n_dropped": g.n_dropped,
        "n_unanswered": g.n_unanswered,
        "dropped_sentence": dropped_sentence(g),
        "n_countries": int(g.table["gold_iso3"].nunique()),
        "rule_geoscore": m["geoscore"],
        "rule_geoscore_lo": m.get("geoscore_ci95", [nan, nan])[0],
        "rule_geoscore_hi": m.get("geoscore_ci95", [nan, nan])[1],
        "rule_median": m["median_km"],
        "rule_acc_750": m["acc_750km"],
        "rule_acc_2500": m["acc_2500km"],
        "rule_acc_25": m["acc_25km"],
        "ge_geoscore": vs.get("geoestimation_geoscore", nan),
        "diff": vs.get("geoscore_diff", nan),
        "diff_abs": abs(vs.get("geoscore_diff", nan)),
        "diff_lo": vs.get("geoscore_diff_ci95", [nan, nan])[0],
        "diff_hi": vs.get("geoscore_diff_ci95", [nan, nan])[1],
        "clip_higher": vs.get("clip_higher", nan),
        "ge_higher": vs.get("geoestimation_higher", nan),
        "verdict": verdict_sentence(m),
        "best_rule": best,
        "best_geoscore": result[best]["geoscore"],
        "best_verdict": verdict_sentence(result[best]),
        "best_oracle": best_oracle,
        "oracle_geoscore": result[best_oracle]["geoscore"],
        "oracle_median": result[best_oracle]["median_km"],
        "oracle_verdict": verdict_sentence(result[best_oracle], who="a player naming the right country"),
        "hedge_rule": g.hedge_rule,
        "temperature": g.temperature,
        "moved": g.moved["hedged"],
        "moved_calibrated": g.moved["hedged_calibrated"],
        "fallback": g.fallback,
        "clip_pins": g.distinct_pins[rule],
        "capital_pins": g.distinct_pins["capital"],
        "capital_geoscore": result["capital"]["geoscore"],
        "capital_diff": result["capital"].get("vs_geoestimation", {}).get("geoscore_diff", nan),
        "capital_verdict": verdict_sentence(result["capital"]),
        "calibrated_gain": result["hedged_calibrated"]["geoscore"] - result[g.hedge_rule]["geoscore"],
        "rules_sentence": rules_sentence(result),
    }


def rules_sentence(result: dict) -> str:
    """How many of CLIP's ways to play (the rules that use CLIP's answers, not the oracles) beat
    GeoEstimation, worded by each rule's paired interval.

    Example
    -------
    >>> win = {"vs_geoestimation": {"geoscore_diff": 9.0, "geoscore_diff_ci95": [1.0, 20.0]}}
    >>> rules_sentence({"capital": win, "photo_prior": win})
    'each of the 2 ways CLIP can play scores more than GeoEstimation, every paired interval above zero'
    """
    mine = {r: m for r, m in result.items() if not r.startswith("oracle_")}
    n = len(mine)
    cis = [m.get("vs_geoestimation", {}).get("geoscore_diff_ci95") for m in mine.values()]
    win = sum(1 for c in cis if c and c[0] > 0)
    lose = sum(1 for c in cis if c and c[1] < 0)
    every = "the one way CLIP can play" if n == 1 else f"each of the {n} ways CLIP can play"
    if win == n:
        return f"{every} scores more than GeoEstimation, every paired interval above zero"
    if lose == n:
        return f"{every} scores less than GeoEstimation, every paired interval below zero"
    parts = [
        f"{win} of the {n} ways CLIP can play score more than GeoEstimation (paired interval above zero)"
    ]
    if lose:
        parts.append(f"{lose} score less (interval below zero)")
    if n - win - lose:
        parts.append(f"{n - win - lose} cannot be told apart from it (interval includes zero)")
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def candidates_glue(g: Guesses, ge_table: pd.DataFrame, rule: str, partitioning: str = "hierarchy") -> dict:
    """Whether both sides could give the same answers: how many distinct points each side's pins take on the
    photos both scored, and whether the photos are the same.

    Returns
    -------
    dict with ``clip_points`` (distinct pins of ``rule``), ``ge_points`` (distinct GeoEstimation cell centres
    predicted), ``n_paired``, ``same_photos`` (``True`` when every photo of the run with coordinates has a
    GeoEstimation prediction), ``photos_sentence``.
    """
    ge, ids = _paired_frame(g, ge_table, partitioning)
    mine = g.rule(rule)
    same = len(ids) == len(mine)
    if same:
        sentence = f"the same {len(ids):,} photos"
    else:
        sentence = f"the {len(ids):,} photos both scored ({len(mine) - len(ids):,} of CLIP's have no GeoEstimation prediction)"
    return {
        "clip_points": g.distinct_pins[rule],
        "ge_points": int(ge[["pred_lat", "pred_lon"]].drop_duplicates().shape[0]),
        "n_paired": int(len(ids)),
        "same_photos": bool(same),
        "photos_sentence": sentence,
    }


def country_wins(
    g: Guesses, ge_table: pd.DataFrame, rule: str, partitioning: str = "hierarchy"
) -> pd.DataFrame:
    """Per gold country: the mean GeoScore of ``rule``'s pins and of GeoEstimation's, and who wins.

    Returns
    -------
    DataFrame indexed by ``iso3`` (the gold label's code) with ``country``, ``n``, ``clip``, ``geoestimation``
    (mean GeoScores), ``diff`` (CLIP − GeoEstimation), ``clip_higher`` (share of photos on which CLIP's pin
    scores more), sorted by ``diff``.
    """
    ge, ids = _paired_frame(g, ge_table, partitioning)
    mine = g.rule(rule).set_index("image_id").loc[ids]
    t = pd.DataFrame(
        {
            "iso3": mine["gold_iso3"].to_numpy(),
            "country": mine["gold"].to_numpy(),
            "clip": mine["geoscore"].to_numpy(float),
            "geoestimation": ge["geoscore"].to_numpy(float),
        }
    )
    t["higher"] = (t["clip"] > t["geoestimation"]).astype(float)
    out = t.groupby("iso3").agg(
        country=("country", "first"),
        n=("clip", "size"),
        clip=("clip", "mean"),
        geoestimation=("geoestimation", "mean"),
        clip_higher=("higher", "mean"),
    )
    out["diff"] = out["clip"] - out["geoestimation"]
    return out.sort_values(["diff", "country"])


def wins_glue(per: pd.DataFrame) -> dict:
    """How many countries each side wins (mean GeoScore), the largest gaps, and the colour range of the map
    (symmetric about zero, from the data), worded by the numbers.

    Example
    -------
    >>> per = pd.DataFrame({"country": ["A", "B"], "diff": [-300.0, 100.0]}, index=["AAA", "BBB"])
    >>> wins_glue(per)["wins_sentence"]
    'CLIP’s pins score more in 1 of the 2 countries and GeoEstimation’s in 1.'
    """
    n = len(per)
    n_clip, n_ge = int((per["diff"] > 0).sum()), int((per["diff"] < 0).sum())
    ties = n - n_clip - n_ge
    level = f"; {ties} {'is' if ties == 1 else 'are'} level" if ties else ""
    if n == 1:
        who = "CLIP’s" if n_clip else "GeoEstimation’s" if n_ge else None
        sentence = (
            f"{who} pins score more in the one country." if who else "The two are level in the one country."
        )
    elif n_clip == n:
        sentence = f"CLIP’s pins score more in all {n} countries."
    elif n_ge == n:
        sentence = f"GeoEstimation’s pins score more in all {n} countries."
    elif n_ge == 0:
        sentence = (
            f"CLIP’s pins score more in {n_clip} of the {n} countries and GeoEstimation’s in none{level}."
        )
    elif n_clip == 0:
        sentence = (
            f"GeoEstimation’s pins score more in {n_ge} of the {n} countries and CLIP’s in none{level}."
        )
    else:
        sentence = (
            f"CLIP’s pins score more in {n_clip} of the {n} countries and GeoEstimation’s in {n_ge}{level}."
        )
    top_clip, top_ge = per.iloc[-1], per.iloc[0]
    return {
        "n_wins_countries": n,
        "n_clip_wins": n_clip,
        "n_ge_wins": n_ge,
        "wins_sentence": sentence,
        "clip_best_country": str(top_clip["country"]),
        "clip_best_diff": float(top_clip["diff"]),
        "ge_best_country": str(top_ge["country"]),
        "ge_best_diff": float(-top_ge["diff"]),
        "map_range": float(per["diff"].abs().max()) if n else 0.0,
    }


def curve_rules(rule: str, g: Guesses) -> list[str]:
    """The rules the chapter's distance curves show: the chosen rule, the capital (the plainest) and the
    oracle of the chosen rule (of the rule a hedged pin uses), without repeats.

    Example
    -------
    >>> g = Guesses(pd.DataFrame(), "x", hedge_rule="photo_prior", temperature=1.0)
    >>> curve_rules("hedged", g)
    ['hedged', 'capital', 'oracle_photo_prior']
    >>> curve_rules("oracle_capital", g)
    ['oracle_capital', 'capital']
    """
    if rule.startswith("oracle_"):
        oracle = rule
    else:
        oracle = "oracle_" + (rule if rule in SINGLE_RULES else g.hedge_rule)
    return list(dict.fromkeys([rule, "capital", oracle]))


def distance_curves(
    g: Guesses,
    ge_table: pd.DataFrame,
    rules,
    partitioning: str = "hierarchy",
    grid_km=None,
) -> pd.DataFrame:
    """The share of photos within each distance (``d < km``) for some rules and GeoEstimation, on the photos
    both sides scored: a long table ``km``, ``share``, ``method`` (a light figure: the grid, not the photos).

    Parameters
    ----------
    grid_km : distances at which to evaluate (default: 161 log-spaced from 1 to 20,000 km).
    """
    grid = np.geomspace(1, 20000, 161) if grid_km is None else np.asarray(grid_km, float)
    ge, ids = _paired_frame(g, ge_table, partitioning)
    curves = {f"GeoEstimation ({partitioning})": ge["error_km"].to_numpy(float)}
    for r in rules:
        name = f"gold country, {r.removeprefix('oracle_')}" if r.startswith("oracle_") else f"CLIP, {r}"
        curves[name] = g.rule(r).set_index("image_id").loc[ids, "error_km"].to_numpy(float)
    parts = []
    for name, d in curves.items():
        s = np.sort(d)
        share = np.searchsorted(s, grid, side="left") / len(s)  # d < km
        parts.append(pd.DataFrame({"km": grid, "share": share, "method": name}))
    return pd.concat(parts, ignore_index=True)
