"""The open_clip backend: ``open_clip:ARCH[:PRETRAINED]`` (package ``open_clip_torch``, extra ``models``).

* ``ARCH`` is an open_clip architecture (``ViT-B-32``, ``ViT-L-14``, ``ViT-SO400M-14-SigLIP``, …; see
  ``open_clip.list_models()``) or the path of a model config JSON of the same form
  (``{"embed_dim": …, "vision_cfg": {…}, "text_cfg": {…}}``), registered under the file's stem;
* ``PRETRAINED`` is an open_clip tag (``laion2b_s34b_b79k``; downloaded once by open_clip into its cache),
  the path of a local checkpoint (``open_clip_pytorch_model.bin`` or ``.safetensors``, loaded with
  ``weights_only=True``), or ``random`` (random weights, seed 0: for tests and demos). It is required:
  a model without weights is a mistake unless asked for.

Preprocessing is open_clip's own evaluation transform for the model (``image_transform_v2`` of the
model's ``preprocess_cfg``: size, mean, std, interpolation, resize mode); tokenisation is open_clip's
tokenizer for the architecture (``open_clip.get_tokenizer``). Features are ``model.encode_image`` /
``model.encode_text``. The model id is ``open_clip/<arch>/<tag>`` (``<arch>-cfg<sha12>`` for a config
file; ``file-<stem>-<sha12>`` for a checkpoint file; ``random-seed0``), so every pair of architecture and
weights has its own cache; the checksum is the sha256 of the weights file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import torch

from ..._io import sha256_of
from ...errors import ConfigError, DataError, InputError
from .base import ModelInfo, finish, require

__all__ = ["load", "encode_image", "encode_text", "parse"]

BACKEND = "open_clip"


def parse(rest: str) -> tuple[str, str]:
    """Split ``ARCH[:PRETRAINED]`` at the first ``:`` after the architecture.

    Example
    -------
    >>> parse("ViT-B-32:laion2b_s34b_b79k")
    ('ViT-B-32', 'laion2b_s34b_b79k')
    """
    arch, sep, pretrained = rest.partition(":")
    if not arch:
        raise ConfigError(
            "model 'open_clip:' names no architecture; use open_clip:ARCH:PRETRAINED, "
            "e.g. open_clip:ViT-B-32:laion2b_s34b_b79k"
        )
    return arch, pretrained


def _architecture(open_clip, arch: str) -> tuple[str, str, str]:
    """(name open_clip knows, id part, source) of an architecture name or config file."""
    path = Path(arch).expanduser()
    if arch.endswith(".json"):
        if not path.is_file():
            raise ConfigError(f"model config {path} does not exist (open_clip:ARCH with ARCH a .json file)")
        try:
            cfg = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"model config {path} is not readable JSON ({exc})") from exc
        if not isinstance(cfg, dict) or not all(k in cfg for k in ("embed_dim", "vision_cfg", "text_cfg")):
            raise ConfigError(
                f"model config {path} is not an open_clip model config (needs embed_dim, vision_cfg, text_cfg)"
            )
        open_clip.add_model_config(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        return path.stem, f"{path.stem}-cfg{digest}", str(path.resolve())
    name = arch.replace("/", "-")
    if name not in open_clip.list_models():
        known = open_clip.list_models()
        raise ConfigError(
            f"open_clip has no architecture {arch!r} ({len(known)} known, e.g. ViT-B-32, ViT-L-14, "
            "ViT-SO400M-14-SigLIP: see open_clip.list_models()); or pass a model config file: "
            "open_clip:path/to/config.json:WEIGHTS"
        )
    return name, name, name


def load(rest: str, dev: torch.device, prec: str) -> tuple[torch.nn.Module, Callable, str]:
    """Load ``ARCH[:PRETRAINED]`` (see the module docstring).

    Raises
    ------
    ConfigError
        open_clip_torch missing; unknown architecture or tag; no ``PRETRAINED``; the download failed (the
        message says how to pass a local file).
    DataError
        A checkpoint file that does not fit the architecture.
    """
    open_clip = require("open_clip", BACKEND, "open_clip_torch")
    from open_clip.transform import PreprocessCfg, image_transform_v2

    arch, pretrained = parse(rest)
    name, arch_id, source = _architecture(open_clip, arch)
    tags = open_clip.list_pretrained_tags_by_model(name)
    if not pretrained:
        raise ConfigError(
            f"model 'open_clip:{arch}' names no weights; add :TAG ({', '.join(tags) or 'no published tags'}), "
            f":path/to/weights.bin, or :random for random weights"
        )
    checksum = ""
    seed = None
    if pretrained == "random":
        weights_id, seed, kwargs = "random-seed0", 0, {"pretrained": None}
        source_weights = "random"
    elif Path(pretrained).expanduser().is_file():
        path = Path(pretrained).expanduser()
        checksum = sha256_of(path)
        weights_id, kwargs = f"file-{path.stem}-{checksum[:12]}", {"pretrained": str(path)}
        source_weights = str(path.resolve())
    elif pretrained in tags:
        try:
            path = Path(
                open_clip.pretrained.download_pretrained(open_clip.get_pretrained_cfg(name, pretrained))
            )
        except Exception as exc:  # noqa: BLE001 - urllib, huggingface_hub and OSError all mean "no file"
            raise ConfigError(
                f"could not download the open_clip weights {name}:{pretrained} ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); without network, copy the weights file to "
                f"this machine and pass it: --model open_clip:{arch}:path/to/open_clip_pytorch_model.bin"
            ) from exc
        checksum = sha256_of(path) if path.is_file() else ""
        weights_id, kwargs = pretrained, {"pretrained": pretrained}
        source_weights = pretrained
    else:
        raise ConfigError(
            f"open_clip weights {pretrained!r} for {arch} are neither a known tag "
            f"({', '.join(tags) or 'none published'}) nor an existing file; pass :path/to/weights.bin or :random"
        )
    try:
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            model = open_clip.create_model(name, precision="fp32", device="cpu", **kwargs)
    except Exception as exc:  # noqa: BLE001 - open_clip raises RuntimeError, KeyError, … for a bad file
        raise DataError(
            f"open_clip could not build {arch} with weights {pretrained} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})"
        ) from exc
    cfg = dict(getattr(model.visual, "preprocess_cfg", {}) or {})
    preprocess = image_transform_v2(PreprocessCfg(**cfg), is_train=False)
    size = cfg.get("size", getattr(model.visual, "image_size", 224))
    resolution = int(max(size)) if isinstance(size, (tuple, list)) else int(size)
    model.geoclip_tokenizer = open_clip.get_tokenizer(name)
    info = ModelInfo(
        model_id=f"open_clip/{arch_id}/{weights_id}",
        device=str(dev),
        precision=prec,
        input_resolution=resolution,
        source=f"open_clip:{source}:{source_weights}",
        checksum=checksum,
        backend=BACKEND,
        preprocess="open_clip.image_transform_v2(" + json.dumps(cfg, sort_keys=True, default=str) + ")",
    )
    return finish(model, preprocess, dev, prec, info)


def encode_image(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``model.encode_image`` (raw features)."""
    return model.encode_image(images)


def encode_text(model: torch.nn.Module, texts: list[str]) -> torch.Tensor:
    """open_clip's tokenizer, then ``model.encode_text`` (raw features).

    Raises
    ------
    InputError
        A prompt longer than the context of open_clip's CLIP tokenizer (other tokenizers truncate, as
        open_clip does).
    """
    tok = model.geoclip_tokenizer
    n = getattr(tok, "context_length", None)
    if n is not None and hasattr(tok, "encode") and type(tok).__name__ == "SimpleTokenizer":
        for t in texts:
            if len(tok.encode(t)) + 2 > n:
                raise InputError(f"the prompt {t[:60]!r} is too long for the model's {n}-token context")
    tokens = tok(texts).to(next(model.parameters()).device)
    return model.encode_text(tokens)
