"""Tar shards (engine/shards.py), the shard reader (engine/readers.py), units (engine/units.py), and the one
driver and chunk writer on shards."""

from __future__ import annotations

import io
import json
import re
import tarfile

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geoclip_utils.cli import app
from geoclip_utils.engine import (
    EmbedOptions,
    LocalDistributor,
    ShardInput,
    embed,
    embed_images,
    load_embeddings,
    load_model,
    load_report,
)
from geoclip_utils.engine.cache import ChunkWriter, chunk_paths, load_coords, read_chunk
from geoclip_utils.engine.models import model_info
from geoclip_utils.engine.shards import (
    MAX_SHARDS,
    count_shards,
    expand_shards,
    iter_samples,
    read_coords,
    shard_format,
    shard_pieces,
)
from geoclip_utils.engine.synthetic import synthetic_image, synthetic_shards
from geoclip_utils.engine.units import PieceAssembler, Unit, decode_unit, encode_rows, feature_dim
from geoclip_utils.errors import ConfigError, InputError


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny", device="cpu")


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    synthetic_image(rng, rng.uniform(40, 220, (3, 3)), (80, 60)).save(buf, format="JPEG")
    return buf.getvalue()


def _tar(path, members: list[tuple[str, bytes]]):
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_expand_shards_ranges_lists_and_errors(tmp_path):
    for name in ("00008.tar", "00009.tar", "00010.tar", "a-1.tar", "b-1.tar"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in expand_shards(f"{tmp_path}/{{00008..00010}}.tar")] == [
        "00008.tar",
        "00009.tar",
        "00010.tar",
    ]
    assert [p.name for p in expand_shards(f"{tmp_path}/{{a,b}}-{{1..1}}.tar")] == ["a-1.tar", "b-1.tar"]
    # braceexpand's (bash's) rules: backward ranges, steps, nesting
    assert [p.name for p in expand_shards(f"{tmp_path}/{{00010..00008..2}}.tar")] == [
        "00010.tar",
        "00008.tar",
    ]
    assert [p.name for p in expand_shards(f"{tmp_path}/{{{{a,b}}-1,00009}}.tar")] == [
        "a-1.tar",
        "b-1.tar",
        "00009.tar",
    ]
    with pytest.raises(InputError, match=r"1 of the 4 shards .* do not exist, e.g. .*00011.tar"):
        expand_shards(f"{tmp_path}/{{00008..00011}}.tar")
    for bad, message in [
        ("{0..x}.tar", "neither a range"),
        ("{00000.tar", "unmatched brace"),
        ("00000}.tar", "unmatched brace"),
        ("{a}.tar", "neither a range"),
    ]:
        with pytest.raises(ConfigError, match=message):
            expand_shards(f"{tmp_path}/{bad}")


def test_brace_patterns_are_counted_before_they_are_expanded(tmp_path, monkeypatch):
    """Issue 21: `x{0..999}{0..999}{0..999}.tar` took gigabytes before any check; it is refused at once."""
    import geoclip_utils.engine.shards as shards_module

    def no_expansion(pattern):
        raise AssertionError("expanded a pattern over the limit")

    monkeypatch.setattr(shards_module, "braceexpand", no_expansion)
    with pytest.raises(ConfigError, match=r"names 1,000,000,000 files, more than the 100,000 one run takes"):
        expand_shards("x{0..999}{0..999}{0..999}.tar")
    assert count_shards("{a,b{1..3}}/s-{00..09}.tar") == 40
    assert count_shards("{0..100000}") == MAX_SHARDS + 1
    from braceexpand import braceexpand

    for pattern in (
        "s{10..1..3}",
        "{a..e..2}{Z..a}",
        "{{a,b},c}x{,y}",
        "{a,{}}",
        "{0..x}",
        "plain",
        "{-3..3}",
    ):
        assert count_shards(pattern) == len(list(braceexpand(pattern))), pattern


def test_a_file_that_is_not_a_tar_is_refused_naming_what_it_is(tmp_path):
    """Issue 21: a text file given as a shard was "a damaged shard ... a rerun tries again", exit 0."""
    import bz2
    import gzip
    import lzma

    good = _tar(tmp_path / "good.tar", [("k.jpg", _jpeg(0))])
    assert shard_format(good) == "tar"
    for opener, suffix in ((gzip.open, "gz"), (bz2.open, "bz2"), (lzma.open, "xz")):
        packed = tmp_path / f"good.tar.{suffix}"
        with opener(packed, "wb") as fh:
            fh.write(good.read_bytes())
        assert shard_format(packed) == f"tar.{suffix}"
    empty_tar = tmp_path / "none.tar"
    tarfile.open(empty_tar, "w").close()
    assert shard_format(empty_tar) == "tar"
    text_gz = tmp_path / "text.tar.gz"
    with gzip.open(text_gz, "wb") as fh:
        fh.write(b"hello, world\n" * 100)
    for name, data, found in [
        ("notes.tar", b"id,lat,lon\na,1,2\n", "it is text"),
        ("nothing.tar", b"", "it is empty (0 bytes)"),
        ("zip.tar", b"PK\x03\x04" + bytes(600), "it is a ZIP archive"),
        ("noise.tar", np.random.default_rng(0).bytes(2000), "not a format recognised"),
        ("broken.tar.gz", b"\x1f\x8b" + bytes(100), "gzip-compressed but cannot be decompressed"),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(
            InputError, match=f"shard {re.escape(str(path))} is not a tar file: .*{re.escape(found)}"
        ):
            shard_format(path)
    with pytest.raises(InputError, match="gzip-compressed, and inside it is text"):
        shard_format(text_gz)
    # the CLI refuses before anything is written, with exit status 2
    base = ["embed", "--model", "tiny", "--device", "cpu", "--out", str(tmp_path / "c"), "--no-progress"]
    r = CliRunner().invoke(app, [*base, "--shards", f"{tmp_path}/{{good,notes}}.tar"])
    assert r.exit_code == 2 and "notes.tar is not a tar file: it is text" in r.output, r.output
    assert not (tmp_path / "c").exists()


def test_samples_are_grouped_by_key_and_dotfiles_ignored(tmp_path):
    shard = _tar(
        tmp_path / "s.tar",
        [
            ("dir/k1.jpg", b"A"),
            ("dir/k1.json", b'{"key": "k1"}'),
            ("._k1.jpg", b"apple double"),
            ("k2.seg.png", b"B"),
            ("k2.txt", b"caption"),
            ("README", b"no extension"),
        ],
    )
    assert list(iter_samples(shard)) == [
        ("dir/k1", {"jpg": b"A", "json": b'{"key": "k1"}'}),
        ("k2", {"seg.png": b"B", "txt": b"caption"}),
    ]


def test_pieces_report_bad_members_with_shard_and_key(tmp_path):
    good = _jpeg(0)
    shard = _tar(
        tmp_path / "s.tar",
        [
            ("a.jpg", good),
            ("a.json", b'{"key": "id-a"}'),
            ("b.txt", b"caption only"),
            ("c.jpg", good[:300]),
            ("d.jpg", good),
            ("d.json", b"not json"),
        ],
    )
    pieces = list(shard_pieces(shard, 2))
    assert [(p, len(s), last, err) for p, s, last, err in pieces] == [(0, 2, False, ""), (1, 2, True, "")]
    (_, (a, b), _, _), (_, (c, d), _, _) = pieces
    assert a == ("a", good, "") and b[1] is None
    assert b[2] == f"no image member (has .txt) (sample 'b' of shard {shard})"
    assert c[1] == good[:300] and d[0] == "d"
    # ids from the .json sidecar
    by_field = [s for _, samples, _, _ in shard_pieces(shard, 10, id_field="key") for s in samples]
    assert by_field[0][0] == "id-a"
    assert by_field[3][1] is None and "its .json is not a JSON object" in by_field[3][2]
    assert f"sample 'b' of shard {shard}" in by_field[1][2] and "no .json member" in by_field[1][2]


def test_truncated_shard_keeps_what_was_read(tmp_path):
    shard = _tar(tmp_path / "s.tar", [(f"k{i}.jpg", _jpeg(i)) for i in range(4)])
    data = shard.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: len(data) // 2])
    pieces = list(shard_pieces(cut, 10))
    assert len(pieces) == 1
    part, samples, last, error = pieces[0]
    assert last and 0 < len(samples) < 4
    assert error.startswith(f"shard {cut} cannot be read past its sample {len(samples)}")
    # a piece already written is read past; reading stops in it: an error without its samples
    assert list(shard_pieces(cut, 10, skip={0})) == [(0, [], True, error)]
    assert list(shard_pieces(shard, 2, skip={0, 1})) == []


def test_decode_unit_rows_and_assembler_write_each_piece_once(tiny, tmp_path):
    model, preprocess, _ = tiny
    shard = synthetic_shards(tmp_path / "sh", 5, n_shards=1, size=(96, 72))[0]
    unit = Unit(index=0, kind="shard", source=str(shard), part_size=2)
    batches = list(decode_unit(unit, preprocess, batch_size=3))
    assert [len(b["id"]) for b in batches] == [3, 2]
    rows = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    assert rows["part"].tolist() == [0, 0, 1, 1, 2] and rows["pos"].tolist() == [0, 1, 0, 1, 0]
    assert rows["part_n"].tolist() == [2, 2, 2, 2, 1] and rows["last"].tolist() == [0, 0, 0, 0, 1]
    dim = feature_dim(model, rows["pixels"][0])
    encoded = [encode_rows(model, b, dim) for b in batches]
    info = model_info(model)
    with ChunkWriter(tmp_path / "c", info, fast_decode=True, max_pixels=10**8) as writer:
        assembler = PieceAssembler(writer, [unit])
        # rows in reverse order, and every batch twice (a retried task): each piece is written once
        for b in [*encoded[::-1], *encoded]:
            assembler.add(b)
        assembler.check_complete()
        assert writer.written == 3 and writer.sources[str(shard)].complete
    ids, feats = load_embeddings(tmp_path / "c")  # chunks in the order the pieces completed
    order = np.argsort(ids)
    assert [ids[i] for i in order] == [f"synthetic_{i:05d}" for i in range(5)]
    np.testing.assert_allclose(feats[order], np.concatenate([b["features"] for b in encoded]), atol=1e-6)


def _embed_shards(tiny, shards, cache, options=None, distributor=None, id_field=None):
    model, preprocess, _ = tiny
    return embed(
        ShardInput(shards, id_field=id_field),
        cache,
        model=model,
        preprocess=preprocess,
        options=options or EmbedOptions(progress=False),
        distributor=distributor or LocalDistributor(workers=0),
    )


def test_shards_embed_like_a_folder_and_resume_by_piece(tiny, tmp_path):
    model, preprocess, _ = tiny
    shards = synthetic_shards(tmp_path / "sh", 12, n_shards=3, size=(96, 72))
    folder = tmp_path / "img"
    folder.mkdir()
    for shard in shards:
        for key, files in iter_samples(shard):
            (folder / f"{key}.jpg").write_bytes(files["jpg"])
    ids = sorted(p.stem for p in folder.iterdir())
    embed_images(model, preprocess, folder, ids, tmp_path / "fold", workers=0, progress=False)
    pattern = f"{tmp_path}/sh/{{00000..00002}}.tar"
    first = _embed_shards(
        tiny, pattern, tmp_path / "c", EmbedOptions(batch_size=2, chunk_size=2, progress=False, max_chunks=3)
    )
    assert first.new == 6 and first.units_done_before == 0 and first.input == "shards"
    names = [p.name for p in chunk_paths(tmp_path / "c" / "random__tiny-seed0")]
    rest = _embed_shards(
        tiny, pattern, tmp_path / "c", EmbedOptions(chunk_size=2, progress=False), LocalDistributor(workers=2)
    )
    assert rest.new == 6 and rest.embedded == 12 and rest.units_done_before == 1 and rest.produced == 12
    assert [p.name for p in chunk_paths(tmp_path / "c" / "random__tiny-seed0")][:3] == names
    again = _embed_shards(tiny, pattern, tmp_path / "c", EmbedOptions(chunk_size=5, progress=False))
    assert again.new == 0 and again.units_done_before == 3 and again.report is None
    a, fa = load_embeddings(tmp_path / "fold")
    b, fb = load_embeddings(tmp_path / "c")
    order = np.argsort(b)
    assert sorted(b) == a and float(np.abs(fb[order] - fa).max()) <= 1e-5
    chunk = read_chunk(chunk_paths(tmp_path / "c" / "random__tiny-seed0")[0])
    assert str(chunk["source"][0]) == str(shards[0]) and int(chunk["part_size"][0]) == 2


def test_duplicate_ids_are_stored_once(tiny, tmp_path):
    model, preprocess, _ = tiny
    one = _tar(tmp_path / "0.tar", [("x.jpg", _jpeg(1)), ("y.jpg", _jpeg(2))])
    two = _tar(tmp_path / "1.tar", [("x.jpg", _jpeg(3)), ("z.jpg", b"not an image")])
    out = _embed_shards(tiny, [one, two], tmp_path / "c")
    assert out.embedded == 2 and out.skipped == 1
    assert out.duplicates == [("x", f"{two} part 0")]
    report = load_report(tmp_path / "c")
    assert sorted(report["image_id"]) == ["x", "y", "z"]
    assert "(sample 'z' of shard" in report.set_index("image_id").loc["z", "reason"]


def test_read_coords_csv_and_parquet(tmp_path):
    csv = tmp_path / "c.csv"
    csv.write_text("IMAGE_ID,Latitude,lng,extra\na,1.5,2,x\n\nb,-3,4,y\n")
    df = read_coords(csv)
    assert df.to_dict("list") == {"image_id": ["a", "b"], "lat": [1.5, -3.0], "lon": [2.0, 4.0]}
    pq = tmp_path / "c.parquet"
    pd.DataFrame({"key": ["a", "b"], "lat": [1.0, 95.0], "lon": [0.0, 0.0]}).to_parquet(pq)
    with pytest.raises(InputError, match=r"row 1 \(0-based\): lat '95.0' is out of range \[-90, 90\]"):
        read_coords(pq)
    for text, message in [
        ("id,lat,lon\na,1,2\na,3,4\n", r"'a' appears 2 times \(lines 2, 3\)"),
        ("id,lat,lon\na,1,x\n", r"line 2: lon 'x' is not a number"),
        ("id,lat,lon\na,nan,1\n", "line 2: lat 'nan'"),
        ("id,lat\na,1\n", "line 1: missing column 'lon'"),
        ("id,lat,lon\n,1,2\n", "line 2 has a blank id"),
        ("id,lat,lon\na,1,2,3\n", "line 2 has 4 fields"),
    ]:
        csv.write_text(text)
        with pytest.raises(InputError, match=message):
            read_coords(csv)


def test_cli_embeds_shards_with_coords_and_refuses_nonsense(tmp_path):
    synthetic_shards(tmp_path / "sh", 6, n_shards=2, size=(96, 72))
    coords = tmp_path / "coords.csv"
    coords.write_text("id,lat,lon\nsynthetic_00000,48.8,2.3\nsynthetic_00001,-33.9,18.4\nelsewhere,0,0\n")
    pattern = f"{tmp_path}/sh/{{00000..00001}}.tar"
    base = ["embed", "--model", "tiny", "--device", "cpu", "--out", str(tmp_path / "c"), "--no-progress"]
    r = CliRunner().invoke(app, [*base, "--shards", pattern, "--coords", str(coords), "--chunk-size", "2"])
    assert r.exit_code == 0, r.output
    assert "6 images embedded, 0 skipped in the cache (6 written by this run)" in r.output
    assert "coordinates: 2 embedded images have them, 4 do not; 1 rows of --coords name no" in r.output
    assert load_coords(tmp_path / "c").to_dict("list") == {
        "image_id": ["synthetic_00000", "synthetic_00001"],
        "lat": [48.8, -33.9],
        "lon": [2.3, 18.4],
    }
    r = CliRunner().invoke(app, [*base, "--shards", pattern])
    assert r.exit_code == 0 and "2 of 2 shards were complete before this run" in r.output
    ids = tmp_path / "ids.csv"
    ids.write_text("id\na\n")
    for extra, message in [
        (
            ["--shards", pattern, "--images", str(tmp_path), "--ids", str(ids)],
            "--images and --shards are two",
        ),
        ([], "give the images: --images FOLDER --ids FILE, or --shards PATTERN"),
        (["--images", str(tmp_path)], "--images needs --ids"),
        (["--shards", pattern, "--ids", str(ids)], "--ids is for --images"),
        (["--images", str(tmp_path), "--ids", str(ids), "--id-field", "key"], "--id-field is for --shards"),
        (["--shards", pattern, "--ray-address", "127.0.0.1:6379"], "--ray-address joins a Ray cluster: add"),
        (["--shards", pattern, "--backend", "ray", "--workers", "2"], "--workers is for --backend local"),
        (["--shards", pattern, "--actors", "2"], "--actors is for --backend ray"),
        (["--shards", pattern, "--backend", "spark"], "--backend 'spark' is not one of local, ray"),
        (["--shards", pattern, "--no-retry-skipped"], "--no-retry-skipped is for --images"),
        (["--shards", f"{tmp_path}/sh/{{00000..00002}}.tar"], "1 of the 3 shards"),
        (["--shards", pattern, "--coords", str(tmp_path / "none.csv")], "coordinates file .* does not exist"),
    ]:
        r = CliRunner().invoke(app, [*base, *extra])
        assert r.exit_code == 2, (extra, r.output)
        assert len(r.output.strip().splitlines()) == 1 and r.output.startswith("error: "), r.output
        assert re.search(message, r.output), (message, r.output)


def test_chunk_writer_is_the_one_writer_and_reads_without_features(tiny, tmp_path):
    model, _, _ = tiny
    info = model_info(model)
    with ChunkWriter(tmp_path, info, fast_decode=True, max_pixels=10**8) as w:
        w.write(["a", "b"], np.eye(2, 32, dtype=np.float32), ["c"], ["missing file"])
        w.write(["a", "d"], np.eye(2, 32, dtype=np.float32), [], [])  # a again: dropped, listed
    assert w.duplicates == [("a", "this run")]
    folder = tmp_path / "random__tiny-seed0"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (manifest["n_ok"], manifest["n_skipped"], manifest["dim"]) == (3, 1, 32)
    light = read_chunk(chunk_paths(folder)[1], features=False)
    assert "features" not in light and light["features_shape"].tolist() == [1, 32]
    assert light["duplicate_ids"].tolist() == ["a"]
    with pytest.raises(ConfigError, match="was made with preprocess="):
        ChunkWriter(tmp_path, info, fast_decode=False, max_pixels=10**8).__enter__()
    assert not (folder / ".lock").exists()


def test_the_manifest_counts_what_the_chunks_hold_after_every_write_and_a_resume(tiny, tmp_path):
    """The manifest's counts and chunk list are kept as chunks come (not recounted): after every write, and
    after a resume that embeds an image skipped before (a retry), they equal a count over the chunk files."""
    model, _, _ = tiny
    info = model_info(model)
    folder = tmp_path / "random__tiny-seed0"

    def recount() -> tuple[int, int, list[str]]:
        status: dict[str, str] = {}
        for p in chunk_paths(folder):  # in order: a later chunk's status wins
            c = read_chunk(p, features=False)
            status |= dict.fromkeys(c["ids"].tolist(), "ok") | dict.fromkeys(
                c["skipped_ids"].tolist(), "skipped"
            )
        seen = list(status.values())
        return seen.count("ok"), seen.count("skipped"), [p.name for p in chunk_paths(folder)]

    def manifest() -> tuple[int, int, list[str]]:
        m = json.loads((folder / "manifest.json").read_text())
        return m["n_ok"], m["n_skipped"], m["chunks"]

    feats = np.eye(3, 32, dtype=np.float32)
    with ChunkWriter(tmp_path, info, fast_decode=True, max_pixels=10**8) as w:
        w.write(["a", "b"], feats[:2], ["c", "d"], ["missing file", "truncated"])
        assert manifest() == recount() == (2, 2, ["chunk_00000.npz"])
        w.write(["e"], feats[:1], [], [])
        assert manifest() == recount() == (3, 2, ["chunk_00000.npz", "chunk_00001.npz"])
    with ChunkWriter(tmp_path, info, fast_decode=True, max_pixels=10**8) as w:
        w.write(["c"], feats[:1], ["f"], ["missing file"])  # c was skipped: now embedded
        assert manifest() == recount() == (4, 2, ["chunk_00000.npz", "chunk_00001.npz", "chunk_00002.npz"])
    assert manifest() == recount()


@pytest.mark.slow
def test_without_ray_the_package_imports_and_ray_runs_name_the_extra(tmp_path):
    """The scale extra is optional: with Ray unimportable, the package and the CLI load, and asking for the
    Ray backend is one line naming the extra (exit status 2)."""
    import subprocess
    import sys

    synthetic_shards(tmp_path / "sh", 2, n_shards=1, size=(64, 48))
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "import geoclip_utils.engine.distributed, geoclip_utils.engine.shards\n"
        "from geoclip_utils.cli import main\n"
        f"sys.argv = ['geoclip', 'embed', '--shards', '{tmp_path}/sh/00000.tar', '--model', 'tiny',"
        f" '--out', '{tmp_path}/c', '--backend', 'ray']\n"
        "main()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        "error: --backend ray needs Ray Data (ray): install the 'scale' extra, "
        "pip install 'geoclip-utils[scale]' (make setup installs it)"
    ]
    assert not (tmp_path / "c").exists()


def test_scale_projection_is_bound_by_the_slower_of_gpu_and_decoding():
    from geoclip_utils.bench.scale import project_hours

    gpu = project_hours(5_000_000, 8, 312.0, 0.01, 8, 1.0)  # decoders: 800 img/s per GPU > 312
    assert {k: gpu[k] for k in ("per_gpu_img_per_s", "bound", "hours")} == {
        "per_gpu_img_per_s": 312.0,
        "bound": "gpu",
        "hours": round(5e6 / (8 * 312) / 3600, 2),
    }
    dec = project_hours(5_000_000, 1, 1500.0, 0.01, 8, 0.5)  # decoders 800 img/s < 1500, halved by overhead
    assert dec["bound"] == "decode" and dec["per_gpu_img_per_s"] == 400.0 and dec["hours"] == 3.47


def test_resuming_shards_with_another_id_field_is_refused(tiny, tmp_path):
    """Issue 21: rerunning `embed --shards` with another --id-field said "all shards complete" and kept the
    old ids; the id field is part of the settings record, in the manifest and in every chunk."""
    shards = synthetic_shards(tmp_path / "sh", 4, n_shards=2, size=(64, 48))
    _embed_shards(tiny, shards, tmp_path / "c")
    with pytest.raises(
        ConfigError, match=r"was made with id_field=None but this run has id_field='key' \(--id-field\)"
    ):
        _embed_shards(tiny, shards, tmp_path / "c", id_field="key")
    folder = tmp_path / "c" / "random__tiny-seed0"
    chunk = read_chunk(chunk_paths(folder)[0], features=False)
    assert json.loads(str(chunk["settings"][0]))["id_field"] is None
    # with the manifest gone, the chunks still say how they were made
    (folder / "manifest.json").unlink()
    base = ["embed", "--model", "tiny", "--device", "cpu", "--out", str(tmp_path / "c"), "--no-progress"]
    r = CliRunner().invoke(
        app, [*base, "--shards", f"{tmp_path}/sh/{{00000..00001}}.tar", "--id-field", "key"]
    )
    assert r.exit_code == 2, r.output
    assert re.search(r"embedding cache chunk .*chunk_00000.npz was made with id_field=None", r.output), (
        r.output
    )
    again = _embed_shards(tiny, shards, tmp_path / "c")
    assert again.new == 0 and again.units_done_before == 2  # the same settings resume (the manifest rebuilt)
    assert (folder / "manifest.json").is_file()


def test_shards_that_yield_no_image_exit_2(tmp_path):
    """Issue 21: `embed` with 0 images embedded exited 0."""
    _tar(tmp_path / "0.tar", [("a.txt", b"caption only"), ("b.jpg", b"not an image")])
    base = ["embed", "--model", "tiny", "--device", "cpu", "--out", str(tmp_path / "c"), "--no-progress"]
    r = CliRunner().invoke(app, [*base, "--shards", str(tmp_path / "0.tar")])
    assert r.exit_code == 2, r.output
    assert "0 images embedded, 2 skipped in the cache" in r.output
    assert r.output.strip().splitlines()[-1].startswith("error: nothing was embedded: the cache")


def test_a_slice_of_ids_is_decoded_in_tasks_and_written_as_one_chunk(tiny, tmp_path):
    """A folder's unit (a slice of ids) is split into tasks of one batch each, which any decoder can take:
    rows keep their place in the slice, and the slice becomes one chunk once every task is in."""
    from geoclip_utils.engine import synthetic_photos

    model, preprocess, _ = tiny
    ids = synthetic_photos(tmp_path / "img", 5, size=(64, 48))
    unit = Unit(index=0, kind="ids", source=str(tmp_path / "img"), ids=(*ids[:4], "missing"))
    tasks = unit.tasks(2)
    assert [(t.start, t.ids, t.piece_n) for t in tasks] == [
        (0, tuple(ids[:2]), 5),
        (2, tuple(ids[2:4]), 5),
        (4, ("missing",), 5),
    ]
    assert Unit.from_json(tasks[1].to_json()) == tasks[1]
    batches = [encode_rows(model, b) for t in tasks for b in decode_unit(t, preprocess, batch_size=2)]
    assert [b["pos"].tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    assert all(b["part_n"].tolist() == [5] * len(b["pos"]) for b in batches)
    assert batches[2]["features"].shape == (1, 0)  # no image decoded in that batch: no width needed
    with ChunkWriter(tmp_path / "c", model_info(model)) as writer:
        assembler = PieceAssembler(writer, [unit])
        for b in batches[::-1]:
            assembler.add(b)
            assert writer.written == (1 if b is batches[0] else 0)
        assembler.check_complete()
    chunk = read_chunk(chunk_paths(tmp_path / "c" / "random__tiny-seed0")[0])
    assert chunk["ids"].tolist() == ids[:4] and chunk["skipped_ids"].tolist() == ["missing"]
