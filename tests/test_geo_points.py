"""Property test of the points readers: seeded random files, good rows mixed with malformed ones.

Every file either reads to exactly the rows that were written (ids, coordinates to the last bit, in
order; blank lines skipped), or is refused with an InputError naming the file and the line, as an
editor counts it, of one of the malformed rows; never a table with shifted or made-up values.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from geoclip_utils import geo
from geoclip_utils.cli import app
from geoclip_utils.errors import InputError
from geoclip_utils.geo.points import iter_points, read_points

#: Malformed kinds of row (what the reader must refuse) and well-formed kinds.
BAD = (
    "extra_field",
    "missing_field",
    "semicolons",
    "nan",
    "inf",
    "out_of_range",
    "word",
    "empty_id",
    "empty_lat",
)
GOOD = ("plain", "spaces", "quoted_id", "exponent")


def _row(kind: str, i: int, rng: np.random.Generator) -> tuple[str, tuple[str, float, float] | None]:
    """One line of text and the (id, lat, lon) it must read as (None for a malformed row)."""
    lat, lon = float(rng.uniform(-90, 90)), float(rng.uniform(-180, 180))
    rid = f"img{i}"
    if kind == "plain":
        return f"{rid},{lat!r},{lon!r}", (rid, lat, lon)
    if kind == "spaces":
        return f"{rid} , {lat!r} ,  {lon!r} ", (rid, lat, lon)
    if kind == "quoted_id":
        return f'"{rid}, x",{lat!r},{lon!r}', (f"{rid}, x", lat, lon)
    if kind == "exponent":
        return f"{rid},{lat:.6e},{lon:.6e}", (rid, float(f"{lat:.6e}"), float(f"{lon:.6e}"))
    return {
        "extra_field": f"{rid},{lat},{lon},extra",
        "missing_field": f"{rid},{lat}",
        "semicolons": f"{rid};{lat};{lon}",
        "nan": f"{rid},nan,{lon}",
        "inf": f"{rid},{lat},-inf",
        "out_of_range": f"{rid},{lat},{lon + 400}",
        "word": f"{rid},north,{lon}",
        "empty_id": f",{lat},{lon}",
        "empty_lat": f"{rid},,{lon}",
    }[kind], None


def _random_file(rng: np.random.Generator, path) -> tuple[list[tuple[str, float, float]], set[int]]:
    """Write a random CSV; return the rows it must read as and the lines of its malformed rows."""
    n = int(rng.integers(1, 40))
    p_bad = float(rng.choice([0.0, 0.0, 0.05, 0.3]))
    newline = str(rng.choice(["\n", "\r\n"]))
    lines = ["id,lat,lon"] if rng.random() < 0.8 else ["IMG_ID, LAT, LON"]
    good: list[tuple[str, float, float]] = []
    bad_lines: set[int] = set()
    for i in range(n):
        if rng.random() < 0.1:
            lines.append(str(rng.choice(["", "   "])))  # a blank line, still counted
        kind = str(rng.choice(BAD)) if rng.random() < p_bad else str(rng.choice(GOOD))
        text, row = _row(kind, i, rng)
        lines.append(text)
        if row is None:
            bad_lines.add(len(lines))
        else:
            good.append(row)
    body = newline.join(lines) + (newline if rng.random() < 0.7 else "")
    path.write_bytes(("\ufeff" if rng.random() < 0.1 else "").encode() + body.encode("utf-8"))
    return good, bad_lines


@pytest.mark.parametrize("seed", range(4))
def test_readers_never_shift_columns(tmp_path, seed):
    rng = np.random.default_rng(seed)
    outcomes = {"read": 0, "refused": 0}
    for k in range(60):
        path = tmp_path / f"f{seed}_{k}.csv"
        good, bad_lines = _random_file(rng, path)
        chunk_rows = int(rng.choice([1, 3, 7, 1000]))
        try:
            parts = [c.points for c in iter_points(path, chunk_rows=chunk_rows)]
        except InputError as exc:
            msg = str(exc)
            assert msg.startswith(f"{path}: "), msg
            line = re.search(r"line (\d+)", msg)
            assert line is not None and int(line.group(1)) in bad_lines, (msg, sorted(bad_lines))
            outcomes["refused"] += 1
            continue
        assert not bad_lines, f"{path} read although lines {sorted(bad_lines)} are malformed"
        got = [
            (i, a, b)
            for part in parts
            for i, a, b in zip(part["id"], part["lat"].tolist(), part["lon"].tolist(), strict=True)
        ]
        assert got == good
        assert geo.read_points(path)["id"].tolist() == [g[0] for g in good]
        outcomes["read"] += 1
    assert outcomes["read"] and outcomes["refused"]  # both branches were exercised


def test_cli_on_random_files_exits_2_with_a_line_or_writes_the_right_rows(tmp_path):
    rng = np.random.default_rng(99)
    runner = CliRunner()
    for k in range(25):
        path = tmp_path / f"c{k}.csv"
        good, bad_lines = _random_file(rng, path)
        out = tmp_path / f"o{k}.csv"
        args = ["dedupe", "--in", str(path), "--out", str(out), "--group-by", "none", "--chunk-rows", "4"]
        res = runner.invoke(app, args)
        if bad_lines:
            assert res.exit_code == 2, res.output
            line = re.search(r"line (\d+)", res.output)
            assert line is not None and int(line.group(1)) in bad_lines, res.output
            assert not out.exists()
        else:
            assert res.exit_code == 0, res.output
            import pandas as pd

            df = pd.read_csv(out, keep_default_na=False, dtype={"id": str})
            assert df["id"].tolist() == [g[0] for g in good]
            lat, lon = np.array([g[1] for g in good]), np.array([g[2] for g in good])
            assert df["keep"].tolist() == geo.dedupe_by_distance(lat, lon)["keep"].tolist()


def test_duplicate_ids_across_chunks_name_their_lines(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("id,lat,lon\na,1,2\nb,1,2\n\nc,1,2\na,3,3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"1 duplicate ids, e.g. 'a' appears 2 times \(lines 2, 6\)"):
        list(iter_points(p, chunk_rows=2))
    j = tmp_path / "d.json"
    j.write_text('{"a": {"lat": 1, "lon": 2}, "b": {"lat": 1, "lon": 2}}', encoding="utf-8")
    assert len(geo.read_points(j)) == 2


@pytest.mark.parametrize("suffix", ["", ".gz", ".gzip", ".bz2", ".xz", ".zst", ".zstd"])
def test_a_json_file_is_json_under_every_compression_name_the_reader_accepts(tmp_path, suffix):
    """The name says JSON under any compression suffix open_input takes (``.gzip`` and ``.zstd`` were read
    as CSV and refused); the compression itself is recognised from the bytes."""
    from helpers import CODECS

    body = json.dumps({"a": {"lat": 48.85, "lon": 2.35}}).encode()
    codec = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd", ".zstd": "zstd"}
    pack = CODECS[codec[suffix]] if suffix else (lambda b: b)
    path = tmp_path / f"p.json{suffix}"
    path.write_bytes(pack(body))
    pts = read_points(path)
    assert pts["id"].tolist() == ["a"] and pts["lat"].tolist() == [48.85]


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_a_chunk_gives_its_arrays_and_the_same_frame(tmp_path, kind):
    """``PointChunk`` carries the arrays fast writers take (ids, lat, lon, extra columns) and builds the
    pandas frame from them on demand: the two agree, chunk by chunk, in file order."""
    rows = [("a", 1.5, 2.0, "x"), ("b", -3.25, 170.0, ""), ("c", 0.0, -179.5, "z,w")]
    if kind == "csv":
        path = tmp_path / "p.csv"
        path.write_text("id,lat,lon,grp\n" + "".join(f'{i},{a},{b},"{g}"\n' for i, a, b, g in rows))
    else:
        path = tmp_path / "p.json"
        path.write_text(json.dumps({i: {"lat": a, "lon": b, "grp": g} for i, a, b, g in rows}))
    chunks = list(iter_points(path, chunk_rows=2, extra=("grp",)))
    assert [len(c) for c in chunks] == [2, 1]
    got = []
    for c in chunks:
        assert c.lat.dtype == np.float64 and c.lon.dtype == np.float64
        assert c.points["id"].tolist() == c.ids.to_pylist()
        assert c.points["lat"].tolist() == c.lat.tolist() and c.points["lon"].tolist() == c.lon.tolist()
        assert list(c.points.columns) == ["id", "lat", "lon", "grp"]
        got += list(zip(c.ids.to_pylist(), c.lat.tolist(), c.lon.tolist(), c.points["grp"], strict=True))
    assert got == rows
