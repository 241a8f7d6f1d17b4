"""geoclip_utils.evaluate.map_guess: CLIP's country answers as pins, scored against GeoEstimation (the map_guess block)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import PHOTOS, toy_guesses
from typer.testing import CliRunner

from geoclip_utils import geo
from geoclip_utils.evaluate import map_guess
from geoclip_utils.geo import gazetteer
from geoclip_utils.schema import make_predictions


def test_pins_follow_each_rule():
    g = toy_guesses()
    assert g.n == 9 and g.n_dropped == 0 and g.fallback == 0
    assert list(g.table["rule"].cat.categories) == list(map_guess.RULES)
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
    g = toy_guesses(top=top, probs=[(0.55, 0.45)] + [(0.7, 0.3)] * 8)
    pp = g.rule("photo_prior")
    la, lo = geo.pins.geometric_median(PHOTOS["lat"][3:6], PHOTOS["lon"][3:6])
    assert float(geo.haversine_km(pp["pred_lat"][0], pp["pred_lon"][0], la, lo)) < 1e-3
    assert pp["answer"][0] == "DEU" and g.rule("oracle_photo_prior")["answer"][0] == "FRA"
    assert 0.0 <= g.moved["hedged"] <= 1.0 and g.hedge_rule in map_guess.SINGLE_RULES
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
    g = map_guess.make_guesses(df, photos, experiment="toy")
    assert g.fallback == 1
    deu = gazetteer.population_centres(["DEU"]).loc["DEU"]
    row = g.rule("photo_prior").iloc[3]
    assert (row["pred_lat"], row["pred_lon"]) == pytest.approx((deu["lat"], deu["lon"]))
    # a run with one answer per photo: the hedge is the first answer
    assert g.moved == {"hedged": 0.0, "hedged_calibrated": 0.0}


@pytest.mark.slow
def test_geoclip_metrics_country100_json_has_the_map_guess_block():
    from geoclip_utils.cli import app

    out = CliRunner().invoke(app, ["metrics", "--experiment", "country100", "--json", "--n-boot", "50"])
    assert out.exit_code == 0, out.output
    res = json.loads(out.output)
    assert "top1" in res and "km" not in res  # the label metrics are unchanged beside it
    mg = res["map_guess"]
    assert list(mg) == list(map_guess.RULES)
    for m in mg.values():
        assert m["n"] == 11500
        for key in ("acc_1km", "acc_25km", "acc_200km", "acc_750km", "acc_2500km", "median_km", "geoscore"):
            assert len(m[key + "_ci95"]) == 2
        vs = m["vs_geoestimation"]
        assert vs["partitioning"] == "hierarchy" and vs["n"] == 11500 and len(vs["geoscore_diff_ci95"]) == 2
    # the ceiling: the gold country's pin scores at least as well as CLIP's under the same rule
    for r in map_guess.SINGLE_RULES:
        assert mg[f"oracle_{r}"]["geoscore"] >= mg[r]["geoscore"]
    # the temperature is the calibration chapter's (fitted on the country labels alone)
    assert mg["hedged_calibrated"]["temperature"] == pytest.approx(26.529484644318973)


@pytest.mark.slow
def test_map_guess_of_the_two_stage_run_leaves_its_placeholder_answers_out():
    g = map_guess.load_guesses("country100_country_from_region")
    assert g.n_unanswered == 39 and g.n == 11500 - 39 and g.n_dropped == 0
    res = map_guess.map_guess("country100_country_from_region", n_boot=20)
    assert res["capital"]["n"] == res["capital"]["vs_geoestimation"]["n"] == 11500 - 39
    # one stored answer per photo: nothing to hedge
    assert res["hedged"]["moved"] == res["hedged_calibrated"]["moved"] == 0.0
    assert res["hedged"]["geoscore"] == res[res["hedged"]["based_on"]]["geoscore"]
