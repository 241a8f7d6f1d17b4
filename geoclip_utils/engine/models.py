"""Loading CLIP models: the openai checkpoints by name, local checkpoints, and random-weight stand-ins.

Every loader returns ``(model, preprocess, model_id)``:

* ``model`` is a :class:`clip.model.CLIP` in eval mode, on its device, with a ``geoclip`` attribute
  (:class:`ModelInfo`: id, device, precision, input resolution) that :mod:`geoclip_utils.embed` and
  :mod:`geoclip_utils.zeroshot` read;
* ``preprocess`` is the model's own transform, ``clip.clip._transform(input_resolution)``
  (resize shorter side with bicubic, centre crop, RGB, normalise with CLIP's mean / std);
* ``model_id`` is the key of the embedding caches: ``openai/ViT-L-14`` for a named model,
  ``file/<stem>-<sha256[:12]>`` for a local checkpoint, ``random/<arch>-seed<n>`` for random weights.

Random-weight models (:func:`tiny_clip`, :func:`architecture_clip`) are built from the real
``clip.model.CLIP`` class, so the code path (tokenizer, encoders, shapes) is the real one. They are for
tests, offline demos and benchmarks only: their predictions are at chance level.

Precision: float32 on CPU and MPS; on CUDA the openai weights stay float16 and calls run under
``torch.autocast("cuda", float16)`` (``precision="fp32"`` turns both off).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .._io import atomic_write, sha256_of
from ..errors import ConfigError, DataError

with warnings.catch_warnings():  # clip imports the deprecated pkg_resources
    warnings.simplefilter("ignore")
    import clip
    from clip.clip import _transform
    from clip.model import CLIP, build_model

__all__ = [
    "ModelInfo",
    "pick_device",
    "load_model",
    "tiny_clip",
    "save_tiny_clip",
    "architecture_clip",
    "model_info",
    "autocast",
    "encode_image_batch",
    "encode_text_batch",
]

#: Hyper-parameters of the openai architectures used by :func:`architecture_clip`
#: (embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size,
#: context_length, vocab_size, transformer_width, transformer_heads, transformer_layers).
ARCHITECTURES: dict[str, tuple] = {
    "ViT-B/32": (512, 224, 12, 768, 32, 77, 49408, 512, 8, 12),
    "ViT-B/16": (512, 224, 12, 768, 16, 77, 49408, 512, 8, 12),
    "ViT-L/14": (768, 224, 24, 1024, 14, 77, 49408, 768, 12, 12),
    "tiny": (32, 64, 2, 64, 16, 77, 49408, 64, 1, 2),
}

PRECISIONS = ("fp32", "fp16")


@dataclass(frozen=True)
class ModelInfo:
    """What the engine needs to know about a loaded model (stored as ``model.geoclip``)."""

    model_id: str
    device: str
    precision: str
    input_resolution: int
    source: str = ""  # what load_model() accepts to rebuild it ("ViT-L/14", a path, "tiny"); "" if none
    checksum: str = ""  # sha256 of the weights file (openai: from clip's download address; files: computed)


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


def _resolve_precision(dev: torch.device, precision: str | None) -> str:
    if precision in (None, "", "auto"):
        return "fp16" if dev.type == "cuda" else "fp32"
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {PRECISIONS} or 'auto'")
    if precision == "fp16" and dev.type != "cuda":
        raise ConfigError(f"precision fp16 is only supported on CUDA (device is {dev}); use fp32")
    return precision


def _finish(
    model: CLIP, dev: torch.device, precision: str, model_id: str, source: str = "", checksum: str = ""
):
    if precision == "fp32" or dev.type != "cuda":
        model = model.float()
    model = model.to(dev).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    res = int(model.visual.input_resolution)
    model.geoclip = ModelInfo(
        model_id=model_id,
        device=str(dev),
        precision=precision,
        input_resolution=res,
        source=source,
        checksum=checksum,
    )
    return model, _transform(res), model_id


def load_model(
    name_or_path: str | os.PathLike,
    device: str | None = None,
    precision: str | None = None,
) -> tuple[CLIP, Callable, str]:
    """Load a CLIP model by openai name or from a local state-dict checkpoint.

    Parameters
    ----------
    name_or_path : str or path
        One of ``clip.available_models()`` (``"ViT-L/14"``, ``"ViT-B/32"``, ...; downloaded once into
        ``~/.cache/clip`` by the ``clip`` package), ``"tiny"`` (the random-weight :func:`tiny_clip`,
        for offline demos), or the path of a ``state_dict`` saved with ``torch.save`` (read with
        ``weights_only=True``: no pickle code runs).
    device : str, optional
        See :func:`pick_device`; default: CUDA > MPS > CPU.
    precision : {"fp16", "fp32", "auto"}, optional
        ``auto`` (default): fp16 autocast on CUDA, fp32 elsewhere.

    Returns
    -------
    model : clip.model.CLIP
        In eval mode, on ``device``, with ``model.geoclip`` (:class:`ModelInfo`).
    preprocess : callable
        The model's own PIL → tensor transform.
    model_id : str
        The cache key (see the module docstring).

    Raises
    ------
    ConfigError
        Unknown model name (the message lists ``clip.available_models()``), bad device or precision.
    DataError
        The checkpoint file is not a readable CLIP state dict.

    Example
    -------
    >>> model, preprocess, model_id = load_model("ViT-L/14", device="cuda")  # doctest: +SKIP
    """
    dev = pick_device(device)
    prec = _resolve_precision(dev, precision)
    name = str(name_or_path)
    if name == "tiny":
        model = tiny_clip(seed=0)
        return _finish(model, dev, prec, "random/tiny-seed0", "tiny")
    if name in clip.available_models():
        model_id = "openai/" + name.replace("/", "-").replace("@", "-")
        # clip.load keeps fp16 weights on CUDA and converts to fp32 on CPU; _finish applies `prec`.
        try:
            model, _ = clip.load(name, device=str(dev) if dev.type != "mps" else "cpu", jit=False)
        except (OSError, RuntimeError) as exc:  # URLError is an OSError; a bad download a RuntimeError
            cache = Path("~/.cache/clip").expanduser()
            raise ConfigError(
                f"could not load the openai weights of {name} ({type(exc).__name__}: {exc}); clip downloads them "
                f"once into {cache}. Without network, copy the file {Path(clip.clip._MODELS[name]).name} there "
                "from a machine that has it, or pass a local checkpoint: --model path/to/weights.pt "
                "(a state dict saved with torch.save(model.state_dict(), path))"
            ) from exc
        checksum = clip.clip._MODELS[name].split("/")[-2]  # clip verifies this sha256 on download
        return _finish(model, dev, prec, model_id, name, checksum)
    path = Path(name).expanduser()
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for bad files
            raise DataError(
                f"model checkpoint {path} could not be read as a weights-only state dict ({exc}); "
                "save it with torch.save(model.state_dict(), path)"
            ) from exc
        if not isinstance(state, dict) or "text_projection" not in state:
            raise DataError(f"model checkpoint {path} is not a CLIP state dict (no 'text_projection' key)")
        try:
            model = build_model(dict(state))  # builds the architecture, converts to fp16
            # reload at the checkpoint's own precision (build_model rounds fp32 weights to fp16)
            model.float().load_state_dict(
                {
                    k: v
                    for k, v in state.items()
                    if k not in ("input_resolution", "context_length", "vocab_size")
                }
            )
        except Exception as exc:
            raise DataError(f"model checkpoint {path} does not match the CLIP architecture ({exc})") from exc
        digest = sha256_of(path)
        return _finish(model, dev, prec, f"file/{path.stem}-{digest[:12]}", str(path.resolve()), digest)
    raise ConfigError(
        f"model {name!r} is neither a known CLIP model nor an existing checkpoint file; "
        f"known models: {', '.join(clip.available_models())} (or 'tiny' for the random-weight demo model)"
    )


def _random_clip(arch: tuple, seed: int) -> CLIP:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIP(*arch)
    return model.float().eval()


def tiny_clip(seed: int = 0) -> CLIP:
    """A tiny random-weight CLIP (ViT, 64 px input, width 64, 2+2 layers, embed dim 32).

    It uses the real ``clip.model.CLIP`` class, context length 77 and the real 49,408-token vocabulary,
    so ``clip.tokenize`` and the whole pipeline work unchanged. Chance-level predictions: tests and
    demos only. The result is a plain float32 CPU model (no ``geoclip`` attribute; use
    ``load_model("tiny")`` or ``load_model(path)`` for the full triple).

    Parameters
    ----------
    seed : int
        Seed of the random initialisation (the global RNG is left untouched).

    Returns
    -------
    clip.model.CLIP

    Example
    -------
    >>> tiny_clip().visual.input_resolution
    64
    """
    return _random_clip(ARCHITECTURES["tiny"], seed)


def save_tiny_clip(path: str | os.PathLike, seed: int = 0) -> Path:
    """Save :func:`tiny_clip` ``(seed)`` as a plain state dict (loadable with :func:`load_model`).

    The file is written atomically (temp file + rename).

    Parameters
    ----------
    path : path of the ``.pt`` file to write.
    seed : int

    Returns
    -------
    Path

    Example
    -------
    >>> model, preprocess, model_id = load_model(save_tiny_clip(tmp / "tiny.pt"))  # doctest: +SKIP
    """
    path = Path(path)
    state = tiny_clip(seed).state_dict()
    atomic_write(path, lambda fh: torch.save(state, fh))
    return path


def architecture_clip(
    name: str = "ViT-B/32", seed: int = 0, device: str | None = "cpu", precision: str | None = None
) -> tuple[CLIP, Callable, str]:
    """A random-weight model with the real hyper-parameters of an openai architecture.

    Same shapes and FLOPs as the real model, no download: for throughput benchmarks.

    Parameters
    ----------
    name : {"ViT-B/32", "ViT-B/16", "ViT-L/14", "tiny"}
    seed : int
    device, precision : as in :func:`load_model` (default CPU).

    Returns
    -------
    (model, preprocess, model_id) as :func:`load_model`.

    Raises
    ------
    ConfigError
        For an architecture not in :data:`ARCHITECTURES`.
    """
    if name not in ARCHITECTURES:
        raise ConfigError(f"architecture {name!r} unknown; known: {', '.join(ARCHITECTURES)}")
    dev = pick_device(device)
    prec = _resolve_precision(dev, precision)
    model = _random_clip(ARCHITECTURES[name], seed)
    return _finish(model, dev, prec, f"random/{name.replace('/', '-')}-seed{seed}")


def model_info(model: torch.nn.Module) -> ModelInfo:
    """The :class:`ModelInfo` of a model; plain models get ``random/unknown`` on their device, fp32.

    Models not loaded through this module (e.g. :func:`tiny_clip` itself) get an id derived from
    their class and parameter count; pass those through :func:`load_model` for a stable cache key.
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


def encode_image_batch(model: CLIP, images: torch.Tensor) -> torch.Tensor:
    """Encode a batch of preprocessed images; L2-normalised float32 features on the model's device."""
    info = model_info(model)
    images = images.to(info.device, non_blocking=True)
    with torch.inference_mode(), autocast(model):
        if info.precision == "fp16" and images.dtype != torch.float16:
            images = images.half()
        feats = model.encode_image(images)
    return _normalise(feats)


def encode_text_batch(model: CLIP, texts: list[str]) -> torch.Tensor:
    """Tokenize and encode texts; L2-normalised float32 features on the model's device.

    Raises
    ------
    InputError
        If a text is longer than CLIP's 77-token context.
    """
    from ..errors import InputError

    info = model_info(model)
    try:
        tokens = clip.tokenize(texts, context_length=model.context_length)
    except RuntimeError as exc:
        raise InputError(
            f"a prompt is too long for CLIP's {model.context_length}-token context: {exc}"
        ) from exc
    with torch.inference_mode(), autocast(model):
        feats = _encode_text_truncated(model, tokens.to(info.device))
    return _normalise(feats)


def _is_causal(model: CLIP) -> bool:
    blocks = getattr(getattr(model, "transformer", None), "resblocks", None)
    if not blocks:
        return False
    n = model.context_length
    causal = torch.full((n, n), float("-inf")).triu_(1)
    for blk in blocks:
        mask = getattr(blk, "attn_mask", None)
        if mask is None or mask.shape != (n, n) or not torch.equal(mask.detach().float().cpu(), causal):
            return False
    return True


def _encode_text_truncated(model: CLIP, tokens: torch.Tensor) -> torch.Tensor:
    """``model.encode_text`` computed on the first L positions only, L = the longest prompt (with EOT).

    CLIP's text transformer is causal: position i attends to positions <= i only, and the feature is
    read at the end-of-text token. The padding after the longest prompt therefore cannot change the
    result, and dropping it is exact (same operations, up to float rounding) while several times faster
    for short prompts (the paper's prompts are about 10 of the 77 tokens). Models without the causal
    mask fall back to ``model.encode_text``.
    """
    if not _is_causal(model):
        return model.encode_text(tokens)
    eot = tokens.argmax(dim=-1)
    n = int(eot.max()) + 1
    t = tokens[:, :n]
    x = model.token_embedding(t).type(model.dtype) + model.positional_embedding[:n].type(model.dtype)
    x = x.permute(1, 0, 2)  # NLD -> LND
    for blk in model.transformer.resblocks:
        mask = blk.attn_mask[:n, :n].to(dtype=x.dtype, device=x.device)
        h = blk.ln_1(x)
        x = x + blk.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        x = x + blk.mlp(blk.ln_2(x))
    x = model.ln_final(x.permute(1, 0, 2)).type(model.dtype)
    return x[torch.arange(x.shape[0], device=x.device), eot] @ model.text_projection
