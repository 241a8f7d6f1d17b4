"""Plotly figures that render offline, in a notebook and in the built book.

Owns: the notebook/book renderer setup, the world GeoJSON built from the paper's polygons (no CDN
topojson), choropleths, point maps, confusion heatmaps, reliability diagrams, bar charts.
Does not compute metrics (:mod:`geoclip_utils.stats`) or read files (:mod:`geoclip_utils.data`).

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


def note_html(text: str) -> str:
    """A note shown under a figure (e.g. the labels a map could not place), as escaped HTML."""
    return f'<p class="geoclip-figure-note">{html.escape(text)}</p>'


def shared_axis_titles(fig, x: str | None = None, y: str | None = None, standoff: int = 46):
    """One title per direction for a figure of several panels (plotly express ``facet_col``/``facet_row``):
    the panels' own axis titles, one per panel and each as wide as the whole text, collide when the panels
    are narrow; they are removed and ``x`` is written once under the panels, ``y`` once left of them.

    Returns the figure (changed in place).
    """
    common = {"xref": "paper", "yref": "paper", "showarrow": False, "font": {"size": 14}}
    if x is not None:
        fig.for_each_xaxis(lambda a: a.update(title_text=""))
        fig.add_annotation(
            text=x, x=0.5, xanchor="center", y=0, yanchor="top", yshift=12 - standoff, **common
        )
        fig.update_layout(margin={"b": max(standoff + 20, fig.layout.margin.b or 0)})
    if y is not None:
        fig.for_each_yaxis(lambda a: a.update(title_text=""))
        fig.add_annotation(
            text=y,
            x=0,
            xanchor="right",
            xshift=10 - standoff,
            y=0.5,
            yanchor="middle",
            textangle=-90,
            **common,
        )
        fig.update_layout(margin={"l": max(standoff + 20, fig.layout.margin.l or 0)})
    return fig


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


def symmetric_range(values) -> tuple[float, float]:
    """The colour range of a difference: ``(-m, m)`` with ``m`` the largest absolute finite value (1 when
    there is none, or all are 0), so that 0 sits in the middle of a diverging scale and every value is covered.

    Example
    -------
    >>> symmetric_range([-0.89, 0.24, float("nan")])
    (-0.89, 0.89)
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    m = float(np.abs(v).max()) if v.size else 0.0
    m = m if m > 0 else 1.0
    return (-m, m)


def points_text(value: float) -> str:
    """A difference of two shares in percentage points, for a colour bar: ``0.44`` → ``"+44 pts"``."""
    return "0" if round(100 * value) == 0 else f"{100 * value:+.0f} pts"


def difference_choropleth(
    df: pd.DataFrame,
    *,
    value: str = "diff",
    ends: tuple[str, str] = ("lower", "higher"),
    tick_text=points_text,
    **kwargs,
):
    """World choropleth of a difference: a diverging scale (red below 0, blue above) centred on 0, its range
    taken from the data (:func:`symmetric_range`), and a horizontal colour bar under the map whose two ends
    say what a negative and a positive value mean (``ends``, e.g. ``("CLIP ahead", "GeoEstimation ahead")``).

    Parameters
    ----------
    value : the column of differences.
    ends : the meaning of the low and the high end of the scale.
    tick_text : formats a tick value (default :func:`points_text`: shares as percentage points).
    **kwargs : passed to :func:`country_choropleth` (``iso3``, ``hover_name``, ``title``, ...).

    The layout carries ``meta.diverging``, so the browser check (``tools/browser_check.py``) holds the
    figure to a range centred on 0 that covers its values.
    """
    lo, hi = symmetric_range(df[value])
    fig = country_choropleth(df, value=value, range_color=(lo, hi), color_scale="RdBu", **kwargs)
    ticks = [lo, lo / 2, 0.0, hi / 2, hi]
    text = [tick_text(x) for x in ticks]
    text[0], text[-1] = f"{text[0]}<br>{ends[0]}", f"{text[-1]}<br>{ends[1]}"
    fig.update_coloraxes(
        cmid=0,
        colorbar={
            "tickvals": ticks,
            "ticktext": text,
            "orientation": "h",
            "x": 0.5,
            "xanchor": "center",
            "y": 0,
            "yanchor": "top",
            "len": 0.7,
            "thickness": 14,
            "title": {"side": "top"},
        },
    )
    fig.update_layout(meta={"diverging": True}, height=540, margin={"l": 0, "r": 0, "t": 40, "b": 90})
    return fig


def fit_ranges(lat, lon, pad: float = 0.1, min_pad: float = 2.0) -> tuple[list[float], list[float]]:
    """Latitude and longitude ranges that hold every finite point, with a margin of ``pad`` of the span (at
    least ``min_pad`` degrees) on each side, clipped to the globe.

    Example
    -------
    >>> fit_ranges([40, 45], [-100, -80])
    ([38.0, 47.0], [-102.0, -78.0])
    """
    la, lo = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    ok = np.isfinite(la) & np.isfinite(lo)
    if not ok.any():
        return [-58.0, 85.0], [-180.0, 180.0]
    la, lo = la[ok], lo[ok]

    def one(v, lo_limit, hi_limit):
        m = max(min_pad, pad * float(v.max() - v.min()))
        return [max(lo_limit, float(v.min()) - m), min(hi_limit, float(v.max()) + m)]

    return one(la, -89.0, 89.0), one(lo, -180.0, 180.0)


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
    zoom: bool = False,
):
    """Scatter of points on the world outline of the paper's polygons (offline).

    With ``zoom`` the map shows only the area of the points (:func:`fit_ranges`), not the whole world.
    """
    import plotly.express as px

    geo = world_geojson()
    fig = px.scatter_geo(
        df, lat=lat, lon=lon, color=color, hover_name=hover_name, hover_data=hover_data, title=title
    )
    fig.update_traces(marker={"size": size, "opacity": 0.7})
    _add_land(fig, geo)
    lat_range, lon_range = fit_ranges(df[lat], df[lon]) if zoom else ([-58, 85], [-180, 180])
    fig.update_geos(
        visible=False, projection_type="natural earth", lataxis_range=lat_range, lonaxis_range=lon_range
    )
    fig.update_layout(margin={"l": 0, "r": 0, "t": 40, "b": 0}, height=480)
    return fig


def group_runs(labels, group_of) -> list[tuple[str, int, int]]:
    """Runs of consecutive ``labels`` in the same group: ``(group, first, last)`` positions, in order.

    Example
    -------
    >>> group_runs(["a", "b", "c"], {"a": "X", "b": "X", "c": "Y"})
    [('X', 0, 1), ('Y', 2, 2)]
    """
    runs: list[tuple[str, int, int]] = []
    for i, label in enumerate(labels):
        g = str(group_of.get(label, "")) if hasattr(group_of, "get") else str(group_of(label))
        if runs and runs[-1][0] == g:
            runs[-1] = (g, runs[-1][1], i)
        else:
            runs.append((g, i, i))
    return runs


def confusion_heatmap(
    cm: pd.DataFrame,
    *,
    title: str = "",
    normalized: bool = True,
    counts: pd.DataFrame | None = None,
    groups=None,
    cell_px: int = 12,
    font_size: int = 11,
    axis_titles: tuple[str, str] = ("predicted", "gold"),
):
    """Interactive heatmap of a confusion matrix (rows gold, columns predicted).

    Hover shows gold, predicted, the share of the gold class (when ``normalized``) and the count. Each cell
    is ``cell_px`` pixels and the labels ``font_size`` pixels, so a large matrix is wider than a page's text
    column: the book shows it in a box that scrolls (``_static/geoclip.css``).

    Parameters
    ----------
    groups : label → group (e.g. a country's sub-region), the rows and columns sorted by group: each group's
        block on the diagonal is outlined, lines separate the groups and their names stand at the right of
        their rows.
    axis_titles : the titles of the columns and rows.
    """
    import plotly.graph_objects as go

    z = cm.to_numpy(dtype=float)
    custom = (counts if counts is not None else cm).to_numpy()
    fmt = "%{z:.1%}" if normalized else "%{z}"
    n_rows, n_cols = cm.shape
    longest = max((len(str(x)) for x in [*cm.index, *cm.columns]), default=1)
    label_px = int(0.62 * font_size * longest) + 24
    runs = group_runs(list(cm.index), groups) if groups is not None else []
    group_px = int(0.6 * font_size * max((len(g) for g, _, _ in runs), default=0)) + 24 if runs else 10
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(cm.columns),
            y=list(cm.index),
            customdata=custom,
            colorscale="Blues",
            xgap=0,
            ygap=0,
            hovertemplate="gold: %{y}<br>predicted: %{x}<br>share: "
            + fmt
            + "<br>images: %{customdata}<extra></extra>",
            colorbar={
                "title": {"text": "share of gold" if normalized else "images", "side": "top"},
                "orientation": "h",
                "x": 0,
                "xanchor": "left",
                "y": 1.0,
                "yanchor": "bottom",
                "len": min(1.0, 300 / max(n_cols * cell_px, 1)),
                "thickness": 12,
            },
        )
    )
    shapes, notes = [], []
    if runs and n_rows == n_cols and list(cm.index) == list(cm.columns):
        for g, a, b in runs:
            shapes.append(
                {
                    "type": "rect",
                    "x0": a - 0.5,
                    "x1": b + 0.5,
                    "y0": a - 0.5,
                    "y1": b + 0.5,
                    "line": {"color": "#c0392b", "width": 1.5},
                }
            )
            if a > 0:
                for axis in ("x", "y"):
                    line = {"type": "line", "line": {"color": "#999", "width": 0.6}}
                    line.update(
                        {"x0": a - 0.5, "x1": a - 0.5, "y0": -0.5, "y1": n_rows - 0.5}
                        if axis == "x"
                        else {"y0": a - 0.5, "y1": a - 0.5, "x0": -0.5, "x1": n_cols - 0.5}
                    )
                    shapes.append(line)
            notes.append(
                {
                    "x": 1.0,
                    "xref": "paper",
                    "xanchor": "left",
                    "xshift": 6,
                    "y": (a + b) / 2,
                    "yref": "y",
                    "text": g,
                    "showarrow": False,
                    "font": {"size": font_size, "color": "#c0392b"},
                }
            )
    top = 110
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "xref": "container"},
        height=n_rows * cell_px + top + label_px,
        width=n_cols * cell_px + label_px + group_px,
        xaxis={
            "title": {"text": axis_titles[0]},
            "tickfont": {"size": font_size},
            "tickangle": -90,
            "dtick": 1,
            "constrain": "domain",
        },
        yaxis={
            "title": {"text": axis_titles[1]},
            "tickfont": {"size": font_size},
            "autorange": "reversed",
            "dtick": 1,
        },
        margin={"l": label_px, "r": group_px, "t": top, "b": label_px, "autoexpand": False},
        shapes=shapes,
        annotations=notes,
    )
    return fig


def reliability_diagram(table: pd.DataFrame, *, title: str = "", name: str = "model"):
    """Reliability diagram from :func:`geoclip_utils.stats.reliability_table` (bar = accuracy per bin)."""
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
