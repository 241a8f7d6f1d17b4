"""Geo commands: ``geocode``, ``climate``, ``dedupe``.

Inputs are read with :func:`geoclip_utils.geo.read_points` (CSV with id/lat/lon, or Mapillary-style
JSON); outputs are CSV, written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from .. import geo
from .._io import write_csv
from ..errors import InputError
from ..geo.points import find_column
from .app import app

GEOCODE_COLUMNS = [
    "id",
    "lat",
    "lon",
    "iso3",
    "country",
    "sovereign_iso3",
    "region",
    "subregion",
    "admin1",
    "place",
    "climate",
    "method",
    "distance_km",
]


@app.command("geocode")
def geocode_cmd(
    input: Annotated[
        Path, typer.Option("--in", help="CSV with id, lat, lon columns, or Mapillary-style JSON")
    ],
    out: Annotated[Path, typer.Option("--out", help="output CSV")],
    tolerance_km: Annotated[
        float, typer.Option(help="nearest-country fallback distance, km")
    ] = geo.TOLERANCE_KM,
    border_km: Annotated[float, typer.Option(help="border rule distance (0: off), km")] = geo.BORDER_KM,
    nominatim: Annotated[
        bool, typer.Option("--nominatim", help="also ask Nominatim online (1 request/s)")
    ] = False,
    user_agent: Annotated[str, typer.Option(help="user agent for Nominatim (name your application)")] = "",
    cache: Annotated[Path, typer.Option(help="Nominatim cache (JSON lines; resumable)")] = Path(
        "nominatim_cache.jsonl"
    ),
) -> None:
    """Offline country, UN region, admin-1 and Köppen climate of every point; optionally Nominatim too."""
    pts = geo.read_points(input)
    res = geo.geocode(
        pts["lat"].to_numpy(), pts["lon"].to_numpy(), tolerance_km=tolerance_km, border_km=border_km
    )
    df = pd.concat([pts, res], axis=1)[GEOCODE_COLUMNS]
    if nominatim:
        nom = geo.NominatimGeocoder(user_agent, cache).reverse(pts["lat"].to_numpy(), pts["lon"].to_numpy())
        df = pd.concat([df, nom.add_prefix("nominatim_")], axis=1)
    write_csv(df, out)
    none = int((df["iso3"] == "").sum())
    typer.echo(f"{len(df)} points -> {out} ({none} without a country)")


@app.command("climate")
def climate_cmd(
    input: Annotated[
        Path, typer.Option("--in", help="CSV with id, lat, lon columns, or Mapillary-style JSON")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="output CSV: id, lat, lon, climate, description, prompt")
    ],
    coast_km: Annotated[
        float, typer.Option(help="nearest land pixel search for sea points, km")
    ] = geo.COAST_KM,
) -> None:
    """Köppen-Geiger climate class of every point (offline map), with its description and prompt."""
    pts = geo.read_points(input)
    codes = geo.climate(pts["lat"].to_numpy(), pts["lon"].to_numpy(), coast_km=coast_km)
    table = geo.koppen_table().set_index("code")
    df = pts.assign(
        climate=codes,
        description=table["description"].reindex(codes).to_numpy(),
        prompt=table["prompt"].reindex(codes).to_numpy(),
    )
    write_csv(df, out)
    typer.echo(f"{len(df)} points -> {out}")


@app.command("dedupe")
def dedupe_cmd(
    input: Annotated[Path, typer.Option("--in", help="CSV with id, lat, lon (+ group column), or JSON")],
    out: Annotated[Path, typer.Option("--out", help="output CSV: id, keep, duplicate_of")],
    group_by: Annotated[
        str, typer.Option(help="'country' (offline geocoding), 'none', or a CSV column")
    ] = "country",
    radius_km: Annotated[
        float, typer.Option(help="drop points closer than this to an accepted one")
    ] = geo.DEDUPE_KM,
) -> None:
    """The authors' near-duplicate filter: within a group, in file order, drop a point closer than 1 km
    to one already accepted."""
    pts = geo.read_points(input)
    if group_by == "none":
        groups = None
    elif group_by == "country":
        groups = geo.reverse_geocode(pts["lat"].to_numpy(), pts["lon"].to_numpy())["iso3"].to_numpy()
    else:
        if input.suffix.lower() == ".json":
            raw = json.loads(input.read_text(encoding="utf-8"))
            if not isinstance(raw, dict) or not all(
                isinstance(v, dict) and group_by in v for v in raw.values()
            ):
                raise InputError(f"{input}: not every entry has the group key {group_by!r}")
            groups = [str(v[group_by]) for v in raw.values()]
        else:
            raw = pd.read_csv(input, dtype=str, keep_default_na=False)
            col = find_column(list(raw.columns), (group_by.lower(),))
            if col is None:
                raise InputError(
                    f"{input}: no column {group_by!r} to group by; the header has {list(raw.columns)}"
                )
            groups = raw[col].to_numpy()
    res = geo.dedupe_by_distance(pts["lat"].to_numpy(), pts["lon"].to_numpy(), groups, radius_km=radius_km)
    ids = pts["id"].to_numpy()
    df = pd.DataFrame(
        {
            "id": ids,
            "keep": res["keep"].to_numpy(),
            "duplicate_of": [ids[j] if j >= 0 else "" for j in res["duplicate_of"]],
        }
    )
    write_csv(df, out)
    typer.echo(f"kept {int(df['keep'].sum())} of {len(df)} points -> {out}")
