"""geoclip_utils.studies.geoguessr: CLIP's country answers as pins, scored against GeoEstimation."""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geoclip_utils import geo
from geoclip_utils import parameters as P
from geoclip_utils.errors import ConfigError, DataError
from geoclip_utils.geo import gazetteer
from geoclip_utils.schema import make_predictions
from geoclip_utils.studies import geoguessr as gg

#: three photos in each of three countries (near Paris, Berlin, Madrid), ids in sorted order
PHOTOS = pd.DataFrame(
    {
        "image_id": [f"p{i}" for i in range(9)],
        "label": ["France"] * 3 + ["Germany"] * 3 + ["Spain"] * 3,
        "iso3": ["FRA"] * 3 + ["DEU"] * 3 + ["ESP"] * 3,
        "lat": [48.9, 48.8, 45.7, 52.5, 52.4, 48.1, 40.4, 40.5, 41.4],
        "lon": [2.3, 2.4, 4.8, 13.4, 13.3, 11.6, -3.7, -3.6, 2.2],
    }
)


def _results(top, probs):
    return make_predictions(
        PHOTOS["image_id"], PHOTOS["label"], top, probs, experiment="toy", source="local"
    ).sort_values("image_id", ignore_index=True)


def _toy(top=None, probs=None):
    top = top or [(c, "Spain") if c != "Spain" else ("Spain", "France") for c in PHOTOS["label"]]
    probs = probs or [(0.7, 0.3)] * 9
    return gg.make_guesses(_results(top, probs), PHOTOS, experiment="toy")


def test_pins_follow_each_rule():
    g = _toy()
    assert g.n == 9 and g.n_dropped == 0 and g.fallback == 0
    assert list(g.table["rule"].cat.categories) == list(gg.RULES)
    caps = gazetteer.capitals(["FRA", "DEU", "ESP"])
    cap = g.rule("capital")
    assert (cap["pred_lat"].to_numpy() == caps.loc[cap["answer"], "lat"].to_numpy()).all()
    # the answers are right, so the photo prior of photo 0 is the median of the two other French photos
    pp = g.rule("photo_prior")
    la, lo = geo.pins.geometric_median(PHOTOS["lat"][1:3], PHOTOS["lon"][1:3])
    assert float(geo.haversine_km(pp["pred_lat"][0], pp["pred_lon"][0], la, lo)) < 1e-3
    # the oracle is the same rule with the gold country: here every first answer is right
    np.testing.assert_allclose(g.rule("oracle_photo_prior")["pred_lat"], pp["pred_lat"])
    assert (
        g.rule("capital")["error_km"]
        == geo.haversine_km(cap["lat"], cap["lon"], cap["pred_lat"], cap["pred_lon"])
    ).all()
    assert g.distinct_pins["capital"] == 3 and g.distinct_pins["photo_prior"] == 9


def test_wrong_answer_uses_the_other_country_s_full_median_and_the_hedge_can_move():
    # photo 0 is answered Germany: its photo-prior pin is the median of all German photos
    top = [("Germany", "France")] + [
        (c, "Spain") if c != "Spain" else ("Spain", "France") for c in PHOTOS["label"][1:]
    ]
    g = _toy(top=top, probs=[(0.55, 0.45)] + [(0.7, 0.3)] * 8)
    pp = g.rule("photo_prior")
    la, lo = geo.pins.geometric_median(PHOTOS["lat"][3:6], PHOTOS["lon"][3:6])
    assert float(geo.haversine_km(pp["pred_lat"][0], pp["pred_lon"][0], la, lo)) < 1e-3
    assert pp["answer"][0] == "DEU" and g.rule("oracle_photo_prior")["answer"][0] == "FRA"
    assert 0.0 <= g.moved["hedged"] <= 1.0 and g.hedge_rule in gg.SINGLE_RULES
    assert g.temperature >= 1.0


def test_a_country_without_another_photo_falls_back_to_its_population_centre():
    photos = PHOTOS.iloc[:4]
    df = make_predictions(
        photos["image_id"],
        photos["label"],
        [("France",)] * 3 + [("Germany",)],
        [(1.0,)] * 4,
        experiment="toy",
        source="local",
    )
    g = gg.make_guesses(df, photos, experiment="toy")
    assert g.fallback == 1
    deu = gazetteer.population_centres(["DEU"]).loc["DEU"]
    row = g.rule("photo_prior").iloc[3]
    assert (row["pred_lat"], row["pred_lon"]) == pytest.approx((deu["lat"], deu["lon"]))
    # a run with one answer per photo: the hedge is the first answer
    assert g.moved == {"hedged": 0.0, "hedged_calibrated": 0.0}


def test_an_answer_naming_no_country_is_left_out_and_counted():
    # the authors' two-stage run answers "other" in one-country regions: no country, so no pin
    top = [("other", "France")] + [
        (c, "Spain") if c != "Spain" else ("Spain", "France") for c in PHOTOS["label"][1:]
    ]
    g = gg.make_guesses(_results(top, [(0.6, 0.4)] * 9), PHOTOS, experiment="toy")
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
        gg.make_guesses(_results([("other", "France")] * 9, [(0.6, 0.4)] * 9), PHOTOS, experiment="toy")


def test_photos_without_coordinates_are_dropped_and_counted():
    df = _results([("France", "Spain")] * 9, [(0.9, 0.1)] * 9)
    g = gg.make_guesses(df, PHOTOS.iloc[2:], experiment="toy")
    assert g.n == 7 and g.n_dropped == 2 and g.n_results == 9
    words = gg.headline_glue(gg.score_guesses(g, None, n_boot=0), g, "capital", "hierarchy")[
        "dropped_sentence"
    ]
    assert words == "of the run's 9 photos, 2 without coordinates are left out"
    with pytest.raises(DataError, match="no photo of the run has coordinates"):
        gg.make_guesses(df, PHOTOS.iloc[:0], experiment="toy")
    wrong = PHOTOS.assign(label=["Spain"] + list(PHOTOS["label"][1:]))
    with pytest.raises(DataError, match="'France' in the results but 'Spain'"):
        gg.make_guesses(df, wrong, experiment="toy")


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
    g = _toy()
    ge = _ge_table(3000.0)
    res = gg.score_guesses(g, ge, n_boot=200, seed=1)
    assert list(res) == list(gg.RULES)
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
    perfect = gg.score_guesses(g, _ge_table(0.0), n_boot=200, seed=1)
    assert gg.verdict_sentence(perfect["capital"]).startswith("GeoEstimation would win")
    assert gg.score_guesses(g, ge, n_boot=200, seed=1) == res  # same seed, same numbers
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
    g = _toy()
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
    g = _toy()
    c = gg.candidates_glue(g, _ge_table(10.0).iloc[:5], "capital")
    assert c["n_paired"] == 5 and not c["same_photos"] and c["clip_points"] == 3 and c["ge_points"] == 5
    assert "4 of CLIP's have no GeoEstimation prediction" in c["photos_sentence"]


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
    assert "country100" in gg.clip_experiments() and "country100_region" not in gg.clip_experiments()


@pytest.mark.slow
def test_geoclip_metrics_country100_json_has_the_map_guess_block():
    from geoclip_utils.cli import app

    out = CliRunner().invoke(app, ["metrics", "--experiment", "country100", "--json", "--n-boot", "50"])
    assert out.exit_code == 0, out.output
    res = json.loads(out.output)
    assert "top1" in res and "km" not in res  # the label metrics are unchanged beside it
    mg = res["map_guess"]
    assert list(mg) == list(gg.RULES)
    for m in mg.values():
        assert m["n"] == 11500
        for key in ("acc_1km", "acc_25km", "acc_200km", "acc_750km", "acc_2500km", "median_km", "geoscore"):
            assert len(m[key + "_ci95"]) == 2
        vs = m["vs_geoestimation"]
        assert vs["partitioning"] == "hierarchy" and vs["n"] == 11500 and len(vs["geoscore_diff_ci95"]) == 2
    # the ceiling: the gold country's pin scores at least as well as CLIP's under the same rule
    for r in gg.SINGLE_RULES:
        assert mg[f"oracle_{r}"]["geoscore"] >= mg[r]["geoscore"]
    # the temperature is the calibration chapter's (fitted on the country labels alone)
    assert mg["hedged_calibrated"]["temperature"] == pytest.approx(26.529484644318973)


@pytest.mark.slow
def test_map_guess_of_the_two_stage_run_leaves_its_placeholder_answers_out():
    g = gg.load_guesses("country100_country_from_region")
    assert g.n_unanswered == 39 and g.n == 11500 - 39 and g.n_dropped == 0
    res = gg.map_guess("country100_country_from_region", n_boot=20)
    assert res["capital"]["n"] == res["capital"]["vs_geoestimation"]["n"] == 11500 - 39
    # one stored answer per photo: nothing to hedge
    assert res["hedged"]["moved"] == res["hedged_calibrated"]["moved"] == 0.0
    assert res["hedged"]["geoscore"] == res[res["hedged"]["based_on"]]["geoscore"]
