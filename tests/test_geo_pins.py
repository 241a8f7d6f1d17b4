"""geoclip_utils.geo.pins and geo.gazetteer: pins from country answers, on hand-made inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoclip_utils import geo
from geoclip_utils.errors import ConfigError, DataError
from geoclip_utils.geo import gazetteer, pins


def _destination(lat, lon, bearing_deg, d_km):
    """The point ``d_km`` from (lat, lon) along ``bearing_deg`` on the book's sphere."""
    p1, l1, b = np.radians(lat), np.radians(lon), np.radians(bearing_deg)
    a = d_km / geo.EARTH_RADIUS_KM
    p2 = np.arcsin(np.sin(p1) * np.cos(a) + np.cos(p1) * np.sin(a) * np.cos(b))
    l2 = l1 + np.arctan2(np.sin(b) * np.sin(a) * np.cos(p1), np.cos(a) - np.sin(p1) * np.sin(p2))
    return np.degrees(p2), (np.degrees(l2) + 540) % 360 - 180


def _cost(lat, lon, plat, plon, w=None):
    d = geo.haversine_km(lat, lon, plat, plon)
    return float((d if w is None else d * w).sum())


@pytest.mark.parametrize(
    ("centre", "radius_km"), [((35.0, 140.0), 500.0), ((0.0, 180.0), 300.0), ((-60.0, -70.0), 2000.0)]
)
def test_geometric_median_of_points_symmetric_about_a_centre_is_the_centre(centre, radius_km):
    # five points at one distance from the centre, 72 degrees apart: the configuration's only fixed point
    lat, lon = _destination(centre[0], centre[1], np.arange(5) * 72.0 + 10.0, radius_km)
    mlat, mlon = pins.geometric_median(lat, lon)
    assert float(geo.haversine_km(mlat, mlon, *centre)) < 1e-3  # 1 m
    # the spherical mean is also the centre here; an asymmetric weighting moves the median, not off the sphere
    wlat, wlon = pins.geometric_median(lat, lon, [5.0, 1, 1, 1, 1])
    assert float(geo.haversine_km(wlat, wlon, *centre)) > 1.0


def test_geometric_median_sits_on_a_point_holding_the_majority_of_the_weight():
    lat, lon = [48.85, 52.52, 41.90], [2.35, 13.40, 12.50]
    mlat, mlon = pins.geometric_median(lat, lon, [3.0, 1.0, 1.0])
    assert float(geo.haversine_km(mlat, mlon, 48.85, 2.35)) < 1e-3


def test_geometric_median_minimises_the_sum_of_distances():
    rng = np.random.default_rng(4)
    lat = rng.uniform(40, 55, 30)
    lon = rng.uniform(-5, 20, 30)
    mlat, mlon = pins.geometric_median(lat, lon)
    best = _cost(lat, lon, mlat, mlon)
    for bearing in range(0, 360, 15):
        for d in (0.05, 1.0, 20.0):
            plat, plon = _destination(float(mlat), float(mlon), bearing, d)
            assert _cost(lat, lon, plat, plon) >= best - 1e-6
    # and it is not the spherical mean (the two differ for a skewed cloud)
    slat, slon = gazetteer.spherical_mean(lat[None], lon[None], np.ones((1, 30)))
    assert _cost(lat, lon, slat[0], slon[0]) > best


def test_geometric_median_rows_of_weights_equal_separate_calls():
    rng = np.random.default_rng(5)
    lat, lon = rng.uniform(-10, 10, 12), rng.uniform(100, 120, 12)
    w = rng.integers(0, 3, size=(4, 12)).astype(float)
    w[:, 0] += 1
    blat, blon = pins.geometric_median(lat, lon, w)
    for i in range(4):
        slat, slon = pins.geometric_median(lat, lon, w[i])
        assert float(geo.haversine_km(blat[i], blon[i], slat, slon)) < 1e-3


def test_geometric_median_refuses_bad_input():
    with pytest.raises(ConfigError):
        pins.geometric_median([], [])
    with pytest.raises(ConfigError, match="positive sum"):
        pins.geometric_median([0.0, 1.0], [0.0, 1.0], [0.0, 0.0])
    with pytest.raises(ConfigError, match="non-negative"):
        pins.geometric_median([0.0, 1.0], [0.0, 1.0], [1.0, -1.0])
    with pytest.raises(ConfigError, match="do not match"):
        pins.geometric_median([0.0, 1.0], [0.0, 1.0], [1.0, 1.0, 1.0])


def test_photo_prior_leaves_the_photo_itself_out():
    rng = np.random.default_rng(6)
    lat = np.r_[rng.uniform(45, 50, 7), rng.uniform(-35, -30, 5), 10.0]
    lon = np.r_[rng.uniform(0, 8, 7), rng.uniform(140, 150, 5), 10.0]
    groups = ["A"] * 7 + ["B"] * 5 + ["C"]
    prior = pins.photo_prior(lat, lon, groups)
    assert prior.centres["n"].to_dict() == {"A": 7, "B": 5, "C": 1}
    for i in range(12):
        others = [j for j in range(12) if groups[j] == groups[i] and j != i]
        olat, olon = pins.geometric_median(lat[others], lon[others])
        assert float(geo.haversine_km(prior.loo_lat[i], prior.loo_lon[i], olat, olon)) < 1e-3
    assert np.isnan(prior.loo_lat[12]) and np.isnan(prior.loo_lon[12])  # alone in its country
    # moving photo 0 to the other side of the world moves every pin of its country but its own
    moved_lat, moved_lon = lat.copy(), lon.copy()
    moved_lat[0], moved_lon[0] = -40.0, -170.0
    moved = pins.photo_prior(moved_lat, moved_lon, groups)
    assert (
        float(geo.haversine_km(moved.loo_lat[0], moved.loo_lon[0], prior.loo_lat[0], prior.loo_lon[0])) < 1e-6
    )
    assert (
        float(geo.haversine_km(moved.loo_lat[1], moved.loo_lon[1], prior.loo_lat[1], prior.loo_lon[1])) > 1.0
    )
    np.testing.assert_allclose(moved.loo_lat[7:12], prior.loo_lat[7:12])  # another country: untouched


def test_photo_prior_pins_use_the_leave_one_out_pin_only_for_the_photo_s_own_country():
    lat, lon = [0.0, 0.0, 0.0, 20.0, 22.0], [0.0, 2.0, 4.0, 30.0, 30.0]
    prior = pins.photo_prior(lat, lon, ["A", "A", "A", "B", "B"])
    answers = [["A", "B"], ["B", "A"], ["A", "Z"], ["A", "B"], ["B", None]]
    plat, plon = pins.photo_prior_pins(prior, answers)
    a, b = prior.centres.loc["A"], prior.centres.loc["B"]
    assert plon[0, 0] == pytest.approx(prior.loo_lon[0]) and plon[0, 0] == pytest.approx(3.0, abs=1e-6)
    assert (plat[0, 1], plon[0, 1]) == pytest.approx((b["lat"], b["lon"]))  # not its country: the full median
    assert plon[1, 1] == pytest.approx(prior.loo_lon[1])
    assert np.isnan(plat[2, 1])  # a country without photos
    assert (plat[3, 0], plon[3, 0]) == pytest.approx((a["lat"], a["lon"]))
    assert plat[3, 1] == pytest.approx(22.0) and plat[4, 0] == pytest.approx(20.0)  # B's other photo
    assert np.isnan(plat[4, 1])
    with pytest.raises(ConfigError, match="rows of answers"):
        pins.photo_prior_pins(prior, ["A"])


def test_table_pins_and_missing_countries():
    t = pd.DataFrame({"lat": [1.0, 2.0], "lon": [3.0, 4.0]}, index=["A", "B"])
    lat, lon = pins.table_pins(t, [["B", "A"], ["Q", "B"]])
    assert lat.tolist()[0] == [2.0, 1.0] and np.isnan(lat[1, 0]) and lon[1, 1] == 4.0


def test_expected_geoscore_and_the_hedged_pin_on_a_toy_case():
    # A alone in the west; B and C close together in the east: B + C together outweigh A
    lat = np.array([[0.0, 0.0, 0.0]])
    lon = np.array([[0.0, 20.0, 21.0]])
    p = np.array([[0.4, 0.3, 0.3]])
    d = geo.haversine_km(lat[0][:, None], lon[0][:, None], lat[0][None], lon[0][None])
    want = (geo.geoscore(d) * p[0][None]).sum(axis=1)
    e = pins.expected_geoscores(lat, lon, p)
    np.testing.assert_allclose(e[0], want)
    hlat, hlon, j = pins.hedged_pins(lat, lon, p)
    assert j.tolist() == [int(np.argmax(want))] == [1] and hlon.tolist() == [20.0]
    # a sure answer is never hedged away from, and unnormalised probabilities are renormalised
    _, _, j = pins.hedged_pins(lat, lon, [[1.0, 0.0, 0.0]])
    assert j.tolist() == [0]
    np.testing.assert_allclose(pins.expected_geoscores(lat, lon, 2 * p), e)
    # a repeated country adds its probabilities: [A, B, B] at 0.4 / 0.3 / 0.3 is B at 0.6
    _, _, j = pins.hedged_pins([[0.0, 0.0, 0.0]], [[0.0, 90.0, 90.0]], [[0.4, 0.3, 0.3]])
    assert j.tolist() == [1]
    with pytest.raises(ConfigError, match="finite point"):
        pins.expected_geoscores([[0.0, np.nan]], [[0.0, 1.0]], [[0.5, 0.5]])
    with pytest.raises(ConfigError, match="sum to more than 0"):
        pins.expected_geoscores([[0.0, 1.0]], [[0.0, 1.0]], [[0.0, 0.0]])


def test_capitals_from_geonames_country_info():
    c = gazetteer.capitals(["BRA", "KAZ", "USA", "MNG", "BRA"])
    assert c.index.tolist() == ["BRA", "KAZ", "USA", "MNG"]
    known = {"BRA": (-15.78, -47.93), "KAZ": (51.18, 71.45), "USA": (38.90, -77.04), "MNG": (47.91, 106.88)}
    for iso3, (la, lo) in known.items():
        assert float(geo.haversine_km(c.loc[iso3, "lat"], c.loc[iso3, "lon"], la, lo)) < 10, iso3
    assert c.loc["USA", "place"] == "Washington"  # the most populous Washington of the US
    assert c.loc["KAZ", "capital"] == "Nur-Sultan" and c.loc["KAZ", "place"] == "Astana"  # an alternate name
    with pytest.raises(DataError, match="no ISO-3 code 'ZZZ'"):
        gazetteer.capitals(["ZZZ"])
    with pytest.raises(DataError, match="'ATA'"):
        gazetteer.capitals(["ATA"])  # Antarctica: no capital


def test_population_centres_are_inside_their_country():
    c = gazetteer.population_centres(["AUS", "CHL"])
    assert (
        -38 < c.loc["AUS", "lat"] < -28 and 140 < c.loc["AUS", "lon"] < 152
    )  # the south-east, not the desert
    assert c.loc["CHL", "places"] > 10 and c.loc["CHL", "population"] > 1_000_000
    assert geo.reverse_geocode([c.loc["CHL", "lat"]], [c.loc["CHL", "lon"]])["iso3"].tolist() == ["CHL"]
    with pytest.raises(DataError):
        gazetteer.population_centres(["ZZZ"])
