"""Geo commands: ``geocode``, ``climate``, ``dedupe``.

Inputs are read in chunks by the one strict delimited reader (:func:`geoclip_utils.geo.points.iter_points`:
CSV with id/lat/lon, plain or compressed, or Mapillary-style JSON), so memory stays bounded for files of
millions of rows, with a progress bar on stderr; outputs are CSV written at columnar speed through the one
output policy (:func:`geoclip_utils.io.outputs.check_output`, checked before any work: not the input, not a
folder, not read-only; a regular file is replaced atomically, so an error half-way leaves no output and an
existing one untouched; a pipe, ``-`` or ``/dev/stdout`` is streamed). Distance options are checked by the
option itself: one line and exit status 2.
"""

from __future__ import annotations

import gc
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import numpy as np
import typer

from .. import geo
from ..errors import ConfigError
from ..geo import prepared
from ..geo.distance import check_km
from ..geo.koppen import COAST_KM_MAX
from ..geo.points import CHUNK_ROWS, PointChunk, iter_points
from ..geo.reverse import geocode_arrow
from ..io.outputs import CsvChunks, Output, check_output
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


def _chunks(src: Path, chunk_rows: int, progress: bool, extra: tuple[str, ...] = ()) -> Iterator[PointChunk]:
    """The chunks of ``src`` with a progress bar (bytes read) on stderr when it is a terminal."""
    if not (progress and sys.stderr.isatty()):  # no bar: tqdm is not even imported
        yield from iter_points(src, chunk_rows=chunk_rows, extra=extra)
        return
    from tqdm import tqdm

    with tqdm(desc=src.name, unit="B", unit_scale=True, file=sys.stderr, leave=False) as bar:
        for chunk in iter_points(src, chunk_rows=chunk_rows, extra=extra):
            yield chunk
            bar.total = chunk.total
            bar.update(chunk.done - bar.n)


def _ahead(items: Iterator[Any]) -> Iterator[Any]:
    """``items``, the next one read in a thread while the caller works on this one (pyarrow reads without
    holding the GIL); an error of the reader comes out where its item would have."""
    from concurrent.futures import ThreadPoolExecutor

    done = object()
    with ThreadPoolExecutor(1) as pool:
        nxt = pool.submit(next, items, done)
        while (item := nxt.result()) is not done:
            nxt = pool.submit(next, items, done)
            yield item


def _stream(
    src: Path, out: Output, rows: Callable[[PointChunk], Any], *, chunk_rows: int, progress: bool
) -> None:
    """Read ``src`` in chunks, turn each into output columns with ``rows`` and write them to ``out``
    (a file appears when every chunk is done; a stream gets the rows as they come). Reading the next
    chunk, working on this one and writing the last one overlap (three threads, at most three chunks in
    memory)."""
    from concurrent.futures import ThreadPoolExecutor

    def write(fh: IO[bytes]) -> None:
        csv = CsvChunks(fh)
        with ThreadPoolExecutor(1) as pool:
            pending = None
            for chunk in _ahead(_chunks(src, chunk_rows, progress)):
                cols = rows(chunk)
                if pending is not None:
                    pending.result()
                pending = pool.submit(csv.write, cols)
            if pending is not None:
                pending.result()

    # the objects made so far (modules, the maps) are left out of the cycle collector's passes while the
    # chunks stream (a few per cent of the run), and handed back to it afterwards
    gc.freeze()
    try:
        out.write(write)
    finally:
        gc.unfreeze()


def _count_empty(arr: Any) -> int:
    """How many values of a pyarrow dictionary array of strings are ``""``."""
    empty = np.flatnonzero(arr.dictionary.to_numpy(zero_copy_only=False) == "")
    return int(np.isin(arr.indices.to_numpy(zero_copy_only=False), empty).sum())


def _say(out: Output, message: str) -> None:
    """What was done, on stdout — or on stderr when the output itself goes to stdout."""
    typer.echo(message, err=out.stdout)


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
    target = check_output(out, [input], caches=[prepared.root(), *([cache] if nominatim else [])])
    nom = geo.NominatimGeocoder(user_agent, cache) if nominatim else None
    counts = {"rows": 0, "none": 0, "nominatim_failed": 0}

    def rows(chunk: PointChunk) -> dict[str, Any]:
        lat, lon = chunk.lat, chunk.lon
        # the library's columns as pyarrow arrays: text taken from small tables, no Python string per point
        res = geocode_arrow(lat, lon, tolerance_km=tolerance_km, border_km=border_km)
        cols = {
            "id": chunk.ids,
            "lat": lat,
            "lon": lon,
            **{c: res[c] for c in GEOCODE_COLUMNS[3:]},
        }
        if nom is not None:
            extra = nom.reverse(lat, lon, progress=progress).add_prefix("nominatim_")
            cols.update({c: extra[c].to_numpy() for c in extra.columns})
            counts["nominatim_failed"] += int((extra["nominatim_error"] != "").sum())
        counts["rows"] += len(lat)
        counts["none"] += _count_empty(res["iso3"])
        return cols

    _stream(input, target, rows, chunk_rows=chunk_rows, progress=progress)
    failed = counts["nominatim_failed"]
    note = (
        f"; {failed} Nominatim requests failed (nominatim_error says why; a rerun asks again)"
        if failed
        else ""
    )
    _say(target, f"{counts['rows']} points -> {target} ({counts['none']} without a country{note})")


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
    target = check_output(out, [input], caches=[prepared.root()])
    table = geo.koppen_table().set_index("code")
    n = [0]

    def rows(chunk: PointChunk) -> dict[str, Any]:
        lat, lon = chunk.lat, chunk.lon
        codes = geo.climate(lat, lon, coast_km=coast_km)
        n[0] += len(chunk)
        return {
            "id": chunk.ids,
            "lat": lat,
            "lon": lon,
            "climate": codes,
            "description": table["description"].reindex(codes).to_numpy(),
            "prompt": table["prompt"].reindex(codes).to_numpy(),
        }

    _stream(input, target, rows, chunk_rows=chunk_rows, progress=progress)
    _say(target, f"{n[0]} points -> {target}")


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
    target = check_output(out, [input], caches=[prepared.root()])
    column = () if group_by in ("none", "country") else (group_by,)
    ids, lats, lons, groups = [], [], [], []
    for chunk in _chunks(input, chunk_rows, progress, column):
        ids.append(chunk.points["id"].to_numpy())
        lats.append(chunk.lat)
        lons.append(chunk.lon)
        if group_by == "country":
            groups.append(geo.reverse_geocode(lats[-1], lons[-1])["iso3"].to_numpy())
        elif column:
            groups.append(chunk.points[group_by].to_numpy())
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
        csv = CsvChunks(fh)
        for s in _slices(len(all_ids), chunk_rows):
            csv.write(
                {
                    "id": all_ids[s],
                    "keep": keep[s],
                    "duplicate_of": np.where(dup[s] >= 0, all_ids[np.maximum(dup[s], 0)], ""),
                }
            )

    target.write(write)
    _say(target, f"kept {int(keep.sum())} of {len(keep)} points -> {target}")


def _slices(n: int, size: int) -> Iterator[slice]:
    return (slice(s, s + size) for s in range(0, n, size))
