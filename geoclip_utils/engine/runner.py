"""The embedding pass: every image encoded once per model, into the resumable cache (:mod:`.cache`).

The seed scripts re-encoded every image for every experiment and never L2-normalised the image
features. Here each image is encoded once per model; every experiment then reads the cache. An
interrupted run (Ctrl-C, kill -9, node pre-emption) resumes with the ids no chunk holds yet.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..errors import ConfigError, InputError
from .cache import ChunkWriter
from .images import DEFAULT_MAX_PIXELS, ImageSet, collate_images, read_ids
from .models import encode_image_batch, model_info

__all__ = ["default_workers", "embed_images"]


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
    """Embed images into the cache, resuming where an earlier run stopped.

    Parameters
    ----------
    model, preprocess : from :func:`geoclip_utils.models.load_model`.
    image_dir : folder with ``<id>.jpg`` (or .jpeg/.png) files.
    ids : image ids, or the path of an id CSV (see :func:`read_ids`).
    cache_dir : cache folder; this model's files go to ``model_cache_dir(cache_dir, model_id)``.
    batch_size : images per forward pass.
    workers : DataLoader worker processes decoding images (default :func:`default_workers`).
    device : ignored unless given, then it must match the model's device (the model decides).
    progress : show a tqdm bar (img/s).
    chunk_size : images per cache chunk (default 1024, rounded up to a multiple of ``batch_size``).
    max_pixels : larger images are skipped (decompression-bomb guard).
    fast_decode : JPEG draft decoding for photos larger than 2x the model resolution (see
        :func:`open_rgb`); ``False`` gives exactly the openai reference preprocessing.
    max_chunks : stop after writing this many new chunks (for tests and time-boxed jobs).
    prefetch : with ``workers=0``, decode the next batches in a background thread while the model runs.
    retry_skipped : images an earlier run skipped (missing, corrupt, …) are tried again, so a file that
        appeared or was repaired since gets embedded; ``False`` keeps the earlier verdict.

    Returns
    -------
    pandas.DataFrame
        The report: ``image_id``, ``status`` (``ok`` or ``skipped``), ``reason``, one row per requested
        id in input order (ids finished by an earlier run included). Also written to ``report.csv``.
        ``attrs``: ``model_id``, ``cache`` (the model's folder), ``retried`` (earlier skips tried again),
        ``recovered`` (of those, now embedded).

    Raises
    ------
    InputError
        Missing image folder, empty id list.
    ConfigError
        Another process is writing the same cache; the cache was made with other settings (model weights,
        precision, preprocessing, resolution, pixel limit: see :func:`geoclip_utils.engine.cache.check_settings`);
        bad batch size / workers; device mismatch.

    Example
    -------
    >>> model, preprocess, model_id = load_model("ViT-L/14")  # doctest: +SKIP
    >>> report = embed_images(model, preprocess, "images/", "ids.csv", "cache/")  # doctest: +SKIP
    >>> ids, feats = load_embeddings("cache/")  # doctest: +SKIP
    """
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise InputError(f"image folder {image_dir} does not exist or is not a folder")
    if isinstance(ids, (str, os.PathLike)):
        ids = read_ids(ids)
    ids = [str(i) for i in ids]
    if not ids:
        raise InputError("the id list is empty; nothing to embed")
    seen: set[str] = set()
    dups = [i for i in ids if i in seen or seen.add(i)]
    if dups:
        raise InputError(f"{len(dups)} duplicated image ids, e.g. {dups[:3]}; remove the repeats")
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    workers = default_workers() if workers is None else workers
    if workers < 0:
        raise ConfigError(f"workers must be >= 0, got {workers}")
    info = model_info(model)
    if device not in (None, "", "auto") and torch.device(device).type != torch.device(info.device).type:
        raise ConfigError(
            f"device {device!r} differs from the model's device {info.device}; load the model there"
        )
    chunk_size = chunk_size or 1024
    chunk_size = max(batch_size, -(-chunk_size // batch_size) * batch_size)

    with ChunkWriter(cache_dir, info, fast_decode=fast_decode, max_pixels=max_pixels) as writer:
        done = writer.done
        retried = [i for i in ids if retry_skipped and done.get(i, ("",))[0] == "skipped"]
        todo = [i for i in ids if i not in done or (retry_skipped and done[i][0] == "skipped")]

        if todo:
            dataset = ImageSet(
                image_dir,
                todo,
                preprocess,
                max_pixels=max_pixels,
                draft_size=2 * info.input_resolution if fast_decode else None,
            )
            loader = DataLoader(
                dataset,
                batch_size=batch_size,
                shuffle=False,
                num_workers=workers,
                collate_fn=collate_images,
                pin_memory=info.device.startswith("cuda"),
                prefetch_factor=4 if workers else None,
                persistent_workers=False,
            )
            bar = tqdm(
                total=len(ids), initial=len(ids) - len(todo), unit="img", disable=not progress, desc="embed"
            )
            buf_ids: list[str] = []
            buf_feats: list[np.ndarray] = []
            buf_skip: list[str] = []
            buf_reason: list[str] = []

            def flush() -> None:
                feats = np.concatenate(buf_feats) if buf_feats else None
                writer.write(buf_ids, feats, buf_skip, buf_reason)
                buf_ids.clear(), buf_feats.clear(), buf_skip.clear(), buf_reason.clear()

            batches = _prefetched(loader) if prefetch and workers == 0 else iter(loader)
            try:
                for ok_idx, tensor, bad_idx, reasons in batches:
                    if tensor is not None:
                        buf_feats.append(encode_image_batch(model, tensor).cpu().numpy())
                        buf_ids.extend(todo[i] for i in ok_idx)
                    buf_skip.extend(todo[i] for i in bad_idx)
                    buf_reason.extend(reasons)
                    bar.update(len(ok_idx) + len(bad_idx))
                    if len(buf_ids) + len(buf_skip) >= chunk_size:
                        flush()
                        if max_chunks is not None and writer.written >= max_chunks:
                            break
                else:
                    if buf_ids or buf_skip:
                        flush()
            finally:
                if hasattr(batches, "close"):
                    batches.close()
                bar.close()

        rows = [(i, *done.get(i, ("pending", "not embedded yet (run stopped early)"))) for i in ids]
        report = pd.DataFrame(rows, columns=["image_id", "status", "reason"])
    folder = writer.folder
    report.attrs.update(
        model_id=info.model_id,
        cache=str(folder),
        retried=len(retried),
        recovered=sum(done[i][0] == "ok" for i in retried if i in done),
    )
    return report
