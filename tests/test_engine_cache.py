"""The embedding cache (engine/cache.py) and its settings record (engine/settings.py): every setting that changes
what a cache holds is recorded in the manifest and in every chunk and compared on resume; caches written by
earlier versions (built here by hand, file by file, in their exact layout) still classify and resume."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from geoclip_utils.cli import app
from geoclip_utils.engine import EmbedSettings, load_embeddings, load_model, load_report
from geoclip_utils.engine.cache import chunk_paths, model_cache_dir, read_chunk
from geoclip_utils.engine.images import DEFAULT_MAX_PIXELS, decode_image, find_image
from geoclip_utils.engine.models import encode_image_batch, model_info
from geoclip_utils.engine.settings import FAST_DECODE, recorded_settings
from geoclip_utils.engine.synthetic import make_demo_images, synthetic_shards
from geoclip_utils.errors import ConfigError

MODEL_DIR = "random__tiny-seed0"


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny", device="cpu")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_images(tmp_path_factory.mktemp("demo"), n_per_label=4)


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _features(model, preprocess, images: list) -> np.ndarray:
    """Features as every version computes them (fast JPEG decoding, L2-normalised float32)."""
    res = model_info(model).input_resolution
    x = torch.stack([decode_image(im, preprocess, draft_size=2 * res)[0] for im in images])
    return encode_image_batch(model, x).numpy().astype(np.float32)


def _old_manifest(info, chunks: list[str], dim: int, n_ok: int, layout: str) -> dict:
    """The manifest of a cache written before the settings record had ``id_field`` (layout ``"eace6c3"``),
    or before it existed at all (``"first"``: the settings at the manifest's top level only)."""
    preprocess = "clip._transform" + FAST_DECODE
    manifest = {
        "format": 1,
        "model_id": info.model_id,
        "dim": dim,
        "dtype": "float32",
        "normalised": True,
        "chunks": chunks,
        "n_ok": n_ok,
        "n_skipped": 0,
        "model_source": info.source,
        "input_resolution": info.input_resolution,
        "preprocess": preprocess,
        "max_pixels": DEFAULT_MAX_PIXELS,
    }
    if layout == "eace6c3":
        manifest["settings"] = {
            "model_id": info.model_id,
            "backend": "openai",
            "model_checksum": info.checksum,
            "precision": info.precision,
            "input_resolution": info.input_resolution,
            "preprocess": preprocess,
            "max_pixels": DEFAULT_MAX_PIXELS,
            "format": 1,
        }
    return manifest


def _write_old_folder_cache(cache, tiny, demo, ids: list[str], per_chunk: int, layout: str) -> dict:
    """A folder cache in an old layout: chunks of ``ids``, ``features``, ``skipped_ids``, ``skipped_reasons``
    only (no settings record), the old manifest, the report."""
    model, preprocess, _ = tiny
    info = model_info(model)
    folder = model_cache_dir(cache, info.model_id)
    folder.mkdir(parents=True)
    feats = _features(model, preprocess, [find_image(demo.image_dir, i) for i in ids])
    names = []
    for n, s in enumerate(range(0, len(ids), per_chunk)):
        names.append(f"chunk_{n:05d}.npz")
        np.savez(
            folder / names[-1],
            ids=np.array(ids[s : s + per_chunk]),
            features=feats[s : s + per_chunk],
            skipped_ids=np.zeros(0, dtype="<U1"),
            skipped_reasons=np.zeros(0, dtype="<U1"),
        )
    manifest = _old_manifest(info, names, feats.shape[1], len(ids), layout)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    (folder / "report.csv").write_text("image_id,status,reason\n" + "".join(f"{i},ok,\n" for i in ids))
    return {"folder": folder, "features": dict(zip(ids, feats, strict=True))}


@pytest.mark.parametrize("layout", ["eace6c3", "first"])
def test_a_cache_of_an_older_version_classifies_and_resumes(layout, tiny, demo, tmp_path):
    ids = [line.split(",")[0] for line in demo.ids_csv.read_text().splitlines()[1:]]
    old = _write_old_folder_cache(tmp_path / "cache", tiny, demo, ids[:12], 6, layout)
    folder = old["folder"]
    stamps = {p.name: p.read_bytes() for p in chunk_paths(folder)}
    # it classifies as it did
    r = _cli("classify", "--cache", tmp_path / "cache", "--labels", demo.labels_txt, "--gold", demo.ids_csv,
             "--experiment", "mine", "--out", tmp_path / "res", "--device", "cpu")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "mine: 12 images (8 not in the cache)" in r.output
    # a resume with another preprocessing is refused: the old manifest recorded it
    embed = ["embed", "--images", demo.image_dir, "--ids", demo.ids_csv, "--model", "tiny", "--device", "cpu",
             "--out", tmp_path / "cache", "--workers", 0, "--no-progress", "--chunk-size", 6]  # fmt: skip
    r = _cli(*embed, "--exact-preprocess")
    assert r.exit_code == 2 and "was made with preprocess=" in r.output, r.output
    # it resumes with the same settings: the old chunks are kept as they are, the rest is added
    r = _cli(*embed)
    assert r.exit_code == 0, r.output
    assert "20 images embedded, 0 skipped" in r.output
    assert {p.name: p.read_bytes() for p in chunk_paths(folder)[:2]} == stamps
    got, feats = load_embeddings(tmp_path / "cache")
    assert got == ids
    for i, f in zip(got[:12], feats[:12], strict=True):
        assert np.array_equal(f, old["features"][i])
    fresh = _features(tiny[0], tiny[1], [find_image(demo.image_dir, i) for i in ids[12:]])
    assert float(np.abs(feats[12:] - fresh).max()) < 1e-5
    new_chunks = [read_chunk(p, features=False) for p in chunk_paths(folder)[2:]]
    assert len(new_chunks) == 2 and all("settings" in c for c in new_chunks)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["settings"]["id_field"] is None and manifest["n_ok"] == 20
    assert manifest["settings"]["preprocess"] == "clip._transform" + FAST_DECODE
    assert len(load_report(tmp_path / "cache")) == 20
    # and it classifies all 20 now
    r = _cli("classify", "--cache", tmp_path / "cache", "--labels", demo.labels_txt, "--gold", demo.ids_csv,
             "--experiment", "mine", "--out", tmp_path / "res", "--device", "cpu")  # fmt: skip
    assert r.exit_code == 0 and "mine: 20 images (0 not in the cache)" in r.output, r.output


def test_an_old_cache_without_its_manifest_is_not_resumed_blindly(tiny, demo, tmp_path):
    """Issue 21: after "delete it and rerun", a resume with other settings mixed features, because chunk
    files did not record theirs. Old chunks without a manifest cannot be checked: refused, saying why."""
    ids = [line.split(",")[0] for line in demo.ids_csv.read_text().splitlines()[1:]]
    old = _write_old_folder_cache(tmp_path / "cache", tiny, demo, ids[:6], 6, "eace6c3")
    (old["folder"] / "manifest.json").unlink()
    model, preprocess, _ = tiny
    from geoclip_utils.engine import embed_images

    with pytest.raises(
        ConfigError, match=r"has no manifest, and its chunk chunk_00000.npz \(written by an older"
    ):
        embed_images(model, preprocess, demo.image_dir, ids, tmp_path / "cache", workers=0, progress=False)


def test_every_chunk_records_the_settings_and_a_lost_manifest_cannot_mix_them(tiny, demo, tmp_path):
    model, preprocess, _ = tiny
    from geoclip_utils.engine import embed_images

    ids = [line.split(",")[0] for line in demo.ids_csv.read_text().splitlines()[1:]]
    cache = tmp_path / "cache"
    embed_images(model, preprocess, demo.image_dir, ids[:8], cache, chunk_size=4, workers=0, progress=False)
    folder = model_cache_dir(cache, "random/tiny-seed0")
    record = EmbedSettings.of(model_info(model), fast_decode=True)
    for p in chunk_paths(folder):
        assert json.loads(str(read_chunk(p, features=False)["settings"][0])) == record.to_dict()
    # a broken manifest says what to do, and doing it is safe
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(Exception, match=r"manifest .* is unreadable .*delete that file and rerun the same"):
        embed_images(model, preprocess, demo.image_dir, ids, cache, workers=0, progress=False)
    (folder / "manifest.json").unlink()
    with pytest.raises(
        ConfigError,
        match=r"embedding cache chunk .*chunk_00000.npz was made with preprocess='clip._transform \+ JPEG draft "
        r">= 2x resolution' but this run has preprocess='clip._transform' \(--exact-preprocess\)",
    ):
        embed_images(
            model, preprocess, demo.image_dir, ids, cache, workers=0, progress=False, fast_decode=False
        )
    assert len(chunk_paths(folder)) == 2  # nothing written by the refused run
    report = embed_images(
        model, preprocess, demo.image_dir, ids, cache, chunk_size=4, workers=0, progress=False
    )
    assert (report["status"] == "ok").all() and len(chunk_paths(folder)) == 5
    assert recorded_settings(json.loads((folder / "manifest.json").read_text())) == {
        **record.to_dict(),
        "model_id": "random/tiny-seed0",
    }


def test_an_old_shard_cache_resumes_shard_by_shard(tiny, tmp_path):
    """A shard cache of the eace6c3 layout (piece arrays, no settings record): complete shards are not reread,
    a partly written shard continues after its pieces."""
    from geoclip_utils.engine import EmbedOptions, LocalDistributor, ShardInput, embed
    from geoclip_utils.engine.shards import shard_pieces

    model, preprocess, _ = tiny
    info = model_info(model)
    shards = synthetic_shards(tmp_path / "sh", 8, n_shards=2, size=(64, 48))
    folder = model_cache_dir(tmp_path / "cache", info.model_id)
    folder.mkdir(parents=True)
    names, n_ok = [], 0
    # shard 0 complete (two pieces of 2), shard 1: its first piece only
    written = [(shards[0], 0), (shards[0], 1), (shards[1], 0)]
    for n, (shard, part) in enumerate(written):
        pieces = {p: (samples, last) for p, samples, last, _ in shard_pieces(shard, 2)}
        samples, last = pieces[part]
        feats = _features(model, preprocess, [io.BytesIO(data) for _, data, _ in samples])
        names.append(f"chunk_{n:05d}.npz")
        np.savez(
            folder / names[-1],
            ids=np.array([i for i, _, _ in samples]),
            features=feats,
            skipped_ids=np.zeros(0, dtype="<U1"),
            skipped_reasons=np.zeros(0, dtype="<U1"),
            source=np.array([str(shard)]),
            part=np.array([part], dtype=np.int64),
            part_size=np.array([2], dtype=np.int64),
            last=np.array([last]),
            source_error=np.array([""]),
        )
        n_ok += len(samples)
    manifest = _old_manifest(info, names, 32, n_ok, "eace6c3")
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    before = {p.name: p.read_bytes() for p in chunk_paths(folder)}
    out = embed(
        ShardInput(shards),
        tmp_path / "cache",
        model=model,
        preprocess=preprocess,
        options=EmbedOptions(chunk_size=4, progress=False),
        distributor=LocalDistributor(workers=0),
    )
    assert (out.units_done_before, out.new, out.embedded) == (1, 2, 8)
    assert {p.name: p.read_bytes() for p in chunk_paths(folder)[:3]} == before
    last = read_chunk(chunk_paths(folder)[3], features=False)
    assert int(last["part"][0]) == 1 and int(last["part_size"][0]) == 2  # the started shard kept its pieces
    assert re.fullmatch(r"synthetic_0000[67]", " ".join(last["ids"].tolist()).split()[0])
