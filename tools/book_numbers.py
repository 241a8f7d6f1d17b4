"""Every number an executed book shows, as one JSON file, so two builds can be compared exactly.

    python tools/book_numbers.py dump _build/executed numbers.json
    python tools/book_numbers.py diff before.json after.json

``dump`` collects, per chapter: every glued value (what the prose quotes, by name) and the text of every
output of every code cell (stdout, ``text/plain`` results, HTML tables with their markup stripped of
element ids), keyed by the order of the cells that print them. ``diff`` lists every glue value that
changed or disappeared and every printed text that differs; exit status 1 when anything differs. A glued
float that moved by at most 1e-12 of its size (the same sum in another order: BLAS threads, chapters run side
by side) is listed apart and is not a difference.
A refactor that must leave the book's numbers unchanged is checked with a dump before and after.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

_ID = re.compile(
    r"""\b(id|table_id|aria-labelledby)=["'][^"']*["']|T_[0-9a-f]{5}_?|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f-]{27}"""
)


def _texts(cell) -> list[str]:
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            if o.get("name") == "stdout":  # stderr holds progress bars and timings
                out.append(o.get("text", ""))
        elif o.get("output_type") in ("execute_result", "display_data"):
            data = o.get("data", {})
            if "application/papermill.record/text/plain" in data or o.get("metadata", {}).get("scrapbook"):
                continue  # a glue value: collected separately
            if "text/html" in data and "plotly" not in data["text/html"]:
                out.append(_ID.sub("", data["text/html"]))
            elif "text/plain" in data and "application/vnd.plotly.v1+json" not in data:
                out.append(data["text/plain"])
    return out


def _glue(cell) -> dict[str, str]:
    found = {}
    for o in cell.get("outputs", []):
        meta = o.get("metadata", {}).get("scrapbook")
        if meta and "name" in meta:
            data = o.get("data", {})
            prefix = meta.get("mime_prefix", "")
            found[meta["name"]] = data.get(prefix + "text/plain", data.get("text/plain"))
    return found


def dump(executed: Path) -> dict:
    book = {}
    for path in sorted(executed.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        glue: dict[str, str] = {}
        printed: list[str] = []
        for cell in nb.cells:
            if cell.cell_type != "code" or "injected-parameters" in cell.metadata.get("tags", []):
                continue
            glue.update(_glue(cell))
            printed.extend(t for t in _texts(cell) if t.strip())
        book[path.stem] = {"glue": glue, "printed": printed}
    return book


#: Two glued floats that agree to this relative difference are the same number computed in another order
#: (a sum split over other threads rounds the last binary digit differently); ``diff`` lists them apart.
LAST_DIGITS = 1e-12


def _same_but_last_digits(x: str, y: str) -> bool:
    try:
        fx, fy = float(x), float(y)
    except (TypeError, ValueError):
        return False
    return fx != fy and abs(fx - fy) <= LAST_DIGITS * max(abs(fx), abs(fy))


def diff(a: dict, b: dict, last_digits: list[str] | None = None) -> list[str]:
    """Every glued value that changed or disappeared and every printed text no longer shown. A float that
    moved only in its last digits (relative change at most :data:`LAST_DIGITS`) is not a difference; it is
    appended to ``last_digits`` when a list is given."""
    problems = []
    for chapter in sorted(set(a) | set(b)):
        if chapter not in b:
            problems.append(f"{chapter}: missing from the second build")
            continue
        if chapter not in a:
            continue  # a new chapter: nothing to compare
        ga, gb = a[chapter]["glue"], b[chapter]["glue"]
        for key in sorted(ga):
            if ga[key] is None:
                problems.append(f"{chapter}: glue {key} has no text value in the first build")
            elif key not in gb:
                problems.append(f"{chapter}: glue {key} = {ga[key]} disappeared")
            elif _same_but_last_digits(ga[key], gb[key]):
                if last_digits is not None:
                    last_digits.append(f"{chapter}: glue {key}: {ga[key]} -> {gb[key]}")
            elif ga[key] != gb[key]:
                problems.append(f"{chapter}: glue {key}: {ga[key]} -> {gb[key]}")
        pa, pb = a[chapter]["printed"], b[chapter]["printed"]
        missing = [t for t in pa if t not in pb]
        for t in missing:
            problems.append(f"{chapter}: printed output no longer shown: {t[:300]!r}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "dump":
        Path(argv[2]).write_text(
            json.dumps(dump(Path(argv[1])), indent=1, ensure_ascii=False), encoding="utf-8"
        )
        return 0
    if len(argv) == 3 and argv[0] == "diff":
        a = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        b = json.loads(Path(argv[2]).read_text(encoding="utf-8"))
        last: list[str] = []
        problems = diff(a, b, last)
        for p in problems:
            print(p)
        for p in last:
            print(f"(last digits only) {p}")
        n_glue = sum(len(c["glue"]) for c in a.values())
        print(
            f"{len(problems)} differences ({n_glue} glued values and "
            f"{sum(len(c['printed']) for c in a.values())} printed outputs compared)"
            + (f"; {len(last)} glued floats differ beyond {LAST_DIGITS:g} relative only" if last else "")
        )
        return 1 if problems else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
