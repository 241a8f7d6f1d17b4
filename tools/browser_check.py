"""Check in a real browser (headless Chromium, network off) that every page of the built book reads well.

    python tools/browser_check.py _build/site/_build/html [--screenshots DIR] [--axe FILE] [--report FILE]
    python tools/browser_check.py --self-test

Chromium is driven by Selenium through Debian's ``chromedriver`` (``make setup-browser`` installs both) with
every host name unresolvable, so nothing can come from a CDN. Each page (``*.html`` of the book, the index,
search and appendices included) is loaded from disk, its scripts run, and once its figures are drawn:

* figures: every plotly container became a drawn plot, every map drew its country shapes (plotly
  ``choroplethlocation`` paths) and every heatmap trace its image;
* layout: no figure or table is wider than the page's text column unless it scrolls inside it; every table
  cell has horizontal padding; the axis titles of a figure do not overlap one another;
* colour: every colour scale shown covers the values it colours, and the scale of a difference (values of
  both signs, or a figure marked ``layout.meta.diverging``) is centred on 0;
* console: no console error, no uncaught exception, no failed load;
* network: no request leaving ``file://`` (``data:``, ``blob:`` and ``about:`` stay on the machine);
* text: no visible ``NaN``, ``None``, ``undefined`` or raw ``{glue`` in prose, tables and outputs (code
  that a reader is shown as code, cell inputs and literals, is not prose and is skipped);
* images: every ``<img>`` has alt text;
* links: every internal link (``file://``) resolves to a file, and its ``#fragment`` to an id in it;
* accessibility: axe-core (``npm ci`` installs it from package-lock.json) injected into the page reports
  no serious or critical violation; every violation's count by impact is reported.

Prints one line per page (its counts) and one line per problem, saves a screenshot of each page, and can
write every page's results as JSON (``--report``). ``--self-test`` checks a few constructed pages, one bad
page per layout and colour rule and one good page, and fails unless each rule finds exactly its own problem
(``make browser`` runs it first). Exit status 1 on any problem, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
VIEWPORT = {"width": 1200, "height": 900}
LOCAL_SCHEMES = ("file", "data", "blob", "about")
SERIOUS = ("serious", "critical")
BAD_TEXT = re.compile(r"\bNaN\b|\bNone\b|\bundefined\b|\{glue")
ROOT = Path(__file__).resolve().parents[1]
AXE_DEFAULT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: The smallest horizontal padding (left + right, CSS pixels) of a table cell.
MIN_CELL_PADDING = 4.0

# Evaluated in the page: what it drew, its visible text problems, images without alt, links and ids.
PAGE_PROBE = r"""
return (() => {
  const gds = [...document.querySelectorAll(".plotly-graph-div")];
  const drawn = gds.filter(d => d.classList.contains("js-plotly-plot") && d.querySelector(".main-svg"));
  let heatTraces = 0;
  for (const d of drawn) heatTraces += (d.data || []).filter(t => t.type === "heatmap").length;
  const counts = {
    figures: gds.length,
    drawn: drawn.length,
    geo: [...document.querySelectorAll("g")].filter(g => /^geo geo\d*$/.test(g.getAttribute("class") || "")).length,
    country_shapes: document.querySelectorAll("path.choroplethlocation").length,
    heatmap_traces: heatTraces,
    heatmaps: document.querySelectorAll(".hm").length,
  };
  const isCode = el => el.closest(".cell_input") || (el.closest("pre, code") && !el.closest(".cell_output"));
  const visible = el => {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === "none" || s.visibility === "hidden") return false;
    }
    return el.getClientRects().length > 0;
  };
  const texts = [];
  const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT);
  const bad = /\bNaN\b|\bNone\b|\bundefined\b|\{glue/;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || !bad.test(n.nodeValue) || el.closest("script, style, noscript") || isCode(el) || !visible(el)) continue;
    texts.push(n.nodeValue.trim().slice(0, 120));
  }
  const images = [...document.querySelectorAll("img")]
    .filter(i => !(i.getAttribute("alt") || "").trim())
    .map(i => i.getAttribute("src") || "(no src)");
  const links = [...document.querySelectorAll("a[href]")].map(a => [a.href, (a.textContent || "").trim().slice(0, 60)]);
  const ids = [...document.querySelectorAll("[id], a[name]")].map(e => e.id || e.getAttribute("name"));
  return {counts, texts, images, links, ids, url: location.href, height: document.documentElement.scrollHeight};
})();
"""

# Evaluated in the page once it is drawn: the boxes, colour ranges and cell paddings the layout rules judge.
LAYOUT_PROBE = r"""
return (() => {
  const column = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  const cs = getComputedStyle(column);
  const colBox = column.getBoundingClientRect();
  const colRight = colBox.right - parseFloat(cs.paddingRight || 0) - parseFloat(cs.borderRightWidth || 0);
  const colLeft = colBox.left + parseFloat(cs.paddingLeft || 0) + parseFloat(cs.borderLeftWidth || 0);
  const label = (el, kind) => {
    const fig = el.closest("[role=figure]");
    if (fig && fig.getAttribute("aria-label")) return fig.getAttribute("aria-label").slice(0, 80);
    const cap = el.querySelector && el.querySelector("caption");
    if (cap && cap.textContent.trim()) return cap.textContent.trim().slice(0, 80);
    const head = el.querySelector && el.querySelector("th, td");
    const first = head ? head.textContent.trim().slice(0, 40) : "";
    return (el.id ? "#" + el.id + " " : "") + (kind === "table" ? "starting " + JSON.stringify(first) : "");
  };
  const isCode = el => el.closest(".cell_input, pre, code, .highlight");
  const shown = el => el.getClientRects().length > 0;
  const boxes = [];
  const measure = (el, kind) => {
    const b = el.getBoundingClientRect();
    let scrolls = false;
    for (let a = el.parentElement; a && a !== column && a !== document.body; a = a.parentElement) {
      const s = getComputedStyle(a);
      const ab = a.getBoundingClientRect();  // a scroll box taller than the window hides its scroll bar
      if ((s.overflowX === "auto" || s.overflowX === "scroll") && ab.right <= colRight + 1 && ab.height <= innerHeight) {
        scrolls = true;
        break;
      }
    }
    boxes.push({kind, label: label(el, kind), width: b.width, left: b.left, right: b.right,
                column_left: colLeft, column_right: colRight, scrolls});
  };
  const gds = [...column.querySelectorAll(".plotly-graph-div")].filter(shown);
  gds.forEach(d => measure(d, "figure"));
  const tables = [...column.querySelectorAll("table")].filter(t => shown(t) && !isCode(t) && !t.closest(".plotly-graph-div"));
  tables.forEach(t => measure(t, "table"));

  const cells = [];
  for (const t of tables) {
    const all = [...t.querySelectorAll("th, td")].filter(c => c.textContent.trim() && shown(c));
    const tight = all.filter(c => {
      const s = getComputedStyle(c);
      return parseFloat(s.paddingLeft || 0) + parseFloat(s.paddingRight || 0) < %(min_padding)s;
    });
    if (tight.length) cells.push({label: label(t, "table"), cells: all.length, tight: tight.length,
                                  example: tight[0].textContent.trim().slice(0, 40)});
  }

  const titles = [];
  const colours = [];
  for (const gd of gds) {
    const name = label(gd, "figure") || gd.id;
    const texts = [...gd.querySelectorAll("g.infolayer > g")]
      .filter(g => /^g-[xy]\d*title$/.test(g.getAttribute("class") || ""))
      .flatMap(g => [...g.querySelectorAll("text")])
      .filter(t => t.textContent.trim());
    titles.push({figure: name, boxes: texts.map(t => {
      const b = t.getBoundingClientRect();
      return {cls: t.parentElement.getAttribute("class") || t.getAttribute("class") || "", text: t.textContent.trim().slice(0, 60),
              x: b.left, y: b.top, w: b.width, h: b.height};
    })});
    const full = gd._fullLayout || {};
    const diverging = !!(full.meta && full.meta.diverging);
    (gd._fullData || []).forEach((t, i) => {
      if (t.visible !== true) return;
      let values = null, lo, hi, show;
      const axName = t.coloraxis || (t.marker && t.marker.coloraxis);  // scatter traces name it on marker
      const ax = axName ? full[axName] : null;
      const isArr = v => Array.isArray(v) || ArrayBuffer.isView(v);
      if (isArr(t.z)) {
        values = t.z;
        [lo, hi, show] = ax ? [ax.cmin, ax.cmax, ax.showscale] : [t.zmin, t.zmax, t.showscale];
      } else if (t.marker && isArr(t.marker.color)) {
        values = t.marker.color;
        [lo, hi, show] = ax ? [ax.cmin, ax.cmax, ax.showscale] : [t.marker.cmin, t.marker.cmax, t.marker.showscale];
      }
      if (!values || !show) return;
      const flat = v => (isArr(v) ? Array.from(v).flatMap(flat) : [v]);
      const nums = flat(values).filter(v => typeof v === "number" && isFinite(v));
      if (!nums.length) return;
      colours.push({figure: name, trace: t.name || (t.type + " " + i), data_min: Math.min(...nums),
                    data_max: Math.max(...nums), cmin: lo, cmax: hi, diverging});
    });
  }
  return {boxes, cells, titles, colours};
})();
""".replace("%(min_padding)s", str(MIN_CELL_PADDING))

READY = r"""
return document.readyState === "complete" && !!document.body &&
  [...document.querySelectorAll(".plotly-graph-div")].every(
    d => d.classList.contains("js-plotly-plot") && d.querySelector(".main-svg"));
"""

AXE_RUN = r"""
return axe.run(document, {resultTypes: ["violations"], preload: false}).then(r => r.violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
  example: v.nodes.length ? v.nodes[0].target.join(" ") : "",
  html: v.nodes.length ? v.nodes[0].html.slice(0, 200) : ""})));
"""


def _which(names: tuple[str, ...], what: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    sys.exit(
        f"browser check: no {what} found; install it (`make setup-browser`: Debian's chromium chromium-driver)"
    )


def chromium() -> str:
    return _which(("chromium", "chromium-browser", "google-chrome"), "chromium")


def chromedriver() -> str:
    return _which(("chromedriver",), "chromedriver")


class Browser:
    """Headless Chromium driven by Selenium (Debian's chromedriver: the driver of the same chromium build).

    Console messages and uncaught exceptions come from the driver's ``browser`` log, requests from its
    ``performance`` log (the DevTools ``Network`` events), so a page's problems are collected per load.
    """

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        opts = webdriver.ChromeOptions()
        opts.binary_location = chromium()
        for flag in FLAGS:
            opts.add_argument(flag)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        opts.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
        opts.page_load_strategy = "none"  # navigation returns at once; load() polls until the page is drawn
        # an explicit driver path: Selenium Manager (which would download a driver) is never run
        self.driver = webdriver.Chrome(service=Service(chromedriver()), options=opts)
        self.driver.set_script_timeout(170)
        self.driver.set_page_load_timeout(60)
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride", {**VIEWPORT, "deviceScaleFactor": 1, "mobile": False}
        )
        self.console: list[str] = []
        self.external: list[str] = []
        self.failed: list[str] = []
        self.pending: set[str] = set()
        self._urls: dict[str, str] = {}

    def clear(self) -> None:
        self.pump()
        self.console.clear(), self.external.clear(), self.failed.clear(), self.pending.clear()

    def pump(self) -> None:
        """Take the console and network events logged since the last call."""
        for entry in self.driver.get_log("browser"):
            if entry.get("level") != "SEVERE":
                continue
            source, text = entry.get("source", ""), entry.get("message", "")[:300]
            if source == "console-api":
                self.console.append(f"console error: {text}")
            elif source == "javascript":
                self.console.append(f"uncaught exception: {text}")
            else:
                self.console.append(f"browser error ({source}): {text}")
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"]).get("message", {})
            method, p = msg.get("method", ""), msg.get("params", {})
            if method == "Network.requestWillBeSent":
                url = p.get("request", {}).get("url", "")
                self.pending.add(p.get("requestId"))
                self._urls[p.get("requestId")] = url
                if urlsplit(url).scheme not in LOCAL_SCHEMES:
                    self.external.append(url)
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                self.pending.discard(p.get("requestId"))
                if method == "Network.loadingFailed" and not p.get("canceled"):
                    url = self._urls.get(p.get("requestId"), "?")
                    self.failed.append(f"{p.get('errorText')} ({url[:200]})")

    def evaluate(self, script: str, *args):
        """Run ``script`` (a function body: ``return ...``) in the page; a returned promise is awaited."""
        from selenium.common.exceptions import WebDriverException

        try:
            return self.driver.execute_script(script, *args)
        except WebDriverException as exc:
            raise RuntimeError((exc.msg or str(exc)).splitlines()[0]) from exc

    def load(self, url: str, timeout: float = 90) -> None:
        """Navigate and wait until the page, its requests and its figures are done: the address (a page may
        redirect, as index.html does) and what it drew stay the same over three polls."""
        from selenium.common.exceptions import WebDriverException

        try:
            self.driver.get(url)
        except WebDriverException as exc:
            raise RuntimeError(f"could not load {url}: {(exc.msg or str(exc)).splitlines()[0]}") from exc
        deadline = time.monotonic() + timeout
        last, stable = None, 0
        while time.monotonic() < deadline:
            time.sleep(0.25)
            self.pump()
            try:  # between two documents (a redirect) an evaluation can fail or see no body: poll again
                if self.pending or not self.evaluate(READY):
                    stable = 0
                    continue
                probe = self.evaluate(PAGE_PROBE)
            except RuntimeError:
                stable = 0
                continue
            now = json.dumps([probe["url"], probe["counts"]])
            stable = stable + 1 if now == last else 0
            last = now
            if stable >= 2:
                return

    def screenshot(self, path: Path, height: int) -> None:
        import base64

        clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": max(300, min(height, 4000)), "scale": 1}
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.driver.quit()
        except Exception:  # noqa: BLE001 - a browser that already died has nothing left to close
            pass


# --------------------------------------------------------------------------- checks (pure, tested)
def figure_problems(counts: dict) -> list[str]:
    """Problems with what a page drew (counts from PAGE_PROBE)."""
    problems = []
    if counts["drawn"] < counts["figures"]:
        problems.append(
            f"{counts['figures'] - counts['drawn']} of {counts['figures']} figures were not drawn"
        )
    if counts["country_shapes"] < 150 * counts["geo"]:  # each map draws the ~240 land polygons under its data
        problems.append(f"{counts['geo']} maps drew only {counts['country_shapes']} country shapes in all")
    if counts["heatmaps"] < counts["heatmap_traces"]:
        problems.append(
            f"{counts['heatmap_traces'] - counts['heatmaps']} of {counts['heatmap_traces']} heatmaps did not draw"
        )
    return problems


def width_problems(boxes: list[dict], tolerance: float = 1.0) -> list[str]:
    """Figures and tables wider than the text column (or sticking out of it) that do not scroll inside it.

    ``boxes`` come from LAYOUT_PROBE: ``kind``, ``label``, ``width``, ``left``, ``right``, ``column_left``,
    ``column_right`` (CSS pixels) and ``scrolls`` (an ancestor inside the column scrolls horizontally).
    """
    problems = []
    for b in boxes:
        out = max(b["right"] - b["column_right"], b["column_left"] - b["left"])
        if out > tolerance and not b["scrolls"]:
            column = b["column_right"] - b["column_left"]
            problems.append(
                f"{b['kind']} {b['label']!r} is {b['width']:.0f} px wide in a column of {column:.0f} px "
                f"({out:.0f} px outside it) and does not scroll inside the column"
            )
    return problems


def padding_problems(tables: list[dict]) -> list[str]:
    """Tables with cells whose horizontal padding (left + right) is under :data:`MIN_CELL_PADDING` px."""
    return [
        f"table {t['label']!r}: {t['tight']} of {t['cells']} cells have no horizontal padding "
        f"(under {MIN_CELL_PADDING:.0f} px, e.g. {t['example']!r}): their values run together"
        for t in tables
    ]


def _overlap(a: dict, b: dict, tolerance: float = 1.0) -> bool:
    w = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    h = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    return w > tolerance and h > tolerance


def title_problems(figures: list[dict]) -> list[str]:
    """Axis titles (plotly's ``g-xtitle``, ``g-x2title``, ... ``g-ytitle`` text) of one figure that overlap."""
    problems = []
    for fig in figures:
        boxes = fig["boxes"]
        pairs = [
            (a, b)
            for i, a in enumerate(boxes)
            for b in boxes[i + 1 :]
            if a["cls"] != b["cls"] and _overlap(a, b)
        ]
        if pairs:
            a, b = pairs[0]
            problems.append(
                f"figure {fig['figure']!r}: {len(pairs)} pair(s) of axis titles overlap, "
                f"e.g. {a['text']!r} ({a['cls']}) and {b['text']!r} ({b['cls']})"
            )
    return problems


def colour_problems(traces: list[dict], rel_tol: float = 1e-6) -> list[str]:
    """Colour scales that do not cover the values they colour, and differences whose scale is not centred.

    ``traces`` come from LAYOUT_PROBE: ``figure``, ``trace``, ``data_min``, ``data_max``, ``cmin``, ``cmax``
    (the range plotly drew) and ``diverging`` (the figure says it shows a difference). A trace whose values
    have both signs is a difference too: its range must be centred on 0 (``cmin == -cmax``).
    """
    problems = []
    for t in traces:
        lo, hi, cmin, cmax = t["data_min"], t["data_max"], t["cmin"], t["cmax"]
        name = f"figure {t['figure']!r} ({t['trace']})"
        if cmin is None or cmax is None:
            problems.append(f"{name}: no colour range was drawn")
            continue
        tol = rel_tol * max(abs(lo), abs(hi), abs(cmin), abs(cmax), 1e-12)
        if lo < cmin - tol or hi > cmax + tol:
            problems.append(
                f"{name}: the colour range {cmin:.3g} – {cmax:.3g} does not cover its values {lo:.3g} – {hi:.3g} "
                "(values outside it all get the end colour)"
            )
        if (t.get("diverging") or (lo < 0 < hi)) and abs(cmin + cmax) > tol:
            problems.append(
                f"{name}: a difference ({lo:.3g} – {hi:.3g}) on a colour range {cmin:.3g} – {cmax:.3g} that is "
                "not centred on 0"
            )
    return problems


_ID_ATTR = re.compile(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""")


def _ids_in_file(path: Path, cache: dict) -> set[str]:
    if path not in cache:
        cache[path] = set(_ID_ATTR.findall(path.read_text(encoding="utf-8", errors="replace")))
    return cache[path]


def link_problems(page: Path, links: list[list[str]], page_ids: set[str], id_cache: dict) -> list[str]:
    """Internal (``file://``) links of ``page`` whose file or ``#fragment`` does not exist."""
    problems, seen = [], set()
    for href, text in links:
        parts = urlsplit(href)
        if parts.scheme != "file" or href in seen:
            continue
        seen.add(href)
        target = Path(unquote(parts.path))
        label = f"{text!r} -> {target.name}{'#' + parts.fragment if parts.fragment else ''}"
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            problems.append(f"broken link {label}: no file {target}")
            continue
        frag = unquote(parts.fragment)
        if not frag or target.suffix != ".html":
            continue
        ids = page_ids if target.resolve() == page.resolve() else _ids_in_file(target, id_cache)
        if frag not in ids:
            problems.append(f"broken link {label}: no element with id {frag!r}")
    return problems


def text_problems(texts: list[str]) -> list[str]:
    """Visible text that shows a missing or unformatted value."""
    return [f"visible {BAD_TEXT.search(t).group(0)!r} in {t!r}" for t in texts if BAD_TEXT.search(t)]


def axe_summary(violations: list[dict]) -> tuple[dict, list[str]]:
    """Counts of axe violations by impact (rules and affected nodes) and one problem per serious one."""
    counts: dict[str, int] = {}
    problems = []
    for v in violations:
        impact = v.get("impact") or "unknown"
        counts[impact] = counts.get(impact, 0) + 1
        if impact in SERIOUS:
            problems.append(
                f"axe {impact}: {v['id']} ({v['help']}), {v['nodes']} element(s), e.g. {v['example']}"
            )
    return counts, problems


def layout_problems(layout: dict) -> list[str]:
    """Every layout and colour problem of one page (LAYOUT_PROBE's result)."""
    return (
        width_problems(layout["boxes"])
        + padding_problems(layout["cells"])
        + title_problems(layout["titles"])
        + colour_problems(layout["colours"])
    )


def pages_of(html: Path) -> list[Path]:
    """Every page of the built book (not the theme's or Sphinx's own folders, which start with ``_``)."""
    return sorted(
        p for p in html.rglob("*.html") if not any(part.startswith("_") for part in p.relative_to(html).parts)
    )


def check_page(browser: Browser, path: Path, axe_js: str | None, shots: Path | None, id_cache: dict) -> dict:
    browser.clear()
    browser.load(path.resolve().as_uri())
    probe = browser.evaluate(PAGE_PROBE)
    layout = browser.evaluate(LAYOUT_PROBE)
    violations = []
    if axe_js is not None:
        browser.evaluate(axe_js)
        violations = browser.evaluate(AXE_RUN)
    browser.pump()
    axe_counts, axe_problems = axe_summary(violations)
    problems = (
        figure_problems(probe["counts"])
        + layout_problems(layout)
        + browser.console
        + [f"request leaves file://: {u}" for u in sorted(set(browser.external))]
        + [f"failed load: {f}" for f in browser.failed]
        + text_problems(probe["texts"])
        + [f"image without alt text: {src}" for src in probe["images"]]
        + link_problems(path, probe["links"], set(probe["ids"]), id_cache)
        + axe_problems
    )
    if shots is not None:
        browser.screenshot(shots / (path.stem + ".png"), probe["height"])
    return {
        "page": str(path),
        "counts": probe["counts"],
        "links": len(probe["links"]),
        "axe": axe_counts,
        "axe_violations": violations,
        "problems": problems,
    }


# --------------------------------------------------------------------------- self-test (constructed pages)
_SELF_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{name}</title>
<script src="{plotly}"></script><style>
article.bd-article {{ width: 720px; margin: 0 40px; }}
td, th {{ padding: 0.2em 0.5em; }}
{style}
</style></head><body><main><article class="bd-article"><h1>{name}</h1>{body}</article></main></body></html>
"""

_FIGURE = (
    '<div role="figure" aria-label="{name}"{outer}><div id="{name}" class="plotly-graph-div" '
    'style="height:{height}px; width:{width};"></div></div>'
    '<script>Plotly.newPlot("{name}", {data}, {layout}, {{"displaylogo": false}});</script>'
)


def _figure(name: str, data: list, layout: dict, width: str = "100%", height: int = 360, scroll=False) -> str:
    outer = ' style="overflow-x:auto; max-width:100%"' if scroll else ""
    return _FIGURE.format(
        name=name, outer=outer, width=width, height=height, data=json.dumps(data), layout=json.dumps(layout)
    )


def _facets(title: str) -> tuple[list, dict]:
    data = [
        {"type": "scatter", "x": [1, 2], "y": [1, 2], "xaxis": f"x{i + 1 if i else ''}", "yaxis": "y"}
        for i in range(3)
    ]
    layout = {"showlegend": False}
    for i in range(3):
        lo = i / 3
        layout[f"xaxis{i + 1 if i else ''}"] = {"domain": [lo, lo + 0.28], "title": {"text": title}}
    return data, layout


def self_test_pages(folder: Path, plotly_js: Path) -> dict[str, str]:
    """Write the constructed pages of :func:`self_test` into ``folder``: page name → the rule that must fire
    there (``""`` for the good page, where none may)."""
    heat = [{"type": "heatmap", "z": [[0.1, 0.9], [0.5, 0.2]], "x": ["a", "b"], "y": ["a", "b"]}]
    diff = [
        {"type": "heatmap", "z": [[-0.89, 0.24], [0.1, -0.3]], "zmin": 0, "zmax": 1, "colorscale": "Viridis"}
    ]
    centred = [{"type": "heatmap", "z": [[-0.89, 0.24], [0.1, -0.3]], "zmin": -0.89, "zmax": 0.89}]
    table = "<table><tr><th>lo</th><th>hi</th><th>n</th></tr><tr><td>0.9</td><td>1.0</td><td>10598</td></tr></table>"
    pages = {
        "wide_figure": (_figure("wide", heat, {"width": 1285}, width="1285px"), "", "width"),
        "tall_scroll_box": (  # scrolls, but its scroll bar lies 1,200 px down, off the window
            _figure("tall", heat, {"width": 1285}, width="1285px", height=1200, scroll=True),
            "",
            "width",
        ),
        "difference_map": (_figure("difference", diff, {}), "", "colour"),
        "axis_titles": (_figure("facets", *_facets("captions mentioning the label (log)")), "", "titles"),
        "tight_table": (table, "td, th { padding: 0; }", "padding"),
        "wide_table": (
            "<table><tr>" + "".join(f"<td>column number {i}</td>" for i in range(40)) + "</tr></table>",
            "",
            "width",
        ),
        "good": (
            _figure("scrolled", heat, {"width": 1285}, width="1285px", scroll=True)
            + _figure("centred", centred, {"meta": {"diverging": True}})
            + _figure("separate titles", *_facets("captions (log)"))
            + table
            + '<div style="overflow-x:auto">'
            + "<table><tr>"
            + "".join(f"<td>column number {i}</td>" for i in range(40))
            + "</tr></table></div>",
            "",
            "",
        ),
    }
    shutil.copy(plotly_js, folder / "plotly.min.js")
    for name, (body, style, _rule) in pages.items():
        page = _SELF_PAGE.format(name=name, plotly="plotly.min.js", style=style, body=body)
        (folder / f"{name}.html").write_text(page, encoding="utf-8")
    return {name: rule for name, (_b, _s, rule) in pages.items()}


_RULE_OF = {
    "width": "wide in a column",
    "colour": "colour range",
    "titles": "axis titles overlap",
    "padding": "no horizontal padding",
}


def self_test(plotly_js: Path) -> int:
    """Check the layout and colour rules on constructed pages in the real browser: each bad page must give
    its rule's problem (and only layout problems of that rule), the good page none. Exit status 0 or 1."""
    failures = []
    with tempfile.TemporaryDirectory(prefix="geoclip-browser-self-test-") as tmp:
        folder = Path(tmp)
        expected = self_test_pages(folder, plotly_js)
        browser = Browser()
        try:
            for name, rule in expected.items():
                r = check_page(browser, folder / f"{name}.html", None, None, {})
                found = {k for k, words in _RULE_OF.items() for p in r["problems"] if words in p}
                want = {rule} if rule else set()
                status = "ok" if found == want and (rule or not r["problems"]) else "FAIL"
                print(
                    f"self-test {name:15} expects {rule or 'no problem':10} found {sorted(found) or 'none'}: {status}"
                )
                for p in r["problems"]:
                    print(f"  {name}: {p}")
                if status != "ok":
                    failures.append(name)
        finally:
            browser.close()
    print(
        f"browser check self-test: {len(expected) - len(failures)} of {len(expected)} constructed pages "
        "give exactly their rule's problems"
    )
    return 1 if failures else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html", type=Path, nargs="?", help="the built book (_build/site/_build/html)")
    ap.add_argument("--screenshots", type=Path, default=Path("_build/screenshots"))
    ap.add_argument("--axe", type=Path, default=AXE_DEFAULT, help="axe.min.js (npm ci installs it)")
    ap.add_argument("--report", type=Path, help="write every page's results here (JSON)")
    ap.add_argument(
        "--only", default="*", help="check only pages whose path matches this glob (default: all)"
    )
    ap.add_argument(
        "--self-test",
        action="store_true",
        help="check the layout and colour rules on constructed bad and good pages, then stop",
    )
    args = ap.parse_args()
    if args.self_test:
        plotly_js = Path(__import__("plotly").__file__).parent / "package_data" / "plotly.min.js"
        if not plotly_js.is_file():
            print(f"browser check: plotly.js not found at {plotly_js}; reinstall plotly")
            return 2
        return self_test(plotly_js)
    if args.html is None:
        ap.error("give the built book's folder (or --self-test)")
    pages = [p for p in pages_of(args.html) if p.relative_to(args.html).match(args.only)]
    if not (args.html / "book").is_dir() or not pages:
        print(f"browser check: no pages under {args.html}/book; run `make book` first")
        return 2
    if not args.axe.is_file():
        print(f"browser check: axe-core not found at {args.axe}; run `npm ci` (make browser does)")
        return 2
    axe_js = args.axe.read_text(encoding="utf-8")
    args.screenshots.mkdir(parents=True, exist_ok=True)
    browser = Browser()
    results, id_cache = [], {}
    try:
        for path in pages:
            name = path.relative_to(args.html).as_posix()
            try:
                r = check_page(browser, path, axe_js, args.screenshots, id_cache)
            except RuntimeError as exc:
                r = {
                    "page": str(path),
                    "counts": {},
                    "links": 0,
                    "axe": {},
                    "problems": [f"check failed: {exc}"],
                }
            results.append(r)
            status = "ok" if not r["problems"] else f"FAIL ({len(r['problems'])} problems)"
            c = r["counts"]
            print(
                f"{name:32} figures {c.get('drawn', 0)}/{c.get('figures', 0)}, maps {c.get('geo', 0)} "
                f"({c.get('country_shapes', 0)} shapes), heatmaps {c.get('heatmaps', 0)}, links {r['links']}, "
                f"axe {r['axe'] or 'none'}: {status}"
            )
            for p in r["problems"]:
                print(f"  {name}: {p}")
    finally:
        browser.close()
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(results, indent=1), encoding="utf-8")
    failed = sum(bool(r["problems"]) for r in results)
    totals: dict[str, int] = {}
    for r in results:
        for k, v in r["axe"].items():
            totals[k] = totals.get(k, 0) + v
    print(
        f"browser check: {len(results) - failed} of {len(results)} pages pass (figures, layout, colour, console, "
        f"network, text, images, links, axe); axe violations by impact: {totals or 'none'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
