"""geoclip_utils.studies.geoestimation (the GeoEstimation chapter): CLIP compared, tables and sentences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import small_geoestimation_table

from geoclip_utils import stats
from geoclip_utils.errors import ConfigError
from geoclip_utils.evaluate import geoestimation as ge_eval
from geoclip_utils.stats import distance as stats_distance
from geoclip_utils.studies import geoestimation as ge

LONDON = (51.5074, -0.1278)

PARIS = (48.8566, 2.3522)


NEW_YORK = (40.7128, -74.0060)


LOS_ANGELES = (34.0522, -118.2437)


# --------------------------------------------------------------------------- the chapter's wording
def _result():
    part = {
        "n": 6,
        "acc_1km": 1 / 6,
        "acc_25km": 0.5,
        "median_km": 375.0,
        "median_km_ci95": [12.5, 1300.0],
        "geoscore": 2500.4,
        "geoscore_ci95": [1999.5, 3000.0],
        "country_top1": 0.5,
        "country_top1_ci95": [0.1667, 0.8333],
    }
    return {"n": 6, "thresholds_km": [1, 25], "partitionings": {"coarse": part}}


def test_metrics_text_hand_made():
    assert ge.metrics_text(_result()) == (
        "GeoEstimation (base M) on 6 country100 images; 95% bootstrap CIs in brackets\n"
        "   coarse: 1km 16.7%  25km 50.0%\n"
        "           median 375 [12, 1300] km  GeoScore 2500 [2000, 3000]  country 50.0% [16.7%, 83.3%]"
    )


def test_metrics_view_and_glue_on_small_table():
    out = ge_eval.distance_metrics(small_geoestimation_table(), n_boot=50, seed=1)
    result = {"n": 6, "thresholds_km": list(stats_distance.THRESHOLDS_KM), "partitionings": out}
    view = ge.metrics_view(ge.metrics_table(result))
    assert list(view.data.columns)[-2:] == ["country 95% CI", "median 95% CI"]
    lo, hi = out["coarse"]["country_top1_ci95"]
    assert view.data.loc["coarse", "country 95% CI"] == f"{lo:.1%} – {hi:.1%}"
    assert "50.0%" in view.to_html()
    g = ge.metrics_glue(result, "fine")
    assert g["part"] == "fine" and g["best_part"] == "fine"  # 4/6 right countries against 3/6
    assert g["ge_country"] == pytest.approx(4 / 6) and g["median_km"] == pytest.approx(2502.5)
    assert g["parts_differ"] == "differ clearly"


def test_partitionings_sentence_thresholds():
    def mt(country, median):
        return pd.DataFrame({"country_top1": country, "median_km": median})

    assert ge.partitionings_sentence(mt([0.20, 0.25], [1000.0, 1250.0])) == "differ little"
    assert ge.partitionings_sentence(mt([0.20, 0.2501], [1000.0, 1000.0])) == "differ clearly"
    assert ge.partitionings_sentence(mt([0.20, 0.21], [1000.0, 1251.0])) == "differ clearly"


def _parts(coarse, middle, fine):
    keys = [f"acc_{t}km" for t in stats_distance.THRESHOLDS_KM]
    return {
        "thresholds_km": list(stats_distance.THRESHOLDS_KM),
        "partitionings": {
            p: dict(zip(keys, v, strict=True))
            for p, v in (("coarse", coarse), ("middle", middle), ("fine", fine))
        },
    }


def test_finer_sentence_names_the_helped_scales():
    # the book's numbers: finer partitionings ahead at 1 and 25 km only
    r = _parts(
        [0.005, 0.055, 0.166, 0.349, 0.570],
        [0.011, 0.067, 0.170, 0.348, 0.568],
        [0.009, 0.075, 0.164, 0.338, 0.561],
    )
    assert ge.finer_sentence(r) == (
        "the finer partitionings help only at the street and city scales, where GeoEstimation rarely succeeds anyway"
    )
    # at 25 km the fine partitioning already succeeds often: no "rarely"
    r = _parts([0.005, 0.10, 0.2, 0.3, 0.5], [0.01, 0.15, 0.1, 0.2, 0.4], [0.02, 0.20, 0.1, 0.2, 0.4])
    assert ge.finer_sentence(r) == "the finer partitionings help only at the street and city scales"
    r = _parts([0.1] * 5, [0.2] * 5, [0.3] * 5)
    assert ge.finer_sentence(r) == "the finer partitionings help at every scale, from street to continent"
    r = _parts([0.3] * 5, [0.2] * 5, [0.4] * 5)  # middle never ahead: no scale helped by both
    assert ge.finer_sentence(r) == "the finer partitionings help at no scale"
    r = _parts([0.1, 0.1, 0.5, 0.5, 0.5], [0.1, 0.1, 0.6, 0.5, 0.5], [0.1, 0.1, 0.7, 0.5, 0.5])
    assert ge.finer_sentence(r) == "the finer partitionings help only at the region scale"


def test_comparison_sentence_direction_and_size():
    clip_far = stats.paired([1] * 60 + [0] * 40, [1] * 20 + [0] * 80, n_boot=200)
    s = ge.comparison_sentence(clip_far)
    assert s.startswith("the zero-shot CLIP names the country far more often than")
    assert s.endswith("lies far from zero")
    ge_ahead = stats.paired([0] * 950 + [1] * 50, [0] * 900 + [1] * 100, n_boot=200)
    s = ge.comparison_sentence(ge_ahead)
    assert s.startswith(
        "the supervised GeoEstimation model places its guess inside the right country more often"
    )
    assert s.endswith("excludes zero") and "far" not in s
    level = stats.paired([1, 0] * 50, [0, 1] * 50, n_boot=200)
    assert "about as often as" in ge.comparison_sentence(level)
    assert ge.comparison_sentence(level).endswith("includes zero")


def _clip_df(ids, gold, pred):
    return pd.DataFrame({"image_id": ids, "gold_iso3": gold, "pred_iso3": pred})


def test_compare_with_clip_and_its_text():
    ids = ["p1", "p2", "p3", "p4"]
    table = pd.DataFrame(
        {
            "image_id": ids * 2,
            "partitioning": ["coarse"] * 4 + ["fine"] * 4,
            "lat": [PARIS[0], LONDON[0], NEW_YORK[0], LOS_ANGELES[0]] * 2,
            "lon": [PARIS[1], LONDON[1], NEW_YORK[1], LOS_ANGELES[1]] * 2,
            "gold_iso3": ["FRA", "GBR", "USA", "MEX"] * 2,  # the last gold label is wrong on purpose
            "country_correct": [True, False, False, False, True, True, True, False],
            "error_km": [0.4, 300.0, 900.0, 20.0] * 2,
            "pred_iso3": ["FRA", "", "CAN", "USA"] * 2,
        }
    )
    clip_df = _clip_df(ids[::-1], ["MEX", "USA", "GBR", "REU"], ["MEX", "CAN", "GBR", "FRA"])
    c = ge.compare_with_clip(table, clip_df, "coarse", n_boot=50)
    assert c.clip_correct.tolist() == [True, True, False, True]  # REU counts as France; order of the table
    assert c.ge_correct.tolist() == [True, False, False, False]
    assert (c.paired.only_a, c.paired.only_b, c.paired.n) == (2, 0, 4)
    assert c.geocoder_agree == 0.75  # Los Angeles is not in Mexico
    g = ge.comparison_glue(c, "country100")
    assert (g["both"], g["neither"], g["n_countries"]) == (1, 1, 4)
    assert g["diff"] == pytest.approx(-0.5) and g["mcnemar_p"] == c.paired.p_text
    text = ge.comparison_text(c, "country100", "coarse").splitlines()
    assert text[0] == "country accuracy on the same 4 images (sovereign ISO-3 match)"
    assert text[1].startswith("  CLIP country100 top-1:      75.00%  (95% CI ")
    assert text[2] == "  GeoEstimation    coarse: 25.00%"
    assert text[3].startswith("  difference (GeoEst − CLIP): -50.00 points (paired 95% CI ")
    assert g["diff_pts"] == pytest.approx(-50.0)
    # like for like: GeoEstimation's points outside the photo countries (FRA, GBR, USA, MEX): "" and CAN
    like = ge.like_numbers(c, n_boot=20)
    assert (like["ge_outside"], like["ge_no_country"], like["ge_other_countries"]) == (2, 1, 1)
    assert like["ge_outside_share"] == 0.5 and like["clip_right_outside"] == 1  # CLIP right on p2, not p3
    assert (like["in_n"], like["in_clip"], like["in_ge"]) == (2, 1.0, 0.5)
    assert like["in_words"] in (
        "even there CLIP names the country more often",
        "there the two cannot be told apart",
    )
    # CLIP's lead on all photos and the 2 photos left: whether GeoEstimation's wider choice explains it
    lo, hi = c.paired.diff_ci95
    assert like["gap_explained"] == (
        "and CLIP is not ahead on all photos, so there is no gap in its favour to explain"
        if hi >= 0
        else "and that may explain the gap"  # 2 photos decide nothing
    )
    assert text[4] == f"  discordant: CLIP only 2, GeoEstimation only 0; McNemar p {c.paired.p_text}"
    m = ge.error_map_frame(c.images)
    assert m["error"].tolist() == [0, 300, 900, 20] and m["predicted"].tolist() == [
        "FRA",
        "none",
        "CAN",
        "USA",
    ]
    assert m["log10_error_km"].tolist()[0] == 0.0  # errors under 1 km are drawn at 1 km
    with pytest.raises(ConfigError, match="partitioning"):
        ge.compare_with_clip(table, clip_df, "middle")


def test_per_country_comparison_precision_and_f1():
    ids = ["p1", "p2", "p3", "p4"]
    table = pd.DataFrame(
        {
            "image_id": ids,
            "partitioning": "coarse",
            "gold": ["France", "France", "Spain", "Spain"],
            "gold_iso3": ["FRA", "FRA", "ESP", "ESP"],
            "pred_iso3": ["FRA", "ESP", "ESP", "PRT"],  # GeoEstimation
            "country_correct": [True, False, True, False],
            "error_km": [1.0, 2.0, 3.0, 4.0],
        }
    )
    clip_df = _clip_df(ids, ["FRA", "FRA", "ESP", "ESP"], ["FRA", "FRA", "FRA", "FRA"])  # CLIP always France
    per = ge.per_country_comparison(table, clip_df, "coarse")
    assert per.loc["FRA", "clip"] == 1.0 and per.loc["FRA", "clip_precision"] == 0.5
    assert per.loc["FRA", "clip_f1"] == pytest.approx(2 / 3)
    assert (
        per.loc["ESP", "clip"] == 0.0
        and np.isnan(per.loc["ESP", "clip_precision"])
        and per.loc["ESP", "clip_f1"] == 0
    )
    assert per.loc["ESP", "ge_precision"] == 0.5 and per.loc["FRA", "ge_precision"] == 1.0
    assert per.loc["ESP", "f1_diff"] == pytest.approx(0.5)  # GeoEstimation: P 0.5, R 0.5


def test_per_country_glue_says_when_a_side_leads_nowhere():
    def per(diffs, f1_diffs=(0.0, 0.0, 0.0)):
        return pd.DataFrame(
            {
                "country": list("ABC"),
                "diff": diffs,
                "clip_precision": [0.19, 0.5, float("nan")],
                "ge_precision": [0.0, 0.5, 0.39],
                "f1_diff": list(f1_diffs),
            }
        )

    g = ge.per_country_glue(per([-0.89, 0.0, 0.24], (-0.3, 0.0, 0.1)))
    assert (g["n_ge_better"], g["n_clip_better"], g["n_ge_better_f1"], g["n_clip_better_f1"]) == (1, 1, 1, 1)
    assert g["gap_sentence"] == (
        "The largest gap in GeoEstimation's favour is C (recall +24 points; precision: GeoEstimation 0.39, "
        "CLIP no answer), in CLIP's favour A (recall +89 points for CLIP; precision: GeoEstimation 0.00, "
        "CLIP 0.19)."
    )  # precision beside recall: CLIP's lead in recall on A comes with a precision of 0.19
    assert g["clip_best_diff"] == pytest.approx(0.89) and g["clip_best_precision"] == pytest.approx(0.19)
    assert ge.per_country_glue(per([-0.5, -0.2, 0.0]))["gap_sentence"].startswith(
        "GeoEstimation is ahead in no country; the largest gap in CLIP's favour is A (recall +50 points for CLIP"
    )
    assert ge.per_country_glue(per([0.0, 0.1, 0.3]))["gap_sentence"].endswith(
        "; CLIP is ahead in no country."
    )
    assert ge.per_country_glue(per([0.0, 0.0, 0.0]))["gap_sentence"] == "The two are level in every country."


@pytest.mark.needs_data
def test_candidates_of_a_run_against_the_photos_countries():
    """country100 chooses among the photos' 115 countries; the mixed-prompt run also among countries without
    photos, and the chapter's sentence says how many."""
    from geoclip_utils import experiments

    df = experiments.load_results("country100", source="paper")
    assert ge.candidates_numbers("country100", df) == {
        "clip_candidates": 115,
        "clip_candidates_outside": 0,
        "clip_candidates_words": "the 115 countries of the test set only",
    }
    mixed = ge.candidates_numbers(
        "country100_mixedprompt", experiments.load_results("country100_mixedprompt")
    )
    assert mixed["clip_candidates"] == 167 and mixed["clip_candidates_outside"] > 0
    assert mixed["clip_candidates_words"].endswith("of them without photos in the test set")
