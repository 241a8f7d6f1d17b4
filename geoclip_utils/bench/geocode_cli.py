"""The command line against its own library on the same points: ``python -m geoclip_utils.bench.geocode_cli``.

Writes ``n_points`` random land points (:func:`geoclip_utils.bench.geocode.random_land_points`) to a CSV
and, in one run, times in turns (best of ``repeat``):

* the library: :func:`geoclip_utils.geo.geocode` on the points in this process, warmed up first (its setup
  excluded, as in ``geoclip bench geocode``);
* the command line with a **cold** cache: ``geoclip geocode --in points.csv --out labels.csv`` in a fresh
  process whose prepared-structures cache (:mod:`geoclip_utils.geo.prepared`) is empty, so it reads the
  polygons, builds the grids and writes the cache (a user's first run);
* the command line with a **warm** cache: the same command again, loading what the cold run wrote (every
  later run: the normal case);
* the command line on one point, warm and cold: its fixed cost (start-up, imports, loading or building
  the maps), so the per-point cost of the command line (reading, checking, writing) can be compared
  with the library's too.

Each command runs in a fresh process with its own temporary cache folder (``GEOCLIP_CACHE``; the authors'
files it needs are fetched once here and handed to it as a mirror of links), and its wall time and peak
resident memory are measured. The peak is the command's own: ``VmHWM`` of its process, written by the
process as it exits. (``ru_maxrss`` of a child, what ``wait4`` gives, also counts this process's memory
that the child held between its fork and its ``exec``: the points and labels of a 10M-point run read as
2.2 GB for a command that peaks at 0.8 GB. It is the fallback where ``/proc`` is missing.)

Returns ``library_points_per_s``; ``cli_points_per_s`` and ``cli_to_library`` (warm cache: points / wall
time, and its ratio to the library), ``cli_cold_points_per_s`` and ``cli_cold_to_library``;
``cli_one_point_s`` / ``cli_one_point_cold_s``; ``cli_marginal_points_per_s`` (points / (warm wall −
warm one-point wall)) and its ratio; ``cli_peak_rss_mb`` (the largest of every command run),
``cli_warm_peak_rss_mb``, ``cli_cold_peak_rss_mb``; ``prepared_cache_mb`` (what the cache holds on disk);
the load average before and after; whether the output has one row per point.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: Python code that makes its process write its peak resident memory (kB, its ``VmHWM``) as it exits to
#: the file named by ``GEOCLIP_BENCH_PEAK``
_REPORT_PEAK = """\
import atexit, os, sys

def _peak():
    try:
        with open("/proc/self/status") as fh:
            kb = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
        with open(os.environ["GEOCLIP_BENCH_PEAK"], "w") as fh:
            fh.write(kb)
    except (OSError, StopIteration):
        pass

atexit.register(_peak)
"""
#: ``geoclip`` in a fresh process that reports its peak
_CLI = _REPORT_PEAK + "from geoclip_utils.cli import main\nsys.argv[0] = 'geoclip'\nmain()\n"


def _points_csv(path: Path, n: int, seed: int):
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from .geocode import random_land_points

    lat, lon = random_land_points(n, seed)
    ids = pa.array([f"p{i}" for i in range(n)])
    pcsv.write_csv(pa.table({"id": ids, "lat": lat, "lon": lon}), path)
    return lat, lon


def _mirror(folder: Path) -> Path:
    """A folder laid out like the authors' repository holding links to the files geocoding reads (fetched
    and checked here, from the mirror or the download cache), so the commands can use an empty cache
    folder of their own without downloading anything."""
    from .. import data
    from ..geo.koppen import FAO_FILES
    from ..geo.reverse import COUNTRY_FILES

    for p in (*COUNTRY_FILES, *FAO_FILES):
        link = folder / p
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(data.fetch(p, progress=False).resolve())
    return folder


def _cli(src: Path, out: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one ``geoclip geocode`` process."""
    cmd = [sys.executable, "-c", _CLI, "geocode", "--in", str(src), "--out", str(out), "--no-progress"]
    # stderr goes to a file, not a pipe: a child that wrote more than a pipe holds would block before exiting
    # while this process waits for it (wait4, for the child's own peak memory) without reading the pipe
    peak = out.parent / ".peak_kb"
    peak.unlink(missing_ok=True)
    env = {**env, "GEOCLIP_BENCH_PEAK": str(peak)}
    with tempfile.TemporaryFile() as log:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, cwd=src.parent, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            log.seek(0)
            err = log.read().decode(errors="replace")
            raise RuntimeError(f"geoclip geocode failed ({proc.returncode}): {err.strip()}")
    if peak.is_file():
        return wall, int(peak.read_text()) / 1024
    return wall, usage.ru_maxrss / 1024


def _size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def run(n_points: int = 1_000_000, seed: int = 0, repeat: int = 1) -> dict[str, Any]:
    """Run the comparison; return one JSON-able dict (see the module docstring).

    Example
    -------
    >>> run(n_points=2000)["cli_to_library"]  # doctest: +SKIP
    0.08
    """
    import geoclip_utils

    from .. import geo

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="geoclip-bench-") as tmp:
        folder = Path(tmp)
        src, one, out = folder / "points.csv", folder / "one.csv", folder / "labels.csv"
        lat, lon = _points_csv(src, n_points, seed)
        one.write_text(f"id,lat,lon\np0,{float(lat[0])!r},{float(lon[0])!r}\n", encoding="utf-8")
        cache = folder / "cache"
        root = str(Path(geoclip_utils.__file__).resolve().parents[1])  # this very package, whatever the cwd
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
            "GEOCLIP_DATA_MIRROR": str(_mirror(folder / "mirror")),
            "GEOCLIP_CACHE": str(cache),
        }
        env.pop("GEOCLIP_PROVENANCE_LOG", None)
        geo.geocode(lat[:100], lon[:100])  # the library's setup, not timed (as in `geoclip bench geocode`)
        best = dict.fromkeys(("library", "cold", "warm", "one_cold", "one_warm"), float("inf"))
        rss = dict.fromkeys(("cold", "warm", "one"), 0.0)
        for _ in range(max(1, repeat)):
            t = time.perf_counter()
            geo.geocode(lat, lon)
            best["library"] = min(best["library"], time.perf_counter() - t)
            shutil.rmtree(cache, ignore_errors=True)
            wall, mb = _cli(src, out, env)  # cold: builds and writes the prepared structures
            best["cold"], rss["cold"] = min(best["cold"], wall), max(rss["cold"], mb)
            wall, mb = _cli(src, out, env)  # warm: loads them
            best["warm"], rss["warm"] = min(best["warm"], wall), max(rss["warm"], mb)
            wall, mb = _cli(one, folder / "one_out.csv", env)
            best["one_warm"], rss["one"] = min(best["one_warm"], wall), max(rss["one"], mb)
            cache_mb = _size_mb(cache)
            shutil.rmtree(cache, ignore_errors=True)
            wall, mb = _cli(one, folder / "one_out.csv", env)
            best["one_cold"], rss["one"] = min(best["one_cold"], wall), max(rss["one"], mb)
        with open(out, "rb") as fh:
            rows = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) - 1
    marginal = max(best["warm"] - best["one_warm"], 1e-9)
    lib = n_points / best["library"]
    return {
        "benchmark": "geocode_cli",
        "points": n_points,
        "seed": seed,
        "repeat": repeat,
        "load_average_1min": round(load_before, 2),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "library_s": round(best["library"], 3),
        "library_points_per_s": round(lib),
        "cli_s": round(best["warm"], 3),
        "cli_points_per_s": round(n_points / best["warm"]),
        "cli_to_library": round(n_points / best["warm"] / lib, 3),
        "cli_cold_s": round(best["cold"], 3),
        "cli_cold_points_per_s": round(n_points / best["cold"]),
        "cli_cold_to_library": round(n_points / best["cold"] / lib, 3),
        "cli_one_point_s": round(best["one_warm"], 3),
        "cli_one_point_cold_s": round(best["one_cold"], 3),
        "cli_marginal_points_per_s": round(n_points / marginal),
        "cli_marginal_to_library": round(n_points / marginal / lib, 3),
        "cli_peak_rss_mb": round(max(rss.values()), 1),
        "cli_warm_peak_rss_mb": round(rss["warm"], 1),
        "cli_cold_peak_rss_mb": round(rss["cold"], 1),
        "prepared_cache_mb": round(cache_mb, 1),
        "output_rows_match": rows == n_points,
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m geoclip_utils.bench.geocode_cli [--n-points N] [--seed S] [--repeat R]``: one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-points", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    if args.n_points < 1 or args.repeat < 1:
        ap.error("--n-points and --repeat must be at least 1")
    print(json.dumps(run(args.n_points, args.seed, args.repeat)))


if __name__ == "__main__":
    main()
