"""geoclip_utils.plots: offline figures (explicit GeoJSON, orientation, no CDN scripts)."""

from __future__ import annotations

import pandas as pd
import plotly.io as pio
from shapely.geometry import shape

from geoclip_utils import plots
from geoclip_utils import stats as metrics
from geoclip_utils.schema import make_predictions


def test_world_geojson_is_clockwise_and_keyed_by_iso3():
    geo = plots.world_geojson()
    ids = {f["id"] for f in geo["features"]}
    assert {"BEL", "FRA", "USA", "JPN"} <= ids and not any(i.startswith("-") for i in ids)
    for f in geo["features"][:40]:
        g = shape(f["geometry"])
        for poly in getattr(g, "geoms", [g]):
            assert not poly.exterior.is_ccw, f"{f['id']}: exterior ring must be clockwise for plotly"


def test_choropleth_draws_land_under_data():
    df = pd.DataFrame({"iso3": ["BEL", "FRA"], "f1": [0.2, 0.9], "name": ["Belgium", "France"]})
    fig = plots.country_choropleth(df, value="f1", hover_name="name")
    assert len(fig.data) == 2
    assert fig.data[0].hoverinfo == "skip" and len(fig.data[0].locations) > 150  # grey land first
    assert list(fig.data[1].locations) == ["BEL", "FRA"]


def test_points_map():
    df = pd.DataFrame({"lat": [50.8, 48.9], "lon": [4.4, 2.35], "label": ["Brussels", "Paris"]})
    fig = plots.points_map(df, hover_name="label")
    assert fig.data[-1].type == "scattergeo" and list(fig.data[-1].lat) == [50.8, 48.9]


def test_confusion_heatmap_and_reliability():
    df = make_predictions(
        ["1", "2", "3"],
        ["A", "B", "B"],
        [("A",), ("A",), ("B",)],
        [(0.9,), (0.6,), (0.8,)],
        experiment="t",
        source="local",
    )
    cm = metrics.confusion_matrix(df, normalize=True)
    fig = plots.confusion_heatmap(cm, counts=metrics.confusion_matrix(df))
    assert fig.data[0].z.shape == (2, 2) and fig.data[0].z[1][0] == 0.5
    table = metrics.reliability_table(df["top_probs"].str[0].to_numpy(), metrics.correct_at_k(df), n_bins=5)
    fig = plots.reliability_diagram(table)
    assert fig.data[0].type == "bar" and fig.data[1].name == "perfect calibration"


def test_book_renderer_has_no_cdn_scripts(monkeypatch):
    plots.setup_notebook(book=True)
    try:
        fig = plots.country_choropleth(pd.DataFrame({"iso3": ["BEL"], "f1": [0.5]}), value="f1")
        bundle = pio.renderers["geoclip_book"].to_mimebundle(fig.to_dict())
        html = bundle["text/html"]
        assert "geoclipFigure(" in html and '-figure">' in html  # drawn by _static/geoclip-figures.js
        assert "cdn" not in html.lower() and "<script src" not in html
    finally:
        pio.renderers.default = "notebook"


def test_symmetric_range_covers_the_data_and_centres_zero():
    assert plots.symmetric_range([-0.89, 0.24, float("nan")]) == (-0.89, 0.89)
    assert plots.symmetric_range([0.1, 0.3]) == (-0.3, 0.3)
    assert plots.symmetric_range([0.0, 0.0]) == (-1.0, 1.0) and plots.symmetric_range([]) == (-1.0, 1.0)


def test_difference_choropleth_is_diverging_centred_and_named_at_both_ends():
    df = pd.DataFrame({"iso3": ["BEL", "FRA", "DEU"], "diff": [-0.89, 0.24, 0.0]})
    fig = plots.difference_choropleth(df, ends=("CLIP ahead", "GeoEstimation ahead"), title="t")
    ax = fig.layout.coloraxis
    assert (ax.cmin, ax.cmax, ax.cmid) == (-0.89, 0.89, 0) and fig.layout.meta == {"diverging": True}
    assert ax.colorscale[0][1] != ax.colorscale[-1][1], "a two-sided scale"
    text = list(ax.colorbar.ticktext)
    assert (
        text[0] == "-89 pts<br>CLIP ahead" and text[2] == "0" and text[-1] == "+89 pts<br>GeoEstimation ahead"
    )
    assert list(fig.data[1].locations) == ["BEL", "FRA", "DEU"]


def test_fit_ranges_and_zoomed_points_map():
    assert plots.fit_ranges([40, 45], [-100, -80]) == ([38.0, 47.0], [-102.0, -78.0])
    lat, lon = plots.fit_ranges([-85, 85], [-179, 179])
    assert lat == [-89.0, 89.0] and lon == [-180.0, 180.0], "clipped to the globe"
    assert plots.fit_ranges([float("nan")], [float("nan")]) == ([-58.0, 85.0], [-180.0, 180.0])
    df = pd.DataFrame({"lat": [30.0, 48.0], "lon": [-120.0, -70.0], "label": ["a", "b"]})
    zoomed = plots.points_map(df, hover_name="label", zoom=True)
    assert list(zoomed.layout.geo.lonaxis.range) == [-125.0, -65.0]
    assert list(zoomed.layout.geo.lataxis.range) == [28.0, 50.0]
    world = plots.points_map(df, hover_name="label")
    assert list(world.layout.geo.lonaxis.range) == [-180, 180]


def test_group_runs():
    assert plots.group_runs(["a", "b", "c", "d"], {"a": "X", "b": "X", "c": "Y", "d": "X"}) == [
        ("X", 0, 1),
        ("Y", 2, 2),
        ("X", 3, 3),
    ]
    assert plots.group_runs([], {}) == [] and plots.group_runs(["a"], {}) == [("", 0, 0)]


def test_confusion_heatmap_marks_groups_and_sizes_cells():
    labels = ["A", "B", "C", "D", "E"]
    cm = pd.DataFrame(0.0, index=labels, columns=labels)
    for x in labels:
        cm.loc[x, x] = 1.0
    groups = {"A": "North", "B": "North", "C": "South", "D": "South", "E": "West"}
    fig = plots.confusion_heatmap(cm, groups=groups, cell_px=12, font_size=11)
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert [(r.x0, r.x1) for r in rects] == [(-0.5, 1.5), (1.5, 3.5), (3.5, 4.5)], (
        "one box per diagonal block"
    )
    assert len(lines) == 4, "a row and a column line between two groups"
    assert [a.text for a in fig.layout.annotations] == ["North", "South", "West"]
    plot_w = fig.layout.width - fig.layout.margin.l - fig.layout.margin.r
    plot_h = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    assert plot_w == 5 * 12 and plot_h == 5 * 12, "the cell size is kept, whatever the page"
    assert fig.layout.xaxis.tickfont.size == 11 and fig.layout.yaxis.tickfont.size == 11
    plain = plots.confusion_heatmap(cm)
    assert not plain.layout.shapes and not plain.layout.annotations


def test_shared_axis_titles_replace_one_title_per_panel():
    import plotly.express as px

    df = pd.DataFrame({"x": [1, 2, 3, 4, 5, 6], "y": [1, 2, 3, 4, 5, 6], "set": list("aabbcc")})
    fig = px.scatter(df, x="x", y="y", facet_col="set", labels={"x": "a long axis title (log)"})
    assert sum(1 for a in fig.layout if a.startswith("xaxis") and fig.layout[a].title.text) == 3
    plots.shared_axis_titles(fig, x="a long axis title (log)", y="F1")
    assert all(not fig.layout[a].title.text for a in fig.layout if a.startswith(("xaxis", "yaxis")))
    texts = [a.text for a in fig.layout.annotations]
    assert texts.count("a long axis title (log)") == 1 and texts.count("F1") == 1


def test_note_html_escapes():
    assert (
        plots.note_html("<b>São & Co</b>")
        == '<p class="geoclip-figure-note">&lt;b&gt;São &amp; Co&lt;/b&gt;</p>'
    )
