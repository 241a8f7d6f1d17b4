"""Light book pages: move data shared by several figures, and large figure data, out of the pages.

    python tools/book_assets.py SITE_DIR [--share-kb 4] [--inline-kb 100]

Runs on the executed notebooks that Jupyter Book turns into pages (``SITE_DIR/book/*.ipynb``), after papermill
and before the HTML build (``make html``). Every figure of the book is read (its JSON sits in
``<script type="application/json" id="<id>-figure">``, written by ``geoclip_utils.plots.book_figure_html``):

1. shared data: a trace property (``geojson``, ``lat``, ...) or the layout's ``template`` whose JSON is at least
   ``--share-kb`` and occurs in two or more figures anywhere in the book is written once as
   ``_static/geoclip/<name>-<hash>.js`` and replaced in every figure by ``"geoclip-asset:<name>-<hash>"``:
   the world polygons and plotly's default template, and whatever else figures come to share;
2. compact labels: a long list of strings with many repeats (hover labels) becomes
   ``{"geoclip-codes": [...], "values": [...]}``, lossless, expanded again in the browser;
3. a figure's own large data: a figure whose JSON is still over ``--inline-kb`` keeps its layout in the page
   and moves its traces to ``_static/geoclip/fig-<hash>.js``, loaded when the page draws it. These bytes belong
   to that page: ``tools/page_weight.py`` reports them beside its HTML.

The files are written to ``SITE_DIR/_extra/_static/geoclip/`` and published at ``_static/geoclip/``
(``html_extra_path``): Jupyter Book 1.x puts every script under ``_static/`` in the head of every page, and
these must be loaded only by the pages that use them. ``_static/geoclip-figures.js`` resolves the references
(a plain ``<script>`` per file, so it works from ``file://`` and offline). The notebooks are rewritten in place (their ``.ipynb`` download is light too);
one summary line says what moved. Exit status 2 on bad input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

import nbformat

PREFIX = "geoclip-asset:"
ASSET_DIR = "geoclip"
FIGURE = re.compile(r'<script type="application/json" id="([^"]+)-figure">(.*?)</script>', re.S)


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def script_json(obj) -> str:
    """JSON that is safe inside a ``<script>`` element (``<`` escaped, so no ``</script>`` can appear)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _slots(fig: dict):
    """``(container, key, name)`` for every value that may be shared: trace properties, layout template."""
    for trace in fig.get("data", []):
        for key in list(trace):
            yield trace, key, key
    layout = fig.get("layout", {})
    if "template" in layout:
        yield layout, "template", "template"


def compact_labels(fig: dict, min_len: int = 1000, max_unique_share: float = 0.25) -> int:
    """Dictionary-encode long string lists with many repeats in the traces of ``fig``; returns bytes saved."""
    saved = 0
    for trace in fig.get("data", []):
        for key, value in list(trace.items()):
            if not (
                isinstance(value, list) and len(value) >= min_len and all(isinstance(v, str) for v in value)
            ):
                continue
            values = sorted(set(value))
            if len(values) > max_unique_share * len(value):
                continue
            index = {v: i for i, v in enumerate(values)}
            coded = {"geoclip-codes": [index[v] for v in value], "values": values}
            before, after = len(canonical(value)), len(canonical(coded))
            if after < before:
                trace[key] = coded
                saved += before - after
    return saved


def link(figures: list[dict], share_bytes: int, inline_bytes: int) -> tuple[dict[str, object], dict]:
    """Rewrite ``figures`` in place; return the assets to write (key -> object) and a summary."""
    seen: dict[str, set[int]] = {}
    for i, fig in enumerate(figures):
        for container, key, _ in _slots(fig):
            text = canonical(container[key])
            if len(text) >= share_bytes:
                seen.setdefault(digest(text), set()).add(i)
    shared = {h for h, figs in seen.items() if len(figs) > 1}
    assets: dict[str, object] = {}
    summary = {"figures": len(figures), "shared": 0, "shared_refs": 0, "compacted_bytes": 0, "own": 0}
    for fig in figures:
        for container, key, name in _slots(fig):
            value = container[key]
            text = canonical(value)
            if len(text) < share_bytes or digest(text) not in shared:
                continue
            asset = f"{re.sub(r'[^a-z0-9]', '', name.lower()) or 'data'}-{digest(text)}"
            if asset not in assets:
                assets[asset] = value
                summary["shared"] += 1
            container[key] = PREFIX + asset
            summary["shared_refs"] += 1
        summary["compacted_bytes"] += compact_labels(fig)
        if len(script_json(fig)) > inline_bytes:
            asset = f"fig-{digest(canonical(fig['data']))}"
            assets[asset] = fig["data"]
            fig["data"] = PREFIX + asset
            summary["own"] += 1
    return assets, summary


def write_assets(static: Path, assets: dict[str, object]) -> int:
    folder = static / ASSET_DIR
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for key, value in assets.items():
        body = json.dumps(value, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
        text = f'geoclipAsset("{key}", {body});\n'
        (folder / f"{key}.js").write_text(text, encoding="utf-8")
        total += len(text.encode())
    return total


def _html_outputs(nb):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html")
            if html is not None and '-figure">' in "".join(html):
                yield out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("site", type=Path, help="the Jupyter Book source folder (_build/site)")
    ap.add_argument("--share-kb", type=float, default=4.0, help="share values of at least this size (kB)")
    ap.add_argument(
        "--inline-kb", type=float, default=100.0, help="keep figures up to this size in the page (kB)"
    )
    args = ap.parse_args(argv)
    notebooks = sorted((args.site / "book").glob("*.ipynb"))
    if not notebooks:
        print(f"book assets: no notebooks under {args.site}/book; run `make execute` first")
        return 2
    books = {p: nbformat.read(p, as_version=4) for p in notebooks}
    figures, where = [], []
    for path, nb in books.items():
        for out in _html_outputs(nb):
            html = "".join(out["data"]["text/html"])
            for m in FIGURE.finditer(html):
                try:
                    figures.append(json.loads(m.group(2)))
                except json.JSONDecodeError as exc:
                    print(f"book assets: {path.name}: figure {m.group(1)} is not valid JSON ({exc})")
                    return 2
                where.append((path, out, m.group(1)))
    assets, summary = link(figures, int(args.share_kb * 1000), int(args.inline_kb * 1000))
    for fig, (_path, out, fig_id) in zip(figures, where, strict=True):
        html = "".join(out["data"]["text/html"])
        pattern = re.compile(
            rf'(<script type="application/json" id="{re.escape(fig_id)}-figure">)(.*?)(</script>)', re.S
        )
        out["data"]["text/html"] = pattern.sub(
            lambda m, f=fig: m.group(1) + script_json(f) + m.group(3), html, count=1
        )
    for path, nb in books.items():
        nbformat.write(nb, path)
    written = write_assets(args.site / "_extra" / "_static", assets)
    print(
        f"book assets: {summary['figures']} figures in {len(books)} notebooks; {summary['shared']} shared values "
        f"({summary['shared_refs']} references), {summary['own']} figures' data moved to their own file, "
        f"{summary['compacted_bytes'] / 1000:.0f} kB saved by label codes; {written / 1000:.0f} kB of assets "
        f"in {args.site / '_extra' / '_static' / ASSET_DIR}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
