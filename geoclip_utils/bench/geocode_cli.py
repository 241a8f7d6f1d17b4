"""The command line against its own library on the same points: ``python -m geoclip_utils.bench.geocode_cli``.

Writes ``n_points`` random land points (:func:`geoclip_utils.bench.geocode.random_land_points`) to a CSV
and, in one run, times in turns (best of ``repeat``):

* the library: :func:`geoclip_utils.geo.geocode` on the points in this process, warmed up first (its setup
  excluded, as in ``geoclip bench geocode``);
* the command line: ``geoclip geocode --in points.csv --out labels.csv`` in a fresh process — wall time and
  peak resident memory of that process (``ru_maxrss``, what ``/usr/bin/time -v`` reports);
* the command line on one point: its fixed cost (start-up, imports, loading the maps), so the per-point
  cost of the command line (reading, checking, writing) can be compared with the library's too.

Returns ``cli_points_per_s`` (points / wall time), ``library_points_per_s``, their ratio
``cli_to_library``, ``cli_marginal_points_per_s`` (points / (wall − one-point wall)) and its ratio,
``cli_peak_rss_mb``, and whether the output has one row per point.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_CLI = "import sys; from geoclip_utils.cli import main; sys.argv[0] = 'geoclip'; main()"


def _points_csv(path: Path, n: int, seed: int):
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from .geocode import random_land_points

    lat, lon = random_land_points(n, seed)
    ids = pa.array([f"p{i}" for i in range(n)])
    pcsv.write_csv(pa.table({"id": ids, "lat": lat, "lon": lon}), path)
    return lat, lon


def _cli(src: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one ``geoclip geocode`` process."""
    import geoclip_utils

    cmd = [sys.executable, "-c", _CLI, "geocode", "--in", str(src), "--out", str(out), "--no-progress"]
    root = str(Path(geoclip_utils.__file__).resolve().parents[1])  # this very package, whatever the cwd
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=src.parent, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"geoclip geocode failed ({proc.returncode}): {err.strip()}")
    return wall, usage.ru_maxrss / 1024


def run(n_points: int = 1_000_000, seed: int = 0, repeat: int = 1) -> dict[str, Any]:
    """Run the comparison; return one JSON-able dict (see the module docstring).

    Example
    -------
    >>> run(n_points=2000)["cli_to_library"]  # doctest: +SKIP
    0.08
    """
    from .. import geo

    with tempfile.TemporaryDirectory(prefix="geoclip-bench-") as tmp:
        folder = Path(tmp)
        src, one, out = folder / "points.csv", folder / "one.csv", folder / "labels.csv"
        lat, lon = _points_csv(src, n_points, seed)
        one.write_text(f"id,lat,lon\np0,{float(lat[0])!r},{float(lon[0])!r}\n", encoding="utf-8")
        geo.geocode(lat[:100], lon[:100])  # the library's setup, not timed (as in `geoclip bench geocode`)
        best = {"library": float("inf"), "cli": float("inf"), "cli_one": float("inf")}
        peak = 0.0
        for _ in range(max(1, repeat)):
            t = time.perf_counter()
            geo.geocode(lat, lon)
            best["library"] = min(best["library"], time.perf_counter() - t)
            wall, rss = _cli(src, out)
            best["cli"], peak = min(best["cli"], wall), max(peak, rss)
            best["cli_one"] = min(best["cli_one"], _cli(one, folder / "one_out.csv")[0])
        with open(out, "rb") as fh:
            rows = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) - 1
    marginal = max(best["cli"] - best["cli_one"], 1e-9)
    lib = n_points / best["library"]
    return {
        "benchmark": "geocode_cli",
        "points": n_points,
        "seed": seed,
        "repeat": repeat,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "library_s": round(best["library"], 3),
        "library_points_per_s": round(lib),
        "cli_s": round(best["cli"], 3),
        "cli_points_per_s": round(n_points / best["cli"]),
        "cli_to_library": round(n_points / best["cli"] / lib, 3),
        "cli_one_point_s": round(best["cli_one"], 3),
        "cli_marginal_points_per_s": round(n_points / marginal),
        "cli_marginal_to_library": round(n_points / marginal / lib, 3),
        "cli_peak_rss_mb": round(peak, 1),
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
