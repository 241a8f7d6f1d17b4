"""geoclip_utils.studies.your_model (the Your model chapter): the zero-shot run, its words, the anchors."""

from __future__ import annotations

import pandas as pd
import pytest

from geoclip_utils.geo import coordinates
from geoclip_utils.geo import distance as geo_distance
from geoclip_utils.studies import your_model


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

    d = your_model.definitions()
    assert d.index[0] == geo_distance.DISTANCE_DEFINITION and d["models"].iloc[0] == "this book"
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
    return coordinates.city_labels(min_population)


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


def test_the_city_runs_the_chapter_shows_are_city_runs_of_the_registry():
    from geoclip_utils import experiments
    from geoclip_utils.evaluate.cities import is_city_run

    assert your_model.CITY_RUNS == ("city100", "city300", "UScity100")
    assert all(is_city_run(experiments.get(run).label_set) for run in your_model.CITY_RUNS)
