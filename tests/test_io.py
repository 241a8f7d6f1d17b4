"""Tests of geoclip_utils.io: recognising files (sources), the one strict delimited reader, the output policy.

Each reader has property tests (hypothesis): random bytes, random CSV dialects, random numbers as text —
the reader either reads exactly what was written or refuses with one line naming the place; never a
quiet wrong answer. The fast (pyarrow) and exact (Python csv) readers must agree row for row.
"""

from __future__ import annotations

import csv
import errno
import gzip
import io
import math
import os
import re
import stat
import string
import tarfile
import threading
import zipfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from helpers import CODECS
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from geoclip_utils.errors import ConfigError, InputError
from geoclip_utils.io import delimited as D
from geoclip_utils.io import outputs as O
from geoclip_utils.io.sources import MAX_LINE_BYTES, open_input, sniff

SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _tar(data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        info = tarfile.TarInfo("points.csv")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _zip(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("points.csv", data)
    return out.getvalue()


CSV = b"id,lat,lon\na,1.5,2\nb,-3,4\n"


# --------------------------------------------------------------------------- sources: what a file is
@pytest.mark.parametrize("codec", sorted(CODECS))
def test_compressed_text_is_decoded_whatever_its_name(tmp_path, codec):
    for name in (f"p.csv.{codec}", "p.csv"):  # the bytes decide, not the name
        p = tmp_path / name
        p.write_bytes(CODECS[codec](CSV))
        src = open_input(p, "points file")
        assert (src.kind, src.compression) == ("text", codec)
        assert "".join(t for _, t in src.lines()) == CSV.decode()
        values, lines, _, _ = D.read_columns(src, [D.id_column(), D.LAT, D.LON])
        assert values["id"].to_pylist() == ["a", "b"] and values["lat"].tolist() == [1.5, -3.0]


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (_tar(CSV), "a tar archive"),
        (gzip.compress(_tar(CSV)), "gzip-compressed data holding a tar archive"),
        (_zip(CSV), "a ZIP archive"),
        (b"7z\xbc\xaf\x27\x1c" + bytes(50), "a 7-Zip archive"),
        (b"\x04\x22\x4d\x18" + bytes(50), "lz4-compressed data"),
        (b"\x89PNG\r\n\x1a\n" + bytes(50), "a PNG image"),
        (b"\xff\xd8\xff\xe0" + bytes(50), "a JPEG image"),
        (b"%PDF-1.4\n", "a PDF document"),
        ("id,lat\n".encode("utf-16"), "UTF-16 text"),
        (bytes(range(256)) * 4, "binary data"),
    ],
)
def test_other_containers_are_refused_naming_what_was_found(tmp_path, data, found):
    p = tmp_path / "points.csv"
    p.write_bytes(data)
    with pytest.raises(InputError, match=re.escape(f"points file {p} is {found}")):
        open_input(p, "points file")


def test_parquet_only_where_a_reader_takes_it(tmp_path):
    p = tmp_path / "c.csv"
    pd.DataFrame({"id": ["a"], "lat": [1.0], "lon": [2.0]}).to_parquet(p)
    with pytest.raises(InputError, match="is a Parquet file, not UTF-8 text"):
        open_input(p, "points file")
    assert open_input(p, kinds=("text", "parquet")).kind == "parquet"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("c.gz", b"plain text\n", r"is named \.gz \(gzip-compressed data\) but holds text"),
        (
            "c.csv.bz2",
            gzip.compress(b"x\n", mtime=0),
            r"is named \.bz2 \(bzip2-compressed data\) but holds gzip",
        ),
        ("c.parquet", b"id,lat\n", r"is not a readable Parquet file: it is named \.parquet but holds text"),
        ("e.csv", b"", "is empty"),
        ("e.csv.gz", gzip.compress(b"", mtime=0), r"is empty once decompressed \(gzip-compressed data\)"),
        ("cut.csv.gz", gzip.compress(CSV * 100, mtime=0)[:60], "the gzip data is damaged"),
    ],
)
def test_names_that_lie_empty_files_and_damage_are_refused(tmp_path, name, data, message):
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(InputError, match=message):
        src = open_input(p, "caption file", kinds=("text", "parquet"))
        list(src.lines())


def test_folders_pipes_and_missing_files_are_refused(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        open_input(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="is a folder, not a file"):
        open_input(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        open_input(fifo)


def test_a_long_line_is_refused_after_reading_a_bounded_part(tmp_path):
    # 200 MB of one "line" would be a 200 kB .gz; a 3 MB one shows the rule at test speed
    p = tmp_path / "c.txt.gz"
    p.write_bytes(gzip.compress(b"ok\n\n" + b"a" * (3 * MAX_LINE_BYTES) + b"\nok\n"))
    with pytest.raises(InputError, match=r"line 3 is longer than 1,048,576 bytes"):
        list(open_input(p).lines())
    exact = tmp_path / "ok.txt"
    exact.write_bytes(b"a" * MAX_LINE_BYTES + b"\r\n" + b"b" * MAX_LINE_BYTES)  # at the limit: fine
    assert [len(t) for _, t in open_input(exact).lines()] == [MAX_LINE_BYTES + 2, MAX_LINE_BYTES]


def test_lines_are_numbered_as_an_editor_counts(tmp_path):
    p = tmp_path / "l.txt"
    p.write_bytes(b"\xef\xbb\xbfa\r\nb\rc\n\nd\xe2\x82\xacx\xff")
    with pytest.raises(InputError, match=r"line 5 is not UTF-8 text \(byte 0xff at column 4\)"):
        list(open_input(p).lines())
    p.write_bytes(b"a\r\nb\rc\n\nd")
    assert list(open_input(p).lines()) == [(1, "a\r\n"), (2, "b\r"), (3, "c\n"), (4, "\n"), (5, "d")]
    p.write_bytes(b"a\nb\x00c\n")
    with pytest.raises(InputError, match=r"line 2 holds a NUL byte \(column 2\)"):
        list(open_input(p).lines())


@SETTINGS
@given(data=st.binary(max_size=400), cut=st.integers(1, 40))
def test_lines_of_random_bytes_are_the_bytes_or_a_named_refusal(tmp_path, data, cut):
    """Random bytes: either refused with a line number, or the lines put together give the text back."""
    p = tmp_path / "r.bin"
    p.write_bytes(data)
    try:
        src = open_input(p)
        got = list(src.lines(limit=cut))
    except InputError as exc:
        assert str(exc).startswith(str(p)), exc
        event("refused")
        return
    event("read")
    text = data.decode("utf-8")
    assert "".join(t for _, t in got) == text.removeprefix("\ufeff")
    assert [n for n, _ in got] == list(range(1, len(got) + 1))
    assert all(len(t.rstrip("\r\n").encode()) <= cut for _, t in got)
    assert sniff(data[:4096]) == "text"


# --------------------------------------------------------------------------- numbers
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-1e6, 1e6).map(lambda x: f"{x:.6e}"),
    st.integers(-(10**20), 10**20).map(str),
    st.from_regex(r"\A[ +\-]?[0-9_]{0,4}\.?[0-9_]{0,4}([eE][+\-]?[0-9]{0,3})?[ ]?\Z", fullmatch=True),
    st.sampled_from(
        ["true", "false", "0x1A", "1_000", "4_8.85", "1.5\x00", "١٢", "½", "1e", ".", "+", "--1"]
    ),
    st.text(string.printable, max_size=6),
)


@SETTINGS
@given(text=NUMBERS)
def test_numbers_are_decimal_notation_only(text):
    got = D.parse_number(text)
    t = text.strip()
    decimal = bool(re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", t, flags=re.ASCII))
    if decimal:
        assert got == float(t)
    else:
        assert got is None  # booleans, underscores, hex, NaN/inf words, trailing bytes: refused
    try:
        values = D.check_values({"x": [text]}, [D.Column("x", ("x",), "number", "x")])
        assert decimal and math.isfinite(got) and values["x"][0] == got
    except D.BadValue as bad:
        assert not decimal or not math.isfinite(got)
        assert bad.row == 0 and repr(t) in bad.message


def test_trimming_is_the_same_as_str_strip_for_every_character():
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    values = ["x" + c for c in chars] + [c + "x" for c in chars]
    got = D.check_values({"t": values}, [D.Column("t", ("t",), "text", blank_ok=True)])["t"].to_pylist()
    assert got == [v.strip() for v in values]


def test_trimming_printable_ascii_takes_the_fast_kernel_with_the_same_result():
    # a column of ASCII text (U+001C-U+001F aside) is trimmed by pyarrow's ASCII kernel: the same as strip
    for c in [chr(c) for c in range(128)]:
        values = ["x" + c, c + "x", c + "x" + c, c * 3]
        got = D.check_values({"t": values}, [D.Column("t", ("t",), "text", blank_ok=True)])["t"]
        assert got.to_pylist() == [v.strip() for v in values], repr(c)


@SETTINGS
@given(texts=st.lists(NUMBERS, min_size=1, max_size=8))
def test_a_column_of_numbers_reads_as_each_of_its_values_alone(texts):
    # a column goes through pyarrow's parser when every value passes it; else through the full check
    col = [D.Column("x", ("x",), "number", "x", bound=1e9)]
    alone = []
    for text in texts:
        try:
            alone.append(D.check_values({"x": [text]}, col)["x"][0])
        except D.BadValue as bad:
            alone.append(bad.message)
    try:
        got = D.check_values({"x": texts}, col)["x"]
        assert [float(v) for v in got] == alone
    except D.BadValue as bad:
        assert alone[bad.row] == bad.message
        assert all(isinstance(v, float) for v in alone[: bad.row])


@SETTINGS
@given(texts=st.lists(st.text(max_size=12), max_size=30), cut=st.integers(0, 5), large=st.booleans())
def test_hash_strings_is_the_same_for_equal_strings_and_differs_otherwise(texts, cut, large):
    arr = pa.array(["pad"] * cut + texts, type=pa.large_string() if large else pa.string()).slice(cut)
    h = D.hash_strings(arr)
    assert h.dtype == np.uint64 and len(h) == len(texts)
    for i, a in enumerate(texts):
        for j, b in enumerate(texts):
            assert (h[i] == h[j]) == (a == b), (a, b)
    # the hash of a value does not depend on its neighbours
    assert [int(x) for x in h] == [int(D.hash_strings(pa.array([t]))[0]) for t in texts]


# --------------------------------------------------------------------------- the delimited reader
def _read(path, chunk_rows=7, exact=False, **layout):
    reader = D.Delimited(path)
    lay = reader.layout([D.id_column(), D.LAT, D.LON], **layout)
    if exact:
        parts = list(reader._exact(lay, chunk_rows, 0))
    else:
        parts = list(reader.chunks(lay, chunk_rows))
    ids = [i for p in parts for i in p.values["id"].to_pylist()]
    lat = [x for p in parts for x in p.values["lat"].tolist()]
    return ids, lat


@pytest.mark.parametrize(
    ("header", "both"),
    [("id,lat,LAT,lon", "'lat' and 'LAT'"), ("id,latitude,lat,lon", "'latitude' and 'lat'"),
     ("image_id,lat,lon,id", "'image_id' and 'id'"), ("IMG_ID,Key,lat,lon", "'IMG_ID' and 'Key'")],
)  # fmt: skip
def test_two_columns_of_one_meaning_are_refused(tmp_path, header, both):
    p = tmp_path / "p.csv"
    p.write_text(header + "\n" + ",".join(["1"] * (header.count(",") + 1)) + "\n")
    with pytest.raises(InputError, match=rf"line 1: the columns {both} both name the"):
        _read(p)


def test_blank_rows_ragged_rows_and_quotes(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text('\n id , lat ,lon\n\na,1,2\n , ,\n"b, c",3,4\n   \nd,5,6')
    assert _read(p) == (["a", "b, c", "d"], [1.0, 3.0, 5.0]) == _read(p, exact=True)
    p.write_text('id,lat,lon\na,1,2\n"b\nc",3,4\nd,5,6,7\n')  # a quoted line break counts as a line
    with pytest.raises(InputError, match=r"line 5 has 4 fields but the header \(line 1\) has 3"):
        _read(p)
    p.write_text('id,lat,lon\na,1,2\n"b" ,3,4\n')
    with pytest.raises(InputError, match=r"line 3: not readable as CSV"):
        _read(p)


def test_ids_are_cleaned_the_same_in_every_row(tmp_path):
    """``a\\xa0`` and ``a`` are one id whether or not another row has a quote (the fast reader and the exact
    one strip alike)."""
    p = tmp_path / "p.csv"
    for extra in ("", '"q",5,6\n'):
        p.write_text(f"id,lat,lon\na\xa0,1,2\n{extra}a,3,4\n", encoding="utf-8")
        with pytest.raises(InputError, match=r"1 duplicate ids, e.g. 'a' appears 2 times \(lines 2, [34]\)"):
            _read(p)


def test_image_ids_drop_their_extension(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("IMG_ID,LAT,LON\nimg0.jpg,1,2\nimg1.JPEG,3,4\nimg2.png,5,6\nimg3,7,8\n")
    reader = D.Delimited(p)
    values, _ = reader.read(reader.layout([D.id_column(image=True), D.LAT, D.LON]))
    assert values["id"].to_pylist() == ["img0", "img1", "img2", "img3"]


def _dialect_file(draw, path):
    """A random CSV dialect over a random table; returns the rows it must read as, and the lines of the
    problems put in (empty when the file is fine)."""
    n = draw(st.integers(1, 12))
    ids = draw(
        st.lists(
            st.text(string.ascii_letters + string.digits + " ,\"'_-é\t", min_size=1, max_size=8).filter(
                lambda s: s.strip()
            ),
            min_size=n,
            max_size=n,
            unique_by=str.strip,
        )
    )
    lats = draw(st.lists(st.floats(-90, 90), min_size=n, max_size=n))
    lons = draw(st.lists(st.floats(-180, 180), min_size=n, max_size=n))
    delim = draw(st.sampled_from([",", "\t", ";"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    names = [
        draw(st.sampled_from(["id", "ID", "image_id", "Img_Id", "key"])),
        draw(st.sampled_from(["lat", "Latitude", " LAT "])),
        draw(st.sampled_from(["lon", "lng", "LONGITUDE", "long"])),
    ]
    order = draw(st.permutations([0, 1, 2]))
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delim, quoting=quoting, lineterminator=newline)
    w.writerow([names[i] for i in order])
    for row in zip(ids, lats, lons, strict=True):
        w.writerow([row[i] if i == 0 else repr(row[i]) for i in order])
    text = buf.getvalue()
    if draw(st.booleans()):
        text = "\ufeff" + text
    kind = draw(st.sampled_from(["ok", "ok", "blank", "ragged", "number", "dup"]))
    lines = text.split(newline)
    bad: set[int] = set()
    j = draw(st.integers(1, len(lines) - 2))  # a data line (the last element is "" after the final newline)
    if kind == "blank":
        lines.insert(j, draw(st.sampled_from(["", "  ", delim * 2])))
    elif kind == "ragged" and '"' not in lines[j] and "\r" not in lines[j] and "\n" not in lines[j]:
        lines[j] += delim + "x"
        bad.add(j + 1)
    elif kind == "number" and quoting == csv.QUOTE_MINIMAL and '"' not in "".join(lines):
        cells = lines[j].split(delim)
        cells[order.index(1)] = draw(st.sampled_from(["4_8.5", "true", "nan", "1e999", "", "0x10", "1.5x"]))
        lines[j] = delim.join(cells)
        bad.add(j + 1)
    elif kind == "dup" and '"' not in "".join(lines) and "\r" not in "".join(lines):
        lines.insert(j + 1, lines[j])
        bad.update({j + 1, j + 2})
    path.write_text(newline.join(lines), encoding="utf-8", newline="")
    keep = [(i.strip(), a, b) for i, a, b in zip(ids, lats, lons, strict=True)]
    return keep, bad, delim


@SETTINGS
@given(data=st.data(), chunk_rows=st.sampled_from([1, 3, 1000]))
def test_random_dialects_read_exactly_or_refuse_on_the_right_line(tmp_path, data, chunk_rows):
    path = tmp_path / "d.csv"
    keep, bad, delim = _dialect_file(data.draw, path)
    reader = D.Delimited(path, (",", "\t", ";"))
    assume(reader.delimiter == delim)  # an id holding another allowed delimiter may pick that one
    layout = reader.layout([D.id_column(), D.LAT, D.LON])
    try:
        fast = [c for c in reader.chunks(layout, chunk_rows)]
    except InputError as exc:
        line = re.search(r"lines? (\d+)", str(exc))
        assert bad and line and int(line.group(1)) in bad, (str(exc), bad)
        event("refused")
        return
    event("read")
    assert not bad, f"read although lines {bad} are malformed"
    got = [(i, a, b) for c in fast for i, a, b in zip(c.values["id"].to_pylist(), c.values["lat"].tolist(),
                                                      c.values["lon"].tolist(), strict=True)]  # fmt: skip
    assert got == keep
    exact = [(i, a, b) for c in reader._exact(layout, chunk_rows, 0) for i, a, b in zip(
        c.values["id"].to_pylist(), c.values["lat"].tolist(), c.values["lon"].tolist(), strict=True)]  # fmt: skip
    assert exact == got


def test_fast_and_exact_readers_agree_on_a_large_file_and_the_fast_one_runs(tmp_path):
    rng = np.random.default_rng(0)
    n = 20_000
    df = pd.DataFrame({"id": [f"p{i}" for i in range(n)], "lat": rng.uniform(-90, 90, n),
                       "lon": rng.uniform(-180, 180, n)})  # fmt: skip
    p = tmp_path / "big.csv"
    df.to_csv(p, index=False)
    reader = D.Delimited(p)
    layout = reader.layout([D.id_column(), D.LAT, D.LON])
    chunks = list(reader.chunks(layout, 5000))
    assert all(c.lines is None for c in chunks)  # read by pyarrow, no line bookkeeping
    assert np.concatenate([c.values["lat"] for c in chunks]).tolist() == df["lat"].tolist()
    # a bad value in the last chunk: the exact reader names its line, after three good chunks
    lines = p.read_text().splitlines()
    lines[19_000] = "p18999,4_8.5,0"
    p.write_text("\n".join(lines) + "\n")
    got = []
    with pytest.raises(InputError, match=r"big.csv: line 19001: lat '4_8.5' is not a number \(no '_'"):
        for c in D.Delimited(p).chunks(layout, 5000):
            got.append(c.n)
    assert got == [5000, 5000, 5000]


# --------------------------------------------------------------------------- the output policy
def test_outputs_that_are_inputs_or_inside_inputs_or_caches_are_refused(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("x")
    cache = tmp_path / "cache"
    (cache / "model").mkdir(parents=True)
    hard = tmp_path / "hard.csv"
    os.link(src, hard)
    cases = [
        (src, {"inputs": [src]}, "is the input"),
        (hard, {"inputs": [src]}, "is the input"),
        (tmp_path / "sub" / ".." / "in.csv", {"inputs": [src]}, "is the input"),
        (cache / "model" / "manifest.json", {"caches": [cache]}, "is inside the cache"),
        (cache, {"caches": [cache]}, "is the cache"),
        (cache / "model" / "x.csv", {"inputs": [cache / "model"]}, "is inside the input folder"),
    ]
    for out, kw, message in cases:
        with pytest.raises(ConfigError, match=message):
            O.check_output(out, **kw)
    assert src.read_text() == "x"


def test_a_link_is_written_through_and_stays(tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    out = O.check_output(link, [tmp_path / "other.csv"])
    out.write(lambda fh: fh.write(b"new"))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_new_file_gets_the_mode_of_a_plain_open(tmp_path):
    old = os.umask(0o027)
    try:
        O.check_output(tmp_path / "n.csv").write(lambda fh: fh.write(b"x"))
        with open(tmp_path / "plain.csv", "w") as fh:
            fh.write("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "n.csv").stat().st_mode) == stat.S_IMODE(
        (tmp_path / "plain.csv").stat().st_mode
    )


def test_a_pipe_is_streamed_not_replaced(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    out = O.check_output(fifo)
    assert out.stream and not out.stdout
    out.write(lambda fh: fh.write(b"a,b\n"))
    reader.join(5)
    assert got == [b"a,b\n"] and stat.S_ISFIFO(fifo.lstat().st_mode)


def test_standard_output_and_devices(tmp_path):
    assert O.check_output("-").stdout
    null, full = tmp_path / "null", tmp_path / "full"  # links: a broken writer would replace them, not /dev
    null.symlink_to("/dev/null")
    full.symlink_to("/dev/full")
    out = O.check_output(null)
    assert out.stream
    out.write(lambda fh: fh.write(b"x"))
    with pytest.raises(OSError, match="No space left on device") as exc:
        O.check_output(full).write(lambda fh: fh.write(b"x" * 100_000))
    assert exc.value.filename == str(full)
    assert null.is_symlink() and full.is_symlink()


def test_a_full_disk_names_the_file_and_leaves_nothing(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left on device") as exc:
        O.check_output(tmp_path / "o.csv").write(lambda fh: fh.write(b"x"))
    assert exc.value.filename == str(tmp_path / "o.csv")
    assert list(tmp_path.iterdir()) == []


def test_temporary_files_of_dead_runs_are_removed_by_the_next_write(tmp_path):
    dead = tmp_path / f".o.csv.{2**22 + 12345}.abc123{O.TEMP_SUFFIX}"  # above Linux's pid_max default
    live = tmp_path / f".o.csv.{os.getppid()}.xyz789{O.TEMP_SUFFIX}"
    other = tmp_path / ".o.csv.notours.tmp"
    for p in (dead, live, other):
        p.write_text("half")
    O._CLEANED.discard(os.path.realpath(tmp_path))
    O.check_output(tmp_path / "o.csv").write(lambda fh: fh.write(b"x"))
    assert not dead.exists() and live.exists() and other.exists()
    assert (tmp_path / "o.csv").read_text() == "x"


def test_read_only_outputs_and_folders_are_refused(tmp_path):
    ro = tmp_path / "ro.csv"
    ro.write_text("old")
    ro.chmod(0o444)
    with pytest.raises(ConfigError, match="is read-only"):
        O.check_output(ro)
    with pytest.raises(ConfigError, match="is a folder; give a file name"):
        O.check_output(tmp_path)
    with pytest.raises(ConfigError, match="cannot write there, .*ro.csv is a file, not a folder"):
        O.check_output(ro / "x.csv")


# --------------------------------------------------------------------------- the CSV writer
@SETTINGS
@given(
    text=st.lists(st.one_of(st.none(), st.text(max_size=6)), min_size=1, max_size=20),
    data=st.data(),
)
def test_csv_writer_writes_what_pandas_writes(text, data):
    n = len(text)
    floats = data.draw(st.lists(st.one_of(st.floats(allow_infinity=False), st.sampled_from([1e-5, 1e16, 100.0])),
                                min_size=n, max_size=n))  # fmt: skip
    flags = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    text = [None if t is None else t.replace("\r", "") for t in text]  # pandas writes lone \r unquoted
    df = pd.DataFrame({"t": pd.Series(text, dtype=object), "x": floats, "ok": flags})
    buf = io.BytesIO()
    O.CsvChunks(buf).write(df)
    assert buf.getvalue().decode() == df.to_csv(index=False, lineterminator="\n")


def test_csv_writer_quotes_large_string_and_dictionary_columns():
    """A ``large_string`` column holding a comma or a quote crashed the writer (a type mismatch in the quoting)."""

    text = ["plain", 'say "hi"', "a,b", ""]
    want = pd.DataFrame({"t": text}).to_csv(index=False, lineterminator="\n")
    for arr in (pa.array(text, pa.large_string()), pa.array(text).dictionary_encode()):
        buf = io.BytesIO()
        O.CsvChunks(buf).write({"t": arr})
        assert buf.getvalue().decode() == want


@SETTINGS
@given(
    words=st.lists(st.text(max_size=5), min_size=1, max_size=12),
    data=st.data(),
)
def test_dictionary_columns_over_chunks_are_written_as_their_values(words, data):
    """A dictionary column is quoted once per dictionary (kept across chunks, also one larger than a chunk)
    and taken per row: the bytes are those of the plain values, null indices as empty fields."""
    words = [w.replace("\r", "") for w in words]
    dictionary = pa.array(words, pa.string())
    chunks = data.draw(st.lists(st.lists(st.one_of(st.none(), st.integers(0, len(words) - 1)), min_size=1,
                                         max_size=8), min_size=1, max_size=4))  # fmt: skip
    got, want = io.BytesIO(), io.BytesIO()
    w_got, w_want = O.CsvChunks(got), O.CsvChunks(want)
    for idx in chunks:
        col = pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), dictionary)
        w_got.write({"k": pa.array(range(len(idx))), "t": col})
        w_want.write({"k": pa.array(range(len(idx))), "t": col.cast(pa.string())})
    assert got.getvalue() == want.getvalue()
    plain = [words[i] if i is not None else None for idx in chunks for i in idx]
    frame = pd.DataFrame(
        {"k": [k for idx in chunks for k in range(len(idx))], "t": pd.Series(plain, dtype=object)}
    )
    assert got.getvalue().decode() == frame.to_csv(index=False, lineterminator="\n")
