"""The ``geoclip`` command line: a thin shell over the functions the chapters call.

Each area's commands live in their own module and register themselves on the apps of :mod:`.app`
with decorators: :mod:`.data` (fetch, metrics, compare, experiments), :mod:`.geo` (geocode, climate,
dedupe), :mod:`.infer` (embed, classify), :mod:`.captions` (count-captions), :mod:`.bench` (every
``geoclip bench`` command). This module turns every :class:`~geoclip_utils.errors.GeoclipError` into a
one-line message and exit status 2.
"""

from __future__ import annotations

import functools

import typer

from ..errors import GeoclipError
from . import bench, captions, data, geo, infer  # noqa: F401 - importing registers their commands
from .app import app, bench_app

__all__ = ["app", "bench_app", "main"]


def _guard(fn):
    """Wrap a command so a GeoclipError prints ``error: …`` and exits with status 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GeoclipError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc

    return wrapper


def _guard_all(typer_app: typer.Typer) -> None:
    for info in typer_app.registered_commands:
        if info.callback is not None and not getattr(info.callback, "__wrapped__", None):
            info.callback = _guard(info.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _guard_all(group.typer_instance)


_guard_all(app)


def main() -> None:
    """Entry point of the ``geoclip`` console script."""
    app()
