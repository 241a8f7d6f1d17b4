"""``geoclip bench …``: every benchmark, each printing one JSON object with ``--json``.

The benchmarks themselves live in :mod:`geoclip_utils.bench`; these are their command-line shells. Every
option is checked before any work starts (bounds on the option itself; architectures and values that
depend on another option at the top of the command, before a model is built or Ray is started), so a bad
value is one line and exit status 2, never a traceback or minutes of work first. Upper bounds keep a run
within the memory and time of a laptop (the inference benchmark holds every preprocessed image in memory).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from .app import bench_app


def _refuse(option: str, message: str) -> typer.BadParameter:
    """A usage error naming the option (one line, exit status 2 through :class:`GeoclipGroup`)."""
    return typer.BadParameter(message, param_hint=f"'{option}'")


def _check_architectures(archs: list[str]) -> None:
    """Each ``--arch`` must be a random-weight architecture the benchmarks can build."""
    from ..engine.models import ARCHITECTURES

    for arch in archs:
        if arch not in ARCHITECTURES:
            raise _refuse(
                "--arch", f"{arch!r} is not an architecture; choose one of {', '.join(ARCHITECTURES)}"
            )


@bench_app.command("geocode")
def bench_geocode(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    n_random: Annotated[
        int,
        typer.Option(
            help="random land points, and as many points of the whole globe (0: skip)", min=0, max=10_000_000
        ),
    ] = 1_000_000,
    seed: Annotated[int, typer.Option(help="seed of the random points", min=0)] = 0,
    repeat: Annotated[int, typer.Option(help="timing repeats on country100 (best of)", min=1, max=20)] = 3,
    random_repeat: Annotated[
        int, typer.Option(help="timing repeats on the random points (best of; alternating)", min=1, max=20)
    ] = 2,
) -> None:
    """Geocode the 11,500 country100 coordinates, random land points and random points of the whole
    globe; ours vs reverse_geocoder's search and vs the plain shapely geocoder in the same run (ratios,
    points/s per stage, the globe's time over the land's, peak memory); baseline: Nominatim's 1 request/s."""
    from ..bench import geocode as bench_geo

    out = bench_geo.run(n_random=n_random, seed=seed, repeat=repeat, random_repeat=random_repeat)
    if as_json:
        typer.echo(json.dumps(out))
        return
    typer.echo(json.dumps(out, indent=2))


@bench_app.command("inference")
def bench_inference(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    n_images: Annotated[
        int, typer.Option(help="Synthetic 640x480 JPEGs to embed (all held in memory).", min=1, max=4096)
    ] = 256,
    arch: Annotated[
        str, typer.Option(help="Random-weight architecture (ViT-B/32, ViT-L/14, tiny).")
    ] = "ViT-B/32",
    batch_size: Annotated[int, typer.Option(help="Images per forward pass.", min=1, max=4096)] = 32,
    workers: Annotated[int, typer.Option(help="Decoding workers (-1: automatic).", min=-1, max=64)] = -1,
    threads: Annotated[
        int, typer.Option(help="torch threads (-1: automatic; else 1 or more).", min=-1, max=256)
    ] = -1,
    seed_subset: Annotated[
        int, typer.Option(help="Images timed one by one for the seed's two-stage.", min=1, max=4096)
    ] = 31,
) -> None:
    """Benchmark the inference engine against the seed scripts' way (one JSON object)."""
    if threads == 0:
        raise _refuse("--threads", "0 is not a number of threads; give -1 (automatic) or 1 or more")
    _check_architectures([arch])
    from ..bench.inference import run_inference_benchmark

    result = run_inference_benchmark(
        n_images=n_images,
        arch=arch,
        batch_size=batch_size,
        workers=None if workers < 0 else workers,
        threads=None if threads < 0 else threads,
        seed_subset=seed_subset,
        progress=not as_json,
    )
    if as_json:
        typer.echo(json.dumps(result))
    else:
        for key, value in result.items():
            typer.echo(f"{key:>24}: {value}")


@bench_app.command("captions")
def bench_captions(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    n_captions: Annotated[
        int, typer.Option(help="captions in the generated file", min=1, max=20_000_000)
    ] = 1_000_000,
    seed_subset: Annotated[
        int, typer.Option(help="captions the authors' (slow) loop is timed on", min=1, max=200_000)
    ] = 20_000,
    workers: Annotated[
        int | None, typer.Option(help="worker processes for our counter (default: every core)", min=1, max=64)
    ] = None,
    place_rate: Annotated[
        float, typer.Option(help="share of generated captions naming a country", min=0.0, max=0.5)
    ] = 0.16,
) -> None:
    """Our caption counter vs the authors' per-caption clip.tokenize loop (throughput, equality)."""
    from ..bench.captions import run_caption_benchmark

    out = run_caption_benchmark(
        n_captions=n_captions, seed_subset=seed_subset, workers=workers, place_rate=place_rate
    )
    if as_json:
        typer.echo(json.dumps(out))
        return
    typer.echo(json.dumps(out, indent=2))


@bench_app.command("scale")
def bench_scale(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    n_images: Annotated[
        int, typer.Option(min=8, max=20_000, help="Synthetic 640x480 JPEGs, in tar shards.")
    ] = 256,
    arch: Annotated[
        list[str] | None,
        typer.Option("--arch", help="Random-weight architectures (repeat; default tiny and ViT-B/32)."),
    ] = None,
    n_shards: Annotated[
        int, typer.Option(min=1, help="Tar shards the images are written to (at most one per image).")
    ] = 8,
    batch_size: Annotated[int, typer.Option(min=1, max=4096, help="Images per forward pass.")] = 32,
    target_images: Annotated[int, typer.Option(min=1, help="Images of the projection.")] = 5_000_000,
) -> None:
    """Local backend vs Ray backend (img/s, overhead ratio) on the same shards and model, and the hours
    that embedding TARGET_IMAGES would take on N GPUs (assumptions printed). Needs the scale extra."""
    archs = tuple(arch or ("tiny", "ViT-B/32"))
    _check_architectures(list(archs))  # before Ray starts
    if n_shards > n_images:
        raise _refuse(
            "--n-shards", f"{n_shards} shards for {n_images} images: give at most one shard per image"
        )
    from ..bench.scale import run_scale_benchmark

    result = run_scale_benchmark(
        n_images=n_images,
        archs=archs,
        n_shards=n_shards,
        batch_size=batch_size,
        target_images=target_images,
    )
    typer.echo(json.dumps(result) if as_json else json.dumps(result, indent=2))
