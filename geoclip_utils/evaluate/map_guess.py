"""CLIP's country answers as pins on the map, scored against GeoEstimation: the ``map_guess`` block.

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
prints as ``map_guess``; the GeoGuessr chapter (:mod:`geoclip_utils.studies.geoguessr`) calls the same
functions.
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
from .geoestimation import geoestimation_table

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
    "paired_frame",
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


def paired_frame(g: Guesses, ge_table: pd.DataFrame, partitioning: str) -> tuple[pd.DataFrame, np.ndarray]:
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
    ge_table : :func:`geoclip_utils.evaluate.geoestimation.geoestimation_table` (``None``: no pairing).
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
        ge, ids = paired_frame(g, ge_table, partitioning)
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
    g = _guesses(experiment, source, None if results_dir is None else str(results_dir))
    if g is None:
        return None
    return score_guesses(g, geoestimation_table(), partitioning=partitioning, n_boot=n_boot, seed=seed)
