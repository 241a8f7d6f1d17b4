"""geoclip_utils.studies.geoguessr (the GeoGuessr chapter): its tables, numbers and words."""

from __future__ import annotations

import functools

import pandas as pd
import pytest
from helpers import PHOTOS, toy_guesses, toy_results

from geoclip_utils import geo
from geoclip_utils import parameters as P
from geoclip_utils.errors import ConfigError, DataError
from geoclip_utils.evaluate import map_guess
from geoclip_utils.evaluate.runs import candidate_labels
from geoclip_utils.studies import geoguessr as gg


def test_an_answer_naming_no_country_is_left_out_and_counted():
    # the authors' two-stage run answers "other" in one-country regions: no country, so no pin
    top = [("other", "France")] + [
        (c, "Spain") if c != "Spain" else ("Spain", "France") for c in PHOTOS["label"][1:]
    ]
    g = map_guess.make_guesses(toy_results(top, [(0.6, 0.4)] * 9), PHOTOS, experiment="toy")
    assert g.n == 8 and g.n_unanswered == 1 and "p0" not in set(g.table["image_id"])
    assert g.table["error_km"].notna().all()
    # the photo still belongs to the data set: the photo prior of France uses it
    la, lo = geo.pins.geometric_median(PHOTOS["lat"][[0, 2]], PHOTOS["lon"][[0, 2]])
    pp = g.rule("photo_prior").set_index("image_id")
    assert float(geo.haversine_km(pp.loc["p1", "pred_lat"], pp.loc["p1", "pred_lon"], la, lo)) < 1e-3
    assert (
        gg.dropped_sentence(g) == "of the run's 9 photos, 1 whose first answer names no country is left out"
    )
    with pytest.raises(DataError, match="no first answer names a country"):
        map_guess.make_guesses(
            toy_results([("other", "France")] * 9, [(0.6, 0.4)] * 9), PHOTOS, experiment="toy"
        )


def test_photos_without_coordinates_are_dropped_and_counted():
    df = toy_results([("France", "Spain")] * 9, [(0.9, 0.1)] * 9)
    g = map_guess.make_guesses(df, PHOTOS.iloc[2:], experiment="toy")
    assert g.n == 7 and g.n_dropped == 2 and g.n_results == 9
    words = gg.headline_glue(map_guess.score_guesses(g, None, n_boot=0), g, "capital", "hierarchy")[
        "dropped_sentence"
    ]
    assert words == "of the run's 9 photos, 2 without coordinates are left out"
    with pytest.raises(DataError, match="no photo of the run has coordinates"):
        map_guess.make_guesses(df, PHOTOS.iloc[:0], experiment="toy")
    wrong = PHOTOS.assign(label=["Spain"] + list(PHOTOS["label"][1:]))
    with pytest.raises(DataError, match="'France' in the results but 'Spain'"):
        map_guess.make_guesses(df, wrong, experiment="toy")


def _ge_table(offset_km=0.0):
    """A GeoEstimation-like table: each photo's pin ``offset_km`` north of it."""
    lat = PHOTOS["lat"] + offset_km / 111.195
    d = geo.haversine_km(PHOTOS["lat"], PHOTOS["lon"], lat, PHOTOS["lon"])
    return pd.DataFrame(
        {
            "image_id": PHOTOS["image_id"],
            "partitioning": "hierarchy",
            "pred_lat": lat,
            "pred_lon": PHOTOS["lon"],
            "error_km": d,
            "geoscore": geo.geoscore(d),
        }
    )


def test_scores_and_the_paired_comparison():
    g = toy_guesses()
    ge = _ge_table(3000.0)
    res = map_guess.score_guesses(g, ge, n_boot=200, seed=1)
    assert list(res) == list(map_guess.RULES)
    for r, m in res.items():
        assert m["n"] == 9 and 0 <= m["acc_2500km"] <= 1 and len(m["geoscore_ci95"]) == 2
        vs = m["vs_geoestimation"]
        mine = g.rule(r)["geoscore"].to_numpy()
        assert vs["geoscore_diff"] == pytest.approx(float((mine - ge["geoscore"]).mean()))
        assert vs["partitioning"] == "hierarchy" and vs["n"] == 9
        assert vs["clip_higher"] + vs["geoestimation_higher"] + vs["ties"] == pytest.approx(1)
        assert vs["geoscore_diff_ci95"][0] <= vs["geoscore_diff"] <= vs["geoscore_diff_ci95"][1]
    assert res["hedged_calibrated"]["temperature"] == g.temperature and res["hedged"]["temperature"] == 1.0
    assert res["photo_prior"]["fallback"] == 0
    assert gg.verdict_sentence(res["oracle_photo_prior"]).startswith("CLIP would win")
    # against a perfect GeoEstimation CLIP cannot win
    perfect = map_guess.score_guesses(g, _ge_table(0.0), n_boot=200, seed=1)
    assert gg.verdict_sentence(perfect["capital"]).startswith("GeoEstimation would win")
    assert map_guess.score_guesses(g, ge, n_boot=200, seed=1) == res  # same seed, same numbers
    text = gg.headline_text(res, "hierarchy")
    assert text.startswith("9 photos") and "oracle_photo_prior" in text
    t = gg.result_table(res)
    assert t.loc["capital", "diff"] == res["capital"]["vs_geoestimation"]["geoscore_diff"]
    html = gg.result_view(res).to_html()
    assert "minus GeoEst" in html and "oracle_photo_prior" in html
    assert "+" + format(res["capital"]["vs_geoestimation"]["geoscore_diff"], ",.0f") in html


def test_verdict_words_follow_the_interval():
    def entry(lo, hi):
        return {"vs_geoestimation": {"geoscore_diff": (lo + hi) / 2, "geoscore_diff_ci95": [lo, hi]}}

    assert gg.verdict_sentence(entry(10, 20)).startswith("CLIP would win")
    assert gg.verdict_sentence(entry(-20, -10)).startswith("GeoEstimation would win")
    assert gg.verdict_sentence(entry(-5, 5)).startswith("neither CLIP nor GeoEstimation would win clearly")
    assert gg.verdict_sentence(entry(10, 20), who="the oracle").startswith("the oracle would win")
    assert gg.verdict_sentence({}) == "the two cannot be compared on the same photos"
    res = {
        "capital": entry(10, 20),
        "photo_prior": entry(-5, 5),
        "hedged": entry(-20, -10),
        "oracle_capital": entry(1, 2),
    }
    assert gg.rules_sentence(res) == (
        "1 of the 3 ways CLIP can play score more than GeoEstimation (paired interval above zero), "
        "1 score less (interval below zero) and 1 cannot be told apart from it (interval includes zero)"
    )
    assert gg.rules_sentence({"capital": entry(-20, -10)}).startswith("the one way CLIP can play scores less")


def test_country_wins_and_their_words():
    g = toy_guesses()
    per = gg.country_wins(g, _ge_table(300.0), "photo_prior")
    assert set(per.index) == {"FRA", "DEU", "ESP"} and (per["n"] == 3).all()
    assert "CLIP GeoScore" in gg.wins_view(per).to_html()
    assert per["diff"].is_monotonic_increasing
    w = gg.wins_glue(per)
    assert w["n_clip_wins"] + w["n_ge_wins"] <= 3 and w["map_range"] == pytest.approx(per["diff"].abs().max())

    def words(*diffs):
        t = pd.DataFrame({"country": [f"c{i}" for i in range(len(diffs))], "diff": list(diffs)})
        return gg.wins_glue(t.sort_values("diff"))["wins_sentence"]

    assert words(5.0) == "CLIP’s pins score more in the one country."
    assert words(0.0) == "The two are level in the one country."
    assert (
        words(0.0, -3.0)
        == "GeoEstimation’s pins score more in 1 of the 2 countries and CLIP’s in none; 1 is level."
    )
    assert words(-1.0, -3.0) == "GeoEstimation’s pins score more in all 2 countries."
    assert words(2.0, -3.0, 0.0, 0.0) == (
        "CLIP’s pins score more in 1 of the 4 countries and GeoEstimation’s in 1; 2 are level."
    )
    curves = gg.distance_curves(g, _ge_table(300.0), ["capital"], grid_km=[1, 299.9, 300.1, 20000])
    ge_curve = curves[curves["method"].str.startswith("GeoEstimation")]["share"].tolist()
    assert ge_curve == pytest.approx([0, 0, 1, 1])  # d < km: 300 km is within 300.1, not 299.9


def test_candidates_say_whether_both_sides_could_answer_alike():
    g = toy_guesses()
    c = gg.candidates_glue(g, _ge_table(10.0).iloc[:5], "capital")
    assert c["n_paired"] == 5 and not c["same_photos"] and c["clip_points"] == 3 and c["ge_points"] == 5
    assert "4 of CLIP's have no GeoEstimation prediction" in c["photos_sentence"]
    # a run the registry does not know chooses among its photos' countries
    assert (c["clip_candidates"], c["clip_candidates_words"]) == (3, "the 3 countries of the test set only")


@pytest.mark.needs_data
def test_candidates_name_the_countries_without_photos_a_run_could_answer():
    """The mixed-prompt run can answer countries no photo is from: the sentence says how many."""
    from dataclasses import replace

    g = replace(toy_guesses(), experiment="country100_mixedprompt")
    c = gg.candidates_glue(g, _ge_table(10.0), "capital")
    photos = set(g.table["gold"])
    outside = candidate_labels("country100_mixedprompt") - photos
    assert c["clip_candidates"] == 167 and 0 < len(outside) < 167
    assert (
        c["clip_candidates_words"] == f"167 countries, {len(outside)} of them without photos in the test set"
    )


def test_parameters_one_sentence_each():
    check = functools.partial(P.check, "geoguessr")
    check(experiment="country100", rule="hedged_calibrated", partitioning="hierarchy", n_boot=10, seed=0)
    good = {
        "experiment": "country100",
        "rule": "capital",
        "partitioning": "hierarchy",
        "n_boot": 10,
        "seed": 0,
    }
    for change, match in [
        ({"rule": "dart"}, r"^rule='dart' is not allowed"),
        ({"partitioning": "finest"}, r"^partitioning='finest' is not allowed"),
        ({"n_boot": 0}, r"^n_boot=0 is not allowed"),
        ({"seed": -1}, r"^seed=-1 is not allowed"),
        (
            {"experiment": "country100_region"},
            r"^experiment='country100_region' is not allowed.*regions chapter",
        ),
        ({"experiment": "city100"}, r"^experiment='city100' is not allowed"),
    ]:
        with pytest.raises(ConfigError, match=match) as err:
            check(**(good | change))
        assert "\n" not in str(err.value)
    assert (
        "country100" in map_guess.clip_experiments()
        and "country100_region" not in map_guess.clip_experiments()
    )
