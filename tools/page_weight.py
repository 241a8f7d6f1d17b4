"""Weigh every page of the built book and hold each page to a budget.

    python tools/page_weight.py _build/site/_build/html [--budget-kb 500] [--report FILE]

A page's weight is the bytes of its own HTML file: what a reader downloads for that page beyond the shared
assets under ``_static/`` (plotly.js, the theme, and the data that several figures share: the world
polygons and plotly's template in ``_static/geoclip/``), which are fetched once and cached for the whole book.
Listed beside it, not in the HTML budget: the page's own figure data that the build moved out of the HTML
(``_static/geoclip/fig-*.js``, referenced by that page only), the images it shows (``_images/``) and the
scripts its HTML loads (``<script src>`` files, cached between pages but fetched by a first visit).
Prints a table of every page and the shared assets; writes it as TSV with ``--report``; exit status 1 when
a page's HTML is over budget (one line each), 2 on bad input.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

_IMG = re.compile(r"""<img[^>]*\bsrc=["']([^"']+)["']""")
_OWN = re.compile(r"geoclip-asset:(fig-[0-9a-f]+)")
_SCRIPT = re.compile(r"""<script\b[^>]*\bsrc=["']([^"'?#]+)""")


def pages_of(html: Path) -> list[Path]:
    """Every page of the built book (not the theme's or Sphinx's own folders, which start with ``_``)."""
    return sorted(
        p for p in html.rglob("*.html") if not any(part.startswith("_") for part in p.relative_to(html).parts)
    )


def weigh(html: Path) -> list[dict]:
    """One row per page: ``page``, ``html_bytes``, ``own_data_bytes`` (its figures' data files),
    ``image_bytes`` (local images it shows), ``script_bytes`` (the local scripts its HTML loads)."""
    rows = []
    for page in pages_of(html):
        text = page.read_text(encoding="utf-8", errors="replace")
        images = {
            (page.parent / src.split("#")[0]).resolve() for src in _IMG.findall(text) if "_images/" in src
        }
        own = {html / "_static" / "geoclip" / f"{key}.js" for key in _OWN.findall(text)}
        scripts = {(page.parent / src).resolve() for src in _SCRIPT.findall(text) if "://" not in src}
        rows.append(
            {
                "page": page.relative_to(html).as_posix(),
                "html_bytes": page.stat().st_size,
                "own_data_bytes": sum(p.stat().st_size for p in own if p.is_file()),
                "image_bytes": sum(p.stat().st_size for p in images if p.is_file()),
                "script_bytes": sum(p.stat().st_size for p in scripts if p.is_file()),
            }
        )
    return rows


def shared_assets(html: Path) -> int:
    """Bytes under ``_static/`` loaded once and shared by the pages (a page's own figure data excluded)."""
    return sum(
        p.stat().st_size
        for p in (html / "_static").rglob("*")
        if p.is_file() and not (p.parent.name == "geoclip" and p.name.startswith("fig-"))
    )


def over_budget(rows: list[dict], budget_bytes: int) -> list[str]:
    """One line per page whose HTML is over the budget."""
    return [
        f"{r['page']}: {r['html_bytes'] / 1000:.0f} kB of HTML, over the budget of {budget_bytes / 1000:.0f} kB"
        for r in rows
        if r["html_bytes"] > budget_bytes
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("--budget-kb", type=float, default=500.0, help="HTML budget per page in kB (1000 bytes)")
    ap.add_argument("--report", type=Path, help="write the table here (TSV)")
    args = ap.parse_args(argv)
    if not (args.html / "book").is_dir():
        print(f"page weight: no book under {args.html}; run `make book` first")
        return 2
    rows = weigh(args.html)
    budget = int(args.budget_kb * 1000)
    print(f"{'page':32} {'HTML kB':>9} {'own figure data kB':>19} {'images kB':>10} {'scripts kB':>11}")
    for r in rows:
        print(
            f"{r['page']:32} {r['html_bytes'] / 1000:9.1f} {r['own_data_bytes'] / 1000:19.1f} "
            f"{r['image_bytes'] / 1000:10.1f} {r['script_bytes'] / 1000:11.1f}"
        )
    print(f"{'shared assets (_static/)':32} {shared_assets(args.html) / 1000:9.1f}")
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        cols = ["page", "html_bytes", "own_data_bytes", "image_bytes", "script_bytes"]
        lines = ["\t".join(cols)] + ["\t".join(str(r[c]) for c in cols) for r in rows]
        args.report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = over_budget(rows, budget)
    for p in problems:
        print(f"page weight: {p}")
    heaviest = max(rows, key=lambda r: r["html_bytes"])
    print(
        f"page weight: {len(rows) - len(problems)} of {len(rows)} pages within {budget / 1000:.0f} kB of HTML "
        f"(heaviest {heaviest['page']}, {heaviest['html_bytes'] / 1000:.0f} kB)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
