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
"""

from __future__ import annotations

import re
from pathlib import Path

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
]


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


def setup(app):
    # after sphinx-book-theme builds its header buttons (priority 501)
    app.connect("html-page-context", _add_md_download, priority=600)
    app.connect(
        "html-page-context", _one_copy_of_each_script, priority=599
    )  # a later handler may stop the event
    app.connect("build-finished", _fix_html)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
