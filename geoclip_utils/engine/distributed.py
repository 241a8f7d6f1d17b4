"""The Ray backend: the embedding pass on Ray Data, on a laptop or on a cluster, into the same cache.

``geoclip embed --backend ray`` runs the pass as a Ray Data pipeline:

1. *read*: one row per unit of work (:mod:`~geoclip_utils.engine.units`): a tar shard, or a slice of a
   folder's id list;
2. *decode*: CPU tasks (one CPU each) decode and preprocess the unit's images with the model's own
   transform (the same :func:`~geoclip_utils.engine.units.decode_unit` as the local backend);
3. *encode*: an actor pool, one model per actor: one actor per GPU (``num_gpus=1``) when the cluster has
   GPUs, else one CPU actor per node, each using its node's cores for torch;
4. *write*: the driver collects the features piece by piece and writes each complete piece as one chunk
   through the cache's one :class:`~geoclip_utils.engine.cache.ChunkWriter` — the cache format of the
   local backend, so ``geoclip classify`` and every chapter read a Ray-made cache unchanged.

Without an address a local Ray is started (loopback only, no dashboard, no usage statistics) and stopped
at the end; with ``address`` (``HOST:PORT`` of a running cluster's head, or ``auto``) the driver joins it.
Every node needs this package installed (the same environment, e.g. on a shared file system) and must
read the images or shards at the same paths; only the driver writes the cache.

Resumable: the driver writes a chunk as soon as a piece is complete, so a killed job keeps every piece it
wrote, and a rerun reads past them (complete shards are not opened at all). A worker or node that dies
mid-run is survived by Ray's retries (decode tasks are retried, encoder actors restarted); rows sent twice
by a retried task are recognised by their place in their piece and stored once.

Ray is optional (the ``scale`` extra: ``pip install 'geoclip-utils[scale]'``); this module imports it only
when a Ray run starts.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ..errors import ConfigError, InputError
from .cache import ChunkWriter
from .images import DEFAULT_MAX_PIXELS, read_ids
from .models import ModelInfo, load_model, model_info
from .units import PieceAssembler, Unit, blank_pixels, decode_unit, encode_rows, feature_dim, id_units

__all__ = ["EXTRA", "import_ray", "ray_session", "model_loader", "embed_with_ray"]

#: The optional dependency group that brings Ray Data.
EXTRA = "scale"

#: The node address of a local Ray. Ray replaces 127.0.0.1 by the machine's network address (to let other
#: nodes join); any other loopback address is kept, so a local Ray listens on loopback only. On macOS
#: and Windows Ray keeps 127.0.0.1 itself (and 127.0.0.2 is not configured there).
LOCAL_NODE_IP = "127.0.0.2" if sys.platform.startswith("linux") else "127.0.0.1"


#: Attempts to start a local Ray: its raylet gives up when its helper processes take more than 15 s to
#: start (a loaded machine); a second attempt usually finds them in the page cache.
START_ATTEMPTS = 3


def import_ray():
    """Import Ray Data with usage statistics off.

    Raises
    ------
    ConfigError
        Naming the ``scale`` extra when Ray Data is not installed.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"--backend ray needs Ray Data ({exc.name or exc}): install the {EXTRA!r} extra, "
            f"pip install 'geoclip-utils[{EXTRA}]' (make setup installs it)"
        ) from exc
    return ray


@contextlib.contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None) -> Iterator:
    """Join a Ray cluster (``address``) or start a local one; disconnect (and stop a local one) at the end.

    A Ray already initialised in this process is used as it is and left running.

    Parameters
    ----------
    address : ``HOST:PORT`` of the head node (``ray start --head`` prints it), ``ray://HOST:PORT`` or
        ``auto``; ``None`` starts a local Ray on loopback without dashboard.
    num_cpus : CPUs of a local Ray (default: all).

    Yields
    ------
    the ``ray`` module.

    Raises
    ------
    ConfigError
        Ray is not installed, or no cluster answers at ``address``.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING, "configure_logging": True}
    if address:
        host = address.split("://")[-1].rsplit(":", 1)[0]
        kwargs = {"address": address, **({"_node_ip_address": host} if host.startswith("127.") else {})}
    else:
        kwargs = {"num_cpus": num_cpus, "include_dashboard": False, "_node_ip_address": LOCAL_NODE_IP}
    for attempt in range(1 if address else START_ATTEMPTS):
        try:
            ray.init(**kwargs, **quiet)
            break
        except Exception as exc:  # Ray raises bare Exception when a node times out during startup
            ray.shutdown()
            if address or attempt == START_ATTEMPTS - 1 or "timed out during startup" not in str(exc):
                where = f"the Ray cluster at {address}" if address else "a local Ray"
                raise ConfigError(
                    f"could not start or join {where} ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                    "check --ray-address (the head's HOST:PORT that `ray start --head` prints)"
                ) from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def model_loader(name: str, precision: str | None = None) -> Callable:
    """The loader that every Ray actor calls, ``loader(device=...)`` -> ``(model, preprocess, model_id)``
    (:func:`~geoclip_utils.engine.models.load_model` of ``name``)."""
    return functools.partial(load_model, name, precision=precision)


def _probe(loader: Callable, device: str) -> tuple[ModelInfo, Callable, int, np.ndarray]:
    """Load the model where an actor would and report what the driver needs (a Ray task)."""
    model, preprocess, _ = loader(device=device)
    blank = blank_pixels(preprocess)
    return model_info(model), preprocess, feature_dim(model, blank), blank


def _decode_batch(batch: dict, **kwargs) -> Iterator[dict]:
    """Ray task: decode the units of a batch (one JSON text each) into row batches."""
    torch.set_num_threads(1)
    for text in batch["unit"]:
        yield from decode_unit(Unit.from_json(str(text)), **kwargs)


class _Encoder:
    """Ray actor: one model, encoding row batches."""

    def __init__(self, loader: Callable, device: str, expected: ModelInfo, dim: int, gpu: bool) -> None:
        self.threads = 1 if gpu else max(1, os.cpu_count() or 1)
        torch.set_num_threads(self.threads)
        self.model, _, _ = loader(device=device)
        info = model_info(self.model)
        if (info.model_id, info.checksum, info.precision) != (
            expected.model_id,
            expected.checksum,
            expected.precision,
        ):
            raise ConfigError(
                f"an encoder loaded {info.model_id} ({info.precision}, weights {info.checksum[:12]}) but the "
                f"run embeds {expected.model_id} ({expected.precision}, weights {expected.checksum[:12]}); "
                "give every node the same model files"
            )
        self.dim = dim

    def __call__(self, batch: dict) -> dict:
        # Without GPUs Ray Data fuses the decode step into this actor (same remote arguments), and
        # _decode_batch sets torch to one thread in this process: take the node's cores back per batch.
        torch.set_num_threads(self.threads)
        return encode_rows(self.model, batch, self.dim)


def embed_with_ray(
    loader: Callable,
    cache_dir: str | os.PathLike,
    *,
    images: str | os.PathLike | None = None,
    ids: list[str] | str | os.PathLike | None = None,
    shards: str | list[Path] | None = None,
    address: str | None = None,
    device: str = "auto",
    batch_size: int = 64,
    part_size: int = 1024,
    actors: int | None = None,
    id_field: str | None = None,
    coords: pd.DataFrame | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    fast_decode: bool = True,
    retry_skipped: bool = True,
    progress: bool = True,
    max_chunks: int | None = None,
    num_cpus: int | None = None,
) -> dict:
    """Embed a folder (``images`` + ``ids``) or tar shards (``shards``) on Ray into the cache.

    Parameters
    ----------
    loader : ``loader(device=...)`` -> ``(model, preprocess, model_id)``, e.g. :func:`model_loader`
        ``("ViT-L/14")``; every actor calls it once (it must give the same model everywhere).
    cache_dir : cache folder (written by the driver only).
    images, ids : image folder and id list (or the id CSV); or
    shards : a brace pattern or list of tar shards (see :mod:`~geoclip_utils.engine.shards`).
    address : Ray cluster to join (``HOST:PORT``); ``None`` starts a local Ray.
    device : ``auto`` (GPUs when the cluster has them), ``cuda`` (require GPUs) or ``cpu``.
    batch_size : images per forward pass of an actor.
    part_size : images per piece (one chunk each; the resume granularity).
    actors : encoder actors (default: one per GPU, or one per node without GPUs).
    id_field, coords : as in :func:`~geoclip_utils.engine.shards.embed_shards`.
    max_pixels, fast_decode, retry_skipped, progress, max_chunks : as in
        :func:`~geoclip_utils.engine.embed_images` (``retry_skipped`` applies to folder input).
    num_cpus : CPUs of a local Ray (default all; ignored with ``address``).

    Returns
    -------
    dict, as :func:`~geoclip_utils.engine.shards.embed_shards` returns, plus ``backend`` and
    ``actors`` (how many, and on what: ``"2 x GPU"``, ``"1 x CPU"``).

    Raises
    ------
    ConfigError
        Ray missing, no cluster at ``address``, ``device=cuda`` without GPUs, bad sizes, a cache made
        with other settings or in use.
    InputError
        Missing image folder or shards, empty or bad id list.
    DataError
        Pieces lost on the way (the complete ones are kept; rerun to finish).

    Example
    -------
    >>> embed_with_ray(model_loader("tiny"), "cache/", shards="data/{00000..00009}.tar")  # doctest: +SKIP
    """
    from .shards import expand_shards, run_summary, shard_units

    if (images is None) == (shards is None):
        raise ConfigError("give either an image folder with ids, or tar shards")
    if batch_size < 1 or part_size < 1:
        raise ConfigError(f"batch size and part size must be >= 1, got {batch_size} and {part_size}")
    if actors is not None and actors < 1:
        raise ConfigError(f"actors must be >= 1, got {actors}")
    if device not in ("auto", "cuda", "cpu"):
        raise ConfigError(f"device {device!r} is not available with --backend ray; use auto, cuda or cpu")
    if images is not None:
        if not Path(images).is_dir():
            raise InputError(f"image folder {images} does not exist or is not a folder")
        id_list = [str(i) for i in (read_ids(ids) if isinstance(ids, (str, os.PathLike)) else ids or [])]
        if not id_list:
            raise InputError("the id list is empty; nothing to embed")
        paths = []
    else:
        paths = expand_shards(shards) if isinstance(shards, str) else [Path(p) for p in shards]

    with ray_session(address, num_cpus=num_cpus) as ray:
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        if device == "cuda" and not gpus:
            raise ConfigError(
                "device cuda asked for, but the Ray cluster has no GPU; use --device cpu or auto"
            )
        use_gpu = gpus > 0 and device != "cpu"
        nodes = sum(1 for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0)
        n_actors = actors or (gpus if use_gpu else max(1, nodes))
        gpu_args = {"num_gpus": 1} if use_gpu else {}
        dev = "cuda" if use_gpu else "cpu"
        info, preprocess, dim, blank = ray.get(ray.remote(num_cpus=1, **gpu_args)(_probe).remote(loader, dev))
        with ChunkWriter(cache_dir, info, fast_decode=fast_decode, max_pixels=max_pixels) as writer:
            if paths:
                units, done_before = shard_units(paths, writer, part_size, id_field)
            else:
                done = writer.done
                todo = [i for i in id_list if i not in done or (retry_skipped and done[i][0] == "skipped")]
                units, done_before = id_units(str(images), todo, part_size), 0
            if units:  # read → decode tasks → encoder actors → the driver writes the chunks
                ctx = ray.data.DataContext.get_current()
                ctx.enable_progress_bars = False
                ctx.print_on_execution_start = False
                ctx.verbose_stats_logs = False
                logging.getLogger("ray.data").setLevel(logging.WARNING)
                decode_kwargs = {
                    "preprocess": preprocess,
                    "batch_size": batch_size,
                    "max_pixels": max_pixels,
                    "draft_size": 2 * info.input_resolution if fast_decode else None,
                    "blank": blank,
                }
                ds = ray.data.from_items(
                    [{"unit": u.to_json()} for u in units], override_num_blocks=len(units)
                )
                ds = ds.map_batches(
                    _decode_batch, batch_size=1, batch_format="numpy", fn_kwargs=decode_kwargs, num_cpus=1
                )
                ds = ds.map_batches(
                    _Encoder,
                    batch_size=batch_size,
                    batch_format="numpy",
                    fn_constructor_kwargs={
                        "loader": loader,
                        "device": dev,
                        "expected": info,
                        "dim": dim,
                        "gpu": use_gpu,
                    },
                    compute=ray.data.ActorPoolStrategy(min_size=1, max_size=n_actors),
                    num_cpus=1,
                    **({"num_gpus": 1} if use_gpu else {}),
                )
                assembler = PieceAssembler(writer, units)
                bar = tqdm(unit="img", disable=not progress, desc=f"embed (ray, {n_actors} actors)")
                stopped = False
                try:
                    for batch in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1):
                        bar.update(assembler.add(batch))
                        if max_chunks is not None and writer.written >= max_chunks:
                            stopped = True
                            break
                finally:
                    bar.close()
                if not stopped:
                    assembler.check_complete()
            out = run_summary(writer, len(paths) or len(units), done_before, coords)
    out.update(backend="ray", actors=f"{n_actors} x {'GPU' if use_gpu else 'CPU'}")
    return out
