"""Geo commands: ``geocode``, ``climate``, ``dedupe``.

Inputs are read in chunks with :func:`geoclip_utils.geo.points.iter_points` (CSV with id/lat/lon, or
Mapillary-style JSON), so memory stays bounded for files of millions of rows, with a progress bar on
stderr; outputs are CSV, written atomically (a temporary file renamed at the end: an error half-way
leaves no output and an existing one untouched). Before any work the output is checked: not the input
(symbolic links resolved), not a folder, not read-only. Distance options are checked by the option
itself: one line and exit status 2.
"""

from __future__ import annotations

import math
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import numpy as np
import pandas as pd
import typer

from .. import geo
from .._io import atomic_write
from ..errors import ConfigError, GeoclipError
from ..geo.distance import check_km
from ..geo.koppen import COAST_KM_MAX
from ..geo.points import CHUNK_ROWS, PointChunk, iter_points
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


def _km_option(maximum: float = math.inf, positive: bool = False) -> Callable[[Any, Any, float], float]:
    """An option callback that refuses a distance that is not finite, negative (or zero when
    ``positive``) or above ``maximum``: ``error: …`` on one line, exit status 2, before any work."""

    def check(ctx: Any, param: Any, value: float) -> float:
        try:
            return check_km(param.opts[0], value, maximum=maximum, positive=positive)
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc

    return check


def _rows_option(ctx: Any, param: Any, value: int) -> int:
    if value < 1:
        typer.echo(f"error: {param.opts[0]} must be at least 1, got {value}", err=True)
        raise typer.Exit(2)
    return value


InPath = Annotated[Path, typer.Option("--in", help="CSV with id, lat, lon columns, or Mapillary-style JSON")]
ChunkRows = Annotated[
    int, typer.Option(help="rows read and labelled at a time (memory)", callback=_rows_option)
]
Progress = Annotated[bool, typer.Option(help="show a progress bar (when stderr is a terminal)")]


def check_output(src: Path, out: Path) -> None:
    """Refuse, before any work, an output that is the input (also through links), a folder, or read-only.

    Raises
    ------
    ConfigError
        Naming ``--out`` and what to do.
    """
    try:
        same = out.resolve() == src.resolve() or (out.exists() and os.path.samefile(out, src))
    except OSError:
        same = False
    if same:
        raise ConfigError(f"--out {out} is the input file {src}; write the output to another file")
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name, e.g. {out / 'out.csv'}")
    if out.exists() and not (out.stat().st_mode & 0o222 and os.access(out, os.W_OK)):
        raise ConfigError(f"--out {out} is read-only; choose another file or make it writable")
    folder = next((p for p in [out.parent, *out.parent.parents] if p.exists()), Path("."))
    if not folder.is_dir():
        raise ConfigError(f"--out {out}: {folder} is not a folder")
    mode = folder.stat().st_mode
    if not (mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) and os.access(folder, os.W_OK | os.X_OK)):
        raise ConfigError(f"--out {out}: the folder {folder} is read-only; choose another place")


def _chunks(src: Path, chunk_rows: int, progress: bool, extra: tuple[str, ...] = ()) -> Iterator[PointChunk]:
    """The chunks of ``src`` with a progress bar (lines read) on stderr when it is a terminal."""
    from tqdm import tqdm

    disable = None if progress else True
    with tqdm(desc=src.name, unit="line", disable=disable, file=sys.stderr, leave=False) as bar:
        for chunk in iter_points(src, chunk_rows=chunk_rows, extra=extra):
            yield chunk
            bar.total = chunk.total
            bar.update(chunk.done - bar.n)


def _stream(
    src: Path, out: Path, rows: Callable[[PointChunk], pd.DataFrame], *, chunk_rows: int, progress: bool
) -> None:
    """Read ``src`` in chunks, turn each into output rows with ``rows`` and write them to ``out``
    (atomically: the file appears when every chunk is done)."""

    def write(fh: IO[bytes]) -> None:
        for k, chunk in enumerate(_chunks(src, chunk_rows, progress)):
            fh.write(rows(chunk).to_csv(index=False, header=k == 0).encode("utf-8"))

    _write(out, write)


def _write(out: Path, write: Callable[[IO[bytes]], Any]) -> None:
    try:
        atomic_write(out, write)
    except GeoclipError:
        raise
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot be written ({exc.strerror or exc})") from exc


@app.command("geocode")
def geocode_cmd(
    input: InPath,
    out: Annotated[Path, typer.Option("--out", help="output CSV")],
    tolerance_km: Annotated[
        float, typer.Option(help="nearest-country fallback distance, km", callback=_km_option())
    ] = geo.TOLERANCE_KM,
    border_km: Annotated[
        float, typer.Option(help="border rule distance (0: off), km", callback=_km_option())
    ] = geo.BORDER_KM,
    nominatim: Annotated[
        bool,
        typer.Option(
            "--nominatim",
            help="also ask Nominatim online (1 request/s; nominatim_* columns, nominatim_error says why a "
            "point failed; stops with one line when Nominatim cannot be reached)",
        ),
    ] = False,
    user_agent: Annotated[str, typer.Option(help="user agent for Nominatim (name your application)")] = "",
    cache: Annotated[Path, typer.Option(help="Nominatim cache (JSON lines; resumable)")] = Path(
        "nominatim_cache.jsonl"
    ),
    chunk_rows: ChunkRows = CHUNK_ROWS,
    progress: Progress = True,
) -> None:
    """Offline country, UN region, admin-1 and Köppen climate of every point; optionally Nominatim too."""
    check_output(input, out)
    nom = geo.NominatimGeocoder(user_agent, cache) if nominatim else None
    counts = {"rows": 0, "none": 0, "nominatim_failed": 0}

    def rows(chunk: PointChunk) -> pd.DataFrame:
        pts = chunk.points
        lat, lon = pts["lat"].to_numpy(), pts["lon"].to_numpy()
        res = geo.geocode(lat, lon, tolerance_km=tolerance_km, border_km=border_km)
        df = res.assign(id=pts["id"].to_numpy(), lat=lat, lon=lon)[GEOCODE_COLUMNS]
        if nom is not None:
            df = pd.concat([df, nom.reverse(lat, lon, progress=progress).add_prefix("nominatim_")], axis=1)
            counts["nominatim_failed"] += int((df["nominatim_error"] != "").sum())
        counts["rows"] += len(df)
        counts["none"] += int((df["iso3"] == "").sum())
        return df

    _stream(input, out, rows, chunk_rows=chunk_rows, progress=progress)
    failed = counts["nominatim_failed"]
    note = (
        f"; {failed} Nominatim requests failed (nominatim_error says why; a rerun asks again)"
        if failed
        else ""
    )
    typer.echo(f"{counts['rows']} points -> {out} ({counts['none']} without a country{note})")


@app.command("climate")
def climate_cmd(
    input: InPath,
    out: Annotated[
        Path, typer.Option("--out", help="output CSV: id, lat, lon, climate, description, prompt")
    ],
    coast_km: Annotated[
        float,
        typer.Option(
            help=f"nearest land pixel search for sea points, km (at most {COAST_KM_MAX:g})",
            callback=_km_option(maximum=COAST_KM_MAX),
        ),
    ] = geo.COAST_KM,
    chunk_rows: ChunkRows = CHUNK_ROWS,
    progress: Progress = True,
) -> None:
    """Köppen-Geiger climate class of every point (offline map), with its description and prompt."""
    check_output(input, out)
    table = geo.koppen_table().set_index("code")
    n = [0]

    def rows(chunk: PointChunk) -> pd.DataFrame:
        pts = chunk.points
        codes = geo.climate(pts["lat"].to_numpy(), pts["lon"].to_numpy(), coast_km=coast_km)
        n[0] += len(pts)
        return pts.assign(
            climate=codes,
            description=table["description"].reindex(codes).to_numpy(),
            prompt=table["prompt"].reindex(codes).to_numpy(),
        )

    _stream(input, out, rows, chunk_rows=chunk_rows, progress=progress)
    typer.echo(f"{n[0]} points -> {out}")


@app.command("dedupe")
def dedupe_cmd(
    input: Annotated[Path, typer.Option("--in", help="CSV with id, lat, lon (+ group column), or JSON")],
    out: Annotated[Path, typer.Option("--out", help="output CSV: id, keep, duplicate_of")],
    group_by: Annotated[
        str, typer.Option(help="'country' (offline geocoding), 'none', or a CSV column / JSON key")
    ] = "country",
    radius_km: Annotated[
        float,
        typer.Option(
            help="drop points closer than this to an accepted one", callback=_km_option(positive=True)
        ),
    ] = geo.DEDUPE_KM,
    chunk_rows: ChunkRows = CHUNK_ROWS,
    progress: Progress = True,
) -> None:
    """The authors' near-duplicate filter: within a group, in file order, drop a point closer than 1 km
    to one already accepted."""
    check_output(input, out)
    column = () if group_by in ("none", "country") else (group_by,)
    ids, lats, lons, groups = [], [], [], []
    for chunk in _chunks(input, chunk_rows, progress, column):
        pts = chunk.points
        ids.append(pts["id"].to_numpy())
        lats.append(pts["lat"].to_numpy())
        lons.append(pts["lon"].to_numpy())
        if group_by == "country":
            groups.append(geo.reverse_geocode(lats[-1], lons[-1])["iso3"].to_numpy())
        elif column:
            groups.append(pts[group_by].to_numpy())
    all_ids = np.concatenate(ids)
    res = geo.dedupe_by_distance(
        np.concatenate(lats),
        np.concatenate(lons),
        np.concatenate(groups) if groups else None,
        radius_km=radius_km,
    )
    dup = res["duplicate_of"].to_numpy()
    keep = res["keep"].to_numpy()

    def write(fh: IO[bytes]) -> None:
        for s in _slices(len(all_ids), chunk_rows):
            part = pd.DataFrame(
                {
                    "id": all_ids[s],
                    "keep": keep[s],
                    "duplicate_of": np.where(dup[s] >= 0, all_ids[np.maximum(dup[s], 0)], ""),
                }
            )
            fh.write(part.to_csv(index=False, header=s.start == 0).encode("utf-8"))

    _write(out, write)
    typer.echo(f"kept {int(keep.sum())} of {len(keep)} points -> {out}")


def _slices(n: int, size: int) -> Iterator[slice]:
    return (slice(s, s + size) for s in range(0, n, size))
