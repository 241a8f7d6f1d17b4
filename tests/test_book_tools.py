"""Build and check tools of the published book: shared figure assets, page weights, the browser check's rules."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


book_assets = _tool("book_assets")
page_weight = _tool("page_weight")
browser_check = _tool("browser_check")

WORLD = {
    "type": "FeatureCollection",
    "features": [{"id": f"C{i}", "geometry": list(range(200))} for i in range(30)],
}
TEMPLATE = {"layout": {"font": {"color": "#2a3f5f"}, "colorway": ["#636efa"] * 300}}


def _fig(n_points=10, title="t"):
    return {
        "data": [
            {"type": "choropleth", "geojson": copy.deepcopy(WORLD), "locations": ["C1"]},
            {
                "type": "scattergeo",
                "hovertext": ["Belgium", "France"] * n_points,
                "lat": [1.5] * (2 * n_points),
            },
        ],
        "layout": {"template": copy.deepcopy(TEMPLATE), "title": {"text": title}},
        "config": {"responsive": True},
    }


# --------------------------------------------------------------------------- book_assets
def test_shared_values_are_written_once_and_referenced():
    figs = [_fig(title="a"), _fig(title="b")]
    assets, summary = book_assets.link(figs, share_bytes=1000, inline_bytes=10**6)
    keys = sorted(assets)
    assert len(keys) == 2 and keys[0].startswith("geojson-") and keys[1].startswith("template-")
    assert summary["shared"] == 2 and summary["shared_refs"] == 4
    for fig in figs:
        assert fig["data"][0]["geojson"] == "geoclip-asset:" + keys[0]
        assert fig["layout"]["template"] == "geoclip-asset:" + keys[1]
    assert assets[keys[0]] == WORLD and assets[keys[1]] == TEMPLATE


def test_a_value_in_one_figure_only_stays_inline():
    figs = [_fig()]
    assets, summary = book_assets.link(figs, share_bytes=1000, inline_bytes=10**6)
    assert assets == {} and figs[0]["data"][0]["geojson"] == WORLD


def test_repeated_labels_are_coded_losslessly():
    fig = _fig(n_points=1000)
    saved = book_assets.compact_labels(fig)
    coded = fig["data"][1]["hovertext"]
    assert saved > 0 and coded["values"] == ["Belgium", "France"]
    assert [coded["values"][i] for i in coded["geoclip-codes"]] == ["Belgium", "France"] * 1000


def test_short_or_varied_label_lists_are_left_alone():
    fig = {"data": [{"text": ["a", "b"]}, {"text": [str(i) for i in range(2000)]}]}
    assert book_assets.compact_labels(fig) == 0
    assert fig["data"][0]["text"] == ["a", "b"]


def test_large_figure_moves_its_traces_to_its_own_file():
    figs = [_fig(n_points=5000)]
    assets, summary = book_assets.link(figs, share_bytes=10**9, inline_bytes=20_000)
    assert summary["own"] == 1
    (key,) = assets
    assert key.startswith("fig-") and figs[0]["data"] == "geoclip-asset:" + key
    assert assets[key][1]["type"] == "scattergeo"
    assert figs[0]["layout"]["title"]["text"] == "t", "the layout stays in the page"


def test_script_json_cannot_close_its_script_element():
    text = book_assets.script_json({"hovertemplate": "<b>x</b><extra></extra></script>"})
    assert "</" not in text and "<" not in text
    assert json.loads(text)["hovertemplate"].endswith("</script>")


def _notebook_with_figures(tmp_path: Path, n: int = 2) -> Path:
    from geoclip_utils import plots

    site = tmp_path / "site"
    (site / "book").mkdir(parents=True)
    for i in range(n):
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("fig.show()")
        html = plots.book_figure_html(_fig(title=f"figure {i}"))
        cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": html})]
        nb.cells = [cell]
        nbformat.write(nb, site / "book" / f"ch{i}.ipynb")
    return site


def test_main_rewrites_notebooks_and_writes_assets(tmp_path, capsys):
    site = _notebook_with_figures(tmp_path)
    assert book_assets.main([str(site), "--share-kb", "1"]) == 0
    assert "2 shared values" in capsys.readouterr().out
    files = sorted(p.name for p in (site / "_extra" / "_static" / "geoclip").glob("*.js"))
    assert len(files) == 2 and all(f.startswith(("geojson-", "template-")) for f in files)
    text = (site / "_extra" / "_static" / "geoclip" / files[0]).read_text()
    assert text.startswith(f'geoclipAsset("{files[0][:-3]}", ')
    for p in (site / "book").glob("*.ipynb"):
        html = nbformat.read(p, as_version=4).cells[0].outputs[0]["data"]["text/html"]
        fig = json.loads(book_assets.FIGURE.search(html).group(2))
        assert fig["data"][0]["geojson"].startswith("geoclip-asset:geojson-")
        assert 'role="figure" aria-label="figure' in html


def test_main_without_notebooks_is_one_clear_line(tmp_path, capsys):
    assert book_assets.main([str(tmp_path)]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "no notebooks" in out[0]


# --------------------------------------------------------------------------- page_weight
def _site(tmp_path: Path, sizes: dict[str, int]) -> Path:
    html = tmp_path / "html"
    (html / "book").mkdir(parents=True)
    (html / "_static" / "geoclip").mkdir(parents=True)
    (html / "_static" / "shared.js").write_text("x" * 1000)
    (html / "_static" / "plotly.min.js").write_text("p" * 5000)
    (html / "_static" / "geoclip" / "fig-abc.js").write_text("y" * 700)
    (html / "_images").mkdir()
    (html / "_images" / "p.png").write_bytes(b"z" * 300)
    for name, size in sizes.items():
        extra = (
            '<img src="../_images/p.png" alt="a"><script>"geoclip-asset:fig-abc"</script>'
            '<script src="../_static/plotly.min.js?v=1"></script><script src="https://cdn.example/x.js"></script>'
            if name == "a"
            else ""
        )
        extra += '<script defer src="../_static/shared.js"></script>'
        (html / "book" / f"{name}.html").write_text(extra + "h" * size)
    return html


def test_weigh_counts_html_own_figure_data_and_images(tmp_path):
    html = _site(tmp_path, {"a": 100, "b": 600_000})
    rows = {r["page"]: r for r in page_weight.weigh(html)}
    a = rows["book/a.html"]
    assert a["own_data_bytes"] == 700 and a["image_bytes"] == 300 and a["html_bytes"] > 100
    assert rows["book/b.html"]["own_data_bytes"] == 0
    assert a["script_bytes"] == 6000 and rows["book/b.html"]["script_bytes"] == 1000, "local scripts only"
    assert page_weight.shared_assets(html) == 6000, "a figure's own data is not a shared asset"


def test_over_budget_is_one_line_per_page(tmp_path, capsys):
    html = _site(tmp_path, {"a": 100, "b": 600_000})
    assert page_weight.main([str(html), "--budget-kb", "500"]) == 1
    out = capsys.readouterr().out
    assert out.count("over the budget") == 1 and "book/b.html: 600 kB of HTML" in out
    assert page_weight.main([str(html), "--budget-kb", "700", "--report", str(tmp_path / "w.tsv")]) == 0
    assert (
        (tmp_path / "w.tsv")
        .read_text()
        .startswith("page\thtml_bytes\town_data_bytes\timage_bytes\tscript_bytes\n")
    )


def test_page_weight_without_a_book(tmp_path, capsys):
    assert page_weight.main([str(tmp_path)]) == 2
    assert len(capsys.readouterr().out.strip().splitlines()) == 1


# --------------------------------------------------------------------------- browser_check rules
def test_link_problems_name_missing_files_and_fragments(tmp_path):
    page = tmp_path / "a.html"
    page.write_text('<h1 id="top">A</h1>')
    other = tmp_path / "b.html"
    other.write_text('<section id="sec-1"></section>')
    links = [
        [page.as_uri() + "#top", "self"],
        [other.as_uri() + "#sec-1", "ok"],
        [other.as_uri() + "#nope", "bad fragment"],
        [(tmp_path / "missing.html").as_uri(), "missing"],
        ["https://example.org/x", "external"],
    ]
    problems = browser_check.link_problems(page, links, {"top"}, {})
    assert len(problems) == 2
    assert "'bad fragment'" in problems[0] and "'nope'" in problems[0]
    assert "'missing'" in problems[1] and "no file" in problems[1]


def test_text_problems_flag_missing_values():
    found = browser_check.text_problems(
        ["accuracy NaN", "None", "{glue:text}`x`", "undefined km", "Nonetheless"]
    )
    assert len(found) == 4 and "'NaN'" in found[0]


def test_axe_summary_counts_by_impact_and_fails_serious_only():
    counts, problems = browser_check.axe_summary(
        [
            {"id": "color-contrast", "impact": "serious", "help": "contrast", "nodes": 3, "example": "p"},
            {"id": "region", "impact": "moderate", "help": "landmarks", "nodes": 1, "example": "div"},
        ]
    )
    assert counts == {"serious": 1, "moderate": 1}
    assert len(problems) == 1 and problems[0].startswith("axe serious: color-contrast")


def test_figure_problems():
    ok = {"figures": 2, "drawn": 2, "geo": 1, "country_shapes": 240, "heatmap_traces": 1, "heatmaps": 1}
    assert browser_check.figure_problems(ok) == []
    bad = dict(ok, drawn=1, country_shapes=10, heatmaps=0)
    assert len(browser_check.figure_problems(bad)) == 3


@pytest.mark.parametrize("parts", [("book", "a.html"), ("index.html",), ("appendix", "references.html")])
def test_pages_of_skips_theme_folders(tmp_path, parts):
    p = tmp_path.joinpath(*parts)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("x")
    (tmp_path / "_static").mkdir(exist_ok=True)
    (tmp_path / "_static" / "x.html").write_text("x")
    assert browser_check.pages_of(tmp_path) == [p]


def _box(kind="figure", width=600.0, right=872.0, scrolls=False, left=272.0):
    return {
        "kind": kind,
        "label": "x",
        "width": width,
        "left": left,
        "right": right,
        "column_left": 272.0,
        "column_right": 896.0,
        "scrolls": scrolls,
    }


def test_width_problems_flag_what_sticks_out_and_does_not_scroll():
    assert browser_check.width_problems([_box(), _box("table", 624, 896.5)]) == []  # within 1 px
    wide = _box(width=1285, right=1557)
    (problem,) = browser_check.width_problems([wide])
    assert "1285 px wide in a column of 624 px (661 px outside it)" in problem
    assert browser_check.width_problems([dict(wide, scrolls=True)]) == []
    assert len(browser_check.width_problems([_box("table", 700, 700, left=0)])) == 1, "out on the left"


def test_padding_problems_one_line_per_table():
    found = browser_check.padding_problems(
        [
            {"label": "#T_1", "cells": 9, "tight": 6, "example": "0.9"},
            {"label": "t", "cells": 2, "tight": 1, "example": "a"},
        ]
    )
    assert len(found) == 2 and "6 of 9 cells have no horizontal padding" in found[0] and "'0.9'" in found[0]
    assert browser_check.padding_problems([]) == []


def _title(cls, x, y=400.0, w=200.0, h=16.0, text="captions (log)"):
    return {"cls": cls, "text": text, "x": x, "y": y, "w": w, "h": h}


def test_title_problems_find_overlapping_axis_titles_only():
    side_by_side = [_title("g-xtitle", 0), _title("g-x2title", 210), _title("g-x3title", 420)]
    assert browser_check.title_problems([{"figure": "f", "boxes": side_by_side}]) == []
    crowded = [_title("g-xtitle", 0), _title("g-x2title", 150), _title("g-x3title", 300)]
    (problem,) = browser_check.title_problems([{"figure": "f", "boxes": crowded}])
    assert "2 pair(s) of axis titles overlap" in problem and "g-xtitle" in problem
    touching = [_title("g-xtitle", 0), _title("g-x2title", 199.5)]  # half a pixel: not an overlap
    assert browser_check.title_problems([{"figure": "f", "boxes": touching}]) == []
    lines = [_title("g-ytitle", 0, 0), _title("g-ytitle", 0, 10)]  # two lines of one title
    assert browser_check.title_problems([{"figure": "f", "boxes": lines}]) == []


def _colour(lo, hi, cmin, cmax, diverging=False):
    return {
        "figure": "f",
        "trace": "t",
        "data_min": lo,
        "data_max": hi,
        "cmin": cmin,
        "cmax": cmax,
        "diverging": diverging,
    }


def test_colour_problems_range_must_cover_and_differences_be_centred():
    assert browser_check.colour_problems([_colour(0, 0.9, 0, 1), _colour(-0.89, 0.24, -0.89, 0.89)]) == []
    baseline = browser_check.colour_problems([_colour(-0.89, 0.24, 0, 1)])  # GeoEstimation minus CLIP, 0-1
    assert len(baseline) == 2 and "does not cover" in baseline[0] and "not centred on 0" in baseline[1]
    assert len(browser_check.colour_problems([_colour(0, 0.9, 0.1, 1)])) == 1, "low values clipped"
    marked = browser_check.colour_problems([_colour(0.1, 0.4, 0, 0.5, diverging=True)])
    assert len(marked) == 1 and "not centred" in marked[0], "a marked difference of one sign is centred too"
    assert "no colour range" in browser_check.colour_problems([_colour(0, 1, None, 1)])[0]


def test_self_test_pages_have_one_bad_page_per_rule(tmp_path):
    plotly_js = tmp_path / "p.js"
    plotly_js.write_text("// plotly")
    expected = browser_check.self_test_pages(tmp_path, plotly_js)
    assert set(expected.values()) == {"width", "colour", "titles", "padding", ""}
    assert set(expected.values()) - {""} == set(browser_check._RULE_OF)
    for name in expected:
        page = (tmp_path / f"{name}.html").read_text()
        assert '<script src="plotly.min.js">' in page and "article" in page
    assert (tmp_path / "plotly.min.js").read_text() == "// plotly"


def test_browser_check_uses_selenium_not_a_hand_written_protocol_client():
    source = (ROOT / "tools" / "browser_check.py").read_text()
    assert "from selenium import webdriver" in source and "Service(chromedriver())" in source
    assert "--remote-debugging-pipe" not in source and "os.pipe" not in source


# --------------------------------------------------------------------------- book_sphinx_ext
book_sphinx_ext = _tool("book_sphinx_ext")


def _page_doctree(words: int, code_lines: int, figures: int, tables: int):
    from docutils import nodes
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    doc = new_document("page", get_default_settings(Parser))
    section = nodes.section()
    section += nodes.title("", "Two words")
    section += nodes.paragraph("", " ".join(["word"] * (words - 2 - 3)))
    para = nodes.paragraph("", "Time to read: ")
    para += nodes.inline("", "placeholder text here", classes=["reading-time"])
    section += para
    section += nodes.paragraph("", "the glued 51.7%")  # three words
    cell = nodes.container(classes=["cell"])
    inp = nodes.container(classes=["cell_input"])
    inp += nodes.literal_block("", "\n".join(["x = 1"] * code_lines + ["", "   "]))
    out = nodes.container(classes=["cell_output"])
    html = '<div>geoclipFigure("a");</div>' * figures + "<table><tr><td>1</td></tr></table>" * tables
    out += nodes.raw("", html, format="html")
    out += nodes.literal_block("", "printed words are output, not prose")
    cell += [inp, out]
    section += cell
    citation = nodes.citation()
    citation += nodes.paragraph("", "Radford et al. Learning transferable visual models")
    section += citation
    doc += section
    return doc


def test_reading_counts_prose_code_and_outputs_separately():
    doc = _page_doctree(words=400, code_lines=30, figures=2, tables=3)
    counts = book_sphinx_ext.reading_counts(doc)
    assert counts == {"words": 400 + 3, "code_lines": 30, "outputs": 5}  # + "Time to read:"
    # 403 / 200 + 30 / 20 + 5 / 2 = 2.015 + 1.5 + 2.5 = 6.015 -> 7 minutes
    assert book_sphinx_ext.reading_minutes(counts) == 7
    assert (
        book_sphinx_ext.reading_text(counts)
        == "7 minutes (403 words, 30 lines of code, 5 figures and tables)"
    )
    one = {"words": 10, "code_lines": 1, "outputs": 1}
    assert book_sphinx_ext.reading_text(one) == "1 minute (10 words, 1 line of code, 1 figure or table)"
    assert book_sphinx_ext.reading_minutes({"words": 0, "code_lines": 0, "outputs": 0}) == 1


def test_reading_time_is_filled_in_from_the_page():
    doc = _page_doctree(words=1000, code_lines=0, figures=0, tables=0)
    book_sphinx_ext._fill_reading_time(None, doc, "page")
    (spot,) = doc.findall(lambda n: "reading-time" in getattr(n, "get", lambda *_: [])("classes", []))
    assert spot.astext() == "6 minutes (1,003 words, 0 lines of code, 0 figures and tables)"


def test_no_chapter_types_its_reading_time():
    import re

    for md in sorted((ROOT / "book").glob("*.md")):
        text = md.read_text()
        assert not re.search(r"[Tt]ime to read:?\s*(about\s*)?\d", text), f"{md.name}: typed reading time"
        if "## Prerequisites" in text:
            assert "Time to read: {reading-time}`minutes`" in text, f"{md.name}: no computed reading time"


class _Js(str):
    def __new__(cls, filename):
        obj = super().__new__(cls, filename)
        obj.filename = filename
        return obj


def test_figure_scripts_only_on_pages_with_a_figure():
    scripts = [
        "documentation_options.js",
        "plotly.min.js",
        "plotly-geo-offline.js",
        "geoclip-figures.js",
        "x.js",
    ]
    plain = {"body": "<p>text</p>", "script_files": [_Js(s) for s in scripts]}
    book_sphinx_ext._figure_scripts_where_needed(None, "book/intro", "page.html", plain, None)
    assert [str(s) for s in plain["script_files"]] == ["documentation_options.js", "x.js"]
    with_fig = {"body": '<script>geoclipFigure("id");</script>', "script_files": [_Js(s) for s in scripts]}
    book_sphinx_ext._figure_scripts_where_needed(None, "book/data", "page.html", with_fig, None)
    assert [str(s) for s in with_fig["script_files"]] == scripts
    config = (ROOT / "_config.yml").read_text()
    assert all(s in config for s in book_sphinx_ext.FIGURE_SCRIPTS), "the scripts _config.yml adds"


def test_the_font_awesome_script_tag_of_the_installed_theme_is_removed():
    import pydata_sphinx_theme

    macros = Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static"
    template = (macros / "webpack-macros.html").read_text()
    line = next(x for x in template.splitlines() if "fontawesome.js" in x).strip()
    rendered = line.replace(
        "{{ pathto('_static/scripts/fontawesome.js', 1) }}", "../_static/scripts/fontawesome.js"
    )
    page = f"<head>{rendered}\n<script src='../_static/doctools.js'></script></head>"
    fixed = page
    for pattern, repl in book_sphinx_ext._FIXES:
        fixed = pattern.sub(repl, fixed)
    assert "fontawesome" not in fixed and "doctools.js" in fixed
    css = (macros / "styles" / "pydata-sphinx-theme.css").read_text()
    assert "fa-solid-900.woff2" in css and ".fa-download:before" in css, "the icons are drawn by the CSS"
