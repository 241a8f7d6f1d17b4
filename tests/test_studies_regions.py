"""geoclip_utils.studies.regions (the Regions chapter) against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoclip_utils import stats
from geoclip_utils.errors import ConfigError, DataError
from geoclip_utils.schema import make_predictions
from geoclip_utils.studies import regions

MAP = {"west": ["A", "B", "C"], "east": ["C", "D"], "all": ["A", "B", "C", "D"]}

SUB = {"A": "X", "B": "X", "C": "Y", "D": "Y"}


def test_region_profile_majority_and_ties():
    p = regions.region_profile(MAP, SUB)
    assert p.loc["west", "majority"] == "X" and p.loc["west", "majority_share"] == pytest.approx(2 / 3)
    assert p.loc["east", "subregions"] == ("Y",)
    # tie 2-2 -> alphabetical
    assert p.loc["all", "subregions"] == ("X", "Y") and p.loc["all", "majority"] == "X"
    assert regions.region_profile({"r": ["Q"]}, {}).loc["r", "majority"] == "unknown"


def test_un_region_correct_rules():
    p = regions.region_profile(MAP, SUB)
    pred = ["west", "west", "all", "east", "nowhere"]
    gold = ["X", "Y", "Y", "Y", "X"]
    assert regions.un_region_correct(pred, gold, p, "majority").tolist() == [True, False, False, True, False]
    assert regions.un_region_correct(pred, gold, p, "any").tolist() == [True, True, True, True, False]
    assert not regions.un_region_correct(["west"], [""], p, "any")[0]
    with pytest.raises(ConfigError):
        regions.un_region_correct(pred, gold, p, "strict")
    with pytest.raises(ConfigError):
        regions.un_region_correct(pred, gold[:2], p)


def test_un_gold_sets_and_constant_answers():
    p = regions.region_profile(MAP, SUB)
    sets = regions.un_gold_sets(["X", "Y"], p, "majority")
    assert sets == [{"west", "all"}, {"east"}]
    base = regions.constant_answer_accuracy(["west", "east", "all"], sets)
    assert base.tolist() == [0.5, 0.5, 0.5]
    base = regions.constant_answer_accuracy(["a", "b", "c"], [{"a"}, {"a", "b"}, {"a"}, set()])
    assert base.tolist() == [0.75, 0.25, 0.0]
    assert base.mean() == pytest.approx(1 / 3)
    with pytest.raises(ConfigError):
        regions.constant_answer_accuracy(["a"], [])


@pytest.fixture
def two_stage():
    ids = ["i1", "i2", "i3", "i4"]
    region = make_predictions(
        ids,
        ["A", "A", "D", "B"],
        [("west", "east"), ("east", "west"), ("east", "all"), ("west", "all")],
        experiment="country100_region",
        source="local",
    )
    region["gold_set"] = [("west", "all"), ("west", "all"), ("east", "all"), ("west", "all")]
    stage2 = make_predictions(
        ["i4", "i3", "i2", "i1"],
        ["B", "D", "A", "A"],
        [("C",), ("D",), ("D",), ("A",)],
        experiment="s2",
        source="local",
    )
    stage2["stage1_region"] = ["west", "east", "east", "west"]
    return region, stage2


def _direct_run():
    """The direct country run on the images of the ``two_stage`` fixture: right on i1 and i4 only."""
    return make_predictions(
        ["i1", "i2", "i3", "i4"],
        ["A", "A", "D", "B"],
        [("A",), ("B",), ("A",), ("B",)],
        experiment="d",
        source="local",
    )


def test_two_stage_breakdown(two_stage):
    region, stage2 = two_stage
    b = regions.two_stage_breakdown(region, stage2).set_index("image_id")
    assert b.loc["i1", "outcome"] == "both right"
    assert b.loc["i2", "outcome"] == "region wrong"
    assert b.loc["i3", "outcome"] == "both right"
    assert b.loc["i4", "outcome"] == "region right, country wrong"
    t = regions.outcome_table(b.reset_index())
    assert t["images"].to_dict() == {"both right": 2, "region right, country wrong": 1, "region wrong": 1}
    assert t["share"].sum() == pytest.approx(1.0)
    other = stage2.assign(image_id=["x1", "x2", "x3", "x4"])
    with pytest.raises(DataError):
        regions.two_stage_breakdown(region, other)


def test_region_absorption(two_stage):
    region, _ = two_stage
    a = regions.region_absorption(region)
    # top-1: west, east, east, west; right_for: west 3, all 4, east 1; hits: west 2, east 1
    assert a.loc["west", ["predicted", "right_for"]].tolist() == [2, 3]
    assert a.loc["east", "ratio"] == pytest.approx(2.0)
    assert a.loc["east", "precision"] == pytest.approx(0.5)
    assert a.loc["west", "precision"] == pytest.approx(1.0)
    assert a.loc["all", "predicted"] == 0 and np.isnan(a.loc["all", "precision"])


def test_un_subregions_of_unknown_name_is_empty():
    out = regions.un_subregions_of(["France", "other"])
    assert out == {"France": "Western Europe", "other": ""}


# =========================================================================== studies.regions (chapter numbers)
def test_region_rules_table(two_stage):
    region, _ = two_stage
    # gold A, A, D, B; top-1 west, east, east, west; gold sets (authors) as in the fixture
    t = regions.region_rules_table(region, MAP, subregion_of=SUB, n_boot=50)
    assert list(t.index) == list(regions.RULES)
    # authors: west∈{west,all} ✓, east∉{west,all}, east∈{east,all} ✓, west∈{west,all} ✓
    assert t.loc["authors' lists", "top1"] == pytest.approx(0.75)
    # majority: A→X (west, all), D→Y (east), B→X: west ✓, east ✗, east ✓, west ✓
    assert t.loc["UN, majority", "top1"] == pytest.approx(0.75)
    # any: A, B → X: west, all; D → Y: west, east, all — still 3 of 4
    assert t.loc["UN, any", "top1"] == pytest.approx(0.75)
    # candidates seen: all, east, west; chance under the authors' lists = mean over answers
    assert t.loc["authors' lists", "chance"] == pytest.approx((1.0 + 0.25 + 0.75) / 3)
    assert t.loc["authors' lists", "majority"] == pytest.approx(1.0)
    assert (t["ci_lo"] <= t["top1"]).all() and (t["top1"] <= t["ci_hi"]).all()


def test_conditional_comparison_and_breakdown_numbers(two_stage):
    region, stage2 = two_stage
    b = regions.two_stage_breakdown(region, stage2)
    # direct run: right on i1 and i4 only
    direct = _direct_run()
    cond = regions.conditional_comparison(b, direct, n_boot=50)
    # region right for i1, i3, i4; stage 2 right on i1, i3; direct on i1, i4
    assert (cond.n, cond.accuracy_a, cond.accuracy_b, cond.only_a, cond.only_b) == (3, 2 / 3, 2 / 3, 1, 1)
    n = regions.breakdown_numbers(regions.outcome_table(b), cond)
    assert (
        n["share_region_wrong"] == 0.25 and n["share_country_wrong"] == 0.25 and n["share_both_right"] == 0.5
    )
    assert n["stage2_given_region"] == pytest.approx(2 / 3) and n["cond_diff"] == 0.0
    with pytest.raises(DataError, match="not in the direct run"):
        regions.conditional_comparison(b, direct.iloc[:2], n_boot=50)


def test_region_and_two_stage_numbers(two_stage):
    region, stage2 = two_stage
    summary = {"n": 4, "top1": 0.75, "top1_ci95": [0.5, 1.0], "chance": 0.5, "majority": 1.0}
    n = regions.region_numbers(region, {"west": ["A", "B"], "east": ["D"]}, summary)
    assert n["n_regions"] == 2 and n["unlisted"] == "none" and n["n_unlisted_images"] == 0
    assert n["unlisted_sentence"].startswith("Every country") and n["single_regions"] == "East"
    assert np.isnan(n["region_top5"])
    n = regions.region_numbers(region, {"west": ["B", "C"], "east": ["C", "E"]}, summary)
    assert n["unlisted"] == "A, D" and n["n_unlisted_images"] == 3
    assert n["unlisted_sentence"].startswith("A, D are in none of the authors' regions, so their 3 photos")
    direct = _direct_run()
    stage2 = stage2.assign(top_labels=[("other",), ("D",), ("D",), ("A",)])
    p = stats.paired_predictions(direct, stage2, n_boot=50)
    t = regions.two_stage_numbers(p, direct, stage2)
    assert t["n_paired"] == 4 and t["country_chance"] == pytest.approx(1 / 3) and t["n_other"] == 1
    lo, hi = p.diff_ci95
    said = "worse" if hi < 0 else "better" if lo > 0 else "not clearly better or worse"
    assert t["direct_top1"] == 0.5 and t["better_or_worse"] == said  # by the 95 % CI, not the sign
    assert lo < 0 < hi and said == "not clearly better or worse"  # 4 photos decide nothing
    assert t["two_stage_diff_abs"] == abs(p.diff) and t["only_direct"] == p.only_a


def test_broad_regions_and_absorption_numbers(two_stage):
    region, _ = two_stage
    assert regions.broad_regions(MAP, n=2) == ["all", "west"]
    assert regions.broad_regions({"b": ["X"], "a": ["Y"]}, n=1) == ["a"]  # ties alphabetical
    absorb = regions.region_absorption(region)
    n = regions.absorption_numbers(absorb, ["all"])
    # "all" is right for 4 photos and never answered
    assert n["broad_answers"] == 0 and n["broad_ratio"] == 0.0
    assert n["broad_words"] == "far fewer than the 4 photos they would be right for"
    n = regions.absorption_numbers(absorb, ["east"])  # answered twice, right for 1
    assert n["broad_words"].startswith("at least as many as the 1 photos") and n["broad_share"] == 0.5
    n = regions.absorption_numbers(absorb, ["west", "east"])  # 4 answers, right for 4
    assert n["broad_ratio"] == 1.0
    n = regions.absorption_numbers(absorb, ["nowhere"])
    assert np.isnan(n["broad_ratio"]) and "none of the photos" in n["broad_words"]
    assert n["top_absorber"] == "east" and n["most_predicted"] == "west"  # ties by photos covered


def test_regions_headline_text():
    summary = {
        "top1": 0.703,
        "top1_ci95": [0.694, 0.711],
        "top5": 0.941,
        "top5_ci95": [0.936, 0.945],
        "chance": 0.084,
        "majority": 0.322,
    }
    rules = pd.DataFrame(
        {
            "top1": [0.703, 0.527, 0.767],
            "ci_lo": [0.694, 0.517, 0.759],
            "ci_hi": [0.711, 0.537, 0.774],
            "chance": [0.084, 0.055, 0.2],
            "majority": [0.322, 0.2, 0.3],
        },
        index=list(regions.RULES),
    )
    p = stats.paired([1, 1, 0, 1] * 25, [1, 0, 0, 1] * 25, n_boot=20)
    text = regions.headline_text(summary, rules, p)
    lines = text.split("\n")
    assert lines[0] == "region, authors' lists : top-1 70.30%  (95% CI 69.40% – 71.10%)"
    assert lines[1] == " " * 25 + "top-5 94.10%  (95% CI 93.60% – 94.50%)"
    assert lines[3] == "region, UN, majority   : top-1 52.70%  (95% CI 51.70% – 53.70%)"
    assert lines[7].startswith("country, direct        : top-1 75.00%  (95% CI ") and lines[7].endswith(
        "(100 images)"
    )
    assert lines[9].startswith("two-stage − direct     : -25.00 points (95% CI ")  # points, not %
    assert lines[10] == "discordant images      : direct only 25, two-stage only 0"
    assert text.endswith("\n") and len(lines) == 12
    like = _restricted([1, 1, 0, 1] * 25, [1, 0, 0, 1] * 25, [1, 1, 0, 1] * 25, b_outside=25)
    lines = regions.headline_text(summary, rules, p, like).split("\n")
    assert (
        lines[11] == "like for like          : 2 countries both can answer; two-stage answers outside them 25"
    )
    assert lines[12].endswith("direct 75.00%, two-stage 50.00% – 75.00%")
    assert "two-stage − direct between -25.00 and 0.00 points (95% limits " in lines[13]


def _restricted(a_correct, b_lower, b_upper=None, *, labels=2, b_outside=0):
    """A RestrictedComparison built from per-image correctness (B's run-outs right in ``b_upper``)."""
    b_upper = b_lower if b_upper is None else b_upper
    point = stats.paired(a_correct, b_lower, n_boot=50)
    high = stats.paired(a_correct, b_upper, n_boot=50)
    ran_out = int(np.sum(np.asarray(b_upper, bool) & ~np.asarray(b_lower, bool)))
    n = len(a_correct)
    return stats.RestrictedComparison(
        n, labels, labels, labels + 1, 0, 0, b_outside, 0, ran_out, point, point, high
    )


def test_regions_conclusions_follow_the_numbers():
    worse = stats.paired([1, 1, 1, 0] * 25, [1, 0, 0, 0] * 25, n_boot=50)
    better = stats.paired([1, 0, 0, 0] * 25, [1, 1, 1, 0] * 25, n_boot=50)
    # the authors' lists between the two UN rules (the real case: 70.3 % between 52.7 % and 76.7 %)
    rules = pd.DataFrame({"top1": [0.7, 0.5, 0.8]}, index=list(regions.RULES))
    c = regions.conclusions(rules, worse, worse)
    assert c["lists_words"].startswith(
        "more generous than the strict UN rule and less generous than the lenient"
    )
    assert "depends on how a broad region is credited" in c["rules_words"]
    assert c["taxonomy_words"].startswith("a range around them (50.0% under the strict rule, 80.0% under")
    assert "less flattering" not in c["taxonomy_words"]
    assert c["first_step"].startswith("but it is a poor first step")
    assert c["cond_words"] == "narrowing the candidates to the region hurts once the region is known"
    assert c["region_vs_country"].startswith("CLIP names a right region no more often")  # 0.7 against 0.75
    # above both, below both, tied with one
    c = regions.conclusions(rules.assign(top1=[0.9, 0.5, 0.8]), better, better)
    assert c["lists_words"] == "more generous than either UN rule"
    assert c["taxonomy_words"] == "a less flattering picture under both of its rules"
    assert c["first_step"].startswith("and it is a useful first step") and c["cond_words"].endswith(
        "helps once the region is known"
    )
    c = regions.conclusions(rules.assign(top1=[0.4, 0.5, 0.6]), better, better)
    assert c["lists_words"] == "less generous than either UN rule" and "do not flatter" in c["rules_words"]
    assert c["region_vs_country"].startswith("CLIP names a right region more often")  # 0.4 against 0.25
    assert "those photos are no easier than the average photo" in c["cond_sentence"]
    assert "stage 2 finds the country for 75.0%" in c["cond_sentence"]
    assert "raw paired difference +50.0 points" in c["cond_sentence"]
    c = regions.conclusions(rules.assign(top1=[0.5, 0.5, 0.6]), better, better)
    assert c["lists_words"] == "as generous as one of the UN rules"
    # the order above chance, when the table has it
    ranked = rules.assign(above_chance=[0.6, 0.4, 0.7])
    assert regions.conclusions(ranked, worse, worse)["above_order_words"] == "the order is the same"
    flipped = rules.assign(above_chance=[0.75, 0.4, 0.7])
    assert regions.conclusions(flipped, worse, worse)["above_order_words"] == "the order changes"
    empty = stats.paired([], [], n_boot=50)
    assert regions.conclusions(rules, worse, empty)["cond_sentence"].startswith(
        "No photo got its region right"
    )


def test_regions_conclusions_like_for_like_decide_the_verdicts():
    rules = pd.DataFrame({"top1": [0.7, 0.5, 0.8]}, index=list(regions.RULES))
    raw = stats.paired([1, 1, 1, 0] * 25, [1, 0, 0, 0] * 25, n_boot=50)  # two-stage worse, raw
    # like for like still worse even with every run-out right
    still_worse = _restricted([1, 1, 1, 0] * 25, [1, 0, 0, 0] * 25, [1, 1, 0, 0] * 25, b_outside=25)
    c = regions.conclusions(rules, raw, raw, still_worse, still_worse)
    assert "even like for like" in c["first_step"] and c["first_step"].startswith(
        "but it is a poor first step"
    )
    assert c["cond_words"] == "narrowing the candidates to the region hurts once the region is known"
    assert "did so for 25 photos (25.0%)" in c["cond_sentence"]
    assert "between -50.0 and -25.0 points" in c["cond_sentence"]
    # the run-outs could turn it around: no verdict
    open_ = _restricted([1, 1, 0, 0] * 25, [1, 0, 0, 0] * 25, [1, 1, 1, 0] * 25, b_outside=50)
    c = regions.conclusions(rules, raw, raw, open_, open_)
    assert c["first_step"].startswith("and the stored answers cannot tell whether it is a useful first step")
    assert c["cond_words"].startswith("the stored answers cannot tell whether narrowing the candidates")
    # nothing outside the common labels: exact, and said with the CI
    exact = _restricted([1, 1, 1, 0] * 25, [1, 0, 0, 0] * 25)
    c = regions.conclusions(rules, raw, raw, exact, exact)
    assert "never did" in c["cond_sentence"] and "(difference -50.0 points, 95 % CI" in c["cond_sentence"]


def test_answered_comparison_and_like_numbers():
    ids = ["1", "2", "3", "4"]
    direct = make_predictions(
        ids, ["A", "B", "C", "A"], [("A",), ("B",), ("A",), ("B",)], experiment="d", source="local"
    )
    # stage 2: right on 1, a country without photos on 2 and 3, "other" on 4
    stage2 = make_predictions(
        ids, ["A", "B", "C", "A"], [("A",), ("Z",), ("Z",), ("other",)], experiment="s", source="local"
    )
    ans = regions.answered_comparison(direct, stage2, {"A", "B", "C"}, n_boot=20)
    assert (ans.paired.n, ans.n_dropped, ans.direct_right_dropped, ans.n_other) == (1, 3, 1, 1)
    like = stats.restricted_paired(direct, stage2, {"A", "B", "C"}, {"A", "B", "C", "Z", "other"}, n_boot=20)
    n = regions.like_numbers(like, ans)
    assert (n["ts_outside"], n["ts_outside_countries"], n["ts_other"], n["ts_direct_right_outside"]) == (
        3,
        2,
        1,
        1,
    )
    assert n["ts_like_direct"] == 0.5 and n["ts_like_lo"] == 0.25 and n["ts_like_hi"] == 1.0
    assert n["ts_like_diff_lo_pts"] == pytest.approx(-25.0) and n["ts_like_diff_hi_pts"] == pytest.approx(
        50.0
    )
    assert n["ans_words"] == "there the two runs cannot be told apart"  # one photo, no discordance
    assert n["ts_like_words"].startswith(
        "Both runs scored the same 4 photos, but they could not give the same"
    )


def test_conditional_like_keeps_the_right_region_photos(two_stage):
    region, stage2 = two_stage
    b = regions.two_stage_breakdown(region, stage2)
    direct = _direct_run()
    r = regions.conditional_like(b, direct, stage2, {"A", "B", "D"}, {"A", "B", "C", "D"}, n_boot=20)
    # region right for i1, i3, i4; stage 2 answers A, D, C there: C is no label of the direct run
    assert r.n == 3 and r.b_outside == 1 and r.b_ran_out == 1 and r.point.accuracy_b == pytest.approx(2 / 3)
    none_right = b.assign(stage1_correct=False)
    assert regions.conditional_like(none_right, direct, stage2, {"A"}, {"A"}) is None  # a tiny local run
    empty = stats.paired([], [], n_boot=20)
    rules = pd.DataFrame({"top1": [0.7, 0.5, 0.8]}, index=list(regions.RULES))
    c = regions.conclusions(rules, empty, empty, None, None)
    assert c["cond_sentence"].startswith("No photo got its region right")


def test_region_rules_table_above_chance(two_stage):
    region, _ = two_stage
    t = regions.region_rules_table(region, MAP, subregion_of=SUB, n_boot=20)
    expected = (t["top1"] - t["chance"]) / (1 - t["chance"])
    assert t["above_chance"].tolist() == pytest.approx(expected.tolist())
