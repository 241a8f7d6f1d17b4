"""Chapters run end to end on our own inference output (`source="local"`), not only on the paper's files.

The "Running CLIP" chapter produces predictions with the tiny random-weight model on the synthetic demo
images; the analysis chapters must then accept them unchanged (the one-schema promise).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


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
    cells = [
        c
        for c in nb.cells
        if "nbval-check-output" in c.get("metadata", {}).get("tags", []) or "NBVAL_CHECK_OUTPUT" in c.source
    ]
    return "".join(o.get("text", "") for c in cells for o in c.outputs)


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


@pytest.mark.slow
@pytest.mark.parametrize("chapter", ["countries", "regions", "prompts", "calibration"])
def test_analysis_chapter_accepts_local_results(local_results, chapter, monkeypatch):
    out, _ = local_results
    monkeypatch.setenv("GEOCLIP_BOOK_BUILD", "1")
    nb = _execute(chapter, out, source="local", results_dir=str(out / "results"), n_boot=50)
    assert "local" in _headline(nb) or chapter != "countries"
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
