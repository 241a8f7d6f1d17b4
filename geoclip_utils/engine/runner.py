"""The one embedding driver: a reader's units, decoded and encoded by a distributor, written piece by piece.

The shape of clip-retrieval's inference pipeline::

    reader (FolderInput | ShardInput) ──► units ──► distributor (LocalDistributor | RayDistributor)
        decode (units.decode_unit) ──► encode (units.encode_rows) ──► PieceAssembler ──► ChunkWriter

:func:`embed` runs it: it checks the options, lets the distributor load (or probe) the model, opens the
cache through :class:`~geoclip_utils.engine.cache.ChunkWriter` with the run's settings record
(:class:`~geoclip_utils.engine.settings.EmbedSettings`), asks the reader for the units the cache does not
hold yet, hands their decoding tasks to the distributor, gives every encoded batch to the
:class:`~geoclip_utils.engine.units.PieceAssembler` (which writes each complete piece as one chunk), and
returns one :class:`EmbedSummary`. The two distributors decode and encode the same tasks: this process
(:class:`LocalDistributor`: DataLoader workers or a decoding thread, the model here) or Ray Data
(:class:`~geoclip_utils.engine.distributed.RayDistributor`: decode tasks and encoder actors on a cluster).

Each image is encoded once per model; every experiment then reads the cache. An interrupted run (Ctrl-C,
kill -9, node pre-emption) resumes with what no chunk holds yet.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ..errors import ConfigError
from .cache import ChunkWriter
from .images import DEFAULT_MAX_PIXELS
from .models import ModelInfo, model_info
from .readers import FolderInput, Plan, ShardInput
from .units import PieceAssembler, Unit, blank_pixels, decode_unit, encode_rows

__all__ = [
    "EmbedOptions",
    "EmbedSummary",
    "Encoding",
    "LocalDistributor",
    "default_workers",
    "embed",
    "embed_images",
]


def default_workers() -> int:
    """DataLoader workers by default: one per spare core, at most 8; none on a machine of two cores or
    fewer, where torch's threads already use every core and a decoding process only competes with them
    (measured on 2 cores, ViT-B/32, 256 JPEGs: pipeline/model-only 0.92 decoding in the main process
    against 0.89 with one worker process). Without workers, a thread decodes ahead (``prefetch``)."""
    cores = os.cpu_count() or 1
    return 0 if cores <= 2 else min(8, cores - 1)


def _prefetched(batches: Iterable, depth: int = 2) -> Iterator:
    """Iterate ``batches`` in a background thread, ``depth`` items ahead.

    With ``workers=0`` the images are decoded in this process; a thread lets JPEG decoding and resizing
    (which release the GIL) overlap with the forward pass instead of alternating with it. An error in
    the thread is raised here; closing the generator early stops the thread.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in batches:
                if not put(("item", item)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            put(("error", exc))
            return
        put(("done", done))

    thread = threading.Thread(target=run, name="geoclip-decode", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "item":
                yield item
            elif kind == "error":
                raise item
            else:
                return
    finally:
        stop.set()
        thread.join()


@dataclass(frozen=True)
class EmbedOptions:
    """The options of an embedding run that every input and distributor shares.

    Attributes
    ----------
    batch_size : images per forward pass (and per decoding task of a folder).
    chunk_size : images per cache chunk: a slice of a folder's ids, or a piece of a tar shard (the resume
        granularity; a shard started with another piece size keeps its own).
    max_pixels : larger images are skipped (decompression-bomb guard).
    fast_decode : JPEG draft decoding for photos larger than twice the model resolution
        (:func:`~geoclip_utils.engine.images.open_rgb`); ``False`` gives exactly the openai preprocessing.
    progress : show a tqdm bar (img/s).
    max_chunks : stop after writing this many new chunks (for tests and time-boxed jobs).
    """

    batch_size: int = 64
    chunk_size: int = 1024
    max_pixels: int = DEFAULT_MAX_PIXELS
    fast_decode: bool = True
    progress: bool = True
    max_chunks: int | None = None

    def check(self) -> None:
        """Raise :class:`ConfigError` naming the first option out of range."""
        for name in ("batch_size", "chunk_size", "max_pixels"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_chunks is not None and self.max_chunks < 1:
            raise ConfigError(f"max_chunks must be >= 1 (or None), got {self.max_chunks}")


class Encoding(Protocol):
    """What a distributor provides while it is open: the model's info and transform, and
    :meth:`encoded`, which decodes the tasks and encodes their rows (in any order, possibly more than once).
    """

    info: ModelInfo
    backend: str  # "local" or "ray"
    actors: str  # what encodes, e.g. "2 x GPU" ("" in this process)

    def encoded(self, tasks: list[Unit], decode: dict[str, Any]) -> Iterator[dict[str, np.ndarray]]: ...


@dataclass
class _LocalEncoding:
    model: torch.nn.Module
    preprocess: Callable
    info: ModelInfo
    workers: int
    prefetch: bool
    backend: str = "local"
    actors: str = ""

    def encoded(self, tasks: list[Unit], decode: dict[str, Any]) -> Iterator[dict[str, np.ndarray]]:
        fn = functools.partial(
            decode_unit, preprocess=self.preprocess, blank=blank_pixels(self.preprocess), **decode
        )
        workers = min(self.workers, len(tasks))
        loader = torch.utils.data.DataLoader(
            _TaskBatches(tasks, fn),
            batch_size=None,
            num_workers=workers,
            collate_fn=_identity,
            prefetch_factor=4 if workers else None,
        )
        batches = _prefetched(loader) if self.prefetch and workers == 0 else iter(loader)
        try:
            for batch in batches:
                yield encode_rows(self.model, batch)
        finally:
            if hasattr(batches, "close"):
                batches.close()


def _identity(batch: dict) -> dict:
    return batch


class _TaskBatches(torch.utils.data.IterableDataset):
    """Decoded row batches of tasks; DataLoader worker ``i`` of ``n`` decodes tasks ``i, i + n, ...``.

    The DataLoader takes the workers' batches in turn, so tasks of one batch each (a folder's) come out in
    task order, and the chunks of a folder are written in the order of its ids.
    """

    def __init__(self, tasks: list[Unit], decode: Callable[[Unit], Iterator[dict]]) -> None:
        self.tasks, self.decode = tasks, decode

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        mine = self.tasks if info is None else self.tasks[info.id :: info.num_workers]
        for task in mine:
            yield from self.decode(task)


@dataclass(frozen=True)
class LocalDistributor:
    """Decode and encode in this process: DataLoader worker processes decode (or, without workers, a
    thread decodes ahead while the model runs), the model encodes here.

    Attributes
    ----------
    workers : decoding processes (default :func:`default_workers`).
    prefetch : without workers, decode the next batches in a background thread.
    device : where a ``loader`` puts the model (``None``/``"auto"``: CUDA > MPS > CPU); a model passed
        loaded stays where it is.
    """

    workers: int | None = None
    prefetch: bool = True
    device: str | None = None
    name: ClassVar[str] = "local"

    def check(self) -> None:
        """Raise :class:`ConfigError` for a negative number of workers."""
        if self.workers is not None and self.workers < 0:
            raise ConfigError(f"workers must be >= 0, got {self.workers}")

    @contextlib.contextmanager
    def open(
        self,
        *,
        model: torch.nn.Module | None = None,
        preprocess: Callable | None = None,
        loader: Callable | None = None,
    ) -> Iterator[Encoding]:
        """The model (``model`` and ``preprocess``, or ``loader(device=...)``) ready to encode here."""
        if model is None:
            if loader is None:
                raise ConfigError("give a model and its preprocess, or a loader")
            model, preprocess, _ = loader(device=self.device)
        elif preprocess is None:
            raise ConfigError("give the model's preprocess with the model")
        workers = default_workers() if self.workers is None else self.workers
        yield _LocalEncoding(model, preprocess, model_info(model), workers, self.prefetch)


@dataclass
class EmbedSummary:
    """What an embedding run did: the one result of :func:`embed`, whatever the input and distributor.

    Attributes
    ----------
    cache : the model's cache folder. model_id : the model.
    input : ``"folder"`` or ``"shards"``. backend : ``"local"`` or ``"ray"``. actors : what encoded on Ray
        (``"2 x GPU"``, ``"1 x CPU"``; ``""`` locally).
    units : the units of the input (shards; for a folder the slices this run embedded).
    units_done_before : units complete before the run (shards not reopened).
    embedded, skipped : images in the whole cache, embedded and skipped.
    new : images (embedded or skipped) written by this run.
    produced : images of this input the cache holds embedded (0: the run produced nothing).
    duplicates : samples dropped because an earlier one had their id: ``[(id, where), ...]``.
    shard_errors : shard -> why it could not be read to its end.
    skipped_examples : ``[(id, reason), ...]`` of the cache, at most 10.
    coords : the join of ``coords`` (see :func:`~geoclip_utils.engine.shards.join_coords`), or ``None``.
    retried, recovered : images an earlier run skipped that this run tried again, and of those, embedded now.
    report : folder input: one row per requested id (``image_id``, ``status``, ``reason``), in input order;
        ``None`` for shards (their ids are in the cache's ``report.csv``).
    """

    cache: str
    model_id: str
    input: str
    backend: str
    actors: str
    units: int
    units_done_before: int
    embedded: int
    skipped: int
    new: int
    produced: int
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    shard_errors: dict[str, str] = field(default_factory=dict)
    skipped_examples: list[tuple[str, str]] = field(default_factory=list)
    coords: dict[str, int] | None = None
    retried: int = 0
    recovered: int = 0
    report: pd.DataFrame | None = None

    def to_dict(self) -> dict:
        """The summary as plain JSON values (without the report)."""
        return {k: v for k, v in self.__dict__.items() if k != "report"}


def _summary(
    writer: ChunkWriter,
    source: FolderInput | ShardInput,
    plan: Plan,
    enc: Encoding,
    coords: pd.DataFrame | None,
) -> EmbedSummary:
    from .shards import join_coords

    done = writer.done
    skipped = [(i, r) for i, (s, r) in done.items() if s == "skipped"]
    embedded = [i for i, (s, _) in done.items() if s == "ok"]
    recovered = sum(done[i][0] == "ok" for i in plan.retried if i in done)
    report = source.report(writer)
    if report is not None:
        report.attrs.update(
            model_id=enc.info.model_id,
            cache=str(writer.folder),
            retried=len(plan.retried),
            recovered=recovered,
        )
    return EmbedSummary(
        cache=str(writer.folder),
        model_id=enc.info.model_id,
        input=source.kind,
        backend=enc.backend,
        actors=enc.actors,
        units=plan.n_units,
        units_done_before=plan.done_before,
        embedded=len(embedded),
        skipped=len(skipped),
        new=writer.n_new,
        produced=source.produced(writer),
        duplicates=list(writer.duplicates),
        shard_errors={s: p.error for s, p in writer.sources.items() if p.error},
        skipped_examples=skipped[:10],
        coords=join_coords(writer.folder, embedded, coords) if coords is not None else None,
        retried=len(plan.retried),
        recovered=recovered,
        report=report,
    )


def embed(
    source: FolderInput | ShardInput,
    cache_dir: str | os.PathLike,
    *,
    model: torch.nn.Module | None = None,
    preprocess: Callable | None = None,
    loader: Callable | None = None,
    options: EmbedOptions | None = None,
    distributor: Any = None,
    coords: pd.DataFrame | None = None,
) -> EmbedSummary:
    """Embed an input into the cache, resuming where an earlier run stopped: the one embedding driver.

    Parameters
    ----------
    source : the input, :class:`~geoclip_utils.engine.readers.FolderInput` or
        :class:`~geoclip_utils.engine.readers.ShardInput` (checked when made).
    cache_dir : cache folder; this model's files go to ``model_cache_dir(cache_dir, model_id)``.
    model, preprocess : a loaded model (:func:`~geoclip_utils.engine.models.load_model`); or
    loader : ``loader(device=...)`` -> ``(model, preprocess, model_id)``, e.g.
        :func:`~geoclip_utils.engine.models.model_loader` ``("ViT-L/14")`` (what the Ray distributor
        needs: every actor loads the model itself).
    options : :class:`EmbedOptions` (batch size, chunk size, pixel limit, decoding, progress).
    distributor : :class:`LocalDistributor` (default) or
        :class:`~geoclip_utils.engine.distributed.RayDistributor`.
    coords : a table of :func:`~geoclip_utils.engine.shards.read_coords` to join (``coords.parquet``).

    Returns
    -------
    EmbedSummary

    Raises
    ------
    ConfigError
        Bad options; the cache was made with other settings (model, weights, precision, preprocessing,
        resolution, pixel limit, id field: :class:`~geoclip_utils.engine.settings.EmbedSettings`) or is in
        use; Ray missing or unreachable.
    DataError
        Pieces lost on the way (the complete ones are kept; rerun to finish).

    Example
    -------
    >>> s = embed(ShardInput("data/{00000..00009}.tar"), "cache/", loader=model_loader("tiny"))  # doctest: +SKIP
    >>> s.embedded, s.new  # doctest: +SKIP
    (100000, 100000)
    """
    options = options or EmbedOptions()
    distributor = distributor if distributor is not None else LocalDistributor()
    options.check()
    distributor.check()
    with (
        distributor.open(model=model, preprocess=preprocess, loader=loader) as enc,
        ChunkWriter(
            cache_dir,
            enc.info,
            fast_decode=options.fast_decode,
            max_pixels=options.max_pixels,
            id_field=source.id_field,
        ) as writer,
    ):
        plan = source.plan(writer, options.chunk_size)
        assembler = PieceAssembler(writer, plan.units)
        if plan.units:
            tasks = [t for u in plan.units for t in u.tasks(options.batch_size)]
            decode = {
                "batch_size": options.batch_size,
                "max_pixels": options.max_pixels,
                "draft_size": writer.settings.draft_size,
            }
            where = f" ({enc.backend}, {enc.actors} actors)" if enc.actors else ""
            bar = tqdm(
                total=plan.total,
                initial=plan.initial,
                unit="img",
                disable=not options.progress,
                desc=f"embed {source.kind}{where}",
            )
            stream = enc.encoded(tasks, decode)
            stopped = False
            try:
                for batch in stream:
                    bar.update(assembler.add(batch))
                    if options.max_chunks is not None and writer.written >= options.max_chunks:
                        stopped = True
                        break
            finally:
                stream.close()
                bar.close()
            if not stopped:
                assembler.check_complete()
        return _summary(writer, source, plan, enc, coords)


def embed_images(
    model: torch.nn.Module,
    preprocess: Callable,
    image_dir: str | os.PathLike,
    ids: Sequence[str] | str | os.PathLike,
    cache_dir: str | os.PathLike,
    batch_size: int = 64,
    workers: int | None = None,
    device: str | None = None,
    progress: bool = True,
    *,
    chunk_size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    fast_decode: bool = True,
    max_chunks: int | None = None,
    prefetch: bool = True,
    retry_skipped: bool = True,
) -> pd.DataFrame:
    """A folder embedded in this process: :func:`embed` of a :class:`~geoclip_utils.engine.readers.FolderInput`
    with the :class:`LocalDistributor`, returning the summary's per-image report.

    Parameters
    ----------
    model, preprocess : from :func:`geoclip_utils.engine.models.load_model`.
    image_dir : folder with ``<id>.jpg`` (or .jpeg/.png) files.
    ids : image ids, or the path of an id CSV (see :func:`~geoclip_utils.engine.images.read_ids`).
    cache_dir : cache folder; this model's files go to ``model_cache_dir(cache_dir, model_id)``.
    batch_size, chunk_size (default 1024), max_pixels, fast_decode, progress, max_chunks : see
        :class:`EmbedOptions`.
    workers, prefetch : see :class:`LocalDistributor`.
    device : ignored unless given, then it must match the model's device (the model decides).
    retry_skipped : see :class:`~geoclip_utils.engine.readers.FolderInput`.

    Returns
    -------
    pandas.DataFrame
        :attr:`EmbedSummary.report`: ``image_id``, ``status`` (``ok`` or ``skipped``), ``reason``, one row
        per requested id in input order (ids finished by an earlier run included). ``attrs``: ``model_id``,
        ``cache`` (the model's folder), ``retried`` (earlier skips tried again), ``recovered`` (of those,
        now embedded).

    Raises
    ------
    InputError
        Missing image folder, empty or repeating id list.
    ConfigError
        As :func:`embed`; a device other than the model's.

    Example
    -------
    >>> model, preprocess, model_id = load_model("ViT-L/14")  # doctest: +SKIP
    >>> report = embed_images(model, preprocess, "images/", "ids.csv", "cache/")  # doctest: +SKIP
    >>> ids, feats = load_embeddings("cache/")  # doctest: +SKIP
    """
    info = model_info(model)
    if device not in (None, "", "auto") and torch.device(device).type != torch.device(info.device).type:
        raise ConfigError(
            f"device {device!r} differs from the model's device {info.device}; load the model there"
        )
    summary = embed(
        FolderInput(image_dir, ids, retry_skipped=retry_skipped),
        cache_dir,
        model=model,
        preprocess=preprocess,
        options=EmbedOptions(
            batch_size=batch_size,
            chunk_size=chunk_size or 1024,
            max_pixels=max_pixels,
            fast_decode=fast_decode,
            progress=progress,
            max_chunks=max_chunks,
        ),
        distributor=LocalDistributor(workers=workers, prefetch=prefetch),
    )
    return summary.report
