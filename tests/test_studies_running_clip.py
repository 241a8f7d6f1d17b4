"""geoclip_utils.studies.running_clip (the Running CLIP chapter): what its first result can say."""

from __future__ import annotations

import pytest

from geoclip_utils import experiments, pipeline
from geoclip_utils.errors import InputError
from geoclip_utils.studies import running_clip


def test_chapter_images_photos_and_ids(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        pipeline.chapter_images(tmp_path / "nope")
    ids = tmp_path / "ids.csv"
    ids.write_text("image_id\nb\na\n")
    images = pipeline.chapter_images(tmp_path, ids)
    assert images.ids == ["b", "a"] and images.gold is None and images.demo is None
    assert images.describe() == f"2 image ids, photos in {tmp_path}"
    # without an id file: the ids of the experiments' label sets, once each
    both = pipeline.chapter_images(tmp_path, "", ["country100", "country100_region", "filtered_country100"])
    union = set(experiments.load_labels("country100")["image_id"]) | set(
        experiments.load_labels("filtered_country100")["image_id"]
    )
    assert len(both.ids) == len(set(both.ids)) == len(union) and set(both.ids) == union
    demo_set = pipeline.demo_images(tmp_path / "d")
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
