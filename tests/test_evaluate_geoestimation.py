"""geoclip_utils.evaluate.geoestimation: the authors' GeoEstimation run scored, and its geoclip metrics JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import small_geoestimation_table
from typer.testing import CliRunner

from geoclip_utils import geo, stats
from geoclip_utils.cli import app
from geoclip_utils.errors import ConfigError
from geoclip_utils.evaluate import geoestimation as ge_eval
from geoclip_utils.stats import distance as stats_distance


def test_sovereign_codes():
    assert ge_eval.sovereign(["REU", "HKG", "FRA", "", "USA"]).tolist() == ["FRA", "CHN", "FRA", "", "USA"]


def test_distance_metrics_small_table():
    out = ge_eval.distance_metrics(small_geoestimation_table(), n_boot=200, seed=3)
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
    for key in stats_distance.METRIC_KEYS:
        lo, hi = a[key + "_ci95"]
        assert lo <= a[key] <= hi or key == "median_km"
    # the shared resampling scheme reproduces stats.accuracy_ci exactly for a mean
    cc = np.array([1, 1, 1, 0, 0, 0], float)
    assert a["country_top1_ci95"] == pytest.approx(list(stats.accuracy_ci(cc, n_boot=200, seed=3)))
    # same seed, same answer
    assert ge_eval.distance_metrics(small_geoestimation_table(), n_boot=200, seed=3) == out


def test_distance_metrics_rejects_unpaired():
    df = small_geoestimation_table()
    df = df[~((df["partitioning"] == "fine") & (df["image_id"] == "img0"))]
    with pytest.raises(ConfigError, match="same images"):
        ge_eval.distance_metrics(df, n_boot=10)
    with pytest.raises(ConfigError):
        ge_eval.distance_metrics(df.iloc[:0], n_boot=10)


def test_table_on_real_data():
    t = ge_eval.geoestimation_table()
    assert len(t) == 4 * 11500
    assert t["partitioning"].astype(str).unique().tolist() == list(ge_eval.PARTITIONINGS)
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
