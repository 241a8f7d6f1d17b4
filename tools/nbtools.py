"""Notebook housekeeping for the book build (used by the Makefile; tested in tests/test_nbtools.py).

python tools/nbtools.py strip book/*.ipynb
    remove outputs and execution counts from every cell except the headline cells (those tagged
    ``nbval-check-output``, or, older style, whose source contains ``# NBVAL_CHECK_OUTPUT``), and
    papermill/kernel run metadata; headline cells carry ``keep_output: true`` (nbstripout's marker), so
    a contributor's nbstripout hook keeps exactly the outputs nbval checks;
python tools/nbtools.py headline EXECUTED_DIR book/*.ipynb
    copy the outputs of the headline cells from the executed notebooks (same file name in
    EXECUTED_DIR) into the committed notebooks, matching cells by their source text;
python tools/nbtools.py check EXECUTED_DIR book/*.ipynb
    nbval without a second execution: compare the outputs of every headline cell of the committed
    notebooks (the reference) with those of the same cell (same source) in the notebooks the book build
    executed, by nbval's own comparison (``IPyNbCell.compare_outputs`` of ``--nbval-lax``: streams
    coalesced, metadata, execution counts and images ignored); print each difference and exit with
    status 1 when there is one. Stricter than nbval in one way: a headline cell without a stored output
    (its source changed since ``make headline``) is an error, not a skipped check.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from types import SimpleNamespace

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


#: What nbval 0.11 leaves out of the comparison (``IPyNbFile.skip_compare`` without ``--nbdime``).
SKIP_COMPARE = (
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "name",
    "execution_count",
    "application/vnd.jupyter.widget-view+json",
    "image/png",
    "image/jpeg",
)


class _NbvalCell:
    """Just enough of nbval's ``IPyNbCell`` to run its own output comparison outside pytest."""

    def __init__(self) -> None:
        from nbval.plugin import IPyNbCell, nocolors

        self.colors = nocolors
        self.parent = SimpleNamespace(skip_compare=SKIP_COMPARE, sanitize_patterns={})
        self.comparison_traceback: list[str] = []
        self._compare = IPyNbCell.compare_outputs
        self._sanitize = IPyNbCell.sanitize

    def sanitize(self, s):
        return self._sanitize(self, s)

    def format_output_compare(self, key, left, right) -> None:
        self.comparison_traceback.append(f"  {key}: stored {left!r}, executed {right!r}")

    def same(self, test: list, ref: list) -> bool:
        from nbval.plugin import coalesce_streams

        test, ref = coalesce_streams(copy.deepcopy(test)), coalesce_streams(copy.deepcopy(ref))
        return self._compare(self, test, ref)


def check_headlines(executed, committed) -> tuple[int, list[str]]:
    """Compare each headline cell of ``committed`` with the cell of the same source in ``executed``.

    Returns
    -------
    ``(cells_checked, problems)``: one text per headline cell that is missing from ``executed``, has no
    stored output, or whose outputs differ under nbval's rules (with the differing values).
    """
    by_source = {c.source: c for c in executed.cells if c.get("cell_type") == "code"}
    problems, n = [], 0
    for i, cell in enumerate(committed.cells):
        if not is_headline(cell):
            continue
        n += 1
        where = f"cell {i} ({cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ''!r})"
        ran = by_source.get(cell.source)
        if ran is None:
            problems.append(f"{where}: not in the executed notebook")
        elif cell.execution_count is None and not cell.outputs:
            problems.append(f"{where}: no stored output to compare (run `make headline` after checking it)")
        else:
            nbval = _NbvalCell()
            if not nbval.same(ran.outputs, cell.outputs):
                problems.append(f"{where}: outputs differ\n" + "\n".join(nbval.comparison_traceback))
    return n, problems


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
    elif cmd == "check":
        executed_dir, *paths = rest
        cells, bad = 0, 0
        for p in paths:
            ex_path = Path(executed_dir) / Path(p).name
            if not ex_path.is_file():
                print(f"{p}: no executed notebook {ex_path} (run `make execute`)")
                bad += 1
                continue
            n, problems = check_headlines(
                nbformat.read(ex_path, as_version=4), nbformat.read(p, as_version=4)
            )
            cells += n
            bad += len(problems)
            for problem in problems:
                print(f"{p}: {problem}")
        print(
            f"{cells} headline cell(s) of {len(paths)} notebook(s) compared with {executed_dir}: {bad} problem(s)"
        )
        return 1 if bad else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
