"""``geoclip bench …``: every benchmark, each printing one JSON object with ``--json``.

The benchmarks themselves live in :mod:`geoclip_utils.bench`; these are their command-line shells.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from .app import bench_app


@bench_app.command("geocode")
def bench_geocode(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    n_random: Annotated[
        int, typer.Option(help="random land points, and as many points of the whole globe (0: skip)", min=0)
    ] = 1_000_000,
    seed: Annotated[int, typer.Option(help="seed of the random points")] = 0,
    repeat: Annotated[int, typer.Option(help="timing repeats on country100 (best of)", min=1)] = 3,
    random_repeat: Annotated[
        int, typer.Option(help="timing repeats on the random points (best of; alternating)", min=1)
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
    n_images: Annotated[int, typer.Option(help="Synthetic 640x480 JPEGs to embed.")] = 256,
    arch: Annotated[
        str, typer.Option(help="Random-weight architecture (ViT-B/32, ViT-L/14, tiny).")
    ] = "ViT-B/32",
    batch_size: Annotated[int, typer.Option(help="Images per forward pass.")] = 32,
    workers: Annotated[int, typer.Option(help="Decoding workers (-1: automatic).")] = -1,
    threads: Annotated[int, typer.Option(help="torch threads (-1: automatic).")] = -1,
    seed_subset: Annotated[int, typer.Option(help="Images timed one by one for the seed's two-stage.")] = 31,
) -> None:
    """Benchmark the inference engine against the seed scripts' way (one JSON object)."""
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
    n_captions: Annotated[int, typer.Option(help="captions in the generated file")] = 1_000_000,
    seed_subset: Annotated[int, typer.Option(help="captions the authors' (slow) loop is timed on")] = 20_000,
    workers: Annotated[int | None, typer.Option(help="worker processes for our counter")] = None,
    place_rate: Annotated[float, typer.Option(help="share of generated captions naming a country")] = 0.16,
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
    n_images: Annotated[int, typer.Option(min=8, help="Synthetic 640x480 JPEGs, in tar shards.")] = 256,
    arch: Annotated[
        list[str] | None,
        typer.Option("--arch", help="Random-weight architectures (repeat; default tiny and ViT-B/32)."),
    ] = None,
    n_shards: Annotated[int, typer.Option(min=1, help="Tar shards the images are written to.")] = 8,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per forward pass.")] = 32,
    target_images: Annotated[int, typer.Option(min=1, help="Images of the projection.")] = 5_000_000,
) -> None:
    """Local backend vs Ray backend (img/s, overhead ratio) on the same shards and model, and the hours
    that embedding TARGET_IMAGES would take on N GPUs (assumptions printed). Needs the scale extra."""
    from ..bench.scale import run_scale_benchmark

    result = run_scale_benchmark(
        n_images=n_images,
        archs=tuple(arch or ("tiny", "ViT-B/32")),
        n_shards=n_shards,
        batch_size=batch_size,
        target_images=target_images,
    )
    typer.echo(json.dumps(result) if as_json else json.dumps(result, indent=2))
