"""geoclip_utils.pipeline: the pipeline in three steps, its images, and the one-call demo run the Climate chapter uses."""

from __future__ import annotations

import pytest

from geoclip_utils import pipeline
from geoclip_utils.engine.synthetic import DEMO_REGION_MAP
from geoclip_utils.errors import ConfigError


def test_run_demo_end_to_end_and_resumes(tmp_path):
    run = pipeline.run_demo(
        "tiny",
        tmp_path / "demo",
        ["country100", "country100_region"],
        results_dir=tmp_path / "res",
        device="cpu",
    )
    assert (run.n_ok, run.n_skipped) == (40, 0) and run.skipped().empty
    assert (
        run.images.describe()
        == f"demo set: 40 synthetic pictures of 5 'countries' in {tmp_path / 'demo' / 'images'}"
    )
    s = run.summary()
    assert s.columns.tolist() == ["experiment", "mode", "images", "top-k stored", "top-1 accuracy", "file"]
    assert s["experiment"].tolist() == ["country100", "country100_region"] and s["images"].tolist() == [
        40,
        40,
    ]
    assert s["file"].tolist() == [
        str(tmp_path / "res" / f"{n}.parquet") for n in ("country100", "country100_region")
    ]
    assert all((tmp_path / "res" / f"{n}.parquet").is_file() for n in ("country100", "country100_region"))
    # the region run scores regions of the demo's own region map
    assert set(run.tables["country100_region"]["top_labels"].str[0]) <= set(DEMO_REGION_MAP)
    assert run.headline() == (
        "2 experiments, 40 images embedded, 0 skipped\n"
        "country100: 40 rows, top-5 stored, source=local\n"
        "country100_region: 40 rows, top-5 stored, source=local"
    )
    n = run.numbers()
    assert (n["n_images"], n["model_id"], n["device_used"], n["first_experiment"], n["first_classes"]) == (
        40,
        "random/tiny-seed0",
        "cpu",
        "country100",
        5,
    )
    assert n["first_top1"] == s["top-1 accuracy"].iloc[0]
    # the same run again resumes from the cache: same answers
    again = pipeline.run_demo("tiny", tmp_path / "demo", ["country100"], device="cpu")
    assert (
        again.tables["country100"]["top_labels"].tolist() == run.tables["country100"]["top_labels"].tolist()
    )
    assert again.summary()["file"].tolist() == [""]  # not written without results_dir


def test_demo_images_relabel_drops_unmapped(tmp_path):
    images = pipeline.demo_images(tmp_path, relabel={"France": "Cfb", "Japan": "Cfa"})
    assert len(images.ids) == 40 and images.n_classes == 5  # every image is still embedded
    assert images.gold["label"].value_counts().to_dict() == {"Cfb": 8, "Cfa": 8}
    assert images.gold["image_id"].str.startswith(("demo_france", "demo_japan")).all()
    assert images.region_map["baltic"] == ["Latvia"]


def test_pipeline_run_needs_embed_before_counts(tmp_path):
    run = pipeline.PipelineRun.start(
        pipeline.RunImages(tmp_path, ["a"]), "tiny", tmp_path / "cache", device="cpu"
    )
    with pytest.raises(ConfigError, match="embed"):
        _ = run.n_ok
    assert run.numbers() == {"n_images": 1, "model_id": "random/tiny-seed0", "device_used": "cpu"}
