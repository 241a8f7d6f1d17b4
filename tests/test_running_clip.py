"""The Running CLIP chapter's study (studies/running_clip.py): the pipeline run step by step, its parameter
checks, and the one-call demo run the Climate chapter uses."""

from __future__ import annotations

import pytest

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
    demo_set = running_clip.demo_images(tmp_path / "d")
    assert "In demo mode" in running_clip.first_result_note(demo_set)
    assert 'source="local"' in running_clip.first_result_note(images)
    # with the run's table: where it lies against chance (1 / classes), never "chance by construction"
    from geoclip_utils.schema import make_predictions

    gold = ["A", "B", "C", "D", "E"] * 8
    at_chance = make_predictions(
        [str(i) for i in range(40)], gold, [("A",)] * 40, experiment="c", source="local"
    )
    note = running_clip.first_result_note(demo_set, at_chance, n_boot=200)
    assert note.startswith("With 5 demo countries chance is 20.0%; on 40 pictures this run's 95 % CI is ")
    assert "consistent with chance" in note and "by construction" not in note
    perfect = at_chance.assign(top_labels=[(g,) for g in gold])
    assert "so it is above chance" in running_clip.first_result_note(demo_set, perfect, n_boot=200)
    never = at_chance.assign(top_labels=[("A" if g != "A" else "B",) for g in gold])
    assert "so it is below chance" in running_clip.first_result_note(demo_set, never, n_boot=200)
