"""tools/book_numbers.py reads glued values where papermill stores them, and reports changed ones."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

spec = importlib.util.spec_from_file_location(
    "book_numbers", Path(__file__).resolve().parents[1] / "tools/book_numbers.py"
)
book_numbers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(book_numbers)


def _glued(name: str, value: str):
    return new_output(
        "display_data",
        data={"application/papermill.record/text/plain": value},
        metadata={"scrapbook": {"mime_prefix": "application/papermill.record/", "name": name}},
    )


def _book(tmp_path: Path, value: str) -> Path:
    folder = tmp_path / value
    folder.mkdir()
    cell = new_code_cell(
        "glue_values(top1=x)", outputs=[_glued("top1", value), new_output("stream", text="n = 4\n")]
    )
    nbformat.write(new_notebook(cells=[cell]), folder / "countries.ipynb")
    return folder


def test_dump_reads_glued_values_and_diff_reports_a_change(tmp_path):
    a = book_numbers.dump(_book(tmp_path, "0.517"))
    b = book_numbers.dump(_book(tmp_path, "0.518"))
    assert a["countries"]["glue"] == {"top1": "0.517"}
    assert a["countries"]["printed"] == ["n = 4\n"]
    assert book_numbers.diff(a, a) == []
    assert book_numbers.diff(a, b) == ["countries: glue top1: 0.517 -> 0.518"]


def test_a_float_that_moves_in_its_last_digits_only_is_listed_apart(tmp_path):
    """3503.6460438145923 and 3503.646043814592 are one sum in two orders: not a difference, but said;
    a change in the 11th significant digit still is one."""
    a = book_numbers.dump(_book(tmp_path, "3503.6460438145923"))
    same = book_numbers.dump(_book(tmp_path, "3503.646043814592"))
    moved = book_numbers.dump(_book(tmp_path, "3503.6460438"))
    last: list[str] = []
    assert book_numbers.diff(a, same, last) == []
    assert last == ["countries: glue top1: 3503.6460438145923 -> 3503.646043814592"]
    assert book_numbers.diff(a, moved) == ["countries: glue top1: 3503.6460438145923 -> 3503.6460438"]
