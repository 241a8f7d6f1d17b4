"""Tests of geoclip_utils.benchmarks: strict layout checks (one line per problem) and scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from geoclip_utils import benchmarks, geo
from geoclip_utils.errors import ConfigError, InputError
from geoclip_utils.studies import your_model


def _folder(tmp_path, names):
    d = tmp_path / "images"
    d.mkdir(exist_ok=True)
    for n in names:
        p = d / n
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(p)
    return d


def _write(tmp_path, text, name="meta.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_custom_layout_reads_and_keys_images_by_stem(tmp_path):
    d = _folder(tmp_path, ["a.jpg", "b.png"])
    meta = _write(tmp_path, "IMG_ID,LAT,LON,S3_Label\na.jpg,48.85,2.35,1\nb.png,-33.9,151.2,2\n")
    b = benchmarks.load_benchmark("custom", meta, d)
    assert b["image_id"].tolist() == ["a", "b"] and b["file"].tolist() == ["a.jpg", "b.png"]
    assert b["lat"].tolist() == [48.85, -33.9] and b.attrs["benchmark"] == "custom"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ID,LAT,LON\na.jpg,1,2\n", r"line 1: missing column 'img_id'"),
        ("IMG_ID,LAT,LON\na.jpg,1,2,3\n", "line 2 has 4 fields"),
        ("IMG_ID,LAT,LON\na.jpg,north,2\n", "line 2: LAT 'north' is not a number"),
        ("IMG_ID,LAT,LON\na.jpg,91,2\n", r"line 2: LAT '91' is out of range \[-90, 90\]"),
        ("IMG_ID,LAT,LON\na.jpg,1,nan\n", "line 2: LON 'nan' is not a number"),
        (
            "IMG_ID,LAT,LON\na.jpg,1,2\n\na.jpg,3,4\n",
            r"1 duplicate IMG_IDs, e.g. 'a.jpg' appears 2 times \(lines 2, 4\)",
        ),
        ("IMG_ID,LAT,LON\n,1,2\n", "line 2 has a blank IMG_ID"),
        (
            "IMG_ID,LAT,LON\nmissing.jpg,1,2\n",
            "1 of the 1 images of meta.csv are missing, first 'missing.jpg'",
        ),
        ("IMG_ID;LAT;LON\na.jpg;1;2\n", "delimited by ';'"),
    ],
)
def test_each_problem_is_one_line_naming_file_and_line(tmp_path, text, message):
    d = _folder(tmp_path, ["a.jpg"])
    meta = _write(tmp_path, text)
    with pytest.raises(InputError, match=message) as exc:
        benchmarks.load_benchmark("custom", meta, d)
    assert "\n" not in str(exc.value)


def test_benchmark_row_counts_are_checked(tmp_path):
    d = _folder(tmp_path, ["a.jpg"])
    meta = _write(tmp_path, "IMG_ID,LAT,LON\na.jpg,1,2\n")
    with pytest.raises(InputError, match="1 rows, but im2gps3k has 2,997 images .*allow_subset=True"):
        benchmarks.load_benchmark("im2gps3k", meta, d)
    assert len(benchmarks.load_benchmark("im2gps3k", meta, d, allow_subset=True)) == 1
    with pytest.raises(InputError, match="yfcc4k has 4,536"):
        benchmarks.load_benchmark("yfcc4k", meta, d)
    with pytest.raises(ConfigError, match="benchmark 'im2gps' unknown"):
        benchmarks.load_benchmark("im2gps", meta, d)
    with pytest.raises(InputError, match="does not exist"):
        benchmarks.load_benchmark("custom", tmp_path / "nope.csv", d)


def test_osv5m_layout_finds_images_in_sub_folders_and_keeps_areas(tmp_path):
    d = _folder(tmp_path, ["00/101.jpg", "01/102.jpg"])
    meta = _write(
        tmp_path,
        "id,latitude,longitude,country,region,sub-region,city\n"
        "101,48.85,2.35,FR,IDF,Paris,Paris\n102,35.68,139.69,JP,Tokyo,Tokyo,Tokyo\n",
        "test.csv",
    )
    b = benchmarks.load_benchmark("osv5m", meta, d, allow_subset=True)
    assert b["file"].tolist() == ["00/101.jpg", "01/102.jpg"] and b["country"].tolist() == ["FR", "JP"]
    meta2 = _write(tmp_path, "id,latitude,longitude\n101,48.85,2.35\n103,1,1\n", "test2.csv")
    with pytest.raises(InputError, match="first '103.jpg'"):
        benchmarks.load_benchmark("osv5m", meta2, d, allow_subset=True)


@pytest.mark.slow
def test_score_benchmark_is_the_book_metric(tmp_path):
    d = _folder(tmp_path, ["a.jpg", "b.jpg", "c.jpg"])
    meta = _write(
        tmp_path, "IMG_ID,LAT,LON\na.jpg,48.8566,2.3522\nb.jpg,35.6762,139.6503\nc.jpg,-33.8688,151.2093\n"
    )
    b = benchmarks.load_benchmark("custom", meta, d)
    exact = (b["lat"].to_numpy(), b["lon"].to_numpy())
    paris_for_all = (np.full(3, 48.8566), np.full(3, 2.3522))
    res = benchmarks.score_benchmark(b, {"exact": exact, "paris": paris_for_all}, n_boot=20)
    assert (
        res["exact"]["acc_1km"] == 1.0
        and res["exact"]["median_km"] == 0.0
        and res["exact"]["geoscore"] == 5000
    )
    assert res["exact"]["country_top1"] == 1.0
    d_paris = geo.haversine_km(b["lat"], b["lon"], 48.8566, 2.3522)
    assert res["paris"]["acc_25km"] == pytest.approx(1 / 3)
    assert res["paris"]["median_km"] == pytest.approx(float(np.median(d_paris)))
    with pytest.raises(ConfigError, match="have 2 rows; the benchmark has 3"):
        benchmarks.score_benchmark(b, {"short": (np.zeros(2), np.zeros(2))})


def test_threshold_is_strict_as_osv5m_counts_it(tmp_path):
    """``d < t`` (OSV-5M's ``haversine_distance < acc``): a prediction exactly 25 km away is not within 25 km."""
    from geoclip_utils.studies import kilometre

    f = {
        "image_id": ["a", "b", "c"],
        "method": "m",
        "error_km": [24.999999, 25.0, 25.000001],
        "country_correct": True,
    }
    import pandas as pd

    m = kilometre.score_coordinates(pd.DataFrame(f), n_boot=0)["m"]
    assert m["acc_25km"] == pytest.approx(1 / 3) and m["acc_1km"] == 0.0


def test_anchors_file_names_a_source_and_a_definition_for_every_row():
    a = your_model.anchors()
    assert len(a) >= 1 and (a["source"].str.len() > 20).all() and (a["distance_definition"] != "").all()
    shares = a[[f"acc_{t}km" for t in (1, 25, 200, 750, 2500)]]
    assert ((shares.isna()) | ((shares >= 0) & (shares <= 1))).all().all()
    # the families the chapter names, each with a stated definition; shares rise with the threshold
    for family in ("GeoCLIP", "PIGEOTTO", "StreetCLIP", "zero-shot CLIP"):
        assert a["model"].str.startswith(family).any(), family
    assert (shares.T.ffill().diff().iloc[1:].fillna(0) >= 0).all().all()
    assert (a["note"].str.len() > 20).all()


def test_definitions_group_the_anchors_and_put_the_books_first():
    from geoclip_utils.studies import kilometre

    d = your_model.definitions()
    assert d.index[0] == kilometre.DISTANCE_DEFINITION and d["models"].iloc[0] == "this book"
    assert d["rows"].sum() == len(your_model.anchors()) + 1
    pigeon = d[d["models"].str.contains("PIGEOTTO")]
    assert len(pigeon) == 1 and "d < t" in pigeon.index[0]
    toy = your_model.definitions(
        pd.DataFrame({"model": ["a", "b", "a"], "distance_definition": ["x", "y", "x"]})
    )
    assert toy.loc["x", "models"] == "a" and toy.loc["x", "rows"] == 2


@pytest.mark.slow
def test_zero_shot_run_on_the_demo_end_to_end(tmp_path):
    from geoclip_utils.engine import load_model

    bench = your_model.demo_benchmark(tmp_path, n_per_label=2)
    assert len(bench) == 10 and bench.attrs["benchmark"] == "custom"
    model, preprocess, _ = load_model("tiny", device="cpu")
    run = your_model.zero_shot_run(
        model, preprocess, bench, tmp_path / "cache", min_population=5_000_000, n_boot=20
    )
    assert set(run["metrics"]) == set(your_model.METHODS)
    assert run["n_images"] == 10 and run["metrics"]["top_city"]["n"] == 10
    p = run["predictions"]
    cities = set(zip(*[kilometre_cities(5_000_000)[c] for c in ("lat", "lon")], strict=True))
    assert set(zip(p["top_lat"], p["top_lon"], strict=True)) <= cities  # the top answer is a city
    table = your_model.footing_table(run, "demo", None)
    assert table["source"].str.contains("this book").sum() == 4
    assert (table["measures"] == your_model.PHOTO_TO_PREDICTION).all()


def kilometre_cities(min_population):
    from geoclip_utils.studies import kilometre

    return kilometre.city_labels(min_population)


def _city_metrics(acc25: float) -> dict:
    m = {"labels": 10, "labels_unmatched": 2, "n_unplaced": 30, "n_images": 100, "labels_by_country": 4}
    m |= {"acc_25km": acc25, "acc_25km_ci95": [acc25 - 0.01, acc25 + 0.01]}
    m |= {
        "acc_750km": 0.5,
        "acc_750km_ci95": [0.45, 0.55],
        "median_km": 288.2,
        "median_km_ci95": [280.1, 290.9],
    }
    m |= {"n_scored": 70, "top1_all": 0.2, "top1_scored": 0.25, "top1_left_out": 0.2 - 0.05 * 70 / 30}
    return m | {"paired_geoestimation": "the result file carries no image ids"}


def test_city_glue_names_every_value_per_experiment():
    g = your_model.city_glue({"city100": _city_metrics(0.288), "city300": _city_metrics(0.396)})
    assert g["unmatched_city100"] == 2 and g["images_city300"] == 100
    assert g["acc25_city100"] == "28.8% (27.8% – 29.8%)" and g["acc25_city300"].startswith("39.6%")
    assert g["median_city100"] == "288 (280 – 291)"
    assert g["paired_city100"] == g["paired_city300"] == "the result file carries no image ids"
    assert g["left_share_city100"] == 0.3 and g["top1_scored_city100"] == 0.25
    assert g["selection_city100"].startswith("For `city100`, 30 of 100 photos (30.0%) are left out because")
    assert g["selection_city100"].endswith(
        "the left-out photos are harder, so the kilometre numbers describe an easier part of the run."
    )


def test_selection_sentence_edges():
    base = {"n_images": 100, "n_scored": 99, "n_unplaced": 1, "top1_all": 0.3, "top1_scored": 0.3}
    one = your_model.selection_sentence("x", base | {"top1_left_out": 0.3})
    assert "1 of 100 photos (1.0%) is left out" in one and one.endswith("about as hard as the scored ones.")
    easier = your_model.selection_sentence("x", base | {"top1_left_out": 0.9})
    assert easier.endswith(
        "the left-out photos are easier, so the kilometre numbers describe a harder part of the run."
    )
    none = your_model.selection_sentence("x", base | {"n_unplaced": 0, "top1_left_out": float("nan")})
    assert none == "For `x` every photo is scored, so its kilometre numbers describe the whole run."


def _rules(a, b, only_a, only_b, n=20):
    from geoclip_utils.stats.compare import PairedComparison

    return PairedComparison(
        n=n, accuracy_a=a, accuracy_b=b, diff=b - a, diff_ci95=(b - a - 0.05, b - a + 0.05),
        mcnemar_p=1.0 if only_a == only_b == 0 else 0.5, only_a=only_a, only_b=only_b,
        accuracy_a_ci95=(0.3, 0.5), accuracy_b_ci95=(0.3, 0.5),
    )  # fmt: skip


def test_rules_sentence_and_descended_words_edges():
    zeros = your_model.rules_sentence(_rules(0.0, 0.0, 0, 0), 25)
    assert zeros.startswith(
        "Paired on the same pictures, the two rules place exactly the same pictures within 25 km"
    )
    assert "McNemar" not in zeros and "0.0% against 0.0%" not in zeros and " than " not in zeros
    tie = your_model.rules_sentence(_rules(0.4, 0.4, 2, 2), 25)
    assert "places as many pictures within 25 km as always descending" in tie and "0.0 points" in tie
    more = your_model.rules_sentence(_rules(0.4, 0.5, 1, 3), 25)
    assert "places more pictures within 25 km than always descending (50.0% against 40.0%" in more
    assert (
        "+10.0 points" in more and "3 pictures within 25 km only under the first rule, 1 picture only" in more
    )
    assert your_model.rules_sentence(_rules(0.0, 0.0, 0, 0, n=0), 25).startswith("There is no picture")
    assert your_model.descended_words(0.0, 1) == "for none of the 1 pictures"
    assert your_model.descended_words(1.0, 3) == "for all 3 pictures"


@pytest.mark.parametrize(
    ("diff", "word"), [(0.1, "places more"), (-0.1, "places fewer"), (0.0, "places as many")]
)
def test_run_glue_words_the_comparison_of_the_rules_by_its_sign(diff, word):
    from geoclip_utils.stats.compare import PairedComparison

    rules = PairedComparison(
        n=20, accuracy_a=0.4, accuracy_b=0.4 + diff, diff=diff, diff_ci95=(diff - 0.05, diff + 0.05),
        mcnemar_p=0.5, only_a=2, only_b=2, accuracy_a_ci95=(0.3, 0.5), accuracy_b_ci95=(0.3, 0.5),
    )  # fmt: skip
    run = {"rules": rules, "model_id": "m", "backend": "openai", "n_images": 20, "n_cities": 5}
    run |= {"n_countries": 3, "descended": 0.5}
    g = your_model.run_glue(run, benchmark="im2gps3k", model_name="ViT-L/14", threshold_km=25)
    assert g["rules_word"] == word and g["demo_note"] == "These are the numbers of m on im2gps3k."
    assert g["rules_sentence"] == your_model.rules_sentence(rules, 25)
    assert g["descended_words"] == "for 50.0% of the 20 pictures"
    assert g["rules_diff"].startswith(f"{diff:+.1%}")
    demo = your_model.run_glue(run, benchmark="demo", model_name="ViT-L/14", threshold_km=25)
    assert demo["demo_note"] == your_model.DEMO_NOTE


def test_anchor_glue_counts_rows_models_and_other_definitions():
    g = your_model.anchor_glue()
    a = your_model.anchors()
    assert g["n_anchors"] == len(a) and g["n_anchor_models"] == a["model"].nunique()
    assert g["n_other_definitions"] == len(your_model.definitions()) - 1 >= 1
    toy = pd.DataFrame({"model": ["a", "b"], "distance_definition": ["x", "y"]})
    assert your_model.anchor_glue(toy, your_model.definitions(toy))["n_other_definitions"] == 2
