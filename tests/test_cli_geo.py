"""Tests of the geo commands through the real ``geoclip`` app (typer's CliRunner)."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
from typer.testing import CliRunner

from geoclip_utils.cli import app

runner = CliRunner()
needs_data = pytest.mark.skipif(not os.environ.get("GEOCLIP_DATA_MIRROR"), reason="needs GEOCLIP_DATA_MIRROR")


def _run(*args: str):
    return runner.invoke(app, list(args))


@needs_data
def test_geocode_csv(tmp_path):
    src = tmp_path / "pts.csv"
    src.write_text("ID,Lat,Lon\nparis,48.8566,2.3522\nsea,0,-150\nmanaus,-3.119,-60.022\n", encoding="utf-8")
    out = tmp_path / "labels.csv"
    res = _run("geocode", "--in", str(src), "--out", str(out))
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out, keep_default_na=False)
    for col in ("id", "iso3", "country", "region", "subregion", "admin1", "climate"):
        assert col in df.columns
    assert df["iso3"].tolist() == ["FRA", "", "BRA"]
    assert df["climate"].tolist() == ["Cfb", "Ocean", "Af"]
    assert "1 without a country" in res.output


@needs_data
def test_geocode_mapillary_json(tmp_path):
    src = tmp_path / "train.json"
    src.write_text(json.dumps({"a": {"lat": 35.6762, "lon": 139.6503, "ca": 0}}), encoding="utf-8")
    out = tmp_path / "o.csv"
    res = _run("geocode", "--in", str(src), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert pd.read_csv(out)["iso3"].tolist() == ["JPN"]


@pytest.mark.parametrize(
    ("text", "suffix", "match"),
    [
        ("", ".csv", "empty"),
        ("id,lat\na,1\n", ".csv", "missing column"),
        ("id,lat,lon\na,1,2\nb,-91,0\n", ".csv", "row 3: lat -91.0 out of range"),
        ("id,lat,lon\na,x,2\n", ".csv", "row 2: lat 'x' is not a number"),
        ("id,lat,lon\na,1,2\na,1,2\n", ".csv", "1 duplicate ids, e.g. 'a' appears 2 times"),
        ("[1]", ".json", "unknown JSON shape"),
    ],
)
def test_geocode_bad_input_exit_2(tmp_path, text, suffix, match):
    src = tmp_path / f"bad{suffix}"
    src.write_text(text, encoding="utf-8")
    res = _run("geocode", "--in", str(src), "--out", str(tmp_path / "o.csv"))
    assert res.exit_code == 2
    assert match in res.output
    assert not (tmp_path / "o.csv").exists()


def test_climate_command(tmp_path):
    src = tmp_path / "p.csv"
    src.write_text("id,lat,lon\nvostok,-78.46,106.84\nlyb,78.22,15.65\n", encoding="utf-8")
    out = tmp_path / "c.csv"
    res = _run("climate", "--in", str(src), "--out", str(out))
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert df["climate"].tolist() == ["EF", "ET"]
    assert df["prompt"].tolist() == ["ice cap", "tundra"]


def test_dedupe_command(tmp_path):
    src = tmp_path / "p.csv"
    src.write_text("id,lat,lon,grp\na,0,0,g1\nb,0,0.001,g1\nc,0,0.001,g2\nd,0,0.5,g1\n", encoding="utf-8")
    out = tmp_path / "d.csv"
    res = _run("dedupe", "--in", str(src), "--out", str(out), "--group-by", "grp")
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out, keep_default_na=False)
    assert df["keep"].tolist() == [True, False, True, True]
    assert df["duplicate_of"].tolist() == ["", "a", "", ""]
    res = _run("dedupe", "--in", str(src), "--out", str(out), "--group-by", "none")
    assert pd.read_csv(out)["keep"].tolist() == [True, False, False, True]
    res = _run("dedupe", "--in", str(src), "--out", str(out), "--group-by", "nosuch")
    assert res.exit_code == 2 and "no column 'nosuch'" in res.output


@needs_data
def test_bench_geocode_json():
    res = _run("bench", "geocode", "--json", "--n-random", "2000", "--repeat", "1")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["country100"]["points"] == 11500
    assert out["baseline"]["points_per_s"] == 1.0
    assert out["random_land"]["points"] == 2000
    assert out["country100"]["agreement_with_authors"] >= 0.98
