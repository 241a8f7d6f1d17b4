"""The Running CLIP chapter's study (studies/running_clip.py): the pipeline run step by step, its parameter
checks, and the one-call demo run the Climate chapter uses."""

from __future__ import annotations

import pytest
import torch

from geoclip_utils import experiments
from geoclip_utils.engine.synthetic import DEMO_REGION_MAP
from geoclip_utils.errors import ConfigError, InputError
from geoclip_utils.studies import running_clip


def test_run_demo_end_to_end_and_resumes(tmp_path):
    run = running_clip.run_demo(
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
    again = running_clip.run_demo("tiny", tmp_path / "demo", ["country100"], device="cpu")
    assert (
        again.tables["country100"]["top_labels"].tolist() == run.tables["country100"]["top_labels"].tolist()
    )
    assert again.summary()["file"].tolist() == [""]  # not written without results_dir


def test_demo_images_relabel_drops_unmapped(tmp_path):
    images = running_clip.demo_images(tmp_path, relabel={"France": "Cfb", "Japan": "Cfa"})
    assert len(images.ids) == 40 and images.n_classes == 5  # every image is still embedded
    assert images.gold["label"].value_counts().to_dict() == {"Cfb": 8, "Cfa": 8}
    assert images.gold["image_id"].str.startswith(("demo_france", "demo_japan")).all()
    assert images.region_map["baltic"] == ["Latvia"]


def test_pipeline_run_needs_embed_before_counts(tmp_path):
    run = running_clip.PipelineRun.start(
        running_clip.RunImages(tmp_path, ["a"]), "tiny", tmp_path / "cache", device="cpu"
    )
    with pytest.raises(ConfigError, match="embed"):
        _ = run.n_ok
    assert run.numbers() == {"n_images": 1, "model_id": "random/tiny-seed0", "device_used": "cpu"}


def test_chapter_images_photos_and_ids(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        running_clip.chapter_images(tmp_path / "nope")
    ids = tmp_path / "ids.csv"
    ids.write_text("image_id\nb\na\n")
    images = running_clip.chapter_images(tmp_path, ids)
    assert images.ids == ["b", "a"] and images.gold is None and images.demo is None
    assert images.describe() == f"2 image ids, photos in {tmp_path}"
    # without an id file: the ids of the experiments' label sets, once each
    both = running_clip.chapter_images(
        tmp_path, "", ["country100", "country100_region", "filtered_country100"]
    )
    union = set(experiments.load_labels("country100")["image_id"]) | set(
        experiments.load_labels("filtered_country100")["image_id"]
    )
    assert len(both.ids) == len(set(both.ids)) == len(union) and set(both.ids) == union
    assert "In demo mode" in running_clip.first_result_note(running_clip.demo_images(tmp_path / "d"))
    assert 'source="local"' in running_clip.first_result_note(images)


def test_experiment_names_one_sentence_each():
    assert running_clip.experiment_names(" country100 ,country100_region") == [
        "country100",
        "country100_region",
    ]
    everything = running_clip.experiment_names("all")
    assert "climates30k" in everything and "country100_geoestimation" not in everything
    with pytest.raises(
        ConfigError,
        match=r"^experiments='country100,nope' is not allowed: 'nope' is not registered; use 'all'",
    ):
        running_clip.experiment_names("country100,nope")
    with pytest.raises(ConfigError, match="geoestimation experiment.*the geoestimation chapter analyses it"):
        running_clip.experiment_names("country100_geoestimation")
    with pytest.raises(ConfigError, match="^experiments=' , ' is not allowed"):
        running_clip.experiment_names(" , ")
    with pytest.raises(ConfigError, match="^experiments=3 is not allowed"):
        running_clip.experiment_names(3)


def test_model_device_and_image_checks(tmp_path):
    assert (
        running_clip.check_model_name("tiny") == "tiny"
        and running_clip.check_model_name("ViT-B/32") == "ViT-B/32"
    )
    ckpt = tmp_path / "m.pt"
    ckpt.write_bytes(b"x")
    assert running_clip.check_model_name(str(ckpt)) == str(ckpt)
    with pytest.raises(ConfigError, match="^climate_model='ViT-Z/99' is not allowed: use 'tiny'"):
        running_clip.check_model_name("ViT-Z/99", parameter="climate_model")
    assert running_clip.check_device("cpu") == "cpu" and running_clip.check_device("auto") == "auto"
    with pytest.raises(ConfigError, match=r"^device='gpu' is not allowed: choose one of \['auto'"):
        running_clip.check_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="^device='cuda' is not allowed: that device is not available"):
            running_clip.check_device("cuda")
    running_clip.check_image_source("", "")
    running_clip.check_image_source(str(tmp_path), "")
    with pytest.raises(ConfigError, match="^image_dir='/no/such' is not allowed"):
        running_clip.check_image_source("/no/such", "")
    with pytest.raises(ConfigError, match="^ids_csv='/no/ids.csv' is not allowed: it is not a file"):
        running_clip.check_image_source(str(tmp_path), "/no/ids.csv")
    with pytest.raises(ConfigError, match="without image_dir"):
        running_clip.check_image_source("", str(ckpt))
