"""geoclip_utils.evaluate.cities: the authors' city runs in km (label countries, the city table, km metrics, geoclip metrics)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from geoclip_utils import geo
from geoclip_utils.errors import ConfigError
from geoclip_utils.evaluate import cities
from geoclip_utils.stats import distance as stats_distance


def test_label_countries_from_the_country100_images():
    us = cities.label_countries("UScity100")
    assert (us["cc"] == "US").all() and (us["rule"] == "label set").all()
    world = cities.label_countries("city300").set_index("label")
    assert world.loc["Accra", "cc"] == "GH" and world.loc["Accra", "rule"] == "country100 images"
    assert set(world["rule"]) <= {"country100 images", "conflicting", "none"}
    assert (world.loc[world["rule"] != "country100 images", "cc"] == "").all()


# --------------------------------------------------------------------------- the city runs in km
def test_city_table_distance_is_city_to_city():
    t = cities.city_table("UScity100")
    assert t.attrs["n_images"] == 7700 and len(t) + t.attrs["n_unplaced"] == 7700
    right = t[t["correct"]]
    assert len(right) and (right["error_km"] == 0).all()  # a right city is 0 km
    wrong = t[~t["correct"]].iloc[0]
    assert wrong["error_km"] == pytest.approx(
        float(geo.haversine_km(wrong["gold_lat"], wrong["gold_lon"], wrong["pred_lat"], wrong["pred_lon"]))
    )
    assert t["same_country"].all()  # all US
    with pytest.raises(ConfigError, match="does not predict cities"):
        cities.city_table("country100")


def test_km_metrics_use_the_geoestimation_code_and_count_the_unmatched(monkeypatch):

    calls = []
    real = stats_distance.distance_metrics

    def spy(df, **kw):
        calls.append(len(df))
        return real(df, **kw)

    monkeypatch.setattr(stats_distance, "distance_metrics", spy)
    m = cities.km_metrics("UScity100", n_boot=50)
    assert calls == [m["n_scored"]]
    t = cities.city_table("UScity100")
    assert m["acc_25km"] == pytest.approx(float((t["error_km"] < 25).mean()))
    assert m["median_km"] == pytest.approx(float(np.median(t["error_km"])))
    assert m["geoscore"] == pytest.approx(float(geo.geoscore(t["error_km"]).mean()))
    assert m["acc_25km_ci95"][0] <= m["acc_25km"] <= m["acc_25km_ci95"][1]
    assert m["labels"] == 77 and 0 <= m["labels_unmatched"] < 77 and m["labels_by_country"] == 77
    assert m["distance"] == cities.CITY_DISTANCE and "d < t" in m["definition"]
    assert m["paired_geoestimation"].startswith("only ") and "scored images" in m["paired_geoestimation"]
    assert not m["paired_geoestimation"].startswith("none:")  # no template text in the prose
    # the selection: the top-1 of all photos splits into the scored and the left-out ones
    n_all, n_sc = m["n_images"], m["n_scored"]
    assert m["top1_scored"] == pytest.approx(float(t["correct"].mean()))
    assert m["top1_all"] * n_all == pytest.approx(
        m["top1_scored"] * n_sc + m["top1_left_out"] * (n_all - n_sc)
    )


@pytest.mark.slow
def test_geoclip_metrics_city100_json_has_the_km_keys():
    from geoclip_utils.cli import app

    out = CliRunner().invoke(app, ["metrics", "--experiment", "city100", "--json", "--n-boot", "20"])
    assert out.exit_code == 0, out.output
    res = json.loads(out.output)
    km = res["km"]
    for t in (1, 25, 200, 750, 2500):
        assert 0 <= km[f"acc_{t}km"] <= 1 and len(km[f"acc_{t}km_ci95"]) == 2
    assert km["acc_1km"] <= km["acc_25km"] <= km["acc_200km"] <= km["acc_750km"] <= km["acc_2500km"]
    assert km["median_km"] > 0 and 0 < km["geoscore"] <= 5000
    assert km["labels"] == 643 and km["labels_unmatched"] > 0
    assert km["n_scored"] + km["n_unplaced"] == km["n_images"] == 64300
    assert "no image ids" in km["paired_geoestimation"] and km["n_paired_geoestimation"] == 0
    assert km["top1_all"] == pytest.approx(res["top1"]) and km["top1_scored"] > km["top1_left_out"]
    assert "top1" in res  # the label metrics are unchanged beside it


def test_a_city_run_is_what_the_registry_says(tmp_path, monkeypatch):
    assert cities.city_label_sets() == ["UScity100", "city100", "city300"]
    assert cities.is_city_run("city300") and not cities.is_city_run("country100")
    assert not cities.is_city_run("no such set")
    extra = tmp_path / "extra.toml"
    extra.write_text(
        "[label_sets.towns]\nplace='town'\nprompt_kind='town'\ngold='g.csv'\ncities=true\nin_country='FR'\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("GEOCLIP_EXPERIMENTS", str(extra))
    assert cities.is_city_run("towns") and cities.city_label_sets()[-1] == "towns"


def test_city_table_refuses_a_run_that_names_no_cities():
    with pytest.raises(
        ConfigError, match=r"does not predict cities of \['UScity100', 'city100', 'city300'\]"
    ):
        cities.city_table("country100")
