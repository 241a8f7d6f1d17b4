"""Tests of the geo commands through the real ``geoclip`` app (typer's CliRunner)."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geoclip_utils import geo
from geoclip_utils.cli import app
from geoclip_utils.cli.geo import GEOCODE_COLUMNS

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
        ("id,lat,lon\na,1,2\nb,-91,0\n", ".csv", "line 3: lat '-91' is out of range"),
        ("id,lat,lon\na,x,2\n", ".csv", "line 2: lat 'x' is not a number"),
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
    assert res.exit_code == 2 and "missing column 'nosuch'" in res.output


@needs_data
def test_bench_geocode_json():
    res = _run("bench", "geocode", "--json", "--n-random", "2000", "--repeat", "1")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["country100"]["points"] == 11500
    assert out["baseline"]["points_per_s"] == 1.0
    assert out["random_land"]["points"] == 2000
    assert out["country100"]["agreement_with_authors"] >= 0.98
    rl = out["random_land"]
    assert rl["ratio_to_reverse_geocoder"] == pytest.approx(
        rl["reverse_geocoder_s"] / rl["geocode_s"], rel=0.05, abs=0.01
    )
    stages = ["polygon", "nearest", "places", "border", "frame", "region", "climate"]
    assert list(rl["stages_points_per_s"]) == stages and all(
        v > 0 for v in rl["stages_points_per_s"].values()
    )
    assert sum(rl["stage_share"].values()) == pytest.approx(1, abs=0.01)
    assert 0 < out["peak_rss_mb_geocode"] <= out["peak_rss_mb"]


# --------------------------------------------------------------------------- reliability: bad files
def _err_line(res) -> str:
    """The error output, which must be one line."""
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1, res.output
    return lines[0]


@pytest.mark.parametrize(
    ("text", "line", "value"),
    [
        # every row one field more than the header: pandas took the first column as the index, so ids
        # became latitudes
        ("id,lat,lon\nx,1,2,3\ny,4,5,6\n", 2, "'x,1,2,3'"),
        # one row too long, after a blank line (counted, as in an editor)
        ("id,lat,lon\na,1,2\n\nb,3,4,5\n", 4, "'b,3,4,5'"),
        ("id,lat,lon\na,1,2\nb,3\n", 3, "'b,3'"),
        ('id,lat,lon\n"a",1,2\n\n"b, c",3,4,"x"\n', 4, "'b, c,3,4,x'"),
    ],
)
@pytest.mark.parametrize("command", ["climate", "dedupe"])
def test_row_with_other_field_count_is_refused(tmp_path, text, line, value, command):
    src = tmp_path / "pts.csv"
    src.write_text(text, encoding="utf-8")
    args = ["--group-by", "none"] if command == "dedupe" else []
    res = _run(command, "--in", str(src), "--out", str(tmp_path / "o.csv"), *args)
    assert res.exit_code == 2, res.output
    msg = _err_line(res)
    assert f"pts.csv: line {line} has" in msg and "but the header (line 1) has 3" in msg and value in msg
    assert not (tmp_path / "o.csv").exists()


def test_other_delimiter_is_named(tmp_path):
    src = tmp_path / "semi.csv"
    src.write_text("id;lat;lon\na;1;2\n", encoding="utf-8")
    res = _run("climate", "--in", str(src), "--out", str(tmp_path / "o.csv"))
    assert res.exit_code == 2
    assert "semi.csv: line 1 is delimited by ';', expected ',': 'id;lat;lon'" in _err_line(res)
    src.write_text("id,lat,lon\na,1,2\nb;3;4\n", encoding="utf-8")
    res = _run("climate", "--in", str(src), "--out", str(tmp_path / "o.csv"))
    assert res.exit_code == 2 and "line 3 has 1 fields" in res.output and "found ';'" in res.output


@pytest.mark.parametrize(
    ("cell", "what"),
    [
        ("nan", "lat 'nan' is not a number"),
        ("inf", "lat 'inf' is not finite"),
        ("-Infinity", "lat '-Infinity' is not finite"),
    ],
)
def test_nan_and_inf_coordinates_name_their_line(tmp_path, cell, what):
    src = tmp_path / "p.csv"
    src.write_text(f"id,lat,lon\na,1,2\n\nb,{cell},3\n", encoding="utf-8")
    res = _run("climate", "--in", str(src), "--out", str(tmp_path / "o.csv"))
    assert res.exit_code == 2
    assert f"p.csv: line 4: {what}" in _err_line(res)


@pytest.mark.parametrize("command", ["geocode", "climate", "dedupe"])
def test_output_that_is_the_input_is_refused(tmp_path, command):
    src = tmp_path / "p.csv"
    text = "id,lat,lon\na,1,2\n"
    src.write_text(text, encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(src)
    (tmp_path / "sub").mkdir()
    for out in (src, link, tmp_path / "sub" / ".." / "p.csv"):
        res = _run(command, "--in", str(src), "--out", str(out))
        assert res.exit_code == 2
        assert "is the input" in _err_line(res) and "refusing to write over an input" in res.output
        assert src.read_text(encoding="utf-8") == text


@pytest.mark.parametrize(
    "args",
    [
        ["climate", "--coast-km", "1e9"],  # today: a 62 GiB window allocation
        ["climate", "--coast-km", "-1"],
        ["climate", "--coast-km", "nan"],
        ["geocode", "--tolerance-km", "-5"],
        ["geocode", "--tolerance-km", "nan"],
        ["geocode", "--border-km", "-0.5"],
        ["geocode", "--border-km", "inf"],
        ["dedupe", "--radius-km", "0"],
        ["dedupe", "--radius-km", "-1"],
        ["dedupe", "--radius-km", "nan"],
        ["climate", "--chunk-rows", "0"],
    ],
)
def test_bad_distance_options_are_refused_by_the_option(tmp_path, args):
    src = tmp_path / "p.csv"
    src.write_text("id,lat,lon\na,0,-150\n", encoding="utf-8")
    res = _run(args[0], "--in", str(src), "--out", str(tmp_path / "o.csv"), *args[1:])
    assert res.exit_code == 2, res.output
    msg = _err_line(res)
    assert msg.startswith(f"error: {args[1]} must be"), msg
    assert not (tmp_path / "o.csv").exists()


def test_output_folder_or_read_only_is_refused(tmp_path):
    src = tmp_path / "p.csv"
    src.write_text("id,lat,lon\na,1,2\n", encoding="utf-8")
    res = _run("climate", "--in", str(src), "--out", str(tmp_path))
    assert res.exit_code == 2 and "is a folder" in _err_line(res)
    ro = tmp_path / "ro.csv"
    ro.write_text("old\n", encoding="utf-8")
    ro.chmod(0o444)
    res = _run("climate", "--in", str(src), "--out", str(ro))
    assert res.exit_code == 2 and "is read-only" in _err_line(res)
    assert ro.read_text(encoding="utf-8") == "old\n"
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        res = _run("climate", "--in", str(src), "--out", str(folder / "o.csv"))
        assert res.exit_code == 2 and "folder" in _err_line(res) and "read-only" in res.output
    finally:
        folder.chmod(0o755)
    assert not (folder / "o.csv").exists()


def _random_points(tmp_path, n: int, seed: int):
    """A CSV of ``n`` random points ``p0, p1, …``; returns its path and the coordinates."""
    rng = np.random.default_rng(seed)
    lat, lon = rng.uniform(-55, 70, n), rng.uniform(-180, 180, n)
    src = tmp_path / "p.csv"
    pd.DataFrame({"id": [f"p{i}" for i in range(n)], "lat": lat, "lon": lon}).to_csv(src, index=False)
    return src, lat, lon


def test_chunked_output_equals_one_pass(tmp_path):
    n = 257
    src, lat, lon = _random_points(tmp_path, n, 5)
    outs = []
    for rows in ("1000", "10", "1"):
        out = tmp_path / f"c{rows}.csv"
        res = _run("climate", "--in", str(src), "--out", str(out), "--chunk-rows", rows)
        assert res.exit_code == 0, res.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]
    df = pd.read_csv(tmp_path / "c1.csv")
    assert df["climate"].tolist() == geo.climate(lat, lon).tolist()
    assert len(df) == n and df["id"].tolist()[:2] == ["p0", "p1"]


@needs_data
def test_geocode_chunked_equals_library(tmp_path):
    n = 300
    src, lat, lon = _random_points(tmp_path, n, 6)
    out = tmp_path / "g.csv"
    res = _run("geocode", "--in", str(src), "--out", str(out), "--chunk-rows", "37")
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out, keep_default_na=False, dtype=str)
    ref = geo.geocode(lat, lon).assign(id=[f"p{i}" for i in range(n)], lat=lat, lon=lon)
    expected = pd.read_csv(
        io.StringIO(ref[GEOCODE_COLUMNS].to_csv(index=False)), keep_default_na=False, dtype=str
    )
    pd.testing.assert_frame_equal(got, expected)
