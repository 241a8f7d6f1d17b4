"""Check in a real browser (headless Chromium, network off) that every page of the built book reads well.

    python tools/browser_check.py _build/site/_build/html [--screenshots DIR] [--axe FILE] [--report FILE]

Chromium is driven over its DevTools protocol (``--remote-debugging-pipe``: no port, no extra package) with
every host name unresolvable, so nothing can come from a CDN. Each page (``*.html`` of the book, the index,
search and appendices included) is loaded from disk, its scripts run, and once its figures are drawn:

* figures: every plotly container became a drawn plot, every map drew its country shapes (plotly
  ``choroplethlocation`` paths) and every heatmap trace its image;
* console: no console error, no uncaught exception, no failed load;
* network: no request leaving ``file://`` (``data:``, ``blob:`` and ``about:`` stay on the machine);
* text: no visible ``NaN``, ``None``, ``undefined`` or raw ``{glue`` in prose, tables and outputs (code
  that a reader is shown as code, cell inputs and literals, is not prose and is skipped);
* images: every ``<img>`` has alt text;
* links: every internal link (``file://``) resolves to a file, and its ``#fragment`` to an id in it;
* accessibility: axe-core (``npm ci`` installs it from package-lock.json) injected into the page reports
  no serious or critical violation; every violation's count by impact is reported.

Prints one line per page (its counts) and one line per problem, saves a screenshot of each page, and can
write every page's results as JSON (``--report``). Exit status 1 on any problem, 2 on bad input.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
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
    "--remote-debugging-pipe",
]
LOCAL_SCHEMES = ("file", "data", "blob", "about")
SERIOUS = ("serious", "critical")
BAD_TEXT = re.compile(r"\bNaN\b|\bNone\b|\bundefined\b|\{glue")
AXE_DEFAULT = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"

# Evaluated in the page: what it drew, its visible text problems, images without alt, links and ids.
PAGE_PROBE = r"""
(() => {
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
})()
"""

READY = r"""
(() => document.readyState === "complete" && !!document.body &&
  [...document.querySelectorAll(".plotly-graph-div")].every(
    d => d.classList.contains("js-plotly-plot") && d.querySelector(".main-svg")))()
"""

AXE_RUN = r"""
axe.run(document, {resultTypes: ["violations"], preload: false}).then(r => r.violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
  example: v.nodes.length ? v.nodes[0].target.join(" ") : "",
  html: v.nodes.length ? v.nodes[0].html.slice(0, 200) : ""})))
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit(
        "browser check: no chromium found; install it (`make setup-browser`, Debian: apt-get install chromium)"
    )


class Browser:
    """Headless Chromium over the DevTools pipe (fd 3: commands in, fd 4: replies and events out)."""

    def __init__(self) -> None:
        self._profile = tempfile.mkdtemp(prefix="geoclip-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._out_r, out_w = os.pipe()

        def child_fds() -> None:  # runs in the child before exec: the pipe ends become fds 3 and 4
            a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
            b = fcntl.fcntl(out_w, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self._proc = subprocess.Popen(
            [chromium(), *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            preexec_fn=child_fds,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(cmd_r)
        os.close(out_w)
        self._next = 0
        self._replies: dict[int, dict] = {}
        self._cv = threading.Condition()
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        while chunk := os.read(self._out_r, 1 << 16):
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for raw in messages:
                msg = json.loads(raw)
                if "id" in msg:
                    with self._cv:
                        self._replies[msg["id"]] = msg
                        self._cv.notify_all()
                else:
                    self.events.put(msg)
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 90):
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._next not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or getattr(self, "_closed", False):
                    raise RuntimeError(f"chromium did not answer {method} within {timeout:.0f} s")
                self._cv.wait(left)
            reply = self._replies.pop(self._next)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, OSError):
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        os.close(self._cmd_w)
        shutil.rmtree(self._profile, ignore_errors=True)


class Page:
    """One tab: load a file, collect its console and network events, evaluate scripts."""

    def __init__(self, browser: Browser) -> None:
        self.b = browser
        self.target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget", {"targetId": self.target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
        self.console: list[str] = []
        self.external: list[str] = []
        self.failed: list[str] = []
        self.pending: set[str] = set()

    def send(self, method: str, params: dict | None = None, timeout: float = 90):
        return self.b.send(method, params, session=self.session, timeout=timeout)

    def pump(self) -> None:
        """Take this page's events off the queue (others are dropped: one page at a time)."""
        while True:
            try:
                ev = self.b.events.get_nowait()
            except queue.Empty:
                return
            if ev.get("sessionId") != self.session:
                continue
            method, p = ev.get("method"), ev.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                self.console.append(f"console error: {args[:200]}")
            elif method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                text = d.get("exception", {}).get("description") or d.get("text", "")
                self.console.append(f"uncaught exception: {text.splitlines()[0][:200] if text else '?'}")
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                e = p["entry"]
                self.console.append(
                    f"browser error ({e.get('source')}): {e.get('text', '')[:200]} {e.get('url', '')}"
                )
            elif method == "Network.requestWillBeSent":
                url = p.get("request", {}).get("url", "")
                self.pending.add(p.get("requestId"))
                if urlsplit(url).scheme not in LOCAL_SCHEMES:
                    self.external.append(url)
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                self.pending.discard(p.get("requestId"))
                if method == "Network.loadingFailed" and not p.get("canceled"):
                    self.failed.append(f"{p.get('errorText')} (request {p.get('requestId')})")

    def evaluate(self, expression: str, await_promise: bool = False, timeout: float = 90):
        r = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
            timeout=timeout,
        )
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise RuntimeError(d.get("exception", {}).get("description") or d.get("text"))
        return r.get("result", {}).get("value")

    def load(self, url: str, timeout: float = 45) -> None:
        """Navigate and wait until the page, its requests and its figures are done: the address (a page may
        redirect, as index.html does) and what it drew stay the same over three polls."""
        self.send("Page.navigate", {"url": url})
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
        clip = {"x": 0, "y": 0, "width": 1200, "height": max(300, min(height, 4000)), "scale": 1}
        shot = self.send(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        self.b.send("Target.closeTarget", {"targetId": self.target})


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


def pages_of(html: Path) -> list[Path]:
    """Every page of the built book (not the theme's or Sphinx's own folders, which start with ``_``)."""
    return sorted(
        p for p in html.rglob("*.html") if not any(part.startswith("_") for part in p.relative_to(html).parts)
    )


def check_page(page: Page, path: Path, axe_js: str, shots: Path, id_cache: dict) -> dict:
    page.console.clear(), page.external.clear(), page.failed.clear(), page.pending.clear()
    page.load(path.resolve().as_uri())
    probe = page.evaluate(PAGE_PROBE)
    page.evaluate(axe_js)
    violations = page.evaluate(AXE_RUN, await_promise=True, timeout=170)
    page.pump()
    axe_counts, axe_problems = axe_summary(violations)
    problems = (
        figure_problems(probe["counts"])
        + page.console
        + [f"request leaves file://: {u}" for u in sorted(set(page.external))]
        + [f"failed load: {f}" for f in page.failed]
        + text_problems(probe["texts"])
        + [f"image without alt text: {src}" for src in probe["images"]]
        + link_problems(path, probe["links"], set(probe["ids"]), id_cache)
        + axe_problems
    )
    page.screenshot(shots / (path.stem + ".png"), probe["height"])
    return {
        "page": str(path),
        "counts": probe["counts"],
        "links": len(probe["links"]),
        "axe": axe_counts,
        "axe_violations": violations,
        "problems": problems,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html", type=Path, help="the built book (_build/site/_build/html)")
    ap.add_argument("--screenshots", type=Path, default=Path("_build/screenshots"))
    ap.add_argument("--axe", type=Path, default=AXE_DEFAULT, help="axe.min.js (npm ci installs it)")
    ap.add_argument("--report", type=Path, help="write every page's results here (JSON)")
    ap.add_argument(
        "--only", default="*", help="check only pages whose path matches this glob (default: all)"
    )
    args = ap.parse_args()
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
        tab = Page(browser)
        for path in pages:
            name = path.relative_to(args.html).as_posix()
            try:
                r = check_page(tab, path, axe_js, args.screenshots, id_cache)
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
        tab.close()
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
        f"browser check: {len(results) - failed} of {len(results)} pages pass "
        f"(figures, console, network, text, images, links, axe); axe violations by impact: {totals or 'none'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
