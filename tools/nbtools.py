"""Notebook housekeeping for the book build (used by the Makefile; tested in tests/test_nbtools.py).

python tools/nbtools.py strip book/*.ipynb
    remove outputs and execution counts from every cell except the headline cells (those tagged
    ``nbval-check-output``, or, older style, whose source contains ``# NBVAL_CHECK_OUTPUT``), and
    papermill/kernel run metadata; headline cells carry ``keep_output: true`` (nbstripout's marker), so
    a contributor's nbstripout hook keeps exactly the outputs nbval checks;
python tools/nbtools.py headline EXECUTED_DIR book/*.ipynb
    copy the outputs of the headline cells from the executed notebooks (same file name in
    EXECUTED_DIR) into the committed notebooks, matching cells by their source text.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

MARK = "# NBVAL_CHECK_OUTPUT"
TAG = "nbval-check-output"


def is_headline(cell) -> bool:
    """A cell whose output nbval compares: tagged ``nbval-check-output`` (or marked with the comment)."""
    if cell.get("cell_type") != "code":
        return False
    return TAG in cell.get("metadata", {}).get("tags", []) or MARK in "".join(cell.get("source", ""))


def strip(nb):
    """Clear outputs except headline cells; drop run-time metadata. Returns the notebook."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if is_headline(cell):
            cell.metadata["keep_output"] = True
        else:
            cell.metadata.pop("keep_output", None)
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    return nb


def copy_headlines(executed, committed) -> int:
    """Copy headline outputs from ``executed`` into ``committed`` (matched by source). Returns count."""
    by_source = {c.source: c for c in executed.cells if is_headline(c)}
    n = 0
    for cell in committed.cells:
        if is_headline(cell):
            src = by_source.get(cell.source)
            if src is None:
                raise SystemExit(f"headline cell not found in the executed notebook: {cell.source[:60]!r}")
            cell.outputs = [o for o in src.outputs if o.get("output_type") != "display_data"]
            for o in cell.outputs:
                o.pop("execution_count", None) if o.get("output_type") != "execute_result" else None
            cell.execution_count = src.execution_count
            n += 1
    return n


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    cmd, *rest = argv
    if cmd == "strip":
        for p in rest:
            nb = nbformat.read(p, as_version=4)
            nbformat.write(strip(nb), p)
    elif cmd == "headline":
        executed_dir, *paths = rest
        for p in paths:
            nb = nbformat.read(p, as_version=4)
            ex = nbformat.read(Path(executed_dir) / Path(p).name, as_version=4)
            n = copy_headlines(ex, nb)
            nbformat.write(strip(nb), p)
            print(f"{p}: {n} headline cell(s) updated")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
