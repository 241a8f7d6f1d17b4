"""Plotly figures that render offline, in a notebook and in the built book.

Owns: the notebook/book renderer setup, the world GeoJSON built from the paper's polygons (no CDN
topojson), choropleths, point maps, confusion heatmaps, reliability diagrams, bar charts.
Does not compute metrics (:mod:`geoclip_utils.metrics`) or read files (:mod:`geoclip_utils.data`).

Offline rendering, in short (details in docs/toolchain-notes.md of the team):
    * renderer ``notebook`` (plotly 7's default mimetype output is dropped by myst-nb);
    * plotly.js is loaded once per book page from ``_static/plotly.min.js`` (``global_init=False``) when
      building the book, and embedded in the notebook otherwise;
    * geo figures use an explicit GeoJSON with exterior rings clockwise (plotly's convention) and the
      page pre-seeds ``PlotlyGeoAssets`` so plotly never fetches ``world_110m.json`` from its CDN;
    * MathJax is off (``include_mathjax=False``) — plotly 7 would otherwise add a CDN script tag;
    * light pages: a figure is plain JSON in the page; at build time ``tools/book_assets.py`` moves data
      shared by several figures (the world polygons, plotly's default template, ...) into
      ``_static/geoclip/`` files loaded once per book, and ``_static/geoclip-figures.js`` draws the figure.
      The notebook view is the notebook run in Jupyter (Binder, Colab, a local kernel): without
      ``GEOCLIP_BOOK_BUILD=1`` figures use plotly's ``notebook`` renderer and embed everything; a book-built
      figure opened outside the book says so.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import uuid

import numpy as np
import pandas as pd

#: The pre-seed script for plotly's geo assets (used by the book's _static/plotly-offline.js too).
GEO_ASSETS_SEED = (
    "window.PlotlyGeoAssets = window.PlotlyGeoAssets || {topojson: {}};"
    'window.PlotlyGeoAssets.topojson["world_110m"] = {type: "Topology", objects: {}, arcs: []};'
)


def _title_text(layout: dict) -> str:
    title = layout.get("title")
    text = title.get("text", "") if isinstance(title, dict) else (title or "")
    return re.sub(r"<[^>]+>", " ", str(text)).strip()


#: What a book figure says where the book's scripts are absent (the executed notebook opened in Jupyter).
_NOT_IN_BOOK = (
    "This figure is drawn by the book's page scripts. Run the notebook (book/*.ipynb) to draw it here."
)


def book_figure_html(fig_dict: dict, config: dict | None = None) -> str:
    """HTML of one book figure: a labelled container, the figure as JSON, one call to ``geoclipFigure``.

    The JSON sits in ``<script type="application/json" id="<id>-figure">`` so that the build
    (``tools/book_assets.py``) can move data shared by several figures, and large figure data, into
    ``_static/geoclip/`` files; ``_static/geoclip-figures.js`` loads those and draws the figure with
    plotly.js. The container has ``role="figure"`` and the figure's title as its label, for screen readers.
    """
    from plotly.io.json import to_json_plotly

    layout = fig_dict.get("layout", {})
    div_id = str(uuid.uuid4())
    height = f"{layout['height']}px" if layout.get("height") else "525px"
    width = f"{layout['width']}px" if layout.get("width") else "100%"
    label = html.escape(_title_text(layout) or "interactive figure", quote=True)
    payload = to_json_plotly(  # escapes <, > and / so the JSON cannot end its script element
        {
            "data": fig_dict.get("data", []),
            "layout": layout,
            "config": config or {"displaylogo": False, "responsive": True},
        }
    )
    return (
        f'<div role="figure" aria-label="{label}">'
        f'<div id="{div_id}" class="plotly-graph-div" style="height:{height}; width:{width};"></div></div>'
        f'<script type="application/json" id="{div_id}-figure">{payload}</script>'
        f'<script type="text/javascript">if (window.geoclipFigure) geoclipFigure("{div_id}"); '
        f'else document.getElementById("{div_id}").textContent = "{_NOT_IN_BOOK}";</script>'
    )


def _book_renderer():
    from plotly.io._base_renderers import MimetypeRenderer

    class BookRenderer(MimetypeRenderer):
        """Light HTML for the book page: no plotly.js, no MathJax CDN tag, shared data by reference."""

        def to_mimebundle(self, fig_dict):
            return {"text/html": book_figure_html(fig_dict, {"displaylogo": False, "responsive": True})}

    return BookRenderer()


def setup_notebook(book: bool | None = None) -> None:
    """Configure plotly for chapters so figures render offline in the notebook and in the book.

    Parameters
    ----------
    book : True when the executed notebook will be built into the book (``make book`` sets
        ``GEOCLIP_BOOK_BUILD=1``, the default source of this flag): figures are then plain HTML that
        relies on the page's ``_static/plotly.min.js``, ``geoclip-figures.js`` (shared data, loaded
        once) and offline geo-asset seed, with no CDN script. Otherwise plotly's ``notebook`` renderer
        (plotly.js and every figure's data embedded in the notebook) is used: a notebook opened in
        Jupyter, Binder or Colab draws its figures without the book.
    """
    import plotly.io as pio

    if book is None:
        book = os.environ.get("GEOCLIP_BOOK_BUILD") == "1"
    if book:
        pio.renderers["geoclip_book"] = _book_renderer()
        pio.renderers.default = "geoclip_book"
    else:
        pio.renderers.default = "notebook"
        from IPython.display import HTML, display

        display(HTML(f"<script>{GEO_ASSETS_SEED}</script>"))


# --------------------------------------------------------------------------- geometry
@functools.cache
def _world_geojson_cached(simplify: float) -> str:
    from shapely.geometry import mapping
    from shapely.geometry.polygon import orient

    from .data import load_country_polygons

    gdf = load_country_polygons()
    gdf = gdf[~gdf["iso3"].str.startswith("-")]
    features = []
    for iso3, name, geom in zip(gdf["iso3"], gdf["name"], gdf.geometry, strict=True):
        g = geom.simplify(simplify, preserve_topology=True) if simplify else geom
        polys = list(g.geoms) if g.geom_type == "MultiPolygon" else [g]
        polys = [orient(p, sign=-1.0) for p in polys if not p.is_empty]  # exterior clockwise for plotly
        if not polys:
            continue
        shape = polys[0] if len(polys) == 1 else type(g)(polys)
        geometry = json.loads(json.dumps(mapping(shape)), parse_float=lambda x: round(float(x), 2))
        features.append({"type": "Feature", "id": iso3, "properties": {"name": name}, "geometry": geometry})
    return json.dumps({"type": "FeatureCollection", "features": features})


def world_geojson(simplify: float = 0.05) -> dict:
    """Country polygons of the paper as a GeoJSON FeatureCollection keyed by ISO-3 (``feature.id``).

    Geometries are simplified (tolerance in degrees, default 0.05°) and coordinates rounded to 0.01°
    (about 1 km) to keep pages small, and their
    exterior rings oriented clockwise as plotly expects (else a polygon fills the rest of the globe).
    """
    return json.loads(_world_geojson_cached(float(simplify)))


def _add_land(fig, geo: dict) -> None:
    """Draw every country of ``geo`` as grey land with white borders, underneath the figure's traces."""
    import plotly.graph_objects as go

    base = [f["id"] for f in geo["features"]]
    land = go.Choropleth(
        geojson=geo,
        locations=base,
        z=np.zeros(len(base)),
        featureidkey="id",
        colorscale=[[0, "#e5e5e5"], [1, "#e5e5e5"]],
        showscale=False,
        hoverinfo="skip",
        marker_line_color="white",
        marker_line_width=0.3,
    )
    fig.add_trace(land)
    fig.data = (fig.data[-1],) + fig.data[:-1]


# --------------------------------------------------------------------------- figures
def country_choropleth(
    df: pd.DataFrame,
    *,
    iso3: str = "iso3",
    value: str = "f1",
    hover_name: str | None = None,
    hover_data: list[str] | None = None,
    title: str = "",
    colorbar_title: str | None = None,
    range_color: tuple[float, float] | None = (0.0, 1.0),
    color_scale: str = "Viridis",
):
    """World choropleth of ``df[value]`` per country, drawn on the paper's polygons (offline).

    Countries absent from ``df`` are drawn as grey land outlines; the ocean is pale blue.
    """
    import plotly.express as px

    geo = world_geojson()
    fig = px.choropleth(
        df,
        geojson=geo,
        locations=iso3,
        featureidkey="id",
        color=value,
        hover_name=hover_name,
        hover_data=hover_data,
        color_continuous_scale=color_scale,
        range_color=range_color,
        title=title,
        labels={value: colorbar_title or value},
    )
    fig.update_geos(
        visible=False,
        showframe=False,
        projection_type="natural earth",
        lataxis_range=[-58, 85],
        showocean=False,
    )
    _add_land(fig, geo)
    fig.update_layout(margin={"l": 0, "r": 0, "t": 40, "b": 0}, height=480)
    return fig


def points_map(
    df: pd.DataFrame,
    *,
    lat: str = "lat",
    lon: str = "lon",
    color: str | None = None,
    hover_name: str | None = None,
    hover_data: list[str] | None = None,
    title: str = "",
    size: float = 3,
):
    """Scatter of points on the world outline of the paper's polygons (offline)."""
    import plotly.express as px

    geo = world_geojson()
    fig = px.scatter_geo(
        df, lat=lat, lon=lon, color=color, hover_name=hover_name, hover_data=hover_data, title=title
    )
    fig.update_traces(marker={"size": size, "opacity": 0.7})
    _add_land(fig, geo)
    fig.update_geos(visible=False, projection_type="natural earth", lataxis_range=[-58, 85])
    fig.update_layout(margin={"l": 0, "r": 0, "t": 40, "b": 0}, height=480)
    return fig


def confusion_heatmap(
    cm: pd.DataFrame, *, title: str = "", normalized: bool = True, counts: pd.DataFrame | None = None
):
    """Interactive heatmap of a confusion matrix (rows gold, columns predicted).

    Hover shows gold, predicted, the share of the gold class (when ``normalized``) and the count.
    """
    import plotly.graph_objects as go

    z = cm.to_numpy(dtype=float)
    custom = (counts if counts is not None else cm).to_numpy()
    fmt = "%{z:.1%}" if normalized else "%{z}"
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(cm.columns),
            y=list(cm.index),
            customdata=custom,
            colorscale="Blues",
            hovertemplate="gold: %{y}<br>predicted: %{x}<br>share: "
            + fmt
            + "<br>images: %{customdata}<extra></extra>",
            colorbar={"title": "share of gold" if normalized else "images"},
        )
    )
    n = len(cm)
    fig.update_layout(
        title=title,
        height=max(500, 9 * n + 150),
        width=max(600, 9 * n + 250),
        xaxis={"title": "predicted", "tickfont": {"size": 7}, "tickangle": -90},
        yaxis={"title": "gold", "tickfont": {"size": 7}, "autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return fig


def reliability_diagram(table: pd.DataFrame, *, title: str = "", name: str = "model"):
    """Reliability diagram from :func:`geoclip_utils.metrics.reliability_table` (bar = accuracy per bin)."""
    import plotly.graph_objects as go

    t = table[table["n"] > 0]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=(t["lo"] + t["hi"]) / 2,
            y=t["accuracy"],
            width=t["hi"] - t["lo"],
            name=name,
            customdata=np.stack([t["n"], t["confidence"]], axis=1),
            hovertemplate="bin mean confidence %{customdata[1]:.3f}<br>accuracy %{y:.3f}"
            "<br>images %{customdata[0]}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="perfect calibration",
            line={"dash": "dash", "color": "grey"},
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="top-1 probability (confidence)",
        yaxis_title="accuracy",
        xaxis_range=[0, 1],
        yaxis_range=[0, 1],
        height=420,
    )
    return fig
