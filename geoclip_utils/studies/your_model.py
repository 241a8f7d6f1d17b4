"""The *Your model* chapter: your model on the same footing, a zero-shot coordinate run on a benchmark,
beside published anchors and CLIP's city runs in km.

The pieces it shares with the rest of the book sit below it: the city runs in km
(:mod:`geoclip_utils.evaluate.cities`), zero-shot coordinates (:mod:`geoclip_utils.geo.coordinates`), the
benchmark sets (:mod:`geoclip_utils.geobench`) and the scoring (:mod:`geoclip_utils.stats.distance`).

* :func:`demo_benchmark` — the offline default: the synthetic demo pictures
  (:func:`geoclip_utils.engine.make_demo_images`) written as a ``custom`` benchmark, each picture placed at
  the most populous gazetteer city of its demo country (a pipeline check, not a measurement);
* :func:`zero_shot_run` — embed a benchmark's images with any backend, predict coordinates from a
  gazetteer label set (top city, probability-weighted refinement, country → city under both descent
  rules), score everything with :func:`geoclip_utils.geobench.score_benchmark`, and pair the two rules;
* :func:`anchors` — the published numbers of ``resources/anchors.csv`` (each row with its source and the
  distance definition its paper states); :func:`definitions` groups them by that definition;
  :func:`footing_table` puts anchors, your run and CLIP's city runs in one table;
* for the chapter: :func:`city_glue`, :func:`run_glue`
  and :func:`anchor_glue` (the values its prose quotes), :data:`KM_FORMATS` (how its tables show them),
  :data:`CITY_RUNS` (the city runs it shows), :func:`km_table` and :func:`km_report` (km metrics as a table
  and as text), :func:`compare_rules` (the two descent rules paired).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .. import geo, geobench, stats
from ..errors import ConfigError, DataError
from ..evaluate.cities import CITY_DISTANCE
from ..geo.coordinates import city_labels, hierarchical_coordinates, predict_coordinates
from ..geo.distance import DISTANCE_DEFINITION
from ..geo.gazetteer import gazetteer
from ..notebook import count_words, format_ci, format_points
from ..stats import distance as stats_distance
from ..stats.bootstrap import DEFAULT_N_BOOT, DEFAULT_SEED
from ..stats.distance import THRESHOLDS_KM

__all__ = [
    "CITY_RUNS",
    "METHODS",
    "KM_FORMATS",
    "city_glue",
    "run_glue",
    "anchor_glue",
    "demo_benchmark",
    "zero_shot_run",
    "anchors",
    "definitions",
    "footing_table",
    "gpu_command",
    "km_table",
    "km_report",
    "compare_rules",
]

#: The authors' city runs the chapter shows in km, in its order (each a city run of the registry:
#: ``cities = true``; a test checks).
CITY_RUNS: tuple[str, ...] = ("city100", "city300", "UScity100")

#: The coordinate predictions of a zero-shot run, in display order.
METHODS: dict[str, str] = {
    "top_city": "top city",
    "refined": "probability-weighted top cities",
    "always": "country → city, always descend",
    "if_better": "country → city, descend if the city prompt beats the country prompt",
}

#: How the chapter's tables show kilometre metrics (format specs for ``notebook.sortable_html``).
KM_FORMATS: dict[str, str] = {f"acc_{t}km": ".1%" for t in THRESHOLDS_KM} | {
    "median_km": ",.0f",
    "geoscore": ",.0f",
}

#: What the chapter says of the offline demo run (random weights, synthetic pictures).
DEMO_NOTE = (
    "This is the offline demo: random weights and synthetic pictures, each placed at the most populous city "
    "of its demo country, so the numbers below only show that every step runs; they say nothing about a model."
)

#: What a distance of the anchors and of your run runs between.
PHOTO_TO_PREDICTION = "photo to prediction"
#: What a distance of the authors' city runs runs between: another measurement than the anchors'.
CITY_TO_CITY = "city to city (another measurement: no photo coordinates)"

ANCHOR_COLUMNS = (
    "model",
    "benchmark",
    "acc_1km",
    "acc_25km",
    "acc_200km",
    "acc_750km",
    "acc_2500km",
    "median_km",
    "geoscore",
    "setting",
    "distance_definition",
    "source",
    "note",
)


def demo_benchmark(folder: str | os.PathLike, n_per_label: int = 4) -> pd.DataFrame:
    """The offline demo as a benchmark: synthetic pictures with the coordinates of their country's
    most populous city (GeoNames cities15000), loaded through :func:`geoclip_utils.geobench.load_benchmark`.

    Example
    -------
    >>> demo_benchmark("_build/your_model_demo")[["image_id", "lat", "lon"]].head(1)  # doctest: +SKIP
    """
    from ..engine import make_demo_images
    from ..names import to_iso3

    demo = make_demo_images(Path(folder) / "demo", n_per_label=n_per_label)
    ids = pd.read_csv(demo.ids_csv)
    from ..names import country_converter

    iso2 = country_converter().convert(list(to_iso3(ids["label"])), src="ISO3", to="ISO2")
    g = gazetteer()
    capital = g.drop_duplicates("cc").set_index("cc")  # most populous first
    lat = capital["lat"].reindex(iso2).to_numpy(float)
    lon = capital["lon"].reindex(iso2).to_numpy(float)
    meta = geobench.write_custom_metadata(
        Path(folder) / "demo_metadata.csv", [f"{i}.jpg" for i in ids["image_id"]], lat, lon
    )
    return geobench.load_benchmark("custom", meta, demo.image_dir)


def zero_shot_run(
    model,
    preprocess,
    bench: pd.DataFrame,
    cache_dir: str | os.PathLike,
    *,
    min_population: int = 1_000_000,
    max_cities: int | None = None,
    top_k: int = 5,
    threshold_km: float = 25,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    progress: bool = False,
) -> dict:
    """Zero-shot coordinates for a benchmark's images, scored with the book's metric code.

    Parameters
    ----------
    model, preprocess : from :func:`geoclip_utils.engine.load_model` (any backend).
    bench : :func:`geoclip_utils.geobench.load_benchmark` or :func:`demo_benchmark`.
    cache_dir : embedding and prompt cache (resumable; one sub-folder per model).
    min_population, max_cities : the gazetteer label set (:func:`geoclip_utils.geo.coordinates.city_labels`).
    top_k : cities averaged by the refinement.
    threshold_km : the distance at which the two descent rules are paired (``d < t``).
    n_boot, seed : bootstrap.

    Returns
    -------
    dict with ``model_id``, ``n_images``, ``n_cities``, ``n_countries``, ``metrics`` (method →
    :func:`geoclip_utils.geobench.score_benchmark` entry), ``predictions`` (a frame: image, truth and
    every method's coordinates), ``rules`` (:class:`geoclip_utils.stats.PairedComparison` of ``always``
    vs ``if_better``), ``descended`` (share of images where the city prompt beat the country prompt).

    Raises
    ------
    DataError
        When no image of the benchmark could be embedded.
    """
    from ..engine import embed_images, load_embeddings, probabilities
    from ..engine.models import model_info
    from ..engine.prompts import paper_template
    from ..engine.zeroshot import class_embeddings

    folder = Path(bench.attrs.get("images", ""))
    files = dict(zip(bench["image_id"], bench["file"], strict=True))
    if any(
        Path(f).parent != Path(".") or Path(f).suffix.lower() not in (".jpg", ".jpeg", ".png")
        for f in files.values()
    ):
        raise ConfigError(
            "zero_shot_run reads <images>/<id>.jpg|.jpeg|.png files directly in the image folder"
        )
    info = model_info(model)
    embed_images(model, preprocess, folder, list(files), cache_dir, progress=progress)
    ids, feats = load_embeddings(cache_dir, model_id=info.model_id, ids=list(bench["image_id"]))
    if not ids:
        raise DataError(f"none of the {len(bench)} benchmark images could be embedded (see the cache report)")
    b = bench.set_index("image_id").loc[ids].reset_index()
    cities = city_labels(min_population, max_cities)
    text = dict(zip(cities["label"], cities["text"], strict=True))
    city_f = class_embeddings(
        model, cities["label"].tolist(), paper_template("city"), cache_dir=cache_dir, label_text=text
    )
    probs = probabilities(feats, city_f)
    coords = predict_coordinates(probs, cities, top_k=top_k)
    countries = sorted(cities["cc"].unique())
    cname = dict(zip(cities["cc"], cities["country"], strict=False))
    country_f = class_embeddings(
        model, countries, paper_template("country"), cache_dir=cache_dir, label_text=cname
    )
    hier = hierarchical_coordinates(feats, country_f, countries, city_f, cities)
    preds = {
        "top_city": (coords["top_lat"], coords["top_lon"]),
        "refined": (coords["refined_lat"], coords["refined_lon"]),
        "always": (hier["always_lat"], hier["always_lon"]),
        "if_better": (hier["if_better_lat"], hier["if_better_lon"]),
    }
    metrics = geobench.score_benchmark(
        b, {k: tuple(np.asarray(x, float) for x in v) for k, v in preds.items()}, n_boot=n_boot, seed=seed
    )
    rules = compare_rules(b["lat"], b["lon"], hier, threshold_km, n_boot=n_boot, seed=seed)
    table = pd.concat([b[["image_id", "lat", "lon"]], coords, hier], axis=1)
    return {
        "model_id": info.model_id,
        "backend": info.backend,
        "n_images": int(len(b)),
        "n_cities": int(len(cities)),
        "n_countries": int(len(countries)),
        "metrics": metrics,
        "predictions": table,
        "rules": rules,
        "threshold_km": threshold_km,
        "descended": float(hier["descended"].mean()),
    }


def anchors() -> pd.DataFrame:
    """The published anchors of ``resources/anchors.csv``: one row per (model, benchmark), shares as fractions.

    Every row names its source (paper and where in it) and the distance definition that source states;
    a number is only there when it could be checked against that source.

    Raises
    ------
    DataError
        A file without the expected columns or with a share outside [0, 1].
    """
    with resources.files("geoclip_utils.resources").joinpath("anchors.csv").open("rb") as fh:
        df = pd.read_csv(fh, keep_default_na=False, na_values={c: [""] for c in ANCHOR_COLUMNS[2:9]})
    missing = [c for c in ANCHOR_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"resources/anchors.csv lacks columns {missing}")
    shares = df[[f"acc_{t}km" for t in THRESHOLDS_KM]]
    if ((shares < 0) | (shares > 1)).any().any():
        raise DataError("resources/anchors.csv: a share is outside [0, 1] (write 0.224, not 22.4)")
    if (df["source"].str.strip() == "").any():
        raise DataError("resources/anchors.csv: every anchor needs its source")
    return df[list(ANCHOR_COLUMNS)]


def definitions(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Which rows use which distance definition: one row per definition, the models that use it.

    Parameters
    ----------
    table : rows with ``model`` and ``distance_definition`` (default: :func:`anchors`, with the book's own
        definition added as the row of "this book").

    Returns
    -------
    DataFrame indexed by ``distance_definition`` with ``models`` (comma-separated, in file order) and
    ``rows`` (how many rows of the table use it); the book's definition first, then by ``rows``, descending.

    Example
    -------
    >>> definitions().loc[DISTANCE_DEFINITION, "models"]
    'this book'
    """
    if table is None:
        own = pd.DataFrame([{"model": "this book", "distance_definition": DISTANCE_DEFINITION}])
        table = pd.concat([own, anchors()], ignore_index=True)
    g = table.groupby("distance_definition", sort=False)["model"]
    out = pd.DataFrame({"models": g.agg(lambda m: ", ".join(dict.fromkeys(m))), "rows": g.size()})
    first = out.index == DISTANCE_DEFINITION
    return pd.concat([out[first], out[~first].sort_values("rows", ascending=False, kind="stable")])


def footing_table(run: dict | None, benchmark: str, city_runs: dict[str, dict] | None = None) -> pd.DataFrame:
    """Published anchors, your run and CLIP's city runs in one table (shares as fractions).

    Parameters
    ----------
    run : :func:`zero_shot_run` (its methods become rows named ``your run: <method>``), or ``None``.
    benchmark : the benchmark your run used (named in its rows).
    city_runs : experiment → :func:`geoclip_utils.evaluate.cities.km_metrics`.

    Returns
    -------
    DataFrame with ``model``, ``benchmark``, ``measures`` (what a distance runs between: photo to
    prediction for the anchors and your run; city to city, another measurement, for the city runs, whose
    ``benchmark`` also says how many photos were scored), the five ``acc_<t>km``, ``median_km``,
    ``geoscore``, ``setting``, ``distance_definition``, ``source``.
    """
    rows = [anchors().drop(columns=["note"]).assign(measures=PHOTO_TO_PREDICTION)]
    keys = [f"acc_{t}km" for t in THRESHOLDS_KM] + ["median_km", "geoscore"]
    mine = []
    if run is not None:
        for method in sorted(run["metrics"], key=lambda k: list(METHODS).index(k) if k in METHODS else 99):
            m = run["metrics"][method]
            mine.append(
                {
                    "model": f"your run ({run['model_id']}): {METHODS.get(method, method)}",
                    "benchmark": benchmark,
                    "measures": PHOTO_TO_PREDICTION,
                    **{k: m[k] for k in keys},
                    "setting": "zero-shot, gazetteer label set",
                    "distance_definition": DISTANCE_DEFINITION,
                    "source": "this book",
                }
            )
    for exp, m in (city_runs or {}).items():
        mine.append(
            {
                "model": "CLIP ViT-L/14 (the authors' run)",
                "benchmark": f"{exp} ({m['n_scored']:,} of {m['n_images']:,} photos scored)",
                "measures": CITY_TO_CITY,
                **{k: m[k] for k in keys},
                "setting": "zero-shot, the authors' city labels",
                "distance_definition": DISTANCE_DEFINITION + "; " + CITY_DISTANCE,
                "source": "this book, from the authors' result files",
            }
        )
    out = pd.concat(rows + [pd.DataFrame(mine)], ignore_index=True)
    return out[
        [
            "model",
            "benchmark",
            "measures",
            *[c for c in out.columns if c not in ("model", "benchmark", "measures")],
        ]
    ]


def gpu_command(model_name: str, benchmark: str, metadata: str, images: str) -> str:
    """The shell commands of a real run (GPU), for the chapter to show.

    Example
    -------
    >>> print(gpu_command("hf:models/streetclip", "im2gps3k", "im2gps3k_places365.csv", "im2gps3k/"))  # doctest: +SKIP
    """
    return (
        "pip install 'geoclip-utils[models]'\n"
        "jupytext --to ipynb book/your_model.md\n"
        f"papermill book/your_model.ipynb out.ipynb -p model_name '{model_name}' -p device cuda \\\n"
        f"  -p benchmark {benchmark} -p metadata '{metadata}' -p images '{images}' \\\n"
        "  -p min_population 15000 -p max_cities 0"
    )


def city_glue(city: dict[str, dict]) -> dict[str, object]:
    """The values the chapter quotes about CLIP's city runs in km, keyed ``<name>_<experiment>``.

    Parameters
    ----------
    city : experiment → :func:`geoclip_utils.evaluate.cities.km_metrics`.

    Returns
    -------
    dict: per experiment its labels, unmatched labels, unplaced and scored images, labels placed by
    country, the shares within 25 and 750 km and the median km (each with its 95 % CI, formatted),
    ``paired_<experiment>`` (what pairing with GeoEstimation allows), the top-1 accuracy of all, scored and
    left-out photos (``top1_all_<e>``, ``top1_scored_<e>``, ``top1_left_<e>``), ``left_share_<e>`` and
    ``selection_<experiment>`` (:func:`selection_sentence`).
    """
    out: dict[str, object] = {"city_distance": CITY_DISTANCE}
    for e, m in city.items():
        out |= {
            f"top1_all_{e}": m["top1_all"],
            f"top1_scored_{e}": m["top1_scored"],
            f"top1_left_{e}": m["top1_left_out"],
            f"left_share_{e}": m["n_unplaced"] / m["n_images"] if m["n_images"] else float("nan"),
            f"selection_{e}": selection_sentence(e, m),
            f"labels_{e}": m["labels"],
            f"unmatched_{e}": m["labels_unmatched"],
            f"unplaced_{e}": m["n_unplaced"],
            f"images_{e}": m["n_images"],
            f"by_country_{e}": m["labels_by_country"],
            f"acc25_{e}": format_ci(m["acc_25km"], *m["acc_25km_ci95"], ".1%", "paren"),
            f"acc750_{e}": format_ci(m["acc_750km"], *m["acc_750km_ci95"], ".1%", "paren"),
            f"median_{e}": format_ci(m["median_km"], *m["median_km_ci95"], ".0f", "paren"),
            f"paired_{e}": m["paired_geoestimation"],
        }
    return out


#: :func:`selection_sentence` calls the left-out photos "about as hard" as the scored ones when their top-1
#: accuracies lie within this many percentage points (as a share).
SIMILAR_TOP1 = 0.02


def selection_sentence(experiment: str, m: dict) -> str:
    """What leaving out the photos of unmatched labels does to a city run's kilometre numbers, in words and
    numbers: how many are left out, why, and whether they are harder or easier than the scored ones (by
    top-1 accuracy), so what the shares describe.

    Parameters
    ----------
    experiment : the run's name.
    m : its :func:`geoclip_utils.evaluate.cities.km_metrics`.

    Example
    -------
    >>> m = {"n_images": 100, "n_scored": 100, "n_unplaced": 0, "top1_all": 0.2, "top1_scored": 0.2,
    ...      "top1_left_out": float("nan")}
    >>> selection_sentence("city100", m)
    'For `city100` every photo is scored, so its kilometre numbers describe the whole run.'
    """
    n, left = m["n_images"], m["n_unplaced"]
    if left == 0:
        return f"For `{experiment}` every photo is scored, so its kilometre numbers describe the whole run."
    scored, left_acc, all_acc = m["top1_scored"], m["top1_left_out"], m["top1_all"]
    if left_acc < scored - SIMILAR_TOP1:
        how = "the left-out photos are harder, so the kilometre numbers describe an easier part of the run"
    elif left_acc > scored + SIMILAR_TOP1:
        how = "the left-out photos are easier, so the kilometre numbers describe a harder part of the run"
    else:
        how = "the left-out photos are about as hard as the scored ones"
    return (
        f"For `{experiment}`, {left:,} of {n:,} {'photo' if n == 1 else 'photos'} ({left / n:.1%}) "
        f"{'is' if left == 1 else 'are'} left out because the gold or the predicted city is unmatched; CLIP's "
        f"first answer is right for {scored:.1%} of the scored photos, {all_acc:.1%} of all (the top-1 accuracy "
        f"of the chapter on places below the country) and {left_acc:.1%} of the left-out ones: {how}."
    )


def rules_sentence(rules, threshold_km: float) -> str:
    """The paired comparison of the two descent rules in words and numbers (B: descend only when the city
    prompt beats the country prompt; A: always descend), with the zero cases said as such.

    Example
    -------
    >>> from geoclip_utils.stats import paired
    >>> rules_sentence(paired([0, 0], [0, 0], n_boot=10), 25)
    'Paired on the same pictures, the two rules place exactly the same pictures within 25 km (0.0% under each), so there is nothing to test.'
    """
    t = f"{threshold_km:g}"
    if rules.n == 0:
        return "There is no picture to compare the two rules on."
    if rules.only_a == 0 and rules.only_b == 0:
        return (
            f"Paired on the same pictures, the two rules place exactly the same pictures within {t} km "
            f"({rules.accuracy_a:.1%} under each), so there is nothing to test."
        )
    if rules.diff > 0:
        word = "more pictures"
    elif rules.diff < 0:
        word = "fewer pictures"
    else:
        word = "as many pictures"
    than = "as" if rules.diff == 0 else "than"
    return (
        f"Paired on the same pictures, descending only when the city beats the country places {word} within "
        f"{t} km {than} always descending ({rules.accuracy_b:.1%} against {rules.accuracy_a:.1%}; difference "
        f"{format_points(rules.diff, *rules.diff_ci95)}; {count_words(rules.only_b, 'picture')} within {t} km "
        f"only under the first rule, {count_words(rules.only_a, 'picture')} only under the second; exact "
        f"McNemar p {rules.p_text})."
    )


def descended_words(share: float, n: int) -> str:
    """For how many pictures the city prompt beat the country prompt, in words.

    Example
    -------
    >>> descended_words(0.0, 20), descended_words(1.0, 20), descended_words(0.35, 20)
    ('for none of the 20 pictures', 'for all 20 pictures', 'for 35.0% of the 20 pictures')
    """
    if share == 0:
        return f"for none of the {n:,} pictures"
    if share == 1:
        return f"for all {n:,} pictures"
    return f"for {share:.1%} of the {n:,} pictures"


def run_glue(run: dict, *, benchmark: str, model_name: str, threshold_km: float) -> dict[str, object]:
    """The values the chapter quotes about a zero-shot run, with the wording its numbers choose.

    Parameters
    ----------
    run : :func:`zero_shot_run`.
    benchmark, model_name, threshold_km : the chapter's parameters of that run.

    Returns
    -------
    dict: the model id, backend, images, cities and countries of the run, the share that descended to a
    city, both descent rules' shares within ``threshold_km`` and their paired difference (formatted, with
    its p-value text), ``rules_word`` ("places more", "places fewer" or "places as many": the
    ``if_better`` rule against ``always``), ``rules_sentence`` (:func:`rules_sentence`), ``descended_words``
    (:func:`descended_words`) and ``demo_note`` (:data:`DEMO_NOTE` for the demo or the tiny model, else one
    sentence naming the model and benchmark).
    """
    rules = run["rules"]
    word = "places more" if rules.diff > 0 else "places fewer" if rules.diff < 0 else "places as many"
    demo = benchmark == "demo" or model_name == "tiny"
    return {
        "run_model": run["model_id"],
        "run_backend": run["backend"],
        "run_images": run["n_images"],
        "run_cities": run["n_cities"],
        "run_countries": run["n_countries"],
        "run_benchmark": benchmark,
        "descended": run["descended"],
        "rules_always": rules.accuracy_a,
        "rules_if_better": rules.accuracy_b,
        "rules_diff": format_ci(rules.diff, *rules.diff_ci95, "+.1%", "paren"),
        "rules_p": rules.p_text,
        "rules_word": word,
        "rules_t": threshold_km,
        "rules_sentence": rules_sentence(rules, threshold_km),
        "descended_words": descended_words(run["descended"], run["n_images"]),
        "demo_note": DEMO_NOTE if demo else f"These are the numbers of {run['model_id']} on {benchmark}.",
    }


def anchor_glue(table: pd.DataFrame | None = None, defs: pd.DataFrame | None = None) -> dict[str, int]:
    """How many anchors, of how many models, and how many other distance definitions than the book's.

    Parameters
    ----------
    table : :func:`anchors` (default: read it).
    defs : :func:`definitions` of it (default: computed, with the book's own definition).

    Example
    -------
    >>> sorted(anchor_glue())
    ['n_anchor_models', 'n_anchors', 'n_other_definitions']
    """
    table = anchors() if table is None else table
    defs = definitions() if defs is None else defs
    return {
        "n_anchors": len(table),
        "n_anchor_models": table["model"].nunique(),
        "n_other_definitions": int((defs.index != DISTANCE_DEFINITION).sum()),
    }


# --------------------------------------------------------------------------- kilometre tables
def km_table(results: Mapping[str, dict]) -> pd.DataFrame:
    """Several :func:`geoclip_utils.evaluate.cities.km_metrics` (or ``score_coordinates`` entries) as one table, one row per run.

    Columns: ``n``, ``acc_<t>km`` with ``_lo`` / ``_hi``, ``median_km`` (+ CI), ``geoscore`` (+ CI).

    Example
    -------
    >>> km_table({"city100": km_metrics("city100", n_boot=100)})  # doctest: +SKIP
    """
    rows = {}
    keys = [f"acc_{t}km" for t in THRESHOLDS_KM] + ["median_km", "geoscore"]
    for name, m in results.items():
        row = {"n": m.get("n_scored", m.get("n"))}
        for k in keys:
            row[k] = m[k]
            if k + "_ci95" in m:
                row[k + "_lo"], row[k + "_hi"] = m[k + "_ci95"]
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def km_report(results: Mapping[str, dict]) -> str:
    """Text lines of :func:`geoclip_utils.evaluate.cities.km_metrics` results: shares within each threshold, median and GeoScore, with CIs.

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
