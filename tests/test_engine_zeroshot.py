"""Tests of geoclip_utils.engine.zeroshot: prompts, ensembles, flat / two-stage / mixed, tables, end to end."""

from __future__ import annotations

import re

import numpy as np
import pytest

from geoclip_utils import experiments, stats
from geoclip_utils import labels as L
from geoclip_utils.engine import cache as emb_cache
from geoclip_utils.engine import models, runner, text, zeroshot
from geoclip_utils.engine import prompts as P
from geoclip_utils.engine.synthetic import DEMO_LABELS, make_demo_images
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
        gold=gold[gold["label"].isin(["Latvia", "Japan"])],
        region_map={"baltic": ["Latvia"], "east asia": ["Japan"]},
    )
    assert mixed.attrs["k"] == 2  # the default k (5) stops at the 2 countries
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


# --------------------------------------------------------------------------- answers the model cannot give
def test_gold_labels_outside_the_labels_are_refused_with_a_count(demo_cache, tmp_path):
    """Issue 21: gold labels outside --labels were scored as errors, exit 0."""
    demo, model, cache = demo_cache
    gold = L.read_gold_csv(demo.ids_csv)
    with pytest.raises(
        InputError,
        match=r"^24 of the 40 images of 'mine' have a gold label outside its 2 candidate labels \(3 labels: "
        r"'Brazil' \(8 images\), 'Japan' \(8 images\), 'Latvia' \(8 images\)\); the model could never",
    ):
        zeroshot.run_experiment("mine", model, cache, tmp_path, gold=gold, labels=["France", "Spain"])
    assert not (tmp_path / "mine.parquet").exists()
    # a label set larger than the gold is fine: the extra labels are candidates no image has
    df = zeroshot.run_experiment("mine", model, cache, None, gold=gold, labels=[*DEMO_LABELS, "Peru"])
    assert len(df) == 40


def test_a_region_map_is_checked_against_the_gold(demo_cache):
    """Issue 21: a --region-map naming unknown countries, or leaving gold countries out, was accepted."""
    demo, model, cache = demo_cache
    gold = L.read_gold_csv(demo.ids_csv)
    covering = {"europe": ["France", "Spain", "Latvia"], "asia": ["Japan"], "america": ["Brazil"]}
    for mode in ("region", "two_stage", "mixed"):
        zeroshot.plan_experiment("mine", mode=mode, gold=gold, region_map=covering)  # accepted
        with pytest.raises(
            InputError,
            match=r"^the region map leaves out 2 gold countries of 'mine' \(16 of its 40 images, e.g. 'Brazil' "
            r"\(8 images\), 'Latvia' \(8 images\)\): no region lists them",
        ):
            zeroshot.plan_experiment(
                "mine", mode=mode, gold=gold, region_map={"europe": ["France", "Spain"], "asia": ["Japan"]}
            )
    # real countries the gold does not have are candidates; a name that is no country is refused
    zeroshot.plan_experiment("mine", mode="two_stage", gold=gold, region_map={**covering, "x": ["Peru"]})
    with pytest.raises(
        InputError,
        match=r"names 2 countries that are neither a gold label of 'mine' nor a known country name, e.g. "
        r"'Frnace' \(in 'x'\), 'Narnia' \(in 'x'\)",
    ):
        zeroshot.plan_experiment(
            "mine", mode="two_stage", gold=gold, region_map={**covering, "x": ["Narnia", "Frnace"]}
        )


def test_k_above_the_candidates_is_refused(demo_cache):
    """Issue 21: --k 1000 was clamped to the number of labels without a word."""
    demo, model, cache = demo_cache
    gold = L.read_gold_csv(demo.ids_csv)
    with pytest.raises(ConfigError, match=r"^k=1000 \(--k\) is more than the 5 candidate labels of 'mine'"):
        zeroshot.run_experiment("mine", model, cache, None, gold=gold, k=1000)
    with pytest.raises(ConfigError, match=r"k=6 \(--k\) is more than the 5 candidate labels"):
        zeroshot.plan_experiment("mine", gold=gold, labels=list(DEMO_LABELS), k=6)
    rmap = {"europe": ["France", "Spain", "Latvia"], "asia": ["Japan"], "america": ["Brazil"]}
    with pytest.raises(ConfigError, match="k=4 \\(--k\\) is more than the 3 regions"):
        zeroshot.plan_experiment("mine", mode="region", gold=gold, region_map=rmap, k=4)
    assert zeroshot.run_experiment("mine", model, cache, None, gold=gold, k=5).attrs["k"] == 5
    assert zeroshot.run_experiment("mine", model, cache, None, gold=gold).attrs["k"] == 5  # default
    few = gold[gold["label"].isin(["France", "Spain"])]
    assert zeroshot.run_experiment("mine", model, cache, None, gold=few).attrs["k"] == 2  # default, capped


def test_the_modes_are_the_registrys():
    """One definition of the modes the engine runs: experiments.RUNNABLE_MODES (zeroshot had its own copy)."""
    assert not hasattr(zeroshot, "MODES")
    assert set(experiments.RUNNABLE_MODES) < set(experiments.MODES)
    with pytest.raises(
        ConfigError, match=re.escape(f"mode 'bogus' unknown; choose one of {experiments.RUNNABLE_MODES}")
    ):
        zeroshot.plan_experiment("mine", mode="bogus", gold={"a": "France"})
