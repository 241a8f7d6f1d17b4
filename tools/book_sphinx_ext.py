"""A small Sphinx extension of the book (Jupyter Book ``sphinx.local_extensions``; copied by ``make html``).

* ``.md`` download: chapter pages are built from the executed notebooks, so sphinx-book-theme offers the
  ``.ipynb`` (with its outputs) and ``.pdf``. This adds the MyST source that a person edits
  (``book/<chapter>.md``, which ``make html`` places under ``_extra/_sources/`` so that it is published at
  ``_sources/book/<chapter>.md``) as a ``.md`` download beside them.
* one copy of each script: sphinx-thebe registers its inline configuration script once per read phase, and
  Jupyter Book 1.x runs two, so pages declared ``const THEBE_JS_URL`` twice (a console error on every page).
* accessibility fixes in the written HTML, found by the axe-core audit of ``tools/browser_check.py``:
  docutils marks bibliography entries ``role="doc-biblioentry"`` (a deprecated role, and not a list item of
  their ``role="list"``) and the theme's search button has an ``aria-label`` that does not contain its visible
  text ("Search Ctrl+K"); the entries become ``role="listitem"`` and the button is named by its text. The
  colour-mode button is named "Color mode" but its icons carry titles ("Light") that Font Awesome turns into
  text: the icons lose their titles and are hidden from assistive technology, as decorative icons are.
* scripts only where they are used: plotly.js and the book's figure scripts (``html_js_files``) are dropped
  from pages that draw no figure, and the theme's Font Awesome script (``_static/scripts/fontawesome.js``,
  1.5 MB, which only swaps the icons for SVG) from every page: the theme's stylesheet already draws the icons
  with Font Awesome's web fonts, which the browser fetches only on a page that shows an icon of that font.
* reading time: ``{reading-time}`minutes``` in a chapter is replaced by its reading time, computed from the
  page as built (glued values included): :data:`WORDS_PER_MINUTE` words of text, :data:`CODE_LINES_PER_MINUTE`
  lines of shown code and :data:`OUTPUTS_PER_MINUTE` figures or tables (cell outputs) a minute, rounded up.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from docutils import nodes

_FIXES = [
    (
        re.compile(r'<i class="theme-switch ([^"]*)" data-mode="(\w+)"\s+title="[^"]*">'),
        r'<i aria-hidden="true" class="theme-switch \1" data-mode="\2">',
    ),
    (re.compile(r'(<div class="citation" id="[^"]*") role="doc-biblioentry"'), r'\1 role="listitem"'),
    (
        re.compile(
            r'(<button class="btn search-button-field search-button__button[^"]*" title="Search") aria-label="Search"'
        ),
        r"\1",
    ),
    # the theme's Font Awesome script (pydata-sphinx-theme's webpack-macros.html): the icons are drawn by its CSS
    (re.compile(r'<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>\s*'), ""),
]

#: The scripts that only pages with a figure need (``html_js_files`` of ``_config.yml``).
FIGURE_SCRIPTS = ("plotly.min.js", "plotly-geo-offline.js", "geoclip-figures.js")
#: What a page with a figure contains (``geoclip_utils.plots.book_figure_html``).
FIGURE_MARK = "geoclipFigure("

#: Reading speeds of the computed reading time.
WORDS_PER_MINUTE = 200
CODE_LINES_PER_MINUTE = 20
OUTPUTS_PER_MINUTE = 2


def _add_md_download(app, pagename, templatename, context, doctree):
    md = Path(app.srcdir) / "_extra" / "_sources" / f"{pagename}.md"
    if not md.is_file():
        return
    for button in context.get("header_buttons", []):
        if button.get("label") == "download-buttons":
            links = button["buttons"]
            if any(b.get("text") == ".md" for b in links):
                return
            links.insert(
                1,
                {
                    "type": "link",
                    "url": f"{context['pathto']('_sources', 1)}/{pagename}.md",
                    "text": ".md",
                    "tooltip": "Download the MyST source",
                    "icon": "fas fa-file",
                    "label": "download-md-button",
                },
            )


def _one_copy_of_each_script(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for js in context.get("script_files", []):
        attrs = getattr(js, "attributes", {})  # inline scripts come with filename None or "": the same
        key = (getattr(js, "filename", str(js)) or "", tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def _fix_html(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = text
        for pattern, repl in _FIXES:
            fixed = pattern.sub(repl, fixed)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def _figure_scripts_where_needed(app, pagename, templatename, context, doctree):
    if FIGURE_MARK in context.get("body", ""):
        return
    context["script_files"] = [
        js
        for js in context.get("script_files", [])
        if Path(str(getattr(js, "filename", "") or "").split("?")[0]).name not in FIGURE_SCRIPTS
    ]


# --------------------------------------------------------------------------- reading time
def _in(node, test) -> bool:
    """Whether ``node`` or one of its ancestors passes ``test``."""
    parent = node
    while parent is not None:
        if test(parent):
            return True
        parent = parent.parent
    return False


def _cell_part(node, part: str) -> bool:
    return isinstance(node, nodes.container) and part in node.get("classes", [])


def reading_counts(doctree) -> dict:
    """What a reader reads on a page: ``words`` of text (prose, headings, Markdown tables, glued values;
    not code, cell outputs or bibliography entries), ``code_lines`` (non-empty lines of the code cells shown)
    and ``outputs`` (figures and tables shown as cell outputs, images included)."""
    words = 0
    for text in doctree.findall(nodes.Text):
        if _in(
            text,
            lambda n: (
                isinstance(n, (nodes.literal_block, nodes.raw, nodes.citation, nodes.comment))
                or _cell_part(n, "cell_output")
                or _cell_part(n, "cell_input")
                or (isinstance(n, nodes.inline) and "reading-time" in n.get("classes", []))
            ),
        ):
            continue
        words += len(text.astext().split())
    code_lines = 0
    for block in doctree.findall(nodes.literal_block):
        if _in(block, lambda n: _cell_part(n, "cell_input")):
            code_lines += sum(1 for line in block.astext().splitlines() if line.strip())
    outputs = 0
    for out in doctree.findall(lambda n: _cell_part(n, "cell_output")):
        for raw in out.findall(nodes.raw):
            html = raw.astext()
            outputs += html.count(FIGURE_MARK) + len(re.findall(r"<table\b", html))
        outputs += sum(1 for _ in out.findall(nodes.image))
    return {"words": words, "code_lines": code_lines, "outputs": outputs}


def reading_minutes(counts: dict) -> int:
    """Minutes to read ``counts`` (:func:`reading_counts`) at the stated speeds, rounded up, at least 1."""
    minutes = (
        counts["words"] / WORDS_PER_MINUTE
        + counts["code_lines"] / CODE_LINES_PER_MINUTE
        + counts["outputs"] / OUTPUTS_PER_MINUTE
    )
    return max(1, math.ceil(minutes))


def reading_text(counts: dict) -> str:
    """``"12 minutes (2,345 words, 80 lines of code, 7 figures and tables)"``."""
    m = reading_minutes(counts)
    lines, figs = counts["code_lines"], counts["outputs"]
    return (
        f"{m} minute{'' if m == 1 else 's'} ({counts['words']:,} words, {lines:,} "
        f"line{'' if lines == 1 else 's'} of code, {figs} {'figure or table' if figs == 1 else 'figures and tables'})"
    )


def reading_time_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{reading-time}`minutes``` → a placeholder that :func:`_fill_reading_time` fills once the page is
    resolved (its glued values in place)."""
    node = nodes.inline(rawtext, "(computed when the book is built)", classes=["reading-time"])
    return [node], []


def _fill_reading_time(app, doctree, docname):
    spots = list(doctree.findall(lambda n: isinstance(n, nodes.inline) and "reading-time" in n["classes"]))
    if not spots:
        return
    text = reading_text(reading_counts(doctree))
    for spot in spots:
        spot.children = []
        spot += nodes.Text(text)


def setup(app):
    # after sphinx-book-theme builds its header buttons (priority 501)
    app.connect("html-page-context", _add_md_download, priority=600)
    app.connect(
        "html-page-context", _one_copy_of_each_script, priority=599
    )  # a later handler may stop the event
    app.connect("html-page-context", _figure_scripts_where_needed, priority=598)
    app.add_role("reading-time", reading_time_role)
    app.connect("doctree-resolved", _fill_reading_time)
    app.connect("build-finished", _fix_html)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
