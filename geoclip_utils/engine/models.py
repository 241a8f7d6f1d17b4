"""Loading a CLIP-family model, and the backend-neutral encoders the engine calls.

Every loader returns ``(model, preprocess, model_id)``:

* ``model`` is in eval mode, on its device, with a ``geoclip`` attribute (:class:`ModelInfo`: id, device,
  precision, input resolution, source, checksum, backend, preprocessing) that the runner, the text cache
  and the zero-shot code read;
* ``preprocess`` is the model's own PIL → tensor transform (each backend its own);
* ``model_id`` is the key of the embedding caches.

The backend is chosen by a prefix of the name (:mod:`geoclip_utils.engine.backends`): ``openai:`` (or
none: today's names and ids, ``openai/ViT-L-14``, ``file/<stem>-<sha12>``, ``random/tiny-seed0``),
``open_clip:ARCH[:PRETRAINED]`` and ``hf:DIR_OR_ID``. :func:`encode_image_batch` and
:func:`encode_text_batch` return L2-normalised float32 features on the model's device for every backend.

Precision: float32 on CPU and MPS; on CUDA ``auto`` means fp16 under ``torch.autocast("cuda", float16)``
(the openai weights also stay float16 there); ``precision="fp32"`` turns both off.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable

import torch

from .backends import backend_module, split_backend
from .backends.base import PRECISIONS, ModelInfo, pick_device
from .backends.base import resolve_precision as _resolve_precision
from .backends.openai import (
    ARCHITECTURES,
    _encode_text_truncated,
    _is_causal,
    architecture_clip,
    save_tiny_clip,
    tiny_clip,
)

__all__ = [
    "ModelInfo",
    "pick_device",
    "load_model",
    "model_loader",
    "tiny_clip",
    "save_tiny_clip",
    "architecture_clip",
    "model_info",
    "autocast",
    "encode_image_batch",
    "encode_text_batch",
]

# re-exported for the tests and benchmarks that used them from here
_ = (ARCHITECTURES, PRECISIONS, _encode_text_truncated, _is_causal, _resolve_precision)


def load_model(
    name_or_path: str | os.PathLike,
    device: str | None = None,
    precision: str | None = None,
) -> tuple[torch.nn.Module, Callable, str]:
    """Load a CLIP-family model: an openai name or checkpoint, an open_clip model, a transformers folder.

    Parameters
    ----------
    name_or_path : str or path
        ``ViT-L/14`` or ``openai:ViT-L/14`` (one of ``clip.available_models()``, downloaded once into
        ``~/.cache/clip``), ``tiny`` (the random-weight demo model), the path of a CLIP ``state_dict``
        (read with ``weights_only=True``); ``open_clip:ARCH[:PRETRAINED]`` (PRETRAINED a tag, a local file
        or ``random``); ``hf:DIR_OR_ID`` (a folder written by ``save_pretrained`` of a CLIPModel /
        SiglipModel and its processor). See :mod:`geoclip_utils.engine.backends`.
    device : str, optional
        See :func:`pick_device`; default: CUDA > MPS > CPU.
    precision : {"fp16", "fp32", "auto"}, optional
        ``auto`` (default): fp16 autocast on CUDA, fp32 elsewhere.

    Returns
    -------
    model : torch.nn.Module
        In eval mode, on ``device``, with ``model.geoclip`` (:class:`ModelInfo`).
    preprocess : callable
        The model's own PIL → tensor transform.
    model_id : str
        The cache key (see :mod:`geoclip_utils.engine.backends`).

    Raises
    ------
    ConfigError
        Unknown model name (the message lists the known ones), bad device or precision, a backend whose
        package is not installed, weights that cannot be downloaded (the message says how to pass a local
        file or folder).
    DataError
        A checkpoint file or model folder that is not readable as such.

    Example
    -------
    >>> model, preprocess, model_id = load_model("ViT-L/14", device="cuda")  # doctest: +SKIP
    >>> load_model("hf:models/streetclip")[2]  # doctest: +SKIP
    'hf/streetclip-3f5c0e2a9b1d'
    """
    dev = pick_device(device)
    prec = _resolve_precision(dev, precision)
    backend, rest = split_backend(str(name_or_path))
    return backend_module(backend).load(rest, dev, prec)


def model_loader(name: str, precision: str | None = None) -> Callable:
    """A loader of the model ``name``: ``loader(device=...)`` -> ``(model, preprocess, model_id)``
    (:func:`load_model`). The embedding driver calls it where the model runs (every Ray actor loads its own).

    Example
    -------
    >>> model, preprocess, model_id = model_loader("tiny")(device="cpu")  # doctest: +SKIP
    """
    return functools.partial(load_model, name, precision=precision)


def model_info(model: torch.nn.Module) -> ModelInfo:
    """The :class:`ModelInfo` of a model; plain models get ``random/unknown`` on their device, fp32.

    Models not loaded through this module (e.g. :func:`tiny_clip` itself) get an id derived from
    their class and parameter count; pass those through :func:`load_model` for a stable cache key.

    Example
    -------
    >>> model_info(load_model("tiny", device="cpu")[0]).model_id  # doctest: +SKIP
    'random/tiny-seed0'
    """
    info = getattr(model, "geoclip", None)
    if isinstance(info, ModelInfo):
        return info
    p = next(model.parameters())
    n = sum(q.numel() for q in model.parameters())
    return ModelInfo(
        model_id=f"unnamed/{type(model).__name__}-{n}",
        device=str(p.device),
        precision="fp16" if p.dtype == torch.float16 else "fp32",
        input_resolution=int(model.visual.input_resolution),
    )


def autocast(model: torch.nn.Module) -> contextlib.AbstractContextManager:
    """The autocast context of a model: fp16 on CUDA when its precision is fp16, else a no-op."""
    info = model_info(model)
    if info.precision == "fp16" and info.device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def _normalise(x: torch.Tensor) -> torch.Tensor:
    x = x.float()
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def encode_image_batch(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Encode a batch of preprocessed images; L2-normalised float32 features on the model's device.

    Example
    -------
    >>> encode_image_batch(model, torch.stack([preprocess(im)])).shape  # doctest: +SKIP
    torch.Size([1, 768])
    """
    info = model_info(model)
    images = images.to(info.device, non_blocking=True)
    with torch.inference_mode(), autocast(model):
        feats = backend_module(info.backend).encode_image(model, images)
    return _normalise(feats)


def encode_text_batch(model: torch.nn.Module, texts: list[str]) -> torch.Tensor:
    """Tokenize (the backend's own tokenizer) and encode texts; L2-normalised float32 features.

    Raises
    ------
    InputError
        If a text is longer than the model's text context (77 tokens for CLIP).

    Example
    -------
    >>> encode_text_batch(model, ["This is a photo of France, a country"]).shape  # doctest: +SKIP
    torch.Size([1, 768])
    """
    info = model_info(model)
    with torch.inference_mode(), autocast(model):
        feats = backend_module(info.backend).encode_text(model, list(texts))
    return _normalise(feats)
