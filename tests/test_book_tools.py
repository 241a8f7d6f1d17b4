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
    (html / "_static" / "geoclip" / "fig-abc.js").write_text("y" * 700)
    (html / "_images").mkdir()
    (html / "_images" / "p.png").write_bytes(b"z" * 300)
    for name, size in sizes.items():
        extra = (
            '<img src="../_images/p.png" alt="a"><script>"geoclip-asset:fig-abc"</script>'
            if name == "a"
            else ""
        )
        (html / "book" / f"{name}.html").write_text(extra + "h" * size)
    return html


def test_weigh_counts_html_own_figure_data_and_images(tmp_path):
    html = _site(tmp_path, {"a": 100, "b": 600_000})
    rows = {r["page"]: r for r in page_weight.weigh(html)}
    a = rows["book/a.html"]
    assert a["own_data_bytes"] == 700 and a["image_bytes"] == 300 and a["html_bytes"] > 100
    assert rows["book/b.html"]["own_data_bytes"] == 0
    assert page_weight.shared_assets(html) == 1000, "a figure's own data is not a shared asset"


def test_over_budget_is_one_line_per_page(tmp_path, capsys):
    html = _site(tmp_path, {"a": 100, "b": 600_000})
    assert page_weight.main([str(html), "--budget-kb", "500"]) == 1
    out = capsys.readouterr().out
    assert out.count("over the budget") == 1 and "book/b.html: 600 kB of HTML" in out
    assert page_weight.main([str(html), "--budget-kb", "700", "--report", str(tmp_path / "w.tsv")]) == 0
    assert (tmp_path / "w.tsv").read_text().startswith("page\thtml_bytes\town_data_bytes\timage_bytes\n")


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
