"""Tests of the `geoclip embed`, `geoclip classify` and `geoclip bench inference` commands."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from geoclip_utils import data, experiments
from geoclip_utils.cli import app
from geoclip_utils.engine import make_demo_images
from geoclip_utils.schema import read_predictions

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _err(result) -> str:
    return (result.stderr if hasattr(result, "stderr") else "") + result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_images(tmp_path_factory.mktemp("demo"), n_per_label=4)


@pytest.fixture(scope="module")
def cache(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache")
    r = run(
        "embed",
        "--images",
        demo.image_dir,
        "--ids",
        demo.ids_csv,
        "--model",
        "tiny",
        "--out",
        out,
        "--device",
        "cpu",
        "--batch-size",
        8,
        "--workers",
        0,
        "--no-progress",
    )
    assert r.exit_code == 0, _err(r)
    assert "20 images embedded, 0 skipped" in r.output
    return out


def test_embed_then_classify_with_labels_and_gold(demo, cache, tmp_path):
    r = run(
        "classify",
        "--cache",
        cache,
        "--labels",
        demo.labels_txt,
        "--gold",
        demo.ids_csv,
        "--experiment",
        "demo",
        "--out",
        tmp_path,
        "--device",
        "cpu",
    )
    assert r.exit_code == 0, _err(r)
    df = read_predictions(tmp_path / "demo.parquet")
    assert len(df) == 20 and df.attrs["k"] == 5 and df.attrs["source"] == "local"


def test_classify_paper_experiment_with_patched_data(demo, cache, tmp_path, monkeypatch):
    import pandas as pd

    gold = pd.read_csv(demo.ids_csv)
    monkeypatch.setattr(experiments, "load_labels", lambda name: gold)
    monkeypatch.setattr(
        data,
        "load_region_map",
        lambda which="country_to_region": json.loads(demo.region_map_json.read_text()),
    )
    r = run(
        "classify",
        "--cache",
        cache,
        "--experiment",
        "country100",
        "--experiment",
        "country100_country_from_region",
        "--out",
        tmp_path,
        "--device",
        "cpu",
        "--template",
        "This is a photo of {label}, a {kind}",
        "--template",
        "A street view of {label}.",
    )
    assert r.exit_code == 0, _err(r)
    common = ["classify", "--cache", cache, "--experiment", "country100_mixedprompt", "--out", tmp_path]
    r = run(*common, "--device", "cpu", "--template", "A street view of {label}.")
    assert r.exit_code == 2 and "--template is not used by the mixed prompts" in _err(r)
    r = run(*common, "--device", "cpu")
    assert r.exit_code == 0, _err(r)
    for name in ("country100", "country100_country_from_region", "country100_mixedprompt"):
        assert read_predictions(tmp_path / f"{name}.parquet").attrs["model_id"] == "random/tiny-seed0"


def test_classify_all_skips_experiments_without_images(demo, cache, tmp_path, monkeypatch):
    import pandas as pd

    gold = pd.read_csv(demo.ids_csv)

    def other(name):  # one image elsewhere, with a label of the set's kind (a climate code for climates30k)
        return pd.DataFrame(
            {"image_id": ["elsewhere"], "label": ["Cfb" if name == "climates30k" else "Texas"]}
        )

    monkeypatch.setattr(
        experiments, "load_labels", lambda name: gold if name.endswith("country100") else other(name)
    )
    monkeypatch.setattr(
        data,
        "load_region_map",
        lambda which="country_to_region": json.loads(demo.region_map_json.read_text()),
    )
    from geoclip_utils import engine
    from geoclip_utils.engine import cache as cache_module

    reads = []
    real = cache_module.load_embeddings
    counted = lambda *a, **k: reads.append(a) or real(*a, **k)  # noqa: E731
    monkeypatch.setattr(cache_module, "load_embeddings", counted)
    monkeypatch.setattr(engine, "load_embeddings", counted)
    r = run("classify", "--cache", cache, "--experiment", "all", "--out", tmp_path, "--device", "cpu")
    assert r.exit_code == 0, _err(r)
    assert "US_states_max100: skipped" in r.output
    assert len(reads) == 1, "the cache's features are read once for every experiment"
    assert (tmp_path / "country100_region.parquet").is_file()
    assert not (tmp_path / "US_states_max100.parquet").exists()


def _embed_args(image_dir, ids, out) -> list:
    """``geoclip embed`` of the tiny model on the CPU; the image folder is item 2, the model item 6."""
    return [
        *("embed", "--images", image_dir, "--ids", ids, "--model", "tiny", "--out", out),
        *("--device", "cpu", "--workers", 0, "--no-progress"),
    ]


def test_embed_resumes_and_reports_skips(demo, tmp_path):
    ids = tmp_path / "ids.csv"
    ids.write_text("image_id\n" + "\n".join(["demo_france_00", "not_there", "demo_spain_01"]) + "\n")
    args = _embed_args(demo.image_dir, ids, tmp_path / "c")
    r = run(*args)
    assert r.exit_code == 0, _err(r)
    assert "2 images embedded, 1 skipped" in r.output and "not_there: missing file" in r.output
    r = run(*args)
    assert r.exit_code == 0 and "2 images embedded, 1 skipped" in r.output


def test_embed_that_embeds_nothing_exits_2(demo, tmp_path):
    """Issue 21: `embed` with 0 images embedded exited 0."""
    ids = tmp_path / "ids.csv"
    ids.write_text("image_id\nnot_there\ngone\n")
    r = run(*_embed_args(demo.image_dir, ids, tmp_path / "c"))
    assert r.exit_code == 2, _err(r)
    assert "0 images embedded, 2 skipped" in r.output and "skipped gone: missing file" in r.output
    assert r.stderr.strip().splitlines() == [
        f"error: nothing was embedded: the cache {tmp_path / 'c' / 'random__tiny-seed0'} holds no image of the "
        f"2 ids of {ids} (2 skipped in the cache, reasons above and in its report.csv); check the input"
    ]


@pytest.mark.parametrize(
    "extra, message",
    [
        (  # gold labels outside --labels
            ["--labels", "two"],
            r"error: 12 of the 20 images of 'mine' have a gold label outside its 2 candidate labels "
            r"\(3 labels: 'Brazil' \(4 images\), 'Japan' \(4 images\), 'Latvia' \(4 images\)\)",
        ),
        (["--k", "1000"], r"error: k=1000 \(--k\) is more than the 5 candidate labels of 'mine'"),
        (
            ["--mode", "two_stage", "--region-map", "gap"],
            r"error: the region map leaves out 2 gold countries of 'mine' \(8 of its 20 images",
        ),
        (
            ["--mode", "region", "--region-map", "odd"],
            r"error: the region map names 1 country that is neither a gold label of 'mine' nor a known country "
            r"name, e.g. 'Narnia' \(in 'r'\)",
        ),
        (["--mode", "mixed", "--region-map", "dup"], r"error: region map .*dup.json names region 'r' twice"),
        (["--mode", "region", "--region-map", "empty"], r"error: region map .*: region 'x' lists no country"),
    ],
)
def test_classify_refuses_answers_the_model_cannot_give(extra, message, demo, cache, tmp_path):
    """Issue 21: refused before the model is loaded, one line, exit 2, nothing written."""
    files = {
        "two": ("labels.txt", "France\nSpain\n"),
        "gap": ("gap.json", '{"r": ["France", "Spain"], "s": ["Japan"]}'),
        "odd": ("odd.json", '{"r": ["France", "Spain", "Latvia", "Japan", "Brazil", "Narnia"]}'),
        "dup": ("dup.json", '{"r": ["France"], "r": ["Spain"]}'),
        "empty": ("empty.json", '{"r": ["France", "Spain", "Latvia", "Japan", "Brazil"], "x": []}'),
    }
    for key, (name, text) in files.items():
        (tmp_path / name).write_text(text)
        extra = [str(tmp_path / name) if e == key else e for e in extra]
    r = run("classify", "--cache", cache, "--gold", demo.ids_csv, "--experiment", "mine", "--out", tmp_path,
            "--device", "cpu", "--model", "ViT-Q/3", *extra)  # fmt: skip
    assert r.exit_code == 2, _err(r)
    assert len(r.stderr.strip().splitlines()) == 1 and re.match(message, r.stderr), r.stderr
    assert not (tmp_path / "mine.parquet").exists()


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_folder", "does not exist"),
        ("empty_ids", "empty"),
        ("unknown_model", "ViT-L/14"),
        ("dup_labels", "duplicated"),
        ("blank_labels", "blank label"),
        ("bad_template", "{label}"),
        ("no_experiment", "--experiment"),
        ("unknown_experiment", "give --gold"),
        ("missing_cache", "does not exist"),
        ("escaping_name", "is not allowed"),
        ("k_zero", "--k"),
        ("batch_zero", "--batch-size"),
        ("out_is_ids", "refusing to write over an input"),
        ("mode_contradicts", "--mode flat contradicts experiment 'country100_region'"),
        ("region_map_unused", "--region-map is not used by a flat experiment"),
        ("ragged_gold", "line 2 has 3 fields"),
        ("out_under_a_file", "cannot write"),
    ],
)
def test_clean_errors_exit_2(case, message, demo, cache, tmp_path):
    ids = tmp_path / "ids.csv"
    ids.write_text("image_id\ndemo_france_00\n")
    labels = tmp_path / "labels.txt"
    labels.write_text("France\nSpain\nLatvia\nJapan\nBrazil\n")
    embed_args = _embed_args(demo.image_dir, ids, tmp_path / "c")
    classify_args = [
        "classify",
        "--cache",
        cache,
        "--labels",
        labels,
        "--gold",
        demo.ids_csv,
        "--experiment",
        "x",
        "--out",
        tmp_path,
        "--device",
        "cpu",
    ]
    if case == "missing_folder":
        args = embed_args[:2] + [tmp_path / "nope"] + embed_args[3:]
    elif case == "empty_ids":
        ids.write_text("image_id\n")
        args = embed_args
    elif case == "unknown_model":
        args = embed_args[:6] + ["ViT-Q/3"] + embed_args[7:]
    elif case == "dup_labels":
        labels.write_text("France\nSpain\nFrance\n")
        args = classify_args
    elif case == "blank_labels":
        labels.write_text("France\n\nSpain\n")
        args = classify_args
    elif case == "bad_template":
        args = classify_args + ["--template", "a photo of a place"]
    elif case == "no_experiment":
        args = ["classify", "--cache", cache, "--device", "cpu"]
    elif case == "unknown_experiment":
        args = ["classify", "--cache", cache, "--experiment", "mystery", "--device", "cpu"]
    elif case == "escaping_name":
        args = classify_args[:8] + ["../outside"] + classify_args[9:]
    elif case == "k_zero":
        args = classify_args + ["--k", "0"]
    elif case == "batch_zero":
        args = embed_args + ["--batch-size", "0"]
    elif case == "out_is_ids":
        args = embed_args[:8] + [ids] + embed_args[9:]
    elif case == "mode_contradicts":
        args = [
            "classify",
            "--cache",
            cache,
            "--experiment",
            "country100_region",
            "--mode",
            "flat",
            "--device",
            "cpu",
        ]
    elif case == "region_map_unused":
        region_map = tmp_path / "rm.json"
        region_map.write_text('{"r": ["France"]}')
        args = classify_args + ["--region-map", region_map]
    elif case == "ragged_gold":
        bad = tmp_path / "gold.csv"
        bad.write_text("image_id,label\ndemo_france_00,France,extra\n")
        args = classify_args[:6] + [bad] + classify_args[7:]
    elif case == "out_under_a_file":
        args = classify_args[:10] + [labels / "results"] + classify_args[11:]
    else:
        args = ["classify", "--cache", tmp_path / "nocache", "--experiment", "country100", "--device", "cpu"]
    r = run(*args)
    assert r.exit_code == 2, (r.exit_code, _err(r), r.exception)
    assert message in _err(r)
    assert "Traceback" not in _err(r) and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.slow
def test_bench_inference_json_quick():
    r = run(
        "bench", "inference", "--json", "--n-images", 8, "--arch", "tiny", "--workers", 0, "--seed-subset", 2
    )
    assert r.exit_code == 0, _err(r)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for key in (
        "model_only_img_per_s",
        "pipeline_img_per_s",
        "one_pass_s",
        "text_s",
        "classify_s",
        "cached_way_s",
        "seed_way_s",
        "speedup",
        "machine",
        "model",
        "n_images",
        "torch_threads",
        "workers",
    ):
        assert key in out
    assert out["n_images"] == 8
    assert out["cached_way_s"] == pytest.approx(
        out["one_pass_s"] + out["text_s"] + out["classify_s"], abs=0.01
    )


def test_dedupe_embeddings_wires_the_authors_cosine_rule(demo, cache, tmp_path):
    import numpy as np
    import pandas as pd

    from geoclip_utils.engine import load_embeddings

    out = tmp_path / "kept.csv"
    r = run(
        "dedupe-embeddings", "--cache", cache, "--out", out, "--groups", demo.ids_csv, "--threshold", 0.99
    )
    assert r.exit_code == 0, _err(r)
    kept = pd.read_csv(out, keep_default_na=False)
    ids, feats = load_embeddings(cache)
    assert kept["image_id"].tolist() == ids
    # brute force: walk in cache order within a label, drop an image too similar to a kept one
    gold = pd.read_csv(demo.ids_csv).set_index("image_id")["label"]
    f = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    keep = []
    for i, image in enumerate(ids):
        similar = [j for j in keep if gold[ids[j]] == gold[image] and float(f[i] @ f[j]) > 0.99]
        if not similar:
            keep.append(i)
    assert kept["keep"].tolist() == [i in keep for i in range(len(ids))]
    r = run("dedupe-embeddings", "--cache", cache, "--out", demo.ids_csv, "--groups", demo.ids_csv)
    assert r.exit_code == 2 and "refusing to write over an input" in r.stderr


# --------------------------------------------------------------------------- outputs never land in a cache
def test_outputs_inside_the_cache_are_refused_and_the_cache_is_untouched(cache, demo, tmp_path):
    """``dedupe-embeddings --out <cache>/<model>/manifest.json`` and ``classify --out <cache>`` wrote over the
    cache's own files and exited 0."""
    model_dir = next(p for p in cache.iterdir() if p.is_dir())
    manifest = model_dir / "manifest.json"
    before = {p: p.read_bytes() for p in model_dir.iterdir() if p.is_file()}
    for target in (manifest, model_dir / "report.csv", model_dir / "new.csv"):
        r = run("dedupe-embeddings", "--cache", cache, "--out", target)
        assert (
            r.exit_code == 2
            and "is inside the cache" in _err(r)
            and "refusing to write into a cache;" in _err(r)
        ), _err(r)
    labels = tmp_path / "labels.txt"
    labels.write_text("France\nSpain\n")
    for out in (cache, model_dir):
        r = run("classify", "--cache", cache, "--labels", labels, "--gold", demo.ids_csv, "--experiment", "x",
                "--out", out, "--device", "cpu")  # fmt: skip
        assert r.exit_code == 2 and ("is the cache" in _err(r) or "inside the cache" in _err(r)), _err(r)
    assert {p: p.read_bytes() for p in model_dir.iterdir() if p.is_file()} == before


def test_dedupe_embeddings_streams_to_standard_output(cache):
    r = run("dedupe-embeddings", "--cache", cache, "--out", "-")
    assert r.exit_code == 0, _err(r)
    lines = r.stdout.splitlines()
    assert lines[0] == "image_id,keep,duplicate_of" and len(lines) == 21
    assert "kept" in r.stderr and "kept" not in r.stdout  # the summary does not mix with the table


def test_embed_reads_the_authors_img_id_files(demo, tmp_path):
    """``embed --ids`` read the header of an ``IMG_ID,LAT,LON`` file as an id and looked for ``img0.jpg.jpg``."""
    ids = tmp_path / "geo.csv"
    ids.write_text("IMG_ID,LAT,LON\ndemo_france_00.jpg,48.85,2.35\ndemo_spain_01.jpg,40.4,-3.7\n")
    r = run(*_embed_args(demo.image_dir, ids, tmp_path / "c"))
    assert r.exit_code == 0, _err(r)
    assert "2 images embedded, 0 skipped" in r.output
