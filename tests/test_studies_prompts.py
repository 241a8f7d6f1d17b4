"""geoclip_utils.studies.prompts (the Prompts chapter) against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoclip_utils.schema import make_predictions
from geoclip_utils.studies import prompts


def test_class_change_table():
    gold = ["A", "A", "B", "B"]
    a = make_predictions(list("1234"), gold, [("A",), ("B",), ("B",), ("B",)], experiment="a", source="local")
    b = make_predictions(list("1234"), gold, [("A",), ("A",), ("B",), ("A",)], experiment="b", source="local")
    t = prompts.class_change_table(a, b)
    # A: recall 1/2 -> 1, F1 2/3 -> 0.8 ; B: recall 1 -> 1/2, F1 0.8 -> 2/3
    assert t.loc["A", "d_recall"] == pytest.approx(0.5)
    assert t.loc["A", "d_f1"] == pytest.approx(0.8 - 2 / 3)
    assert t.loc["B", "d_f1"] == pytest.approx(2 / 3 - 0.8)
    assert list(t.index) == ["A", "B"] and t["support"].tolist() == [2, 2]


# =========================================================================== studies.prompts (chapter numbers)
@pytest.fixture
def prompt_runs():
    ids = [str(i) for i in range(8)]
    gold = ["France", "France", "Spain", "Spain", "Japan", "Japan", "Japan", "Japan"]
    a_top = [
        ("France", "Spain"),
        ("Spain", "France"),
        ("Spain", "Japan"),
        ("France", "Spain"),
        ("Japan", "Spain"),
        ("Japan", "France"),
        ("Spain", "Japan"),
        ("Japan", "Spain"),
    ]
    # B: different answers on 0, 1, 3, 6; its top-2 repeats a country on 2 (several prompts per country)
    b_top = [
        ("Spain", "France"),
        ("France", "Spain"),
        ("Spain", "Spain"),
        ("Spain", "France"),
        ("Japan", "Spain"),
        ("Japan", "Spain"),
        ("France", "Japan"),
        ("Japan", "France"),
    ]
    a = make_predictions(ids, gold, a_top, experiment="std", source="local")
    b = make_predictions(ids[::-1], gold[::-1], b_top[::-1], experiment="mix", source="local")
    for t in (a, b):
        t["gold_iso3"] = t["gold"].map({"France": "FRA", "Spain": "ESP", "Japan": "JPN"})
    return a, b


def test_compare_prompts_by_hand(prompt_runs):
    a, b = prompt_runs
    r = prompts.compare_prompts(a, b, n_boot=50)
    # A right on 0, 2, 4, 5, 7; B right on 1, 2, 3, 4, 5, 7
    assert r.top1.n == 8 and r.top1.accuracy_a == 5 / 8 and r.top1.accuracy_b == 6 / 8
    assert (r.top1.only_a, r.top1.only_b) == (1, 2)
    assert r.summary_a["top1"] == r.top1.accuracy_a and r.summary_b["top1_ci95"] == list(
        r.top1.accuracy_b_ci95
    )
    assert r.summary_a["classes"] == 3 and r.summary_a["majority"] == 0.5
    assert r.top5 is None  # two answers stored: no top-5 comparison
    assert r.dup_top5 == 1 / 8 and r.changed == 4 / 8
    n = prompts.comparison_numbers(r)
    assert n["n_images"] == 8 and n["only_b"] == 2 and np.isnan(n["diff5"]) and n["dup_top5"] == 1 / 8
    assert n["f1_diff"] == pytest.approx(r.summary_b["macro_f1"] - r.summary_a["macro_f1"])
    assert n["dup_words"].startswith("which leaves fewer than five")
    assert n["balance_words"] in ("hurts", "makes no clear difference", "helps")
    lo, hi = r.top1.diff_ci95
    assert n["balance_words"] == ("helps" if lo > 0 else "hurts" if hi < 0 else "makes no clear difference")
    text = prompts.headline_text(r, ("std", "mix"))
    lines = text.split("\n")
    assert lines[0] == "8 paired images, 3 countries; chance 33.33%, majority 50.00%"
    assert lines[1].startswith("std                      top-1 62.50%  (95% CI ")
    assert lines[2] == " " * 24 + " top-5 n/a"
    # a difference of shares is printed in points, signed
    assert lines[7].startswith("mixed − standard, top-1: +12.50 points (95% CI ")
    assert lines[8] == "discordant images: standard only 1, mixed only 2" and text.endswith("\n")
    assert n["diff_pts"] == pytest.approx(12.5) and n["f1_diff_pts"] == pytest.approx(100 * n["f1_diff"])


def test_compare_prompts_top5_and_no_duplicates():
    ids = [str(i) for i in range(4)]
    gold = ["A", "B", "C", "D"]
    tops = [
        ("A", "B", "C", "D", "E"),
        ("A", "C", "D", "E", "B"),
        ("A", "B", "D", "E", "F"),
        ("D", "A", "B", "C", "E"),
    ]
    a = make_predictions(ids, gold, tops, experiment="a", source="local")
    b = make_predictions(ids, gold, [t[::-1] for t in tops], experiment="b", source="local")
    r = prompts.compare_prompts(a, b, n_boot=50)
    assert r.top5 is not None and r.top5.accuracy_a == 0.75 and r.top5.diff == 0.0
    assert r.dup_top5 == 0.0
    n = prompts.comparison_numbers(r)
    assert n["dup_words"].startswith("so the comparison at top-5 is not handicapped") and n["p5"] == 1.0
    assert "mixed − standard, top-5: 0.00 points (95% CI 0.00 – 0.00)" in prompts.headline_text(r, ("a", "b"))


def test_by_subregion_and_subregion_numbers(prompt_runs):
    a, b = prompt_runs
    r = prompts.compare_prompts(a, b, n_boot=50)
    t = prompts.by_subregion(r, n_boot=50)
    # France, Spain: Western / Southern Europe; Japan: Eastern Asia
    assert set(t.index) == {"Western Europe", "Southern Europe", "Eastern Asia"}
    assert t.loc["Southern Europe", "diff"] == 0.5 and t.loc["Eastern Asia", "diff"] == 0.0
    n = prompts.subregion_numbers(t)
    assert n["n_subregions"] == 3 and n["best_region"] == "Southern Europe" and n["worst_region_diff"] <= 0
    table = pd.DataFrame(
        {"diff": [-0.2, -0.1, 0.1, 0.3], "mcnemar_p": [0.01, 0.5, 0.9, 0.001]}, index=list("abcd")
    )
    n = prompts.subregion_numbers(table)
    assert (n["n_worse"], n["n_better"]) == (1, 1)
    assert (
        n["subregion_words"] == "significantly worse in 1 and significantly better in 1 of the 4 sub-regions"
    )
    n = prompts.subregion_numbers(table.assign(mcnemar_p=0.5))
    assert n["subregion_words"] == "not significantly different in any of the 4 sub-regions"
    n = prompts.subregion_numbers(table.assign(mcnemar_p=[0.5, 0.5, 0.5, 0.01]))
    assert (
        n["subregion_words"]
        == "significantly better in 1 of the 4 sub-regions and significantly worse in none"
    )


def test_never_answerable_and_change_numbers(prompt_runs):
    a, b = prompt_runs
    assert prompts.never_answerable(a["gold"], b) == []
    assert prompts.never_answerable(["France", "Germany", "Chad"], b) == ["Chad", "Germany"]
    changes = prompts.class_change_table(a, b)
    n = prompts.change_numbers(changes, ["Germany"])
    assert n["top_gain"] == changes.index[0] and n["top_loss_df1"] == changes["d_f1"].min()
    assert n["n_gain"] + n["n_loss"] <= 3 and n["never"] == "Germany" and n["n_never"] == 1
    assert prompts.change_numbers(changes, [])["never"] == "none"


def test_prompts_like_for_like_by_hand(prompt_runs):
    a, b = prompt_runs
    # B may also answer Italy, which has no photos: it does on images 3 and 6 (first answer), and on 6 the
    # stored top-2 holds no other common country
    b = b.copy()
    b["top_labels"] = [
        ("Japan", "France"),
        ("Italy", "Italy"),
        ("Japan", "Spain"),
        ("Japan", "Spain"),
        ("Italy", "France"),
        ("Spain", "Spain"),
        ("France", "Spain"),
        ("Spain", "France"),
    ]  # rows of b in its own order (ids 7 … 0)
    r = prompts.compare_prompts(a, b, n_boot=50)
    like = prompts.restricted_comparison(
        r, {"France", "Spain", "Japan"}, {"France", "Spain", "Japan", "Italy"}, n_boot=50
    )
    assert (like.labels, like.a_labels, like.b_labels, like.b_outside, like.b_ran_out) == (3, 3, 4, 2, 1)
    n = prompts.restricted_numbers(like, r.top1)
    assert n["b_outside"] == 2 and n["b_outside_share"] == 0.25 and n["gold_outside"] == 0
    assert n["r_b_hi"] - n["r_b_lo"] == pytest.approx(1 / 8)  # the one run-out could be right
    assert "1 photo of the mixed prompts" in n["restricted_words"]
    assert n["like_words"].startswith("Both runs scored the same 8 photos, but they could not give the same")
    assert "2 first answers of the mixed prompts (25.0% of the photos) name countries" in n["like_words"]
    # where those answers went
    without = prompts.answers_without_photos(r.b, a["gold"].unique())
    assert without.index.tolist() == ["Italy"] and without.loc["Italy", "answers"] == 2
    assert without.loc["Italy", "from"] == "Japan 1, Spain 1"  # ties by name
    w = prompts.without_photos_numbers(without, len(r.b))
    assert (w["n_without"], w["without_answers"], w["without_examples"]) == (1, 2, "Italy (2)")
    sub = prompts.without_by_subregion_numbers(r, prompts.by_subregion(r, n_boot=20))
    assert (
        sub["without_share_all"] == 0.25 and sub["most_without_share"] == 0.5
    )  # Spain: 1 of 2, Japan: 1 of 4
    assert sub["most_without_region"] == "Southern Europe"
    # the per-country table keeps the countries with photos only
    changes = prompts.class_change_table(r.a, r.b)
    assert "Italy" not in changes.index and (changes["support"] > 0).all()


def test_prompts_without_photos_empty_and_many_sources():
    from geoclip_utils.schema import make_predictions as mk

    b = mk(list("123"), ["A", "B", "C"], [("A",), ("B",), ("C",)], experiment="b", source="local")
    t = prompts.answers_without_photos(b, ["A", "B", "C"])
    assert t.empty and prompts.without_photos_numbers(t, 3) == {
        "n_without": 0,
        "without_answers": 0,
        "without_share": 0.0,
        "without_examples": "none",
    }
    b = mk(list("12345"), ["A", "B", "C", "D", "D"], [("M",)] * 5, experiment="b", source="local")
    t = prompts.answers_without_photos(b, ["A", "B", "C", "D"], n_sources=2)
    assert t.loc["M", "from"] == "D 2, A 1 and 2 others"


def test_prompts_source_sentence_edges():
    assert prompts.source_sentence(0.0, -0.01, 0.01).startswith("There is no raw difference")
    assert prompts.source_sentence(-0.066, -0.016, 0.0).startswith("Most of the raw difference comes from")
    assert prompts.source_sentence(-0.066, 0.01, 0.02).startswith("Most of the raw difference comes from")
    assert prompts.source_sentence(-0.066, -0.06, -0.04).startswith("Most of the raw difference remains")
    assert prompts.source_sentence(-0.066, -0.05, -0.02).startswith("The stored answers cannot tell")
    assert prompts.source_sentence(0.05, 0.04, 0.06).startswith(
        "Most of the raw difference remains"
    )  # a gain
