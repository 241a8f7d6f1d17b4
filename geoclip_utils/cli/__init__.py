"""The ``geoclip`` command line: a thin shell over the functions the chapters call.

Commands of each area live beside that area (``cli_<area>.py``, each with ``register(app, bench_app)``);
this module owns the app, the data and metrics commands, and turns every :class:`GeoclipError` into
a one-line message and exit status 2.
"""

from __future__ import annotations

import functools
import importlib
import json
from typing import Annotated

import typer

from .errors import GeoclipError

app = typer.Typer(
    help="geoclip — how well does CLIP geolocate street-level photos? Tools behind the geoclip book.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks; each prints one JSON object.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@app.command()
def fetch(
    paths: Annotated[
        list[str] | None, typer.Argument(help="files to fetch (default: every registered file)")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
) -> None:
    """Download (or find in GEOCLIP_DATA_MIRROR) and hash-check the authors' data files; print a report."""
    from . import data

    report = data.fetch_all(paths or None, progress=not quiet)
    bad = report[report["status"] != "ok"]
    typer.echo(
        f"{len(report) - len(bad)} of {len(report)} files verified "
        f"({report.loc[report.status == 'ok', 'bytes'].sum() / 1e6:.1f} MB)"
    )
    for row in bad.itertuples():
        typer.echo(f"ERROR {row.path}: {row.detail}", err=True)
    if len(bad):
        raise typer.Exit(2)


@app.command()
def metrics(
    experiment: Annotated[
        str, typer.Option(help="experiment name, e.g. country100 (see `geoclip experiments`)")
    ],
    source: Annotated[str, typer.Option(help="paper (the authors' files) or local (our runs)")] = "paper",
    results_dir: Annotated[str | None, typer.Option(help="folder of local results (source=local)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    n_boot: Annotated[int, typer.Option(help="bootstrap resamples for the 95% CIs")] = 1000,
    seed: Annotated[int, typer.Option(help="bootstrap seed")] = 0,
) -> None:
    """Headline metrics of one experiment (top-1, top-5, macro-F1, each with a bootstrap 95% CI)."""
    from . import experiments

    out = experiments.experiment_metrics(
        experiment, source=source, results_dir=results_dir, n_boot=n_boot, seed=seed
    )
    if as_json:
        typer.echo(json.dumps(out))
        return
    for key, value in out.items():
        typer.echo(f"{key:>14}: {value}")


@app.command()
def compare(
    a: Annotated[str, typer.Option(help="experiment A (baseline)")],
    b: Annotated[str, typer.Option(help="experiment B")],
    source: Annotated[str, typer.Option(help="paper or local (both experiments)")] = "paper",
    results_dir: Annotated[str | None, typer.Option(help="folder of local results (source=local)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    n_boot: Annotated[int, typer.Option(help="bootstrap resamples")] = 1000,
    seed: Annotated[int, typer.Option(help="bootstrap seed")] = 0,
) -> None:
    """Paired comparison of two experiments on the images both share (accuracy difference b − a,
    paired bootstrap 95% CI, exact McNemar p)."""
    from . import experiments

    out = experiments.compare_experiments(
        a, b, source=source, results_dir=results_dir, n_boot=n_boot, seed=seed
    )
    if as_json:
        typer.echo(json.dumps(out))
        return
    for key, value in out.items():
        typer.echo(f"{key:>10}: {value}")


@app.command("experiments")
def list_experiments() -> None:
    """List the authors' experiments that `geoclip metrics --source paper` knows."""
    from . import data

    for name, kind in data.EXPERIMENTS.items():
        typer.echo(f"{name:32} labels: {kind}")


# Areas register their own commands (geo, inference, captions); an area not present is skipped.
for _area in ("cli_geo", "cli_infer", "cli_captions"):
    try:
        _mod = importlib.import_module(f".{_area}", __package__)
    except ModuleNotFoundError as _exc:
        if _exc.name != f"{__package__}.{_area}":
            raise
        continue
    _mod.register(app, bench_app)


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
