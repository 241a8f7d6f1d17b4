"""Every number an executed book shows, as one JSON file, so two builds can be compared exactly.

    python tools/book_numbers.py dump _build/executed numbers.json
    python tools/book_numbers.py diff before.json after.json

``dump`` collects, per chapter: every glued value (what the prose quotes, by name) and the text of every
output of every code cell (stdout, ``text/plain`` results, HTML tables with their markup stripped of
element ids), keyed by the order of the cells that print them. ``diff`` lists every glue value that
changed or disappeared and every printed text that differs; exit status 1 when anything differs.
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
            found[meta["name"]] = o.get("data", {}).get("text/plain", "")
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


def diff(a: dict, b: dict) -> list[str]:
    problems = []
    for chapter in sorted(set(a) | set(b)):
        if chapter not in b:
            problems.append(f"{chapter}: missing from the second build")
            continue
        if chapter not in a:
            continue  # a new chapter: nothing to compare
        ga, gb = a[chapter]["glue"], b[chapter]["glue"]
        for key in sorted(ga):
            if key not in gb:
                problems.append(f"{chapter}: glue {key} = {ga[key]} disappeared")
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
        problems = diff(a, b)
        for p in problems:
            print(p)
        n_glue = sum(len(c["glue"]) for c in a.values())
        print(
            f"{len(problems)} differences ({n_glue} glued values and "
            f"{sum(len(c['printed']) for c in a.values())} printed outputs compared)"
        )
        return 1 if problems else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
