"""Data and results commands: ``fetch``, ``metrics``, ``compare``, ``experiments``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from .app import app


@app.command()
def fetch(
    paths: Annotated[
        list[str] | None, typer.Argument(help="files to fetch (default: every registered file)")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
) -> None:
    """Download (or find in GEOCLIP_DATA_MIRROR) and hash-check the authors' data files; print a report."""
    from .. import data

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
    n_boot: Annotated[int, typer.Option(min=1, help="bootstrap resamples for the 95% CIs")] = 1000,
    seed: Annotated[int, typer.Option(min=0, help="bootstrap seed")] = 0,
) -> None:
    """Headline metrics of one experiment (top-1, top-5, macro-F1, each with a bootstrap 95% CI)."""
    from ..evaluate import experiment_metrics

    out = experiment_metrics(experiment, source=source, results_dir=results_dir, n_boot=n_boot, seed=seed)
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
    n_boot: Annotated[int, typer.Option(min=1, help="bootstrap resamples")] = 1000,
    seed: Annotated[int, typer.Option(min=0, help="bootstrap seed")] = 0,
) -> None:
    """Paired comparison of two experiments on the images both share (accuracy difference b − a,
    paired bootstrap 95% CI, exact McNemar p), raw and with both restricted to the labels both could answer
    (bounds where a stored top-k runs out of common labels)."""
    from ..evaluate import compare_experiments

    out = compare_experiments(a, b, source=source, results_dir=results_dir, n_boot=n_boot, seed=seed)
    if as_json:
        typer.echo(json.dumps(out))
        return
    restricted = out.pop("restricted")
    for key, value in out.items():
        typer.echo(f"{key:>10}: {value}")
    if restricted is None:
        typer.echo("restricted: none (a run answers regions, not the photos' labels)")
        return
    typer.echo("restricted to the labels both could answer:")
    for key, value in restricted.items():
        typer.echo(f"  {key:>16}: {value}")


@app.command("experiments")
def list_experiments(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object per experiment")] = False,
) -> None:
    """List the registered experiments: name, mode, label set, images, classes, and whether the authors
    published its results (add your own with GEOCLIP_EXPERIMENTS=extra.toml)."""
    from .. import experiments

    table = experiments.describe()
    if as_json:
        for row in table.to_dict("records"):
            typer.echo(json.dumps(row))
        return
    typer.echo(f"{'experiment':32} {'mode':13} {'label set':22} {'images':>7} {'classes':>7}  published")
    for r in table.itertuples():
        typer.echo(
            f"{r.experiment:32} {r.mode:13} {r.label_set:22} {r.images:>7} {r.classes:>7}  "
            f"{'yes' if r.published else 'no (local runs only)'}"
        )
