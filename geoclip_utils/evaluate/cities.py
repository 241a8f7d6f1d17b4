"""The authors' city runs on the kilometre scale: what ``geoclip metrics`` adds as ``km`` for a city run.

The book's one distance definition (:data:`geoclip_utils.geo.distance.DISTANCE_DEFINITION`, the OSV-5M one):
the haversine great-circle distance on a sphere of radius :data:`~geoclip_utils.geo.EARTH_RADIUS_KM`, a
threshold ``t`` met when ``d < t`` (strict), GeoScore ``5000 * exp(-d / 1492.7)``. The metrics and their
bootstrap CIs come from :func:`geoclip_utils.stats.distance.score_coordinates` (the code that scores
GeoEstimation), so every kilometre number in the book is computed the same way.

A run is a city run when its label set says so (``cities = true`` in the registry,
:attr:`geoclip_utils.experiments.LabelSet.cities`). The authors' city runs (``city100``, ``city300``,
``UScity100``) predict a city *name*, and the authors' files carry no image coordinates. Both the gold and the
predicted label are therefore placed at the coordinates of a GeoNames city, and **the distance is the distance
between the predicted city and the gold city** (a right answer is 0 km; a photo taken 8 km from the centre of
its gold city still counts 0 km). It measures how far off the *named place* is, not how far off the photo is.

Placing a label uses :func:`geoclip_utils.geo.matching.place_labels`, the book's one city matcher (the
maps of the chapter on places below the country use it too).
**The country disambiguates where the gold allows**: every label of a label set whose registry entry names
one country (``in_country = "US"`` for ``UScity100``) is looked up in that country only; a ``city100`` /
``city300`` label whose images also belong to ``country100`` (same Mapillary image id) is looked up in the
country the authors gave those images (:func:`label_countries`). A label found nowhere is *unmatched*; images
whose gold or predicted label is unmatched are left out and counted.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import experiments, geo
from ..errors import ConfigError, DataError
from ..geo.distance import DISTANCE_DEFINITION
from ..geo.matching import place_labels
from ..names import country_converter
from ..stats import distance as stats_distance
from ..stats.bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED

__all__ = [
    "CITY_DISTANCE",
    "city_label_sets",
    "is_city_run",
    "label_countries",
    "city_table",
    "km_metrics",
]

#: What a distance of a city run is.
CITY_DISTANCE = "between the predicted city's and the gold city's GeoNames coordinates (the authors' city files carry no image coordinates)"


def city_label_sets() -> list[str]:
    """The label sets whose labels are cities (``cities = true`` in the registry), in registry order.

    Example
    -------
    >>> city_label_sets()
    ['UScity100', 'city100', 'city300']
    """
    return [n for n, s in experiments.label_sets().items() if s.cities]


def is_city_run(label_set: str) -> bool:
    """Whether runs of ``label_set`` predict cities, so that they are also scored in km (:func:`km_metrics`)."""
    ls = experiments.label_sets().get(label_set)
    return bool(ls is not None and ls.cities)


def _iso2(iso3s: Sequence[str]) -> dict[str, str]:
    codes = sorted(set(iso3s))
    conv = country_converter().convert(codes, src="ISO3", to="ISO2", not_found=None)
    conv = conv if isinstance(conv, list) else [conv]
    return {a: b for a, b in zip(codes, conv, strict=True) if isinstance(b, str)}


def label_countries(label_set: str) -> pd.DataFrame:
    """The country of each label of a city label set, where the gold allows one.

    A label set whose registry entry names its country (``in_country``; ``UScity100``: ``"US"``): every
    label is in that country. ``city100`` / ``city300``: the labels carry no country, but
    some of their images are also ``country100`` images (same image id), labelled with a country by the
    authors; a label whose images there all name one country gets that country.

    Returns
    -------
    DataFrame with one row per label: ``label``, ``cc`` (ISO-2, ``""`` when unknown), ``rule``
    (``"label set"``, ``"country100 images"``, ``"conflicting"`` when its images name several
    countries, ``"none"``).

    Example
    -------
    >>> label_countries("UScity100")["cc"].unique().tolist()  # doctest: +SKIP
    ['US']
    """
    gold = experiments.load_labels(label_set)
    labels = sorted(gold["label"].unique())
    fixed = experiments.get_label_set(label_set).in_country
    if fixed:
        return pd.DataFrame({"label": labels, "cc": fixed, "rule": "label set"})
    c100 = experiments.load_labels("country100").set_index("image_id")["iso3"]
    both = gold[gold["image_id"].isin(c100.index)]
    both = both.assign(iso3=c100.reindex(both["image_id"]).to_numpy())
    per = both.groupby("label")["iso3"].agg(lambda s: tuple(sorted(set(s))))
    iso2 = _iso2([c for t in per for c in t])
    rows = []
    for lab in labels:
        found = per.get(lab, ())
        if len(found) == 1 and found[0] in iso2:
            rows.append((lab, iso2[found[0]], "country100 images"))
        elif len(found) > 1:
            rows.append((lab, "", "conflicting"))
        else:
            rows.append((lab, "", "none"))
    return pd.DataFrame(rows, columns=["label", "cc", "rule"])


@functools.cache
def _placed(label_set: str) -> pd.DataFrame:
    countries = label_countries(label_set)
    placed = place_labels(countries["label"], dict(zip(countries["label"], countries["cc"], strict=True)))
    known = countries.rename(columns={"cc": "known_cc", "rule": "country_rule"})
    return placed.merge(known, on="label", how="left")


def city_table(experiment: str, source: str = "paper", results_dir=None) -> pd.DataFrame:
    """The predictions of a city run with the distance between the predicted and the gold city.

    Parameters
    ----------
    experiment : ``city100``, ``city300``, ``UScity100`` (or a local run of one of their label sets).
    source, results_dir : as :func:`geoclip_utils.experiments.load_results`.

    Returns
    -------
    DataFrame, one row per image whose gold and top-1 labels are both placed: ``image_id``, ``gold``,
    ``pred``, ``gold_lat``, ``gold_lon``, ``pred_lat``, ``pred_lon``, ``error_km``, ``geoscore``,
    ``same_country``, ``correct`` (label right). ``attrs``: ``n_images`` (all), ``n_unplaced`` (left out),
    ``n_correct`` (images of the whole run whose top-1 label is right, scored or not), ``labels`` (a
    :func:`place_labels` frame of the label set, its ``rule`` saying how each label was matched, with
    ``known_cc`` and ``country_rule``: the country searched in and how it is known).

    Raises
    ------
    ConfigError
        An experiment whose label set is not a city label set.

    Example
    -------
    >>> city_table("city100")["error_km"].median()  # doctest: +SKIP
    """
    df = experiments.load_results(experiment, source=source, results_dir=results_dir)
    exp = experiments.experiments().get(experiment)
    label_set = exp.label_set if exp is not None else str(df.attrs.get("label_set", ""))
    if not is_city_run(label_set):
        raise ConfigError(
            f"experiment={experiment!r} does not predict cities of {city_label_sets()}; "
            "the kilometre scale of the city runs needs one of them"
        )
    placed = _placed(label_set)
    extra = sorted(set(df["top_labels"].str[0]) - set(placed["label"]))
    if extra:  # a prediction outside the gold labels (a local run with other candidates)
        fixed = experiments.get_label_set(label_set).in_country
        more = place_labels(extra, {x: fixed for x in extra})
        placed = pd.concat([placed, more], ignore_index=True)
    loc = placed.set_index("label")
    t = pd.DataFrame({"image_id": df["image_id"], "gold": df["gold"], "pred": df["top_labels"].str[0]})
    for side in ("gold", "pred"):
        t[f"{side}_lat"] = loc["lat"].reindex(t[side]).to_numpy(float)
        t[f"{side}_lon"] = loc["lon"].reindex(t[side]).to_numpy(float)
        t[f"{side}_cc"] = loc["cc"].reindex(t[side]).to_numpy(object)
    ok = t[["gold_lat", "gold_lon", "pred_lat", "pred_lon"]].notna().all(axis=1)
    out = t[ok].reset_index(drop=True)
    out["error_km"] = geo.haversine_km(out["gold_lat"], out["gold_lon"], out["pred_lat"], out["pred_lon"])
    out["geoscore"] = geo.geoscore(out["error_km"])
    out["same_country"] = out["gold_cc"] == out["pred_cc"]
    out["correct"] = out["gold"] == out["pred"]
    out.attrs.update(
        experiment=experiment,
        label_set=label_set,
        n_images=int(len(t)),
        n_unplaced=int((~ok).sum()),
        n_correct=int((t["gold"] == t["pred"]).sum()),
        labels=placed,
    )
    return out


def km_metrics(
    experiment: str,
    *,
    source: str = "paper",
    results_dir=None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> dict:
    """The kilometre metrics of a city run: what ``geoclip metrics --experiment city100 --json`` adds as ``km``.

    Returns
    -------
    dict with ``distance`` (what a distance is), ``definition``, ``thresholds_km``, ``n_images``,
    ``n_scored``, ``n_unplaced``, ``labels``, ``labels_unmatched``, ``labels_ambiguous``,
    ``labels_by_country`` (how many labels the country disambiguated), ``acc_<t>km`` / ``median_km`` /
    ``geoscore`` / ``same_country`` each with ``_ci95``, the selection's effect on accuracy: ``top1_all``
    (top-1 accuracy of every image of the run), ``top1_scored`` (of the scored ones) and ``top1_left_out``
    (of the ones left out; NaN when none is), ``n_paired_geoestimation`` (images that also have a
    GeoEstimation prediction) and ``paired_geoestimation`` (why there is no paired comparison with
    GeoEstimation, in words).

    Example
    -------
    >>> km_metrics("city100", n_boot=200)["acc_25km"]  # doctest: +SKIP
    """
    t = city_table(experiment, source=source, results_dir=results_dir)
    if t.empty:
        raise DataError(f"{experiment}: no image has both its gold and its predicted city placed")
    n_all, n_scored = t.attrs["n_images"], len(t)
    top1_all = t.attrs["n_correct"] / n_all
    left = n_all - n_scored
    frame = pd.DataFrame(
        {
            "image_id": np.arange(len(t)).astype(str),  # the city100/city300 files carry no image ids
            "method": "clip",
            "error_km": t["error_km"],
            "country_correct": t["same_country"],
        }
    )
    m = stats_distance.score_coordinates(frame, n_boot=n_boot, seed=seed)["clip"]
    m = {k.replace("country_top1", "same_country"): v for k, v in m.items()}
    labels = t.attrs["labels"]
    gold_labels = labels[labels["label"].isin(set(experiments.load_labels(t.attrs["label_set"])["label"]))]
    ids = set(t["image_id"]) - {""}
    geo_ids = set(experiments.load_labels("country100")["image_id"]) if ids else set()
    n_paired = len(ids & geo_ids)
    if not ids:
        paired_words = "the result file carries no image ids, so no image can be paired"
    elif n_paired == 0:
        paired_words = "none of its images has a GeoEstimation prediction"
    else:
        paired_words = (
            f"only {n_paired:,} of its {len(ids):,} scored images {'has' if n_paired == 1 else 'have'} a "
            "GeoEstimation prediction"
        )
    return {
        "distance": CITY_DISTANCE,
        "definition": DISTANCE_DEFINITION,
        "thresholds_km": list(stats_distance.THRESHOLDS_KM),
        "n_images": t.attrs["n_images"],
        "n_scored": int(len(t)),
        "n_unplaced": t.attrs["n_unplaced"],
        "labels": int(len(gold_labels)),
        "labels_unmatched": int((gold_labels["status"] == "not found").sum()),
        "labels_ambiguous": int((gold_labels["status"] == "ambiguous").sum()),
        "labels_by_country": int((gold_labels["country"] != "").sum()),
        **{k: v for k, v in m.items() if k != "n"},
        "top1_all": float(top1_all),
        "top1_scored": float(t["correct"].mean()),
        "top1_left_out": float((t.attrs["n_correct"] - t["correct"].sum()) / left) if left else float("nan"),
        "n_paired_geoestimation": n_paired,
        "paired_geoestimation": paired_words,
        "n_boot": int(n_boot),
        "seed": int(seed),
    }
