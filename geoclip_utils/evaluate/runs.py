"""A run's headline metrics and two runs compared: what ``geoclip metrics`` and ``geoclip compare`` print.

Everything here goes experiment → predictions (:func:`geoclip_utils.experiments.load_results`) → statistics
(:mod:`geoclip_utils.stats`); the blocks that only some runs get come from the modules beside this one: the
GeoEstimation run's distances (:mod:`~geoclip_utils.evaluate.geoestimation`), a city run's kilometres
(:mod:`~geoclip_utils.evaluate.cities`) and a country run's pins (:mod:`~geoclip_utils.evaluate.map_guess`).
"""

from __future__ import annotations

import os

import pandas as pd

from .. import data
from .. import experiments as registry
from ..errors import ConfigError
from ..experiments import load_labels, load_results
from ..stats import correct_at_k, paired, paired_tables, restricted_paired, summarize
from ..stats.bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED
from . import cities, geoestimation, map_guess

__all__ = ["experiment_metrics", "candidate_labels", "gold_candidates", "compare_experiments"]


def experiment_metrics(
    experiment: str,
    *,
    source: str = "paper",
    results_dir: str | os.PathLike | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> dict:
    """Headline metrics of one experiment (what ``geoclip metrics`` prints).

    Label experiments give :func:`geoclip_utils.stats.summarize`; the GeoEstimation experiment gives the
    distance metrics of :func:`geoclip_utils.evaluate.geoestimation.geoestimation_metrics`. City runs (a label set with
    ``cities = true``: ``city100``, ``city300``, ``UScity100``) also get ``km``: :func:`geoclip_utils.evaluate.cities.km_metrics`
    (% within 1/25/200/750/2500 km, median km, GeoScore, with bootstrap CIs; the distance between the
    predicted and the gold city). Runs that name countries of photos with coordinates (country100 and its
    variants) also get ``map_guess``: :func:`geoclip_utils.evaluate.map_guess.map_guess` (CLIP's answers as
    pins, scored in km and paired with GeoEstimation).
    """
    exp = registry.experiments().get(experiment)
    if exp is not None and exp.mode == "geoestimation":
        if source != "paper" or results_dir is not None:
            raise ConfigError(
                f"{experiment!r} exists only as the authors' file: drop --source local / --results-dir"
            )
        return geoestimation.geoestimation_metrics(n_boot=n_boot, seed=seed)
    df = load_results(experiment, source=source, results_dir=results_dir)
    result = summarize(df, n_boot=n_boot, seed=seed)
    label_set = exp.label_set if exp is not None else df.attrs.get("label_set", "")
    if cities.is_city_run(label_set):  # city runs: the kilometre scale too
        result["km"] = cities.km_metrics(
            experiment, source=source, results_dir=results_dir, n_boot=n_boot, seed=seed
        )
    mode = exp.mode if exp is not None else df.attrs.get("mode")
    if map_guess.has_map_guess(label_set, mode):  # countries of photos with coordinates: pins on the map
        pins = map_guess.map_guess(
            experiment, source=source, results_dir=results_dir, n_boot=n_boot, seed=seed
        )
        if pins is not None:
            result["map_guess"] = pins
    return result


def candidate_labels(experiment: str, table: pd.DataFrame | None = None) -> frozenset[str]:
    """The labels a run could answer (its candidates), as far as the registry and its table tell.

    * ``flat`` and ``climate``: the gold labels of its label set;
    * ``mixed``: the countries of its mixed prompts (every country its region map lists under a region with
      a phrase, :func:`geoclip_utils.engine.prompts.mixed_prompts`);
    * ``two_stage``: every country of its region map, and ``"other"`` when a region lists a single country
      (the authors' placeholder second candidate);
    * ``region``: the regions of its region map.

    Every label the table answers is added (an answer was a candidate), so a local run of an unregistered
    experiment gets the labels it answered and its gold labels.

    Example
    -------
    >>> len(candidate_labels("country100")), len(candidate_labels("country100_mixedprompt"))
    (115, 167)
    """
    exp = registry.experiments().get(experiment)
    labels: set[str] = set()
    if exp is None:
        if table is not None:
            labels |= set(table["gold"])
    elif exp.mode in ("region", "two_stage", "mixed"):
        region_map = data.load_region_map(
            exp.region_map or ("region_to_country" if exp.mode == "mixed" else "country_to_region")
        )
        if exp.mode == "region":
            labels |= set(region_map)
        elif exp.mode == "two_stage":
            labels |= {c for countries in region_map.values() for c in countries}
            if any(len(countries) == 1 for countries in region_map.values()):
                labels.add("other")
        else:
            from ..engine.prompts import mixed_prompts

            labels |= set(mixed_prompts(region_map)[1])
    else:
        labels |= set(load_labels(exp.label_set)["label"])
    if table is not None:
        labels |= {lab for t in table["top_labels"] for lab in t}
    return frozenset(labels)


def gold_candidates(experiment: str, table: pd.DataFrame) -> pd.Series | None:
    """Per image (indexed by image id), whether its gold label was among the run's candidates for that image,
    where they differ by image: stage 2 of a two-stage run offers only the countries of the region stage 1
    chose. ``None`` for every other run (the same candidates for every image)."""
    exp = registry.experiments().get(experiment)
    if exp is None or exp.mode != "two_stage" or "stage1_region" not in table.columns:
        return None
    region_map = data.load_region_map(exp.region_map or "country_to_region")
    ok = [g in region_map.get(r, ()) for g, r in zip(table["gold"], table["stage1_region"], strict=True)]
    return pd.Series(ok, index=table["image_id"].to_numpy(), dtype=bool)


def compare_experiments(
    a: str,
    b: str,
    *,
    source: str = "paper",
    results_dir: str | os.PathLike | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> dict:
    """Paired top-1 comparison of experiments ``a`` and ``b`` on the images both share, raw and like for like.

    Returns ``a``, ``b``, ``n``, ``a_top1``, ``b_top1``, ``diff`` (b − a), ``diff_ci95`` (paired bootstrap),
    ``mcnemar_p`` (exact), ``b01``/``b10`` (discordant counts), and ``restricted``: the same with both runs
    restricted to the labels both could answer (:func:`candidate_labels`,
    :meth:`geoclip_utils.stats.RestrictedComparison.to_dict`: the common labels, the answers outside them on
    each side, and bounds where a stored top-k runs out of common labels); ``None`` when a run answers
    regions for country photos (its labels are not the photos' labels).
    """
    ta = load_results(a, source=source, results_dir=results_dir)
    tb = load_results(b, source=source, results_dir=results_dir)
    pa, pb = paired_tables(ta, tb)
    result = paired(correct_at_k(pa, 1), correct_at_k(pb, 1), n_boot=n_boot, seed=seed)
    restricted = None
    if "gold_set" not in ta.columns and "gold_set" not in tb.columns:
        restricted = restricted_paired(
            ta,
            tb,
            candidate_labels(a, ta),
            candidate_labels(b, tb),
            a_possible=gold_candidates(a, ta),
            b_possible=gold_candidates(b, tb),
            n_boot=n_boot,
            seed=seed,
        ).to_dict()
    return {"a": a, "b": b, **result.to_dict(), "restricted": restricted}
