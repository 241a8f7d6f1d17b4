"""bench/scale.py: the driver's write path measured on its own, and a projection bound by the slowest of
the GPUs, their decoders and the driver."""

from __future__ import annotations

import numpy as np
import pytest

from geoclip_utils.bench.scale import driver_write_rate, project_hours
from geoclip_utils.engine.cache import load_embeddings, load_report


def test_projection_names_the_limit_that_binds():
    # 8 GPUs at 312 img/s (2496), decoders 800 img/s per GPU: a driver at 2000 img/s binds
    p = project_hours(5_000_000, 8, 312.0, 0.01, 8, 1.0, driver_img_per_s=2000.0)
    assert p["bound"] == "driver" and p["total_img_per_s"] == 2000.0 and p["per_gpu_img_per_s"] == 250.0
    assert p["limits_img_per_s"] == {"gpu": 2496.0, "decode": 6400.0, "driver": 2000.0}
    assert p["hours"] == round(5e6 / 2000 / 3600, 2)
    # one GPU: the GPU binds, the driver is far above
    one = project_hours(5_000_000, 1, 312.0, 0.01, 8, 1.0, driver_img_per_s=2000.0)
    assert one["bound"] == "gpu" and one["total_img_per_s"] == 312.0
    # slow decoding binds before both
    dec = project_hours(5_000_000, 64, 1500.0, 0.1, 8, 0.5, driver_img_per_s=10**6)
    assert dec["bound"] == "decode" and dec["total_img_per_s"] == 64 * 80 * 0.5
    # without a driver figure, only the GPUs and decoders count
    assert set(project_hours(10, 1, 1.0, 1.0, 1, 1.0)["limits_img_per_s"]) == {"gpu", "decode"}


def test_driver_write_rate_writes_a_real_cache(tmp_path):
    out = driver_write_rate(
        tmp_path,
        n_images=1000,
        history_images=3000,
        dim=16,
        part_size=128,
        batch_size=48,
        target_images=10**6,
    )
    assert out["chunks_fed"] == 8  # 1000 images in pieces of 128 (shards of 8 pieces)
    assert out["img_per_s_empty"] > 0 and out["img_per_s_with_history"] > 0
    assert out["ms_per_image_fixed"] > 0 and out["ms_per_image_per_million_cached"] >= 0
    # the average over a run far longer than the one measured is no faster than the empty cache
    assert out["img_per_s_over_target"] <= out["img_per_s_empty"] + 0.1
    # what went through PieceAssembler and ChunkWriter is a cache like any other
    (model_dir,) = [p for p in (tmp_path / "empty").iterdir() if p.is_dir()]
    ids, feats = load_embeddings(tmp_path / "empty")
    assert sorted(ids) == sorted(f"img{i}" for i in range(1000)) and feats.shape == (1000, 16)
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, rtol=1e-5)
    assert len(list(model_dir.glob("chunk_*.npz"))) == 8
    report = load_report(tmp_path / "history")
    assert (report["status"] == "skipped").sum() == 3000 and (report["status"] == "ok").sum() == 1000


@pytest.mark.parametrize("n", [0, 5])
def test_driver_write_rate_without_history_or_with_a_partial_piece(tmp_path, n):
    out = driver_write_rate(tmp_path, n_images=200 + n, history_images=n, dim=4, part_size=64, batch_size=64)
    assert out["chunks_fed"] == 4  # 200 + n images: three full pieces of 64 and one partial
    assert len(load_embeddings(tmp_path / "history")[0]) == 200 + n
