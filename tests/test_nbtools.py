"""tools/nbtools.py: stripping keeps only the headline outputs; headlines are copied by source."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

spec = importlib.util.spec_from_file_location(
    "nbtools", Path(__file__).resolve().parents[1] / "tools/nbtools.py"
)
nbtools = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nbtools)


def _nb():
    a = new_code_cell("x = 1", outputs=[new_output("stream", text="noise")], execution_count=1)
    b = new_code_cell(
        "print(x)",
        outputs=[new_output("stream", text="1\n")],
        execution_count=2,
        metadata={"tags": ["nbval-check-output", "remove-input"]},
    )
    return new_notebook(cells=[a, b], metadata={"papermill": {"x": 1}})


def test_headline_by_tag_or_by_comment():
    assert nbtools.is_headline(_nb().cells[1]) and not nbtools.is_headline(_nb().cells[0])
    assert nbtools.is_headline(new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)"))


def test_strip_keeps_headline_only():
    nb = nbtools.strip(_nb())
    assert nb.cells[0].outputs == [] and nb.cells[0].execution_count is None
    assert nb.cells[1].outputs[0]["text"] == "1\n"
    assert "papermill" not in nb.metadata
    # nbstripout's marker: kept exactly on the cells nbval checks
    assert nb.cells[1].metadata["keep_output"] is True and "keep_output" not in nb.cells[0].metadata


def test_copy_headlines(tmp_path):
    executed = _nb()
    executed.cells[1].outputs = [new_output("stream", text="2\n")]
    committed = nbtools.strip(_nb())
    assert nbtools.copy_headlines(executed, committed) == 1
    assert committed.cells[1].outputs[0]["text"] == "2\n"
    p = tmp_path / "n.ipynb"
    nbformat.write(committed, p)
    assert nbformat.read(p, as_version=4).cells[1].outputs[0]["text"] == "2\n"
