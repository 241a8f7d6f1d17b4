"""geoclip_utils.geoestimation: distances, GeoScore, threshold shares, bootstrap, the CLI JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geoclip_utils import geo, stats
from geoclip_utils.cli import app
from geoclip_utils.errors import ConfigError
from geoclip_utils.studies import geoestimation as ge

LONDON = (51.5074, -0.1278)
PARIS = (48.8566, 2.3522)
NEW_YORK = (40.7128, -74.0060)
LOS_ANGELES = (34.0522, -118.2437)


@pytest.mark.parametrize(
    ("a", "b", "km", "tol"),
    [
        (LONDON, PARIS, 343.5, 1.0),
        (NEW_YORK, LOS_ANGELES, 3936.0, 5.0),
        ((0.0, 0.0), (0.0, 180.0), 20015.1, 1.0),  # antipodes: half the circumference (R = 6371 km)
        ((10.0, 20.0), (10.0, 20.0), 0.0, 1e-9),
    ],
)
def test_great_circle_known_pairs(a, b, km, tol):
    d = float(geo.haversine_km(a[0], a[1], b[0], b[1]))
    assert d == pytest.approx(km, abs=tol)
    assert float(geo.haversine_km(b[0], b[1], a[0], a[1])) == pytest.approx(d)


def test_geoscore_values():
    s = geo.geoscore(np.array([0.0, 1492.7, 2 * 1492.7, 20015.0]))
    np.testing.assert_allclose(s[:3], [5000.0, 5000 / np.e, 5000 / np.e**2], rtol=1e-9)
    assert 0 < s[3] < 10


def test_threshold_shares_small_table():
    d = np.array([0.5, 1.0, 10.0, 25.0, 199.0, 700.0, 2000.0, 3000.0])
    shares = ge.threshold_shares(d)
    assert list(shares) == ["acc_1km", "acc_25km", "acc_200km", "acc_750km", "acc_2500km"]
    assert shares == {
        "acc_1km": 2 / 8,  # 1.0 km counts as within 1 km
        "acc_25km": 4 / 8,
        "acc_200km": 5 / 8,
        "acc_750km": 6 / 8,
        "acc_2500km": 7 / 8,
    }
    with pytest.raises(ConfigError):
        ge.threshold_shares([])


def test_weighted_median_matches_numpy():
    rng = np.random.default_rng(1)
    v = rng.exponential(1000, size=51)
    for _ in range(20):
        w = rng.integers(0, 4, size=51).astype(float)
        w[0] += 1
        assert ge.weighted_median(v, w) == pytest.approx(float(np.median(np.repeat(v, w.astype(int)))))


def test_sovereign_codes():
    assert ge.sovereign(["REU", "HKG", "FRA", "", "USA"]).tolist() == ["FRA", "CHN", "FRA", "", "USA"]


def _small_table():
    # two partitionings, 6 images; errors chosen by hand
    ids = [f"img{i}" for i in range(6)]
    d_a = [0.5, 20.0, 150.0, 600.0, 2000.0, 9000.0]
    d_b = [5.0, 5.0, 5.0, 5000.0, 5000.0, 5000.0]
    rows = []
    for part, ds, cc in [("coarse", d_a, [1, 1, 1, 0, 0, 0]), ("fine", d_b, [1, 1, 1, 1, 0, 0])]:
        for i, d, c in zip(ids, ds, cc, strict=True):
            rows.append({"image_id": i, "partitioning": part, "error_km": d, "country_correct": bool(c)})
    df = pd.DataFrame(rows)
    df["geoscore"] = geo.geoscore(df["error_km"])
    return df


def test_distance_metrics_small_table():
    out = ge.distance_metrics(_small_table(), n_boot=200, seed=3)
    assert list(out) == ["coarse", "fine"]
    a = out["coarse"]
    assert a["n"] == 6
    assert a["acc_1km"] == pytest.approx(1 / 6)
    assert a["acc_25km"] == pytest.approx(2 / 6)
    assert a["acc_200km"] == pytest.approx(3 / 6)
    assert a["acc_750km"] == pytest.approx(4 / 6)
    assert a["acc_2500km"] == pytest.approx(5 / 6)
    assert a["median_km"] == pytest.approx((150 + 600) / 2)
    assert a["country_top1"] == pytest.approx(0.5)
    assert a["geoscore"] == pytest.approx(
        float(geo.geoscore(np.array([0.5, 20, 150, 600, 2000, 9000])).mean())
    )
    b = out["fine"]
    assert b["median_km"] == pytest.approx((5 + 5000) / 2)
    assert b["acc_1km"] == 0 and b["acc_25km"] == pytest.approx(0.5)
    for key in ge.METRIC_KEYS:
        lo, hi = a[key + "_ci95"]
        assert lo <= a[key] <= hi or key == "median_km"
    # the shared resampling scheme reproduces stats.accuracy_ci exactly for a mean
    cc = np.array([1, 1, 1, 0, 0, 0], float)
    assert a["country_top1_ci95"] == pytest.approx(list(stats.accuracy_ci(cc, n_boot=200, seed=3)))
    # same seed, same answer
    assert ge.distance_metrics(_small_table(), n_boot=200, seed=3) == out


def test_distance_metrics_rejects_unpaired():
    df = _small_table()
    df = df[~((df["partitioning"] == "fine") & (df["image_id"] == "img0"))]
    with pytest.raises(ConfigError, match="same images"):
        ge.distance_metrics(df, n_boot=10)
    with pytest.raises(ConfigError):
        ge.distance_metrics(df.iloc[:0], n_boot=10)


def test_table_on_real_data():
    t = ge.geoestimation_table()
    assert len(t) == 4 * 11500
    assert t["partitioning"].astype(str).unique().tolist() == list(ge.PARTITIONINGS)
    assert (t["error_km"] >= 0).all() and (t["error_km"] <= 20016).all()
    assert set(t["gold_iso3"]) <= set(t["iso3"]) | set(geo.INTEGRAL_TERRITORIES.values())
    # country correctness is exactly the sovereign-code match
    assert (t["country_correct"] == (t["pred_iso3"] == t["gold_iso3"])).all()


def test_cli_metrics_json():
    r = CliRunner().invoke(
        app,
        [
            "metrics",
            "--experiment",
            "country100_geoestimation",
            "--source",
            "paper",
            "--json",
            "--n-boot",
            "50",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["experiment"] == "country100_geoestimation"
    assert out["n"] == 11500 and out["n_boot"] == 50
    assert list(out["partitionings"]) == ["coarse", "middle", "fine", "hierarchy"]
    for m in out["partitionings"].values():
        for key in ["acc_1km", "acc_25km", "acc_200km", "acc_750km", "acc_2500km", "median_km", "geoscore"]:
            assert key in m and key + "_ci95" in m
        assert m["n"] == 11500
        assert 0 <= m["acc_1km"] <= m["acc_25km"] <= m["acc_200km"] <= m["acc_750km"] <= m["acc_2500km"] <= 1
        lo, hi = m["country_top1_ci95"]
        assert 0 < lo <= m["country_top1"] <= hi < 1
        assert 0 < m["geoscore"] < 5000 and m["median_km"] > 0
