"""Encoding prompts once: L2-normalised text features, cached per model beside the image embeddings."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable

import numpy as np
import torch

from .._io import write_npz
from ..errors import DataError
from .cache import model_cache_dir, str_array
from .models import encode_text_batch, model_info

__all__ = ["encode_texts"]


def encode_texts(
    model: torch.nn.Module,
    texts: Iterable[str],
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Encode prompts to L2-normalised float32 features, with an optional cache keyed by (model id, text).

    Parameters
    ----------
    model : a CLIP model (see :mod:`geoclip_utils.engine.models`).
    texts : the prompts; repeats are encoded once.
    cache_dir : optional; texts already cached for this model are not re-encoded, new ones are added
        as a new ``texts/texts_<hash>.npz`` file.
    batch_size : prompts per forward pass.

    Returns
    -------
    numpy.ndarray, float32, shape (len(texts), dim).

    Raises
    ------
    InputError
        A prompt longer than CLIP's 77-token context.

    Example
    -------
    >>> encode_texts(model, ["This is a photo of France, a country"]).shape  # doctest: +SKIP
    (1, 768)
    """
    texts = [str(t) for t in texts]
    info = model_info(model)
    known: dict[str, np.ndarray] = {}
    folder = None
    if cache_dir is not None:
        folder = model_cache_dir(cache_dir, info.model_id) / "texts"
        if folder.is_dir():
            for p in sorted(folder.glob("texts_*.npz")):
                try:
                    with np.load(p, allow_pickle=False) as z:
                        for t, f in zip(z["texts"].tolist(), z["features"], strict=True):
                            known[t] = f
                except Exception as exc:
                    raise DataError(f"text cache file {p} is unreadable ({exc}); delete it") from exc
    new = [t for t in dict.fromkeys(texts) if t not in known]
    if new:
        feats = []
        for s in range(0, len(new), batch_size):
            feats.append(encode_text_batch(model, new[s : s + batch_size]).cpu().numpy())
        arr = np.concatenate(feats).astype(np.float32)
        known.update(zip(new, arr, strict=True))
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha1("\n".join(new).encode()).hexdigest()[:16]
            write_npz(
                folder / f"texts_{digest}_{int(time.time() * 1000)}.npz", texts=str_array(new), features=arr
            )
    if not texts:
        return np.zeros((0, 0), np.float32)
    return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)
