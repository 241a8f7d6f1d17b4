"""Inference commands: ``embed`` (one resumable embedding pass) and ``classify`` (every experiment from the
cache). Every user error is a :class:`~geoclip_utils.errors.GeoclipError` (printed as one line, exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError, InputError
from .app import app

BACKENDS = ("local", "ray")


@app.command("embed")
def embed(
    out: Annotated[Path, typer.Option("--out", help="Cache folder (one sub-folder per model).")],
    images: Annotated[
        Path | None, typer.Option("--images", help="Folder with <id>.jpg (or .jpeg/.png) files (with --ids).")
    ] = None,
    ids: Annotated[
        Path | None,
        typer.Option("--ids", help="CSV of image ids (column id / image_id, else the first); with --images."),
    ] = None,
    shards: Annotated[
        str | None,
        typer.Option(
            "--shards",
            help="WebDataset/img2dataset tar shards instead of a folder: a path or brace pattern, "
            "e.g. 'data/{00000..00099}.tar' (quote it); read as streams, never unpacked.",
        ),
    ] = None,
    id_field: Annotated[
        str | None,
        typer.Option(
            "--id-field",
            help="With --shards: take ids from this field of each .json member (default: the sample key).",
        ),
    ] = None,
    coords: Annotated[
        Path | None,
        typer.Option(
            "--coords", help="Parquet or CSV of id, lat, lon to join: written as coords.parquet in the cache."
        ),
    ] = None,
    backend: Annotated[
        str,
        typer.Option("--backend", help="local (this process) or ray (Ray Data: a local Ray or a cluster)."),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="With --backend ray: join the cluster at HOST:PORT (default: start a local Ray).",
        ),
    ] = None,
    actors: Annotated[
        int | None,
        typer.Option(
            min=1, help="With --backend ray: encoder actors (default: one per GPU, else one per node)."
        ),
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="CLIP name (ViT-L/14, ViT-B/32, ...), checkpoint path, 'tiny', open_clip:ARCH:WEIGHTS or hf:FOLDER.",
        ),
    ] = "ViT-L/14",
    device: Annotated[str, typer.Option(help="cuda, mps, cpu or auto.")] = "auto",
    batch_size: Annotated[int, typer.Option(min=1, help="Images per forward pass.")] = 64,
    workers: Annotated[
        int,
        typer.Option(
            min=-1,
            help="Decoding worker processes of the local backend (-1: automatic, one per spare core, none "
            "on 2 cores or fewer).",
        ),
    ] = -1,
    chunk_size: Annotated[
        int, typer.Option(min=1, help="Images per cache chunk (resume granularity; per piece of a shard).")
    ] = 1024,
    precision: Annotated[str, typer.Option(help="auto (fp16 on CUDA), fp16 or fp32.")] = "auto",
    exact_preprocess: Annotated[
        bool, typer.Option(help="Full JPEG decode (bit-exact openai preprocessing; slower on big photos).")
    ] = False,
    retry_skipped: Annotated[
        bool, typer.Option(help="Try again the images an earlier run into this cache skipped (folder input).")
    ] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Embed images once (L2-normalised CLIP features) into a resumable cache: a folder or tar shards,
    in this process or on Ray."""
    from .._io import check_output
    from ..engine.models import model_loader
    from ..engine.readers import FolderInput, ShardInput
    from ..engine.runner import EmbedOptions, LocalDistributor, embed
    from ..engine.shards import read_coords

    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend!r} is not one of {', '.join(BACKENDS)}")
    refuse = [
        (images is not None and shards is not None, "--images and --shards are two inputs; give one"),
        (
            images is None and shards is None,
            "give the images: --images FOLDER --ids FILE, or --shards PATTERN",
        ),
        (images is not None and ids is None, "--images needs --ids FILE (the ids to embed)"),
        (
            shards is not None and ids is not None,
            "--ids is for --images; shards carry their ids (see --id-field)",
        ),
        (id_field is not None and shards is None, "--id-field is for --shards; drop it"),
        (
            shards is not None and not retry_skipped,
            "--no-retry-skipped is for --images: shards are not reread",
        ),
        (
            ray_address is not None and backend != "ray",
            "--ray-address joins a Ray cluster: add --backend ray",
        ),
        (actors is not None and backend != "ray", "--actors is for --backend ray; drop it"),
        (workers >= 0 and backend == "ray", "--workers is for --backend local (Ray schedules the decoding)"),
    ]
    for bad, message in refuse:
        if bad:
            raise ConfigError(message)
    if backend == "ray":
        from ..engine.distributed import RayDistributor, import_ray

        import_ray()  # a missing extra is said before anything is read
        distributor = RayDistributor(address=ray_address, actors=actors, device=device)
    else:
        distributor = LocalDistributor(workers=None if workers < 0 else workers, device=device)
    distributor.check()
    if images is not None and not images.is_dir():
        raise InputError(f"image folder {images} does not exist or is not a folder")
    source = ShardInput(shards, id_field=id_field) if shards is not None else None
    check_output(out, [ids, images, coords, *(source.paths if source else [])], folder=True)
    coord_table = read_coords(coords) if coords is not None else None
    if source is None:
        source = FolderInput(images, ids, retry_skipped=retry_skipped)
    summary = embed(
        source,
        out,
        loader=model_loader(model, precision=precision),
        options=EmbedOptions(
            batch_size=batch_size, chunk_size=chunk_size, fast_decode=not exact_preprocess, progress=progress
        ),
        distributor=distributor,
        coords=coord_table,
    )
    if summary.report is not None and summary.backend == "local":
        _echo_folder(summary)
    else:
        _echo_summary(summary)
    if not summary.produced:
        what = (
            f"the {len(source.ids)} ids of {ids}" if summary.input == "folder" else f"the shards {shards!r}"
        )
        raise InputError(
            f"nothing was embedded: the cache {summary.cache} holds no image of {what} "
            f"({summary.skipped} skipped in the cache, reasons above and in its report.csv); check the input"
        )


def _echo_folder(s) -> None:
    """Print what a folder run in this process did (the per-image report of the summary)."""
    report = s.report
    skipped = report[report["status"] != "ok"]
    typer.echo(
        f"{s.model_id}: {int((report['status'] == 'ok').sum())} images embedded, {len(skipped)} skipped; "
        f"cache {s.cache}"
    )
    if s.retried:
        typer.echo(f"  retried {s.retried} images skipped by an earlier run: {s.recovered} now embedded")
    for row in skipped.head(10).itertuples():
        typer.echo(f"  skipped {row.image_id}: {row.reason}")
    if len(skipped) > 10:
        typer.echo(f"  ... and {len(skipped) - 10} more (see {s.cache}/report.csv)")
    if s.coords is not None:
        _echo_coords(s.coords)


def _echo_coords(c: dict) -> None:
    typer.echo(
        f"  coordinates: {c['with_coords']} embedded images have them, {c['without_coords']} do not; "
        f"{c['unused']} rows of --coords name no embedded image (written: coords.parquet)"
    )


def _echo_summary(s) -> None:
    """Print what a shard or Ray run did (:class:`geoclip_utils.engine.runner.EmbedSummary`)."""
    where = f" on Ray ({s.actors} actors)" if s.backend == "ray" else ""
    typer.echo(
        f"{s.model_id}: {s.embedded} images embedded, {s.skipped} skipped in the cache "
        f"({s.new} written by this run{where}); cache {s.cache}"
    )
    if s.units_done_before:
        typer.echo(f"  {s.units_done_before} of {s.units} shards were complete before this run (not reread)")
    for image_id, reason in s.skipped_examples:
        typer.echo(f"  skipped {image_id}: {reason}")
    if s.skipped > len(s.skipped_examples):
        typer.echo(f"  ... and {s.skipped - len(s.skipped_examples)} more (see {s.cache}/report.csv)")
    for error in s.shard_errors.values():
        typer.echo(
            f"  damaged shard: {error}; the samples before the damage are embedded, a rerun tries again"
        )
    if s.duplicates:
        image_id, where_dup = s.duplicates[0]
        typer.echo(
            f"  {len(s.duplicates)} samples repeat an id already embedded and were not stored again, "
            f"e.g. {image_id!r} in {where_dup}"
        )
    if s.coords is not None:
        _echo_coords(s.coords)


@app.command("classify")
def classify(
    cache: Annotated[Path, typer.Option("--cache", help="Cache folder written by `geoclip embed`.")],
    out: Annotated[Path, typer.Option("--out", help="Results folder: <out>/<experiment>.parquet.")] = Path(
        "results"
    ),
    experiment: Annotated[
        list[str] | None,
        typer.Option(
            "--experiment",
            help="Registered experiment(s) (see `geoclip experiments`: country100, country100_region, "
            "country100_country_from_region, country100_mixedprompt, US_states_max100, climates30k, ...), "
            "or 'all'; with --labels/--gold: the name of your experiment.",
        ),
    ] = None,
    labels: Annotated[Path | None, typer.Option("--labels", help="Labels file, one label per line.")] = None,
    gold: Annotated[
        Path | None, typer.Option("--gold", help="Gold CSV (image_id,label); overrides the paper's.")
    ] = None,
    template: Annotated[
        list[str] | None,
        typer.Option("--template", help="Prompt template with {label} (and {kind}); repeat to ensemble."),
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="Fills {kind} (default from the label set, e.g. country).")
    ] = None,
    mode: Annotated[
        str | None, typer.Option(help="flat, region, two_stage, mixed or climate (default per experiment).")
    ] = None,
    region_map: Annotated[
        Path | None,
        typer.Option(
            "--region-map", help="JSON object: region -> list of countries (default: the authors')."
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Model that made the cache (default: read from the cache).")
    ] = None,
    device: Annotated[str, typer.Option(help="cuda, mps, cpu or auto (text encoding only).")] = "auto",
    k: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Top-k labels stored (default 5, or every candidate when there are fewer; more than the "
            "candidates is refused).",
        ),
    ] = None,
) -> None:
    """Zero-shot classify cached embeddings; write one predictions table per experiment."""
    from .. import experiments as registry
    from ..data import read_region_map
    from ..engine import cache_manifest, load_embeddings, load_model, run_experiment
    from ..engine.models import model_info
    from ..engine.zeroshot import plan_experiment
    from ..labels import read_gold_csv, read_labels
    from ..stats import topk_accuracy

    names = list(experiment or [])
    if names == ["all"]:
        names = [n for n, e in registry.experiments().items() if e.mode in registry.RUNNABLE_MODES]
    if labels is not None and len(names) != 1:
        raise ConfigError("with --labels give exactly one --experiment NAME (the name of the results file)")
    if not names:
        raise ConfigError("give --experiment NAME (a paper experiment, or your name with --labels/--gold)")
    from .._io import check_output

    if mode is not None and mode not in registry.RUNNABLE_MODES:
        raise ConfigError(f"--mode {mode!r} is not one of {registry.RUNNABLE_MODES}")
    exps = registry.experiments()
    check_output(out, [gold, labels, region_map], caches=[cache], folder=True)
    for name in names:
        registry.check_name(name)
        check_output(out / f"{name}.parquet", [gold, labels, region_map], caches=[cache])
        spec = exps.get(name)
        used = mode or (spec.mode if spec else "flat")
        if spec is not None and mode is not None and mode != spec.mode:
            raise ConfigError(
                f"--mode {mode} contradicts experiment {name!r}, a {spec.mode} experiment; drop --mode, "
                "or give your own experiment name with --gold"
            )
        if template is not None and used == "mixed":
            raise ConfigError(f"--template is not used by the mixed prompts of {name!r}; drop it")
        if kind is not None and used in ("region", "mixed", "climate"):
            raise ConfigError(f"--kind is not used by a {used} experiment ({name!r}); drop it")
        if region_map is not None and used in ("flat", "climate"):
            raise ConfigError(f"--region-map is not used by a {used} experiment ({name!r}); drop it")
        if labels is not None and used != "flat":
            raise ConfigError(f"--labels is used by flat experiments only, not by {used} ({name!r}); drop it")
    if template is not None:
        from ..engine.prompts import validate_templates

        validate_templates(template)
    label_list = read_labels(labels) if labels is not None else None
    gold_df = read_gold_csv(gold) if gold is not None else None
    for name in names:
        if name not in exps and gold_df is None:
            raise ConfigError(f"experiment {name!r} is not registered ({', '.join(exps)}); give --gold")
    rmap = read_region_map(region_map) if region_map is not None else None
    plans = {
        name: plan_experiment(
            name,
            mode=mode,
            gold=gold_df,
            labels=label_list,
            templates=template,
            kind=kind,
            region_map=rmap,
            k=k,
        )
        for name in names
    }
    if model is None:
        manifest = cache_manifest(cache)
        model = manifest.get("model_source") or ""
        if not model:
            raise ConfigError(f"the cache {cache} does not record how to load its model; give --model")
    m, _, model_id = load_model(model, device=device)
    embeddings = load_embeddings(cache, model_id=model_info(m).model_id)  # once for every experiment
    ran = 0
    for name in names:
        try:
            df = run_experiment(name, m, cache, out, plan=plans[name], embeddings=embeddings)
        except InputError as exc:
            if experiment != ["all"] or "none of the" not in str(exc):
                raise
            typer.echo(f"{name}: skipped, none of its images is in the cache")
            continue
        ran += 1
        typer.echo(
            f"{name}: {len(df)} images ({df.attrs['n_not_embedded']} not in the cache), "
            f"top-1 accuracy {topk_accuracy(df, k=1):.3f} -> {out / (name + '.parquet')}"
        )
    if not ran:
        raise InputError(f"no experiment has images in the cache {cache}; run `geoclip embed` first")


@app.command("dedupe-embeddings")
def dedupe_embeddings(
    cache: Annotated[Path, typer.Option("--cache", help="Cache folder written by `geoclip embed`.")],
    out: Annotated[Path, typer.Option("--out", help="Output CSV: image_id, keep, duplicate_of.")],
    groups: Annotated[
        Path | None,
        typer.Option("--groups", help="Gold CSV (image_id,label): compare images of the same label only."),
    ] = None,
    threshold: Annotated[
        float, typer.Option(min=-1.0, max=1.0, help="Cosine similarity above which an image is a duplicate.")
    ] = 0.9,
    model: Annotated[
        str | None, typer.Option("--model", help="Model id in the cache (when it holds several).")
    ] = None,
) -> None:
    """The authors' near-duplicate rule on image embeddings: in cache order (within a label with --groups),
    drop an image whose cosine similarity to one already kept exceeds the threshold (default 0.9)."""
    import pandas as pd

    from ..engine import load_embeddings
    from ..geo import dedupe_by_cosine
    from ..io.outputs import CsvChunks, check_output
    from ..labels import read_gold_csv

    target = check_output(out, [groups], caches=[cache])
    ids, feats = load_embeddings(cache, model_id=model)
    if not ids:
        raise InputError(f"the cache {cache} holds no embedded image")
    group_of = None
    if groups is not None:
        gold = read_gold_csv(groups).set_index("image_id")["label"]
        missing = [i for i in ids if i not in gold.index]
        if missing:
            raise InputError(
                f"{len(missing)} cached images have no label in {groups}, e.g. {missing[0]!r}; "
                "give a label to every image or drop --groups"
            )
        group_of = gold.loc[ids].to_numpy()
    res = dedupe_by_cosine(ids, feats, group_of, threshold=threshold)
    table = pd.DataFrame({"image_id": res["id"], "keep": res["keep"], "duplicate_of": res["duplicate_of"]})
    target.write(lambda fh: CsvChunks(fh).write(table))
    typer.echo(f"kept {int(res['keep'].sum())} of {len(res)} images -> {target}", err=target.stdout)
