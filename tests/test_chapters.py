"""Chapters run end to end on our own inference output (`source="local"`), not only on the paper's files.

The "Running CLIP" chapter produces predictions with the tiny random-weight model on the synthetic demo
images; the analysis chapters must then accept them unchanged (the one-schema promise).
"""

from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from geoclip_utils.cli import app

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("nbtools", ROOT / "tools/nbtools.py")
nbtools = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nbtools)


def _execute(name: str, out: Path, **params) -> nbformat.NotebookNode:
    import papermill

    papermill.execute_notebook(
        str(ROOT / "book" / f"{name}.ipynb"),
        str(out / f"{name}.ipynb"),
        parameters=params,
        cwd=str(ROOT),
        kernel_name="python3",
        progress_bar=False,
    )
    return nbformat.read(out / f"{name}.ipynb", as_version=4)


def _headline(nb) -> str:
    """The printed text of the chapter's headline cells (those nbval checks)."""
    return "".join(o.get("text", "") for c in nb.cells if nbtools.is_headline(c) for o in c.outputs)


def _errors(nb) -> list:
    return [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.fixture(scope="module")
def local_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    mp = pytest.MonkeyPatch()
    mp.setenv("GEOCLIP_BOOK_BUILD", "1")
    nb = _execute("running_clip", out, cache_dir=str(out / "cache"), results_dir=str(out / "results"))
    yield out, _headline(nb)
    mp.undo()


@pytest.mark.slow
def test_running_clip_writes_every_experiment(local_results):
    out, headline = local_results
    for name in (
        "country100",
        "country100_region",
        "country100_country_from_region",
        "country100_mixedprompt",
    ):
        assert (out / "results" / f"{name}.parquet").is_file()
    assert "40 images embedded, 0 skipped" in headline


#: What each analysis chapter's headline must print when it read the 40 demo images (not the authors' files).
LOCAL_HEADLINES = {
    "countries": "country100 (local): 40 images, 5 classes",
    "regions": "(40 images)",
    "prompts": "40 paired images, 5 countries",
    "calibration": "country100                      acc",
}


@pytest.mark.slow
@pytest.mark.parametrize("chapter", list(LOCAL_HEADLINES))
def test_analysis_chapter_accepts_local_results(local_results, chapter, monkeypatch):
    out, _ = local_results
    monkeypatch.setenv("GEOCLIP_BOOK_BUILD", "1")
    nb = _execute(chapter, out, source="local", results_dir=str(out / "results"), n_boot=50)
    assert not _errors(nb)
    headline = _headline(nb)
    assert LOCAL_HEADLINES[chapter] in headline, headline
    assert "11500" not in headline and "11,500" not in headline  # nothing of the authors' files


@pytest.mark.slow
def test_toy_experiment_end_to_end(local_results, tmp_path, monkeypatch):
    """Adding an experiment is one registry entry: classify -> metrics -> a chapter, nothing else touched."""
    out, _ = local_results
    registry = tmp_path / "toy.toml"
    registry.write_text(
        textwrap.dedent(
            f"""
            [label_sets.toy]
            place = "country"
            prompt_kind = "country"
            gold = "{ROOT / "_build" / "demo" / "ids.csv"}"
            countries = true

            [experiments.toy]
            label_set = "toy"
            mode = "flat"
            prompt = "paper"
            chapter = "countries"
            description = "the demo pictures as a registered experiment"
            """
        )
    )
    monkeypatch.setenv("GEOCLIP_EXPERIMENTS", str(registry))
    monkeypatch.setenv("GEOCLIP_BOOK_BUILD", "1")
    results = tmp_path / "results"
    cli = CliRunner()
    r = cli.invoke(
        app, ["classify", "--cache", str(out / "cache"), "--experiment", "toy", "--out", str(results)]
    )
    assert r.exit_code == 0, r.output
    r = cli.invoke(
        app,
        [
            "metrics",
            "--experiment",
            "toy",
            "--source",
            "local",
            "--results-dir",
            str(results),
            "--json",
            "--n-boot",
            "50",
        ],
    )
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    assert m["n"] == 40 and m["classes"] == 5 and m["experiment"] == "toy"
    r = cli.invoke(app, ["experiments"])
    assert any(line.startswith("toy ") and " 40 " in line for line in r.stdout.splitlines())
    nb = _execute(
        "countries", tmp_path, experiment="toy", source="local", results_dir=str(results), n_boot=50
    )
    assert not _errors(nb)
    assert "toy (local): 40 images, 5 classes" in _headline(nb)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("chapter", "params", "message"),
    [
        (
            "countries",
            {"experiment": "US_states_max100"},
            "experiment='US_states_max100' is a US state experiment",
        ),
        ("countries", {"n_boot": -5}, "n_boot=-5 is not allowed"),
        ("calibration", {"experiment": "city100"}, "experiment='city100' stores no probabilities"),
        # papermill only warns about a parameter the chapter does not have: the chapter refuses it
        (
            "calibration",
            {"n_bot": 5},
            "the calibration chapter has no parameter 'n_bot' (did you mean 'n_boot'?); its parameters are "
            "source, experiment, results_dir, n_bins, n_boot, seed",
        ),
        # a value that would exhaust the memory is refused before any work (it died in a MemoryError)
        (
            "calibration",
            {"n_bins": 100_000_000},
            "n_bins=100000000 is not allowed: use an integer from 1 to 1000",
        ),
        ("geoguessr", {"rule": "dart"}, "rule='dart' is not allowed"),
    ],
)
def test_bad_parameters_stop_with_one_sentence(tmp_path, chapter, params, message):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError) as err:
        _execute(chapter, tmp_path, **params)
    assert err.value.ename == "ConfigError" and message in err.value.evalue
    assert "\n" not in err.value.evalue and "alias" not in err.value.evalue
    nb = nbformat.read(tmp_path / f"{chapter}.ipynb", as_version=4)
    shown = [o for o in _errors(nb)]
    assert len(shown) == 1 and shown[0]["traceback"] == [f"ConfigError: {err.value.evalue}"]
