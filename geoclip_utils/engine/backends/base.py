"""What every model backend shares: :class:`ModelInfo`, the device and precision rules, the finishing step.

A backend module (:mod:`.openai`, :mod:`.openclip`, :mod:`.hf`) provides ``load(name, dev, precision)``
returning ``(model, preprocess, model_id)`` through :func:`finish`, and ``encode_image(model, images)`` /
``encode_text(model, texts)`` returning raw (not normalised) features; :mod:`geoclip_utils.engine.models`
adds the device transfer, autocast and L2 normalisation, the same for every backend.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from ...errors import ConfigError

__all__ = ["ModelInfo", "PRECISIONS", "pick_device", "resolve_precision", "finish", "require"]

PRECISIONS = ("fp32", "fp16")


@dataclass(frozen=True)
class ModelInfo:
    """What the engine needs to know about a loaded model (stored as ``model.geoclip``).

    ``backend`` and ``preprocess`` name the code that computes the features; both are recorded in the
    embedding cache's settings record (:class:`geoclip_utils.engine.settings.EmbedSettings`), so two backends never
    share a cache even if their model ids were made equal by hand.
    """

    model_id: str
    device: str
    precision: str
    input_resolution: int
    source: str = ""  # what load_model() accepts to rebuild it ("ViT-L/14", a path, "tiny"); "" if none
    checksum: str = ""  # sha256 of the weights file (openai: from clip's download address; files: computed)
    backend: str = "openai"  # "openai", "open_clip" or "hf"
    preprocess: str = "clip._transform"  # what the image transform is, in words (recorded in caches)


def pick_device(device: str | None = None) -> torch.device:
    """Choose the torch device: the given one, else CUDA, else Apple MPS, else CPU.

    Parameters
    ----------
    device : str, optional
        ``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"cpu"`` or ``None``/``"auto"`` for the best available.

    Returns
    -------
    torch.device

    Raises
    ------
    ConfigError
        If the requested device is not valid or not available on this machine.

    Example
    -------
    >>> pick_device("cpu")
    device(type='cpu')
    """
    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device {device!r} is not a torch device; use cuda, mps, cpu or auto") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available here; use --device cpu")
    if dev.type == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise ConfigError(
            f"device {device!r} requested but Apple MPS is not available here; use --device cpu"
        )
    if dev.type not in ("cuda", "mps", "cpu"):
        raise ConfigError(f"device {device!r} is not supported; use cuda, mps, cpu or auto")
    return dev


def resolve_precision(dev: torch.device, precision: str | None) -> str:
    """``auto`` → fp16 on CUDA, fp32 elsewhere; fp16 is refused off CUDA (:class:`ConfigError`)."""
    if precision in (None, "", "auto"):
        return "fp16" if dev.type == "cuda" else "fp32"
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {PRECISIONS} or 'auto'")
    if precision == "fp16" and dev.type != "cuda":
        raise ConfigError(f"precision fp16 is only supported on CUDA (device is {dev}); use fp32")
    return precision


def finish(
    model: torch.nn.Module,
    preprocess: Callable,
    dev: torch.device,
    precision: str,
    info: ModelInfo,
    *,
    keep_half: bool = False,
) -> tuple[torch.nn.Module, Callable, str]:
    """Put a loaded model in eval mode on its device, frozen, with ``model.geoclip = info``.

    The weights become float32 unless ``keep_half`` (the openai fp16 checkpoints on CUDA); fp16 runs use
    ``torch.autocast`` (:func:`geoclip_utils.engine.models.autocast`).
    """
    if not (keep_half and precision == "fp16" and dev.type == "cuda"):
        model = model.float()
    model = model.to(dev).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    model.geoclip = replace(info, device=str(dev), precision=precision)
    return model, preprocess, info.model_id


def require(module: str, backend: str, package: str):
    """Import an optional package a backend needs, or say in one line how to install it.

    Raises
    ------
    ConfigError
        ``the open_clip backend needs open_clip_torch, which is not installed: pip install 'geoclip-utils[models]'``.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the {backend} backend needs {package}, which is not installed: "
            f"pip install 'geoclip-utils[models]' (or pip install {package})"
        ) from exc
