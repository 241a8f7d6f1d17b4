"""geoclip_utils.studies.countries (the Countries chapter) against hand-computed cases."""

from __future__ import annotations

import pandas as pd
import pytest

from geoclip_utils import stats
from geoclip_utils.schema import make_predictions
from geoclip_utils.studies import countries


def test_region_confusion_counts_every_photo_and_answers_outside_the_regions():
    df = make_predictions(
        ["1", "2", "3", "4"],
        ["A", "B", "C", "C"],
        [("B",), ("B",), ("D",), ("C",)],
        [(1.0,)] * 4,
        experiment="t",
        source="local",
    )
    counts = countries.region_confusion(df, {"A": "X", "B": "X", "C": "Y", "D": "Z"})
    assert counts.index.tolist() == ["X", "Y"] and counts.columns.tolist() == ["X", "Y", "Z"]
    assert counts.to_numpy().tolist() == [[2, 0, 0], [0, 1, 1]] and counts.to_numpy().sum() == 4
    shares = countries.region_confusion(df, {"A": "X", "B": "X", "C": "Y"}, normalize=True)
    assert shares.loc["Y", "unknown"] == 0.5 and shares.sum(axis=1).tolist() == [1.0, 1.0]


# =========================================================================== studies.countries
def _countries_df():
    gold = ["France", "France", "France", "Spain", "Spain", "Japan", "Japan", "Japan"]
    pred = ["France", "Spain", "Japan", "Spain", "France", "Japan", "Japan", "China"]
    return make_predictions(
        [str(i) for i in range(8)], gold, [(p,) for p in pred], experiment="c100", source="local"
    )


def test_confusion_share_and_region_f1():
    counts = stats.confusion_matrix(_countries_df())
    assert countries.confusion_share(counts, "France", "Spain") == pytest.approx(1 / 3)
    assert countries.confusion_share(counts, "Japan", "Japan") == pytest.approx(2 / 3)
    assert countries.confusion_share(counts, "Namibia", "Japan") == 0.0
    assert countries.confusion_share(counts, "China", "Japan") == 0.0  # predicted only: no photo of its own
    table = pd.DataFrame({"region": ["X", "X", "X", "Y", "Y"], "f1": [0.2, 0.4, 0.6, 0.9, 0.7]})
    r = countries.region_f1(table)
    assert r.index.tolist() == ["X"] and r.loc["X", "mean"] == pytest.approx(0.4)
    r = countries.region_f1(table, min_countries=4)  # no region that large: all kept, worst first
    assert r.index.tolist() == ["X", "Y"] and r["size"].tolist() == [3, 2]


def test_mistakes_within_region():
    region_of = {"France": "W", "Spain": "S", "Japan": "E", "China": "E"}
    w = countries.mistakes_within_region(_countries_df(), region_of)
    # wrong: France→Spain (W→S), France→Japan, Spain→France, Japan→China (E→E)
    assert w == {"wrong": 4, "within": 1, "share": 0.25}
    region_of["Spain"] = "W"
    assert countries.mistakes_within_region(_countries_df(), region_of)["within"] == 3
    # an unknown region never counts as shared
    unknown = {"France": "unknown", "Spain": "unknown", "Japan": "E", "China": "E"}
    assert countries.mistakes_within_region(_countries_df(), unknown)["within"] == 1
    right = make_predictions(["1"], ["A"], [("A",)], experiment="t", source="local")
    assert countries.mistakes_within_region(right, {}) == {"wrong": 0, "within": 0, "share": 0.0}


def test_countries_headline_text():
    s = {
        "experiment": "country100",
        "source": "paper",
        "n": 11500,
        "classes": 115,
        "top1": 0.5174,
        "top1_ci95": [0.5083, 0.527],
        "top5": None,
        "macro_f1": 0.503,
        "macro_f1_ci95": [0.4936, 0.5104],
        "chance": 1 / 115,
    }
    assert countries.headline_text(s) == (
        "country100 (paper): 11500 images, 115 classes\n"
        "     top1: 51.74%  (95% CI 50.83% – 52.70%)\n"
        "     top5: n/a\n"
        " macro_f1: 50.30%  (95% CI 49.36% – 51.04%)\n"
        "   chance: 0.87%\n"
    )


def test_countries_conclusions_follow_the_numbers():
    c = countries.conclusions(
        {"top1_ci95": [0.50, 0.52]}, within={"share": 0.505}, experiment="country100", source="paper"
    )
    assert c["ci_width_words"] == "narrow" and c["within_words"] == "about half"
    assert c["map_relation"].startswith("from the same result file")
    c = countries.conclusions(
        {"top1_ci95": [0.18, 0.44]}, within={"share": 0.8}, experiment="country100", source="local"
    )
    assert c["ci_width_words"] == "wide" and c["within_words"] == "about four fifths"
    assert (
        "country100 (local)" in c["map_relation"] and "agree only as far as the runs do" in c["map_relation"]
    )
    c = countries.conclusions(
        {"top1_ci95": [0.5, 0.52]}, within={"share": 0.0}, experiment="filtered_country100", source="paper"
    )
    assert c["within_words"] == "almost none" and "filtered_country100 (paper)" in c["map_relation"]
