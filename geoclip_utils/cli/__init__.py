"""The ``geoclip`` command line: a thin shell over the functions the chapters call.

Each area's commands live in their own module and register themselves on the apps of :mod:`.app`
with decorators: :mod:`.data` (fetch, metrics, compare, experiments), :mod:`.geo` (geocode, climate,
dedupe), :mod:`.infer` (embed, classify), :mod:`.captions` (count-captions), :mod:`.bench` (every
``geoclip bench`` command). The error contract (one line, exit status 2) is enforced
once, by :class:`.app.GeoclipGroup`.
"""

from __future__ import annotations

from . import bench, captions, data, geo, infer  # noqa: F401 - importing registers their commands
from .app import app, bench_app

__all__ = ["app", "bench_app", "main"]


def main() -> None:
    """Entry point of the ``geoclip`` console script."""
    app()
