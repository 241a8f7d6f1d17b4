"""The Ray distributor: the embedding pass on Ray Data, on a laptop or on a cluster, into the same cache.

``geoclip embed --backend ray`` runs the one driver (:func:`~geoclip_utils.engine.runner.embed`) with
:class:`RayDistributor`, which decodes and encodes the same tasks as the local distributor as a Ray Data
pipeline:

1. *read*: one row per decoding task (:meth:`~geoclip_utils.engine.units.Unit.tasks`): a tar shard, or a
   batch of a folder's id list;
2. *decode*: CPU tasks (one CPU each) decode and preprocess the task's images with the model's own
   transform (the same :func:`~geoclip_utils.engine.units.decode_unit` as the local distributor);
3. *encode*: an actor pool, one model per actor: one actor per GPU (``num_gpus=1``) when the cluster has
   GPUs, else one CPU actor per node, each using its node's cores for torch;
4. *write*: the driver collects the features piece by piece and writes each complete piece as one chunk
   through the cache's one :class:`~geoclip_utils.engine.cache.ChunkWriter` — the cache format of a
   local run, so ``geoclip classify`` and every chapter read a Ray-made cache unchanged.

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
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..errors import ConfigError
from .models import ModelInfo, model_info, model_loader
from .units import Unit, blank_pixels, decode_unit, encode_rows, feature_dim

__all__ = ["EXTRA", "import_ray", "ray_session", "model_loader", "RayDistributor"]

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


@dataclass
class _RayEncoding:
    ray: Any
    loader: Callable
    info: ModelInfo
    preprocess: Callable
    dim: int
    blank: np.ndarray
    device: str
    n_actors: int
    use_gpu: bool
    backend: str = "ray"

    @property
    def actors(self) -> str:
        return f"{self.n_actors} x {'GPU' if self.use_gpu else 'CPU'}"

    def encoded(self, tasks: list[Unit], decode: dict[str, Any]) -> Iterator[dict[str, np.ndarray]]:
        """read → decode tasks → encoder actors → batches back to the driver (in any order)."""
        ray = self.ray
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        ctx.verbose_stats_logs = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        ds = ray.data.from_items([{"unit": t.to_json()} for t in tasks], override_num_blocks=len(tasks))
        ds = ds.map_batches(
            _decode_batch,
            batch_size=1,
            batch_format="numpy",
            fn_kwargs={"preprocess": self.preprocess, "blank": self.blank, **decode},
            num_cpus=1,
        )
        ds = ds.map_batches(
            _Encoder,
            batch_size=decode["batch_size"],
            batch_format="numpy",
            fn_constructor_kwargs={
                "loader": self.loader,
                "device": self.device,
                "expected": self.info,
                "dim": self.dim,
                "gpu": self.use_gpu,
            },
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=self.n_actors),
            num_cpus=1,
            **({"num_gpus": 1} if self.use_gpu else {}),
        )
        yield from ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1)


@dataclass(frozen=True)
class RayDistributor:
    """Decode in Ray tasks and encode in an actor pool, on a local Ray or a cluster (see the module docstring).

    Attributes
    ----------
    address : Ray cluster to join (``HOST:PORT``, ``ray://HOST:PORT`` or ``auto``); ``None`` starts a local
        Ray (loopback only, no dashboard), stopped at the end.
    actors : encoder actors (default: one per GPU, or one per node without GPUs).
    device : ``auto`` (GPUs when the cluster has them), ``cuda`` (require GPUs) or ``cpu``.
    num_cpus : CPUs of a local Ray (default all; ignored with ``address``).

    Example
    -------
    >>> embed(ShardInput("data/{00000..00009}.tar"), "cache/", loader=model_loader("tiny"),
    ...       distributor=RayDistributor())  # doctest: +SKIP
    """

    address: str | None = None
    actors: int | None = None
    device: str = "auto"
    num_cpus: int | None = None
    name: ClassVar[str] = "ray"

    def check(self) -> None:
        """Raise :class:`ConfigError` for a bad number of actors or device (before Ray starts)."""
        if self.actors is not None and self.actors < 1:
            raise ConfigError(f"actors must be >= 1, got {self.actors}")
        if self.device not in ("auto", "cuda", "cpu"):
            raise ConfigError(
                f"device {self.device!r} is not available with --backend ray; use auto, cuda or cpu"
            )

    @contextlib.contextmanager
    def open(
        self,
        *,
        model: torch.nn.Module | None = None,
        preprocess: Callable | None = None,
        loader: Callable | None = None,
    ) -> Iterator[_RayEncoding]:
        """Join or start Ray, choose the actors, and probe the model where an actor would load it.

        Raises
        ------
        ConfigError
            A loaded model instead of a loader (each actor loads its own), Ray missing, no cluster at the
            address, ``device="cuda"`` without GPUs.
        """
        if loader is None:
            raise ConfigError(
                "the Ray distributor loads the model in every actor: give loader=model_loader(NAME) "
                "instead of a loaded model"
            )
        with ray_session(self.address, num_cpus=self.num_cpus) as ray:
            gpus = int(ray.cluster_resources().get("GPU", 0))
            if self.device == "cuda" and not gpus:
                raise ConfigError(
                    "device cuda asked for, but the Ray cluster has no GPU; use --device cpu or auto"
                )
            use_gpu = gpus > 0 and self.device != "cpu"
            nodes = sum(1 for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0)
            n_actors = self.actors or (gpus if use_gpu else max(1, nodes))
            dev = "cuda" if use_gpu else "cpu"
            gpu_args = {"num_gpus": 1} if use_gpu else {}
            info, preprocess, dim, blank = ray.get(
                ray.remote(num_cpus=1, **gpu_args)(_probe).remote(loader, dev)
            )
            yield _RayEncoding(ray, loader, info, preprocess, dim, blank, dev, n_actors, use_gpu)
