"""Tests of geoclip_utils.zeroshot: prompts, ensembles, flat / two-stage / mixed, tables, end to end."""

from __future__ import annotations

import numpy as np
import pytest

from geoclip_utils import experiments, stats
from geoclip_utils import labels as L
from geoclip_utils.engine import cache as emb_cache
from geoclip_utils.engine import models, runner, text, zeroshot
from geoclip_utils.engine import prompts as P
from geoclip_utils.engine.demo import DEMO_LABELS, make_demo_images
from geoclip_utils.errors import ConfigError, InputError
from geoclip_utils.schema import read_predictions, validate_predictions


def unit(*v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def test_paper_template_and_kinds():
    assert P.paper_template("country").format(label="France") == "This is a photo of France, a country"
    assert experiments.get_label_set("US_states_max100").prompt_kind == "state"
    assert experiments.get_label_set("France_states_max100").prompt_kind == "French state"
    assert P.format_prompts(["A"], "{label} is a {kind}", "city") == ["A is a city"]


def test_ensemble_is_mean_of_normalised_then_renormalised():
    t1 = np.array([[3.0, 0.0, 0.0], [0.0, 0.0, 5.0]])  # template 1, two labels (not normalised)
    t2 = np.array([[0.0, 2.0, 0.0], [0.0, 0.0, 1.0]])
    out = zeroshot.ensemble(np.stack([t1, t2]))
    assert np.allclose(out[0], unit(1, 1, 0), atol=1e-6)  # not (3, 2, 0) direction: normalised first
    assert np.allclose(out[1], [0, 0, 1], atol=1e-6)
    assert np.allclose(np.linalg.norm(out, axis=1), 1)
    single = zeroshot.ensemble(t1[None])
    assert np.allclose(single, t1 / np.linalg.norm(t1, axis=1, keepdims=True))


def test_probabilities_use_clip_logit_scale():
    img = np.array([[1.0, 0.0]])
    cls = np.array([[1.0, 0.0], [0.0, 1.0]])
    p = zeroshot.probabilities(img, cls)
    expected = np.exp(100.0) / (np.exp(100.0) + 1.0)
    assert np.isclose(p[0, 0], expected) and np.isclose(p.sum(), 1.0)
    # image features are normalised before scoring (the seed scripts forgot this)
    assert np.allclose(zeroshot.probabilities(img * 7.0, cls), p)
    half = zeroshot.probabilities(np.array([[1.0, 1.0]]), cls)
    assert np.allclose(half, 0.5)


def test_top_k_order_ties_and_cap():
    probs = np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4]])
    labels, p = zeroshot.top_k(probs, ["a", "b", "c"], k=5)
    assert labels == [("b", "c", "a"), ("c", "a", "b")]
    assert p.shape == (2, 3) and np.allclose(p[1], [0.4, 0.3, 0.3])


def test_two_stage_known_answer():
    # 4-D toy world. The image points mostly at country A, but A is only in region R2, and the
    # image's region is R1; two-stage must answer B (best of R1's countries), flat answers A.
    image = unit(1, 0, 2, 0)[None]
    regions = ["R1", "R2"]
    region_feats = np.array([unit(1, 0, 0, 0), unit(0, 1, 0, 0)])
    countries = ["A", "B", "C"]
    country_feats = np.array([unit(0, 0, 1, 0), unit(1, 0, 0.3, 0), unit(1, 0, -1, 0)])
    region_map = {"R1": ["B", "C"], "R2": ["A"]}
    flat, _ = zeroshot.classify_flat(image, country_feats, countries, k=1)
    assert flat == [("A",)]
    stage1, top, probs = zeroshot.classify_two_stage(
        image, region_feats, regions, country_feats, countries, region_map, k=5
    )
    assert stage1 == ["R1"]
    assert top == [("B",)]  # k capped at the smallest region (R2 has one country)
    full = zeroshot.probabilities(
        image, country_feats, mask=zeroshot.region_mask(region_map, regions, countries)[[0]]
    )
    assert full[0, 0] == 0.0 and np.isclose(full[0, 1:].sum(), 1.0)
    lb = 100 * (image @ country_feats.T)[0]
    assert np.isclose(probs[0, 0], np.exp(lb[1]) / (np.exp(lb[1]) + np.exp(lb[2])))


def test_two_stage_is_vectorised_per_image_region():
    # two images in different regions, each restricted to its own region's countries
    images = np.array([unit(1, 0, 0.1, 0), unit(0, 1, 0, 0.1)])
    region_feats = np.eye(4)[:2]
    country_feats = np.array([unit(1, 0, 1, 0), unit(1, 0, -1, 0), unit(0, 1, 0, 1), unit(0, 1, 0, -1)])
    rmap = {"E": ["a1", "a2"], "W": ["b1", "b2"]}
    stage1, top, probs = zeroshot.classify_two_stage(
        images, region_feats, ["E", "W"], country_feats, ["a1", "a2", "b1", "b2"], rmap, k=5
    )
    assert stage1 == ["E", "W"]
    assert top == [("a1", "a2"), ("b1", "b2")]
    assert np.allclose(probs.sum(axis=1), 1.0)
    with pytest.raises(InputError, match="no country"):
        zeroshot.region_mask({"E": ["zz"]}, ["E"], ["a1"])


def test_mixed_prompts_and_aggregation():
    prompts, labels = P.mixed_prompts(
        {"baltic": ["Latvia", "Estonia"], "balkan": ["Latvia"], "europe": ["X"]}
    )
    assert prompts == [
        "This is a photo of Latvia, a european country in the baltic.",
        "This is a photo of Estonia, a european country in the baltic.",
        "This is a photo of Latvia, a european country in the balkans.",
    ]
    assert labels == ["Latvia", "Estonia", "Latvia"]  # 'europe' has no phrase: left out, as the authors did
    feats = np.eye(3)
    image = np.array([[0.0, 0.9, 0.8]])  # Estonia's prompt is the best single prompt ...
    top, probs = zeroshot.classify_mixed(image, feats, labels, k=5)
    p = zeroshot.probabilities(image, feats)[0]
    assert top == [("Estonia", "Latvia")] or top == [("Latvia", "Estonia")]
    got = dict(zip(top[0], probs[0], strict=True))
    assert np.isclose(got["Latvia"], p[0] + p[2]) and np.isclose(
        got["Estonia"], p[1]
    )  # ... summed per country
    with pytest.raises(InputError):
        P.mixed_prompts({"nowhere": ["X"]})


def test_label_and_template_validation(tmp_path):
    with pytest.raises(InputError, match="duplicated labels: 'France'"):
        L.validate_labels(["France", "Spain", "France"])
    with pytest.raises(InputError, match="blank or non-text labels: #2"):
        L.validate_labels(["France", "  "])
    with pytest.raises(InputError, match="empty"):
        L.validate_labels([])
    with pytest.raises(ConfigError, match="no \\{label\\}"):
        P.validate_templates("This is a photo of a country")
    with pytest.raises(ConfigError, match="unknown fields"):
        P.validate_templates(["{label} in {place}"])
    with pytest.raises(ConfigError, match="not a valid format"):
        P.validate_templates(["{label"])
    assert P.validate_templates(["{label}, a {kind}"]) == ["{label}, a {kind}"]
    p = tmp_path / "labels.txt"
    p.write_text("France\n\nSpain\n")
    with pytest.raises(InputError, match="blank label on line\\(s\\) \\[2\\]"):
        L.read_labels(p)
    p.write_text("France\nSpain\nFrance\n")
    with pytest.raises(InputError, match="France"):
        L.read_labels(p)
    p.write_text("France\nSpain\n\n")
    assert L.read_labels(p) == ["France", "Spain"]


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    demo = make_demo_images(root / "demo")
    model, preprocess, model_id = models.load_model("tiny", device="cpu")
    runner.embed_images(
        model, preprocess, demo.image_dir, demo.ids_csv, root / "cache", workers=0, progress=False
    )
    return demo, model, root / "cache"


def test_end_to_end_tiny_model(demo_cache, tmp_path):
    demo, model, cache = demo_cache
    gold = L.read_gold_csv(demo.ids_csv)
    df = zeroshot.run_experiment("demo_flat", model, cache, tmp_path, gold=gold)
    assert df.shape[0] == demo.n_images == 40 and df.attrs["k"] == 5
    assert set(df["gold"]) == set(DEMO_LABELS)
    assert all(set(t) == set(DEMO_LABELS) for t in df["top_labels"])  # 5 labels -> top-5 is all of them
    assert np.allclose([sum(p) for p in df["top_probs"]], 1.0)
    assert df.attrs["source"] == "local" and df.attrs["model_id"] == "random/tiny-seed0"
    back = read_predictions(tmp_path / "demo_flat.parquet")
    assert back["top_labels"].tolist() == df["top_labels"].tolist()
    assert back.attrs["experiment"] == "demo_flat" and back.attrs["mode"] == "flat"
    # the same from the embeddings by hand: the engine adds nothing but bookkeeping
    ids, feats = emb_cache.load_embeddings(cache, ids=df["image_id"].tolist())
    cls = text.encode_texts(model, [f"This is a photo of {c}, a country" for c in sorted(DEMO_LABELS)])
    by_hand = np.asarray(sorted(DEMO_LABELS))[(feats @ cls.T).argmax(1)]
    assert df["top_labels"].str[0].tolist() == by_hand.tolist()


def test_end_to_end_region_modes_and_ensemble(demo_cache, tmp_path):
    import json

    demo, model, cache = demo_cache
    gold = L.read_gold_csv(demo.ids_csv)
    rmap = json.loads(demo.region_map_json.read_text())
    two = zeroshot.run_experiment(
        "country100_country_from_region", model, cache, tmp_path, gold=gold, region_map=rmap
    )
    assert two.attrs["k"] == 1 and "stage1_region" in two.columns
    for region, (top,) in zip(two["stage1_region"], two["top_labels"], strict=True):
        assert top in rmap[region]
    region = zeroshot.run_experiment("country100_region", model, cache, tmp_path, gold=gold, region_map=rmap)
    assert set(region["top_labels"].str[0]) <= set(rmap) and region.attrs["k"] == 5
    spain = region.index[region["gold"] == "Spain"][0]
    assert region.loc[spain, "gold_set"] == ("western europe", "southern europe")
    back = read_predictions(tmp_path / "country100_region.parquet")
    assert stats.topk_accuracy(back, k=5) == stats.topk_accuracy(region, k=5) == 1.0
    mixed = zeroshot.run_experiment(
        "country100_mixedprompt",
        model,
        cache,
        tmp_path,
        gold=gold,
        region_map={"baltic": ["Latvia"], "east asia": ["Japan"]},
    )
    assert mixed.attrs["k"] == 2
    ens = zeroshot.run_experiment(
        "ens", model, cache, None, gold=gold, templates=["a photo of {label}.", "a street in {label}."]
    )
    validate_predictions(ens)
    assert ens.attrs["templates"] == "a photo of {label}. | a street in {label}."
    with pytest.raises(ConfigError, match="give gold"):
        zeroshot.run_experiment("mine", model, cache)
    with pytest.raises(InputError, match="none of the"):
        zeroshot.run_experiment("x", model, cache, gold={"nope": "France"})


def test_metrics_accept_local_tables(demo_cache, tmp_path):
    demo, model, cache = demo_cache
    df = zeroshot.run_experiment("country100", model, cache, tmp_path, gold=L.read_gold_csv(demo.ids_csv))
    acc1, acc5 = stats.topk_accuracy(df, k=1), stats.topk_accuracy(df, k=5)
    assert 0.0 <= acc1 <= 1.0 and acc5 == 1.0
    loaded = experiments.load_results("country100", source="local", results_dir=tmp_path)
    assert len(loaded) == 40 and stats.topk_accuracy(loaded, k=1) == acc1


def test_label_text_puts_words_in_prompts_but_keeps_labels():
    prompts = P.format_prompts(["Af", "X"], P.CLIMATE_TEMPLATE, label_text={"Af": "tropical rainforest"})
    assert prompts == [
        "This is a photo of a place with a tropical rainforest climate",
        "This is a photo of a place with a X climate",
    ]


def test_climate_experiment_uses_koppen_codes_and_corrected_prompts(demo_cache, tmp_path):
    from geoclip_utils.geo import koppen_table

    demo, model, cache = demo_cache
    ids = L.read_gold_csv(demo.ids_csv)["image_id"].tolist()
    gold = {i: ("EF" if n % 2 else "Af") for n, i in enumerate(ids)}
    df = zeroshot.run_experiment("climates30k", model, cache, tmp_path, gold=gold)
    codes = set(koppen_table()["code"]) - {"Ocean"}
    assert set(df["gold"]) == {"EF", "Af"} and {lab for t in df["top_labels"] for lab in t} <= codes
    assert df.attrs["templates"] == P.CLIMATE_TEMPLATE and df.attrs["k"] == 5
    # the prompt of EF is the corrected one (ice cap), not the authors' swapped "polar"
    from geoclip_utils.engine.text import encode_texts

    direct = encode_texts(model, ["This is a photo of a place with a ice cap climate"])
    via = zeroshot.class_embeddings(
        model,
        ["EF"],
        P.CLIMATE_TEMPLATE,
        label_text={"EF": koppen_table().set_index("code").loc["EF", "prompt"]},
    )
    assert abs(float((direct[0] / (direct[0] ** 2).sum() ** 0.5) @ via[0]) - 1) < 1e-5


# --------------------------------------------------------------------------- the chapters' pipeline (engine.demo)
def test_run_demo_end_to_end_and_resumes(tmp_path):
    from geoclip_utils.engine import demo

    run = demo.run_demo(
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
    assert set(run.tables["country100_region"]["top_labels"].str[0]) <= set(demo.DEMO_REGION_MAP)
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
    again = demo.run_demo("tiny", tmp_path / "demo", ["country100"], device="cpu")
    assert (
        again.tables["country100"]["top_labels"].tolist() == run.tables["country100"]["top_labels"].tolist()
    )
    assert again.summary()["file"].tolist() == [""]  # not written without results_dir


def test_demo_images_relabel_drops_unmapped(tmp_path):
    from geoclip_utils.engine import demo

    images = demo.demo_images(tmp_path, relabel={"France": "Cfb", "Japan": "Cfa"})
    assert len(images.ids) == 40 and images.n_classes == 5  # every image is still embedded
    assert images.gold["label"].value_counts().to_dict() == {"Cfb": 8, "Cfa": 8}
    assert images.gold["image_id"].str.startswith(("demo_france", "demo_japan")).all()
    assert images.region_map["baltic"] == ["Latvia"]


def test_pipeline_run_needs_embed_before_counts(tmp_path):
    from geoclip_utils.engine import demo

    run = demo.PipelineRun.start(demo.RunImages(tmp_path, ["a"]), "tiny", tmp_path / "cache", device="cpu")
    with pytest.raises(ConfigError, match="embed"):
        _ = run.n_ok
    assert run.numbers() == {"n_images": 1, "model_id": "random/tiny-seed0", "device_used": "cpu"}


def test_chapter_images_photos_and_ids(tmp_path):
    from geoclip_utils.engine import demo

    with pytest.raises(InputError, match="does not exist"):
        demo.chapter_images(tmp_path / "nope")
    ids = tmp_path / "ids.csv"
    ids.write_text("image_id\nb\na\n")
    images = demo.chapter_images(tmp_path, ids)
    assert images.ids == ["b", "a"] and images.gold is None and images.demo is None
    assert images.describe() == f"2 image ids, photos in {tmp_path}"
    # without an id file: the ids of the experiments' label sets, once each
    both = demo.chapter_images(tmp_path, "", ["country100", "country100_region", "filtered_country100"])
    union = set(experiments.load_labels("country100")["image_id"]) | set(
        experiments.load_labels("filtered_country100")["image_id"]
    )
    assert len(both.ids) == len(set(both.ids)) == len(union) and set(both.ids) == union
    demo_set = demo.demo_images(tmp_path / "d")
    assert "In demo mode" in demo.first_result_note(demo_set)
    assert 'source="local"' in demo.first_result_note(images)
    # with the run's table: where it lies against chance (1 / classes), never "chance by construction"
    from geoclip_utils.schema import make_predictions

    gold = ["A", "B", "C", "D", "E"] * 8
    at_chance = make_predictions(
        [str(i) for i in range(40)], gold, [("A",)] * 40, experiment="c", source="local"
    )
    note = demo.first_result_note(demo_set, at_chance, n_boot=200)
    assert note.startswith("With 5 demo countries chance is 20.0%; on 40 pictures this run's 95 % CI is ")
    assert "consistent with chance" in note and "by construction" not in note
    perfect = at_chance.assign(top_labels=[(g,) for g in gold])
    assert "so it is above chance" in demo.first_result_note(demo_set, perfect, n_boot=200)
    never = at_chance.assign(top_labels=[("A" if g != "A" else "B",) for g in gold])
    assert "so it is below chance" in demo.first_result_note(demo_set, never, n_boot=200)
