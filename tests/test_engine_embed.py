"""Tests of the folder path of the engine: id lists, bad images (engine/images.py), the chunked cache, resume
after kill -9 (engine/runner.py), texts (engine/text.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from geoclip_utils.engine import cache as emb_cache
from geoclip_utils.engine import images, models, runner, text
from geoclip_utils.errors import ConfigError, DataError, InputError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny():
    return models.load_model("tiny", device="cpu")


def _photo(seed: int, size=(160, 120)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w, h = size
    img = np.zeros((h, w, 3), np.float32) + rng.uniform(30, 220, 3)
    img[: h // 2] = rng.uniform(30, 220, 3)
    img += rng.normal(0, 10, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _png_header_only(path: Path, w: int, h: int) -> None:
    """A PNG whose header claims w x h pixels (a decompression bomb's signature), with a tiny body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def _embed_one(model, preprocess, im: Image.Image) -> np.ndarray:
    return models.encode_image_batch(model, preprocess(im)[None]).numpy()[0]


# --------------------------------------------------------------------------- id lists


@pytest.mark.parametrize(
    "text",
    ["image_id,label\na,X\nb,Y\n", "id\na\nb\n", "a,X\nb,Y\n", "label\timage_id\nX\ta\nY\tb\n", "a\nb\n\n"],
)
def test_read_ids_variants(tmp_path, text):
    p = tmp_path / "ids.csv"
    p.write_text(text)
    assert images.read_ids(p) == ["a", "b"]


def test_read_ids_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        images.read_ids(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("\n")
    with pytest.raises(InputError, match="empty"):
        images.read_ids(tmp_path / "empty.csv")
    (tmp_path / "dup.csv").write_text("id\na\nb\na\n")
    with pytest.raises(InputError, match=r"'a' appears 2 times \(lines 2, 4\)"):
        images.read_ids(tmp_path / "dup.csv")
    (tmp_path / "head.csv").write_text("image_id\n")
    with pytest.raises(InputError, match="no ids"):
        images.read_ids(tmp_path / "head.csv")


# --------------------------------------------------------------------------- bad images


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """Every kind of awkward image file, made with PIL."""
    d = tmp_path_factory.mktemp("zoo")
    rgb = Image.fromarray(_photo(0))
    rgb.save(d / "rgb.jpg", quality=95)
    rgb.save(d / "png_rgb.png")
    rgb.convert("L").save(d / "gray.jpg", quality=95)
    rgb.convert("CMYK").save(d / "cmyk.jpg", quality=95)
    rgb.convert("P", palette=Image.Palette.ADAPTIVE).save(d / "palette.png")
    pal = rgb.convert("P", palette=Image.Palette.ADAPTIVE)
    pal.info["transparency"] = 0
    pal.save(d / "palette_transparent.png", transparency=0)
    rgba = rgb.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(d / "rgba.png")
    arr16 = (np.asarray(rgb.convert("L")).astype(np.uint16) * 257).astype(np.uint16)
    Image.fromarray(arr16).save(d / "sixteen.png")  # 16-bit grayscale PNG (mode I;16 or I)
    big = np.tile(_photo(1)[:, :, 0], (38, 38))[:4500, :6000]
    Image.fromarray(np.ascontiguousarray(big)).save(d / "large.jpg", quality=80)  # 27 MP
    _png_header_only(d / "bomb.png", 60_000, 60_000)  # 3.6 gigapixels claimed
    data = (d / "rgb.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (d / "random.jpg").write_bytes(np.random.default_rng(0).bytes(5000))
    (d / "empty.jpg").write_bytes(b"")
    (d / "upper.JPEG").write_bytes(data)
    return d


OK = ["rgb", "png_rgb", "gray", "cmyk", "palette", "palette_transparent", "rgba", "sixteen", "large", "upper"]
SKIPPED = {
    "bomb": "too large",
    "truncated": "truncated",
    "random": "not an image",
    "empty": "not an image",
    "missing": "missing file",
    "../zoo/rgb": "invalid image id",
}


def test_every_bad_image_kind_is_embedded_or_skipped_with_reason(tiny, zoo, tmp_path):
    model, preprocess, model_id = tiny
    ids = OK + list(SKIPPED)
    report = runner.embed_images(
        model, preprocess, zoo, ids, tmp_path / "cache", batch_size=4, workers=0, progress=False
    )
    assert report["image_id"].tolist() == ids  # one row per id, input order: nothing dropped
    status = dict(zip(report["image_id"], report["status"], strict=True))
    reason = dict(zip(report["image_id"], report["reason"], strict=True))
    assert all(status[i] == "ok" for i in OK), report
    for i, why in SKIPPED.items():
        assert status[i] == "skipped" and why in reason[i], (i, reason[i])
    got_ids, feats = emb_cache.load_embeddings(tmp_path / "cache")
    assert sorted(got_ids) == sorted(OK)
    assert feats.dtype == np.float32 and np.allclose(np.linalg.norm(feats, axis=1), 1, atol=1e-5)
    f = dict(zip(got_ids, feats, strict=True))
    # conversions are the right ones: compare with the reference conversion of the same pixels
    gray = Image.open(zoo / "gray.jpg").convert("RGB")
    assert np.allclose(f["gray"], _embed_one(model, preprocess, gray), atol=1e-5)
    arr = np.asarray(Image.open(zoo / "sixteen.png")).astype(np.float64) / 257
    ref = Image.fromarray(np.rint(arr).astype(np.uint8), "L").convert("RGB")
    assert np.allclose(f["sixteen"], _embed_one(model, preprocess, ref), atol=1e-5)
    # a 16-bit image is not saturated to white: it embeds like its 8-bit version
    eight = Image.fromarray(_photo(0)).convert("L").convert("RGB")
    assert np.array_equal(np.asarray(ref), np.asarray(eight))
    white = Image.new("RGB", eight.size, (255, 255, 255))
    assert float(f["sixteen"] @ _embed_one(model, preprocess, white)) < 0.99
    assert np.allclose(f["rgb"], f["upper"])  # .JPEG suffix found
    cmyk = Image.open(zoo / "cmyk.jpg").convert("RGB")
    assert np.allclose(f["cmyk"], _embed_one(model, preprocess, cmyk), atol=1e-5)
    # the report is also on disk, and load_report agrees
    on_disk = pd.read_csv(Path(report.attrs["cache"]) / "report.csv", keep_default_na=False)
    assert set(on_disk["image_id"]) == set(ids)
    assert (
        emb_cache.load_report(tmp_path / "cache").set_index("image_id").loc[ids, "status"]
        == report["status"].values
    ).all()


def test_max_pixels_guard_and_exact_preprocess(tiny, zoo, tmp_path):
    model, preprocess, _ = tiny
    report = runner.embed_images(
        model,
        preprocess,
        zoo,
        ["large", "rgb"],
        tmp_path / "c1",
        workers=0,
        progress=False,
        max_pixels=1_000_000,
    )
    assert report["status"].tolist() == ["skipped", "ok"] and "max_pixels" in report["reason"][0]
    # fast (draft) decoding of a big JPEG stays close to the exact, full-resolution preprocessing
    fast = runner.embed_images(model, preprocess, zoo, ["large"], tmp_path / "c2", workers=0, progress=False)
    assert fast["status"].tolist() == ["ok"]
    exact = runner.embed_images(
        model, preprocess, zoo, ["large"], tmp_path / "c3", workers=0, progress=False, fast_decode=False
    )
    assert exact["status"].tolist() == ["ok"]
    a, b = emb_cache.load_embeddings(tmp_path / "c2")[1], emb_cache.load_embeddings(tmp_path / "c3")[1]
    assert float((a @ b.T)[0, 0]) > 0.999


def test_open_rgb_does_not_touch_pil_global_limit(zoo):
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(images.ImageSkipped):
        images.open_rgb(zoo / "bomb.png")
    assert Image.MAX_IMAGE_PIXELS == before


def test_input_errors(tiny, tmp_path):
    model, preprocess, _ = tiny
    with pytest.raises(InputError, match="does not exist"):
        runner.embed_images(model, preprocess, tmp_path / "nope", ["a"], tmp_path / "c", progress=False)
    with pytest.raises(InputError, match="empty"):
        runner.embed_images(model, preprocess, tmp_path, [], tmp_path / "c", progress=False)
    with pytest.raises(InputError, match="duplicated"):
        runner.embed_images(model, preprocess, tmp_path, ["a", "a"], tmp_path / "c", progress=False)
    with pytest.raises(ConfigError):
        runner.embed_images(model, preprocess, tmp_path, ["a"], tmp_path / "c", batch_size=0, progress=False)
    with pytest.raises(DataError, match="does not exist"):
        emb_cache.load_embeddings(tmp_path / "no-cache")


# --------------------------------------------------------------------------- cache and resume


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    ids = [f"p{i:03d}" for i in range(48)]
    for n, i in enumerate(ids):
        Image.fromarray(_photo(100 + n)).save(d / f"{i}.jpg", quality=90)
    (d / "ids.csv").write_text("image_id\n" + "\n".join(ids) + "\n")
    return d, ids


def test_chunks_manifest_and_rerun_is_a_no_op(tiny, photos, tmp_path):
    model, preprocess, model_id = tiny
    d, ids = photos
    cache = tmp_path / "cache"
    runner.embed_images(
        model, preprocess, d, d / "ids.csv", cache, batch_size=8, workers=1, chunk_size=16, progress=False
    )
    folder = emb_cache.model_cache_dir(cache, model_id)
    chunks = sorted(folder.glob("chunk_*.npz"))
    assert [c.name for c in chunks] == ["chunk_00000.npz", "chunk_00001.npz", "chunk_00002.npz"]
    with np.load(chunks[0], allow_pickle=False) as z:
        assert z["features"].dtype == np.float32 and z["ids"].dtype.kind == "U"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model_id"] == model_id and manifest["n_ok"] == 48 and manifest["dim"] == 32
    assert manifest["model_source"] == "tiny" and manifest["normalised"] is True
    stamps = {c.name: c.stat().st_mtime_ns for c in chunks}
    got, feats = emb_cache.load_embeddings(cache)
    assert got == ids and feats.shape == (48, 32)
    # rerun: nothing redone
    report = runner.embed_images(
        model, preprocess, d, ids, cache, batch_size=8, workers=0, chunk_size=16, progress=False
    )
    assert (report["status"] == "ok").all()
    assert {c.name: c.stat().st_mtime_ns for c in sorted(folder.glob("chunk_*.npz"))} == stamps
    # subset selection and ordering
    sub, fsub = emb_cache.load_embeddings(cache, ids=["p010", "p002", "zzz"])
    assert sub == ["p010", "p002"] and np.array_equal(fsub[0], feats[10])
    # a second model goes to its own folder; then the model must be named
    other = models.load_model(models.save_tiny_clip(tmp_path / "t.pt", seed=1), device="cpu")
    runner.embed_images(other[0], other[1], d, ids[:8], cache, workers=0, progress=False)
    with pytest.raises(ConfigError, match="several models"):
        emb_cache.load_embeddings(cache)
    assert len(emb_cache.load_embeddings(cache, model_id=other[2])[0]) == 8


def test_chunk_of_skipped_images_only(tiny, photos, tmp_path):
    model, preprocess, _ = tiny
    d, ids = photos
    wanted = ["gone1", "gone2"] + ids[:3]
    report = runner.embed_images(
        model, preprocess, d, wanted, tmp_path / "c", chunk_size=2, batch_size=2, workers=0, progress=False
    )
    assert report["status"].tolist() == ["skipped", "skipped", "ok", "ok", "ok"]
    got, feats = emb_cache.load_embeddings(tmp_path / "c")
    assert got == ids[:3] and feats.shape == (3, 32)


def test_unreadable_chunk_is_a_clear_error(tiny, photos, tmp_path):
    model, preprocess, model_id = tiny
    d, ids = photos
    runner.embed_images(
        model, preprocess, d, ids[:8], tmp_path / "c", chunk_size=4, batch_size=4, workers=0, progress=False
    )
    chunk = emb_cache.model_cache_dir(tmp_path / "c", model_id) / "chunk_00001.npz"
    chunk.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="chunk_00001.npz"):
        emb_cache.load_embeddings(tmp_path / "c")


def test_lock_held_by_a_live_process_is_refused(tiny, photos, tmp_path):
    model, preprocess, model_id = tiny
    d, ids = photos
    folder = emb_cache.model_cache_dir(tmp_path / "c", model_id)
    folder.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (folder / ".lock").write_text(str(sleeper.pid))
        with pytest.raises(ConfigError, match="in use"):
            runner.embed_images(model, preprocess, d, ids[:4], tmp_path / "c", workers=0, progress=False)
    finally:
        sleeper.kill()
        sleeper.wait()
    report = runner.embed_images(model, preprocess, d, ids[:4], tmp_path / "c", workers=0, progress=False)
    assert (report["status"] == "ok").all()  # the dead process's lock was taken over


RESUME_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from geoclip_utils.engine import models, runner
    ckpt, image_dir, cache = sys.argv[1:4]
    model, preprocess, _ = models.load_model(ckpt, device="cpu")
    def slow(im):
        time.sleep(0.04)
        return preprocess(im)
    runner.embed_images(model, slow, image_dir, image_dir + "/ids.csv", cache,
                       batch_size=4, workers=0, chunk_size=8, progress=False)
    """
)


@pytest.mark.slow
def test_resume_after_kill_minus_9(photos, tmp_path):
    d, ids = photos
    ckpt = models.save_tiny_clip(tmp_path / "tiny.pt")
    model, preprocess, model_id = models.load_model(ckpt, device="cpu")
    cache = tmp_path / "cache"
    folder = emb_cache.model_cache_dir(cache, model_id)
    script = tmp_path / "run.py"
    script.write_text(RESUME_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), str(ckpt), str(d), str(cache)], env=env)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(list(folder.glob("chunk_*.npz"))) < 2:
            time.sleep(0.02)
            assert proc.poll() is None, "the embedding run ended before it could be interrupted"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = {c.name: (c.stat().st_mtime_ns, c.read_bytes()) for c in folder.glob("chunk_*.npz")}
    assert 2 <= len(before) < 6, "killed too late: every chunk had landed"
    done_before = emb_cache.load_embeddings(cache)[0]
    assert len(done_before) == 8 * len(before)

    report = runner.embed_images(
        model, preprocess, d, ids, cache, batch_size=4, workers=0, chunk_size=8, progress=False
    )
    assert (report["status"] == "ok").all()
    after = {c.name: (c.stat().st_mtime_ns, c.read_bytes()) for c in folder.glob("chunk_*.npz")}
    for name, stamp in before.items():  # finished chunks were not redone
        assert after[name] == stamp
    assert len(after) == 6
    got, feats = emb_cache.load_embeddings(cache)
    assert len(got) == len(set(got)) == 48 and sorted(got) == ids
    assert not list(folder.glob(".*.tmp")) and not (folder / ".lock").exists()
    # same embeddings as an uninterrupted run
    ref_ids, ref = emb_cache.load_embeddings(
        (
            runner.embed_images(model, preprocess, d, ids, tmp_path / "ref", workers=0, progress=False),
            tmp_path / "ref",
        )[1]
    )
    order = [got.index(i) for i in ref_ids]
    assert np.allclose(feats[order], ref, atol=1e-5)


# --------------------------------------------------------------------------- texts


def test_text_cache_keyed_by_model_and_text(tiny, tmp_path, monkeypatch):
    model, _, model_id = tiny
    a = text.encode_texts(model, ["x", "y", "x"], cache_dir=tmp_path)
    assert a.shape == (3, 32) and np.array_equal(a[0], a[2])
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    calls = []
    real = models.encode_text_batch

    def spy(m, texts):
        calls.append(list(texts))
        return real(m, texts)

    monkeypatch.setattr(text, "encode_text_batch", spy)
    b = text.encode_texts(model, ["y", "z"], cache_dir=tmp_path)
    assert calls == [["z"]]  # only the new text was encoded
    assert np.array_equal(b[0], a[1])
    c = text.encode_texts(model, ["z", "x"], cache_dir=tmp_path)
    assert calls == [["z"]] and np.array_equal(c[1], a[0])
    other = models.tiny_clip(5)
    other.geoclip = models.ModelInfo("random/tiny-seed5", "cpu", "fp32", 64)
    d = text.encode_texts(other, ["x"], cache_dir=tmp_path)
    assert len(calls) == 2 and not np.allclose(d[0], a[0])  # keyed by model too


def test_features_are_unit_norm_float32(tiny, photos, tmp_path):
    model, preprocess, _ = tiny
    d, ids = photos
    runner.embed_images(model, preprocess, d, ids[:5], tmp_path / "c", workers=0, progress=False)
    _, f = emb_cache.load_embeddings(tmp_path / "c")
    assert f.dtype == np.float32
    assert np.allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
    assert torch.get_num_threads() >= 1


# --------------------------------------------------------------------------- decode prefetch thread
def test_prefetch_equals_serial_and_stops_early(tiny, photos, tmp_path):
    model, preprocess, _ = tiny
    d, ids = photos
    feats = {}
    for pf in (True, False):
        cache = tmp_path / f"cache_{pf}"
        report = runner.embed_images(
            model,
            preprocess,
            d,
            ids,
            cache,
            batch_size=8,
            workers=0,
            chunk_size=16,
            progress=False,
            prefetch=pf,
        )
        assert (report["status"] == "ok").all()
        feats[pf] = emb_cache.load_embeddings(cache)
    assert feats[True][0] == feats[False][0] and np.array_equal(feats[True][1], feats[False][1])
    # stopping after one chunk leaves no decoding thread behind
    before = {t.name for t in threading.enumerate()}
    report = runner.embed_images(
        model,
        preprocess,
        d,
        ids,
        tmp_path / "part",
        batch_size=8,
        workers=0,
        chunk_size=8,
        max_chunks=1,
        progress=False,
    )
    assert (report["status"] == "ok").sum() == 8
    assert "geoclip-decode" not in {t.name for t in threading.enumerate()} - before


def test_prefetch_raises_the_loader_error():
    def batches():
        yield 1
        raise OSError("disk gone")

    it = runner._prefetched(batches())
    assert next(it) == 1
    with pytest.raises(OSError, match="disk gone"):
        next(it)
    # closing early: the producer is blocked on a full queue and must still stop
    gen = runner._prefetched(iter(range(100)), depth=1)
    assert next(gen) == 0
    gen.close()


# --------------------------------------------------------------------------- the cache knows its settings
def test_resume_with_other_settings_is_refused(tiny, photos, tmp_path):
    model, preprocess, _ = tiny
    d, ids = photos
    cache = tmp_path / "c"
    runner.embed_images(model, preprocess, d, ids[:8], cache, workers=0, progress=False, fast_decode=True)
    manifest = emb_cache.cache_manifest(cache)
    assert manifest["settings"]["preprocess"].endswith("JPEG draft >= 2x resolution")
    assert manifest["settings"]["precision"] == "fp32" and manifest["settings"]["input_resolution"] == 64
    with pytest.raises(
        ConfigError, match="was made with preprocess=.*--exact-preprocess.*another --out folder"
    ):
        runner.embed_images(
            model, preprocess, d, ids[:16], cache, workers=0, progress=False, fast_decode=False
        )
    ids_kept, _ = emb_cache.load_embeddings(cache)
    assert ids_kept == ids[:8]  # nothing of the refused run was written
    other = runner.embed_images(model, preprocess, d, ids[:16], cache, workers=0, progress=False)
    assert (other["status"] == "ok").all()  # the same settings resume normally


def test_skipped_images_are_retried_when_they_appear(tiny, photos, tmp_path):
    model, preprocess, _ = tiny
    d, ids = photos
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in ids[:6]:
        shutil.copy(d / f"{i}.jpg", folder / f"{i}.jpg")
    (folder / f"{ids[6]}.jpg").write_bytes(b"not a jpeg")
    cache = tmp_path / "c"
    first = runner.embed_images(model, preprocess, folder, ids[:8], cache, workers=0, progress=False)
    assert first["status"].tolist().count("skipped") == 2 and first.attrs["retried"] == 0
    shutil.copy(d / f"{ids[6]}.jpg", folder / f"{ids[6]}.jpg")  # repaired
    shutil.copy(d / f"{ids[7]}.jpg", folder / f"{ids[7]}.jpg")  # appeared
    second = runner.embed_images(model, preprocess, folder, ids[:8], cache, workers=0, progress=False)
    assert (second["status"] == "ok").all()
    assert second.attrs["retried"] == 2 and second.attrs["recovered"] == 2
    got, feats = emb_cache.load_embeddings(cache)
    assert sorted(got) == sorted(ids[:8]) and len(feats) == 8
    report = emb_cache.load_report(cache).drop_duplicates("image_id", keep="last")
    assert (report["status"] == "ok").all()
    third = runner.embed_images(
        model, preprocess, folder, ids[:8], cache, workers=0, progress=False, retry_skipped=False
    )
    assert third.attrs["retried"] == 0


def test_files_keep_the_mode_of_a_plain_open(tiny, photos, tmp_path):
    model, preprocess, model_id = tiny
    d, ids = photos
    runner.embed_images(model, preprocess, d, ids[:4], tmp_path / "c", workers=0, progress=False)
    folder = emb_cache.model_cache_dir(tmp_path / "c", model_id)
    probe = tmp_path / "probe"
    probe.write_text("x")
    for f in ("manifest.json", "report.csv", "chunk_00000.npz"):
        assert (folder / f).stat().st_mode & 0o777 == probe.stat().st_mode & 0o777, f
