"""Tests of the geo commands through the real ``geoclip`` app (typer's CliRunner)."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geoclip_utils import geo
from geoclip_utils.cli import app
from geoclip_utils.cli.geo import GEOCODE_COLUMNS

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


@pytest.mark.needs_data
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


@pytest.mark.needs_data
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


@pytest.mark.needs_data
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
    # the whole globe: mostly sea, timed against the land in the same run
    gl = out["random_globe"]
    assert gl["points"] == 2000 and 0.6 < gl["sea_share"] < 0.8
    assert gl["time_ratio_to_land"] == pytest.approx(gl["geocode_s"] / rl["geocode_s"], rel=0.05, abs=0.01)
    assert list(gl["stages_points_per_s"]) == stages
    # the plain shapely geocoder (the tests' oracle) on the same points: the same frames
    plain = out["plain_shapely"]
    assert [plain[k]["points"] for k in ("country100", "random_land", "random_globe")] == [11500, 2000, 2000]
    assert all(
        plain[k]["identical"] and plain[k]["plain_s"] > 0
        for k in ("country100", "random_land", "random_globe")
    )


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


@pytest.mark.parametrize("command", ["geocode", "climate", "dedupe"])
def test_an_output_inside_the_prepared_cache_is_refused(tmp_path, monkeypatch, command):
    monkeypatch.setenv("GEOCLIP_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "p.csv"
    src.write_text("id,lat,lon\na,1,2\n", encoding="utf-8")
    out = tmp_path / "cache" / "prepared" / "countries" / "grid_cells.npy"
    res = _run(command, "--in", str(src), "--out", str(out))
    assert res.exit_code == 2
    assert "inside" in _err_line(res) and "prepared" in res.output
    assert not out.exists()


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


@pytest.mark.needs_data
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


@pytest.mark.needs_data
def test_geocode_writes_the_library_frame_byte_for_byte(tmp_path):
    """The command writes its columns from the library's tables by position (no Python string per point):
    the file is the library's frame written by the same writer, byte for byte, on points that reach every
    rule, quoted names (``"Moldova, Republic of"``), the sea and chunk boundaries."""
    import pyarrow as pa

    from geoclip_utils.geo import grid
    from geoclip_utils.io.outputs import CsvChunks

    rng = np.random.default_rng(8)
    xy, _, _ = grid._rings(geo.country_index().geoms)
    v = xy[rng.choice(len(xy), 1500)] + rng.normal(0, 0.01, (1500, 2))
    lat = np.r_[rng.uniform(-60, 70, 1500), np.clip(v[:, 1], -90, 90), 42.66, 47.0, 46.9]
    lon = np.r_[rng.uniform(-180, 180, 1500), np.clip(v[:, 0], -180, 180), 21.17, 28.85, 29.1]
    ids = [f"p{i}" for i in range(len(lat))]
    src, out = tmp_path / "p.csv", tmp_path / "g.csv"
    pd.DataFrame({"id": ids, "lat": lat, "lon": lon}).to_csv(src, index=False)
    res = _run("geocode", "--in", str(src), "--out", str(out), "--chunk-rows", "777")
    assert res.exit_code == 0, res.output
    ref = geo.geocode(lat, lon)
    buf = io.BytesIO()
    CsvChunks(buf).write(
        {"id": pa.array(ids), "lat": lat, "lon": lon, **{c: ref[c].to_numpy() for c in GEOCODE_COLUMNS[3:]}}
    )
    assert out.read_bytes() == buf.getvalue()
    assert set(ref["method"]) == {"within", "nearest", "border", "place", "none"}
    assert b'"Moldova, Republic of"' in buf.getvalue()
    assert f"({int((ref['iso3'] == '').sum())} without a country)" in res.output


@pytest.mark.needs_data
def test_geocode_nominatim_offline_is_one_line_and_exit_2(tmp_path, monkeypatch):
    """Without a network `--nominatim` stops at the first point with one line, no traceback, no output."""
    import time

    import geopy.extra.rate_limiter
    import geopy.geocoders
    from geopy.exc import GeocoderUnavailable

    class Offline:
        domain = "nominatim.openstreetmap.org"

        def __init__(self, user_agent, timeout):
            self.calls = 0

        def reverse(self, query, language="en", exactly_one=True):
            self.calls += 1
            try:
                raise OSError(-3, "Temporary failure in name resolution")
            except OSError as exc:
                raise GeocoderUnavailable("Max retries exceeded with url: /reverse") from exc

    monkeypatch.setattr(geopy.geocoders, "Nominatim", Offline)
    monkeypatch.setattr(geopy.extra.rate_limiter, "sleep", lambda s: None)
    monkeypatch.setattr(time, "sleep", lambda s: None)
    src = tmp_path / "pts.csv"
    src.write_text("id,lat,lon\nparis,48.8566,2.3522\nmadrid,40.4,-3.7\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    cache = tmp_path / "cache.jsonl"
    res = _run(
        "geocode", "--in", str(src), "--out", str(out), "--nominatim", "--user-agent", "t/1 (t)",
        "--cache", str(cache), "--no-progress",
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert res.stderr.strip() == (
        "error: Nominatim cannot be reached (nominatim.openstreetmap.org: [Errno -3] Temporary failure in name "
        "resolution): the first request of this run failed; check the network and rerun (cached points are "
        "not asked again), or drop --nominatim to geocode offline only"
    )
    assert "Traceback" not in res.output and not out.exists() and not cache.exists()
    # a point that fails among answered ones keeps its reason in nominatim_error, and the summary counts it

    class Flaky(Offline):
        def reverse(self, query, language="en", exactly_one=True):
            if query[0] > 45:
                return type("Loc", (), {"raw": {"address": {"country": "France", "country_code": "fr"}}})()
            raise RuntimeError("HTTP 503")

    monkeypatch.setattr(geopy.geocoders, "Nominatim", Flaky)
    res = _run(
        "geocode", "--in", str(src), "--out", str(out), "--nominatim", "--user-agent", "t/1 (t)",
        "--cache", str(cache), "--no-progress",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "1 Nominatim requests failed (nominatim_error says why; a rerun asks again)" in res.stdout
    df = pd.read_csv(out, keep_default_na=False)
    assert df["nominatim_iso3"].tolist() == ["FRA", ""] and df["nominatim_error"].tolist() == ["", "HTTP 503"]


# --------------------------------------------------------------------------- reliability: outputs
def _points(tmp_path, n: int = 3, name: str = "p.csv"):
    src = tmp_path / name
    src.write_text("id,lat,lon\n" + "".join(f"p{i},{i % 80},{i % 170}\n" for i in range(n)), encoding="utf-8")
    return src


_CODE = "import sys; from geoclip_utils.cli import main; sys.argv[0] = 'geoclip'; main()"


def _env() -> dict:
    """The environment of a fresh ``geoclip`` process importing this very package (not one in its cwd)."""
    import geoclip_utils

    root = str(Path(geoclip_utils.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}


def _cli(*args: str, cwd):
    """``geoclip`` in a fresh process (what a shell runs), started in ``cwd``."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-c", _CODE, *args], capture_output=True, text=True, cwd=cwd, env=_env()
    )


@pytest.mark.parametrize("command", ["climate", "dedupe"])
def test_an_output_link_is_written_through_and_stays(tmp_path, command):
    """A symlink --out was replaced by a regular file (mode 0600)."""
    src = _points(tmp_path)
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    target.chmod(0o644)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    args = ["--group-by", "none"] if command == "dedupe" else []
    res = _run(command, "--in", str(src), "--out", str(link), *args)
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and link.resolve() == target
    assert target.read_text().startswith("id,") and oct(target.stat().st_mode & 0o777) == "0o644"


def test_an_output_pipe_is_streamed(tmp_path):
    """A named pipe --out was renamed over by a regular file."""
    import threading

    src = _points(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    res = _run("climate", "--in", str(src), "--out", str(fifo))
    reader.join(10)
    assert res.exit_code == 0, res.output
    assert got and got[0].decode().splitlines()[0] == "id,lat,lon,climate,description,prompt"
    assert len(got[0].decode().splitlines()) == 4 and stat.S_ISFIFO(fifo.lstat().st_mode)


def test_standard_output_is_streamed_and_a_closed_pipe_stops_quietly(tmp_path):
    """``--out /dev/stdout | head`` gave no output and replaced /dev/stdout; ``-`` is standard output too."""
    import subprocess
    import sys

    src = _points(tmp_path, 3)
    res = _cli("climate", "--in", str(src), "--out", "-", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (
        res.stdout.splitlines()[0] == "id,lat,lon,climate,description,prompt"
        and len(res.stdout.splitlines()) == 4
    )
    assert "3 points -> standard output" in res.stderr  # the summary on stderr, not in the table
    big = _points(tmp_path, 200_000, "big.csv")
    # through links in tmp_path (a writer that renamed over its output would damage only them, never /dev)
    link, dev = tmp_path / "to_fd1.csv", tmp_path / "to_dev_stdout.csv"
    link.symlink_to("/proc/self/fd/1")
    dev.symlink_to("/dev/stdout")
    for out in (link, dev):
        shell = f'{sys.executable} -c "{_CODE}" climate --in {big} --out {out} --no-progress | head -n 2'
        res = subprocess.run(
            ["bash", "-c", shell + "; echo status=${PIPESTATUS[0]}"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=_env(),
        )
        assert res.stdout.splitlines()[0] == "id,lat,lon,climate,description,prompt", res.stdout
        assert res.stdout.splitlines()[1].startswith("p0,0.0,0.0,")
        assert res.stdout.strip().endswith("status=1") and res.stderr == "", res.stderr  # quiet, no traceback
        assert link.is_symlink() and dev.is_symlink() and not (tmp_path / "-").exists()
    assert os.path.islink("/dev/stdout")  # the device link is still a link, not a file written over it


def test_a_killed_run_leaves_a_temporary_file_the_next_run_removes(tmp_path):
    """A killed ``geocode`` left a hidden ``.out.csv.*.tmp`` that no later run removed."""
    import signal
    import subprocess
    import sys
    import time

    src = _points(tmp_path, 400_000, "big.csv")
    out = tmp_path / "out.csv"
    proc = subprocess.Popen([sys.executable, "-c", _CODE, "climate", "--in", str(src), "--out", str(out),
                             "--chunk-rows", "1000", "--no-progress"], cwd=tmp_path, env=_env())  # fmt: skip
    deadline = time.time() + 120
    temps: list = []
    while time.time() < deadline and not temps and proc.poll() is None:
        temps = list(tmp_path.glob(".out.csv.*.geoclip-tmp"))
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert temps and temps[0].exists() and not out.exists()
    res = _run("climate", "--in", str(_points(tmp_path)), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert not list(tmp_path.glob(".out.csv.*")) and out.exists()


def test_a_full_disk_names_the_file(tmp_path):
    """``No space left on device`` did not name the path."""
    src = _points(tmp_path, 50_000)
    full = tmp_path / "full.csv"
    full.symlink_to("/dev/full")  # a writer renaming over its output would replace the link, not /dev/full
    res = _run("climate", "--in", str(src), "--out", str(full))
    assert res.exit_code == 2
    assert _err_line(res) == f"error: No space left on device: {full}"


# --------------------------------------------------------------------------- reliability: readers guess nothing
@pytest.mark.parametrize(
    ("header", "both"),
    [
        ("id,lat,LAT,lon", "'lat' and 'LAT' both name the latitude"),
        ("id,latitude,lat,lon", "'latitude' and 'lat' both name the latitude"),
        ("id,image_id,lat,lon", "'id' and 'image_id' both name the id"),
    ],
)
def test_two_columns_of_one_meaning_are_refused(tmp_path, header, both):
    """A header with two latitude columns, or ``id`` and ``image_id``, took one of them."""
    src = tmp_path / "p.csv"
    src.write_text(f"{header}\na,1,2,3\n", encoding="utf-8")
    res = _run("climate", "--in", str(src), "--out", str(tmp_path / "o.csv"))
    assert res.exit_code == 2 and f"p.csv: line 1: the columns {both}" in _err_line(res)
    js = tmp_path / "p.json"
    js.write_text('{"a": {"lat": 1, "latitude": 1, "lon": 2}}', encoding="utf-8")
    res = _run("climate", "--in", str(js), "--out", str(tmp_path / "o.csv"))
    assert res.exit_code == 2 and "the keys 'lat' and 'latitude' both name the latitude" in _err_line(res)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "u.csv",
            b"id,lat,lon\na,4_8.85,2\n",
            "line 2: lat '4_8.85' is not a number (no '_' inside a number)",
        ),
        ("n.csv", b"id,lat,lon\na,1,2\nb,48.8\x00,2\n", "line 3 holds a NUL byte (column 7)"),
        ("x.csv", b"id,lat,lon\na,0x10,2\n", "line 2: lat '0x10' is not a number"),
        ("t.csv", b"id,lat,lon\na,1,2 junk\n", "line 2: lon '2 junk' is not a number"),
        ("b.json", b'{"a": {"lat": true, "lon": 2}}', "entry 'a': lat 'true' is not a number (a boolean)"),
        ("s.json", b'{"a": {"lat": "4_8", "lon": 2}}', "entry 'a': lat '4_8' is not a number"),
        ("d.json", b'{"a": {"lat": 1, "lon": 2}, "a": {"lat": 3, "lon": 4}}', "the key 'a' appears twice"),
    ],
)
def test_numbers_are_read_strictly(tmp_path, name, data, message):
    """``4_8.85`` was read as 48.85, JSON ``true`` as 1.0, a NUL after a number accepted."""
    src = tmp_path / name
    src.write_bytes(data)
    res = _run("climate", "--in", str(src), "--out", str(tmp_path / "o.csv"))
    assert res.exit_code == 2 and message in _err_line(res), res.output


def test_a_binary_file_is_named_for_what_it_is(tmp_path):
    """A binary CSV said "not UTF-8 text after line 0"."""
    src = tmp_path / "p.csv"
    src.write_bytes(np.random.default_rng(0).bytes(5000))
    res = _run("climate", "--in", str(src), "--out", str(tmp_path / "o.csv"))
    assert res.exit_code == 2 and "p.csv is binary data" in _err_line(res)
    src.write_bytes(b"id,lat,lon\na,1,2\nb,3\xe9,4\n")
    res = _run("climate", "--in", str(src), "--out", str(tmp_path / "o.csv"))
    assert "p.csv: line 3 is not UTF-8 text (byte 0xe9 at column 4)" in _err_line(res)


@pytest.mark.parametrize("codec", ["gz", "bz2", "xz"])
def test_compressed_points_are_read(tmp_path, codec):
    import bz2
    import gzip
    import lzma

    text = b"id,lat,lon\nvostok,-78.46,106.84\nlyb,78.22,15.65\n"
    src = tmp_path / f"p.csv.{codec}"
    src.write_bytes({"gz": gzip, "bz2": bz2, "xz": lzma}[codec].compress(text))
    res = _run("climate", "--in", str(src), "--out", str(tmp_path / "o.csv"))
    assert res.exit_code == 0, res.output
    assert pd.read_csv(tmp_path / "o.csv")["climate"].tolist() == ["EF", "ET"]


@pytest.mark.needs_data
@pytest.mark.slow
def test_bench_geocode_cli_compares_the_command_with_its_library():
    from geoclip_utils.bench import geocode_cli

    out = geocode_cli.run(n_points=3000, repeat=1)
    assert out["output_rows_match"] and out["points"] == 3000
    assert out["cli_to_library"] == pytest.approx(
        out["cli_points_per_s"] / out["library_points_per_s"], abs=1e-3
    )
    assert out["cli_cold_to_library"] == pytest.approx(
        out["cli_cold_points_per_s"] / out["library_points_per_s"], abs=1e-3
    )
    assert out["cli_marginal_points_per_s"] >= out["cli_points_per_s"]  # the fixed cost taken out
    assert 0 < out["cli_peak_rss_mb"] < 4000
    assert out["cli_peak_rss_mb"] >= max(out["cli_warm_peak_rss_mb"], out["cli_cold_peak_rss_mb"])
    # the cold runs built the prepared structures in a cache of their own
    assert out["prepared_cache_mb"] > 100


def test_bench_geocode_cli_reads_a_long_error_of_its_child_without_hanging(tmp_path, monkeypatch):
    """The timed child's stderr goes to a file: a child that writes more than a pipe holds (here 1 MB)
    still exits, and its failure comes back with the end of what it wrote."""
    import os
    import sys

    from geoclip_utils.bench import geocode_cli

    monkeypatch.setattr(
        geocode_cli, "_CLI", "import sys; sys.stderr.write('x' * 1_000_000 + 'the end'); sys.exit(3)"
    )
    src = tmp_path / "p.csv"
    src.write_text("id,lat,lon\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"failed \(3\): x+the end$"):
        geocode_cli._cli(src, tmp_path / "o.csv", {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


def test_bench_geocode_cli_reports_the_commands_own_peak_memory(tmp_path, monkeypatch):
    """The peak of the timed command is its own, not the memory this process held when it started the
    command (``wait4``'s ``ru_maxrss`` counts that: here it would read over 600 MB)."""
    import os
    import sys

    import numpy as np

    from geoclip_utils.bench import geocode_cli

    held = np.ones(80_000_000)  # 640 MB resident in this process
    monkeypatch.setattr(geocode_cli, "_CLI", geocode_cli._REPORT_PEAK + "x = bytearray(60_000_000)\n")
    src = tmp_path / "p.csv"
    src.write_text("id,lat,lon\n", encoding="utf-8")
    _, mb = geocode_cli._cli(src, tmp_path / "o.csv", {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert 55 < mb < 300, mb
    assert held.sum() == 80_000_000
