"""The openai backend (``openai:NAME`` or no prefix): the ``clip`` package's checkpoints, local state dicts,
random-weight stand-ins.

* ``ViT-L/14`` (any of ``clip.available_models()``): downloaded once by ``clip`` into ``~/.cache/clip``;
  model id ``openai/ViT-L-14``;
* a path to a ``state_dict`` saved with ``torch.save`` (read with ``weights_only=True``): model id
  ``file/<stem>-<sha256[:12]>``;
* ``tiny``: the random-weight :func:`tiny_clip`, model id ``random/tiny-seed0``.

Preprocessing is ``clip.clip._transform(input_resolution)`` (resize the shorter side with bicubic, centre
crop, RGB, normalise with CLIP's mean / std); tokenisation is ``clip.tokenize`` (77 tokens, a longer prompt
is an :class:`~geoclip_utils.errors.InputError`). Random-weight models (:func:`tiny_clip`,
:func:`architecture_clip`) are built from the real ``clip.model.CLIP`` class, so the code path (tokenizer,
encoders, shapes) is the real one; their predictions are at chance level (tests, demos, benchmarks).

On CUDA the openai weights stay float16 and calls run under ``torch.autocast("cuda", float16)``
(``precision="fp32"`` turns both off).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from ..._io import atomic_write, sha256_of
from ...errors import ConfigError, DataError, InputError
from .base import ModelInfo, finish, pick_device, resolve_precision

with warnings.catch_warnings():  # clip imports the deprecated pkg_resources
    warnings.simplefilter("ignore")
    import clip
    from clip.clip import _transform
    from clip.model import CLIP, build_model

__all__ = [
    "ARCHITECTURES",
    "load",
    "tiny_clip",
    "save_tiny_clip",
    "architecture_clip",
    "encode_image",
    "encode_text",
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


def _finish(
    model: CLIP, dev: torch.device, precision: str, model_id: str, source: str = "", checksum: str = ""
):
    res = int(model.visual.input_resolution)
    info = ModelInfo(model_id, str(dev), precision, res, source=source, checksum=checksum)
    return finish(model, _transform(res), dev, precision, info, keep_half=True)


def load(name: str, dev: torch.device, prec: str) -> tuple[CLIP, Callable, str]:
    """Load an openai name, ``tiny`` or a local state dict (see the module docstring).

    Raises
    ------
    ConfigError
        Unknown name (the message lists ``clip.available_models()``); the download failed (the message
        says where to put the file and how to pass a local checkpoint).
    DataError
        The checkpoint file is not a readable CLIP state dict.
    """
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
        f"known models: {', '.join(clip.available_models())} (or 'tiny' for the random-weight demo model; "
        "other backends: open_clip:ARCH:PRETRAINED, hf:FOLDER)"
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
    """Save :func:`tiny_clip` ``(seed)`` as a plain state dict (loadable with :func:`~geoclip_utils.engine.models.load_model`).

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
    device, precision : as in :func:`~geoclip_utils.engine.models.load_model` (default CPU).

    Returns
    -------
    (model, preprocess, model_id) as :func:`~geoclip_utils.engine.models.load_model`.

    Raises
    ------
    ConfigError
        For an architecture not in :data:`ARCHITECTURES`.
    """
    if name not in ARCHITECTURES:
        raise ConfigError(f"architecture {name!r} unknown; known: {', '.join(ARCHITECTURES)}")
    dev = pick_device(device)
    prec = resolve_precision(dev, precision)
    model = _random_clip(ARCHITECTURES[name], seed)
    return _finish(model, dev, prec, f"random/{name.replace('/', '-')}-seed{seed}")


def encode_image(model: CLIP, images: torch.Tensor) -> torch.Tensor:
    """``model.encode_image`` (raw features); fp16 models get fp16 input."""
    if next(model.parameters()).dtype == torch.float16 and images.dtype != torch.float16:
        images = images.half()
    return model.encode_image(images)


def encode_text(model: CLIP, texts: list[str]) -> torch.Tensor:
    """``clip.tokenize`` then the text encoder (padding dropped, exactly: :func:`_encode_text_truncated`).

    Raises
    ------
    InputError
        If a text is longer than CLIP's 77-token context.
    """
    try:
        tokens = clip.tokenize(texts, context_length=model.context_length)
    except RuntimeError as exc:
        raise InputError(
            f"a prompt is too long for CLIP's {model.context_length}-token context: {exc}"
        ) from exc
    return _encode_text_truncated(model, tokens.to(next(model.parameters()).device))


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
