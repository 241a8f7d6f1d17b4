"""tools/nbtools.py: stripping keeps only the headline outputs; headlines are copied by source; the
executed chapters' headline outputs are checked against the committed ones by nbval's rules."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
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


# --------------------------------------------------------------------------- check: nbval without a second run
ROOT = Path(__file__).resolve().parents[1]


def _headline_nb(text: str, **extra):
    cell = new_code_cell(
        "print(summary)",
        outputs=[new_output("stream", name="stdout", text=text)],
        execution_count=3,
        metadata={"tags": ["nbval-check-output"]},
    )
    other = new_code_cell(
        "summary = run()", outputs=[new_output("stream", name="stdout", text=extra.get("noise", ""))]
    )
    return new_notebook(cells=[other, cell])


def test_check_passes_on_the_committed_chapter_and_fails_when_a_headline_number_changes(tmp_path):
    """The committed countries chapter against a copy of itself as the executed notebook, then against a
    copy whose headline top-1 accuracy moved by one hundredth of a point."""
    committed = nbformat.read(ROOT / "book/countries.ipynb", as_version=4)
    executed = nbformat.read(ROOT / "book/countries.ipynb", as_version=4)
    n, problems = nbtools.check_headlines(executed, committed)
    assert n >= 1 and problems == []
    (cell,) = [c for c in executed.cells if nbtools.is_headline(c)]
    old = cell.outputs[0]["text"]
    number = re.search(r"top1: (\d+\.\d\d)%", old).group(1)
    changed = f"{float(number) + 0.01:.2f}"
    cell.outputs[0]["text"] = old.replace(f"top1: {number}%", f"top1: {changed}%")
    n, problems = nbtools.check_headlines(executed, committed)
    assert len(problems) == 1 and "outputs differ" in problems[0]
    assert f"top1: {number}%" in problems[0] and f"top1: {changed}%" in problems[0]
    # and the command the Makefile runs fails with status 1, naming the notebook
    (tmp_path / "executed").mkdir()
    nbformat.write(executed, tmp_path / "executed/countries.ipynb")
    nbformat.write(committed, tmp_path / "countries.ipynb")
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools/nbtools.py"),
            "check",
            str(tmp_path / "executed"),
            str(tmp_path / "countries.ipynb"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1 and "countries.ipynb: cell" in r.stdout and "1 problem(s)" in r.stdout


def test_check_uses_nbval_rules():
    ref = _headline_nb("a: 1\nb: 2\n")
    # streams split over several outputs, other execution counts and metadata: the same to nbval
    ran = _headline_nb("a: 1\n", noise="anything")
    ran.cells[1].outputs.append(new_output("stream", name="stdout", text="b: 2\n"))
    ran.cells[1].execution_count = 17
    ran.cells[1].outputs[0]["metadata"] = {"x": 1}
    assert nbtools.check_headlines(ran, ref) == (1, [])
    # a changed image is not compared (nbval without --nbdime); a new kind of output is
    img = new_output("display_data", data={"image/png": "iVBORw0KGgo="})
    ran.cells[1].outputs.append(img)
    ref.cells[1].outputs.append(new_output("display_data", data={"image/png": "AAAA"}))
    assert nbtools.check_headlines(ran, ref) == (1, [])
    ran.cells[1].outputs.append(new_output("display_data", data={"text/html": "<b>2</b>"}))
    problems = nbtools.check_headlines(ran, ref)[1]
    assert len(problems) == 1 and "text/html" in problems[0]
    # the text differs only by a carriage-return progress line: nbval drops it too
    ran2 = _headline_nb("10%\r100%\na: 1\nb: 2\n")
    assert nbtools.check_headlines(ran2, _headline_nb("100%\na: 1\nb: 2\n")) == (1, [])


def test_check_refuses_what_nbval_would_skip_or_cannot_find(tmp_path):
    ref = _headline_nb("a: 1\n")
    ran = _headline_nb("a: 1\n")
    ran.cells[1].source = "print(summary, end='')"  # the chapter changed since the committed outputs
    problems = nbtools.check_headlines(ran, ref)[1]
    assert len(problems) == 1 and "not in the executed notebook" in problems[0]
    unrun = _headline_nb("a: 1\n")
    unrun.cells[1].outputs, unrun.cells[1].execution_count = [], None
    problems = nbtools.check_headlines(_headline_nb("a: 1\n"), unrun)[1]
    assert len(problems) == 1 and "make headline" in problems[0]
    # no executed notebook at all
    nbformat.write(ref, tmp_path / "x.ipynb")
    assert nbtools.main(["check", str(tmp_path / "nothing"), str(tmp_path / "x.ipynb")]) == 1
