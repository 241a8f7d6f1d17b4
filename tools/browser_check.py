"""Check in a real browser (headless Chromium, network off) that every figure of the built book renders.

    python tools/browser_check.py _build/site/_build/html [--screenshots DIR]

For every chapter page (``book/*.html``) Chromium loads the page from disk with every host name
unresolvable (so nothing can come from a CDN), runs its scripts, and dumps the resulting DOM. The page
passes when each plotly figure container became a drawn plot (``js-plotly-plot`` with an SVG), every
map drew its country shapes (plotly ``choroplethlocation`` paths) and every heatmap drew its image.
A screenshot of each page is saved for a human look. Exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--virtual-time-budget=15000",
]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("browser check: no chromium found; install it (Debian: apt-get install -y chromium)")


def run(args: list[str]) -> str:
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=180,
        )
    return out.stdout


def expected_heatmaps(page_html: str) -> int:
    """Heatmap traces the page asks for: ``"type":"heatmap"`` in the data part of each ``Plotly.newPlot``
    call (the layout that follows carries a template that names every trace type)."""
    n = 0
    for call in page_html.split("Plotly.newPlot(")[1:]:
        data_part = call.split('"layout"')[0].split('"template"')[0]
        n += len(re.findall(r'"type":\s*"heatmap"', data_part))
    return n


def check_dom(dom: str, heat_traces: int = 0) -> tuple[dict, list[str]]:
    """Count what a page drew; return the counts and a list of problems."""
    containers = len(re.findall(r'class="plotly-graph-div[^"]*"', dom))
    drawn = len(re.findall(r'class="[^"]*js-plotly-plot[^"]*"', dom))
    svgs = len(re.findall(r'class="main-svg"', dom))
    geos = len(re.findall(r'class="geo geo\d*"', dom))  # a geo subplot (every figure has a geolayer)
    countries = len(re.findall(r'class="choroplethlocation"', dom))
    heatmaps = len(re.findall(r'class="hm"', dom))
    counts = dict(
        figures=containers, drawn=drawn, svgs=svgs, geo=geos, country_shapes=countries, heatmaps=heatmaps
    )
    problems = []
    if drawn < containers:
        problems.append(f"{containers - drawn} of {containers} figures were not drawn")
    if countries < 150 * geos:  # each map draws the ~240 land polygons under its data
        problems.append(f"{geos} maps drew only {countries} country shapes in all")
    if heatmaps < heat_traces:
        problems.append(f"{heat_traces - heatmaps} of {heat_traces} heatmaps did not draw")
    return counts, problems


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("html", type=Path)
    ap.add_argument("--screenshots", type=Path, default=Path("_build/screenshots"))
    args = ap.parse_args()
    pages = sorted((args.html / "book").glob("*.html"))
    if not pages:
        print(f"browser check: no pages under {args.html}/book; run `make book` first")
        return 1
    args.screenshots.mkdir(parents=True, exist_ok=True)
    failed = 0
    for page in pages:
        url = page.resolve().as_uri()
        dom = run(["--dump-dom", url])
        counts, problems = check_dom(dom, expected_heatmaps(page.read_text(encoding="utf-8")))
        run(
            [
                f"--screenshot={(args.screenshots / (page.stem + '.png')).resolve()}",
                "--window-size=1200,4000",
                url,
            ]
        )
        status = "ok" if not problems else "FAIL: " + "; ".join(problems)
        print(f"{page.name:28} {counts} {status}")
        failed += bool(problems)
    print(f"browser check: {len(pages) - failed} of {len(pages)} pages render their figures offline")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
