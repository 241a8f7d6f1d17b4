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
