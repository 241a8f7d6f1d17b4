"""The ``geoclip`` typer apps. Every command module registers its commands on these with decorators:
``@app.command("name")`` for a command, ``@bench_app.command("name")`` for a benchmark."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="geoclip — how well does CLIP geolocate street-level photos? Tools behind the geoclip book.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks; each prints one JSON object.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
