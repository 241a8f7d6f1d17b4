"""The Hugging Face backend: ``hf:DIR_OR_ID`` (package ``transformers``, extra ``models``).

``DIR_OR_ID`` is a folder written by ``save_pretrained`` of a CLIP-family model and of its processor
(``CLIPModel`` + ``CLIPProcessor``, e.g. StreetCLIP; ``SiglipModel`` + ``SiglipProcessor``), or a hub id
that transformers has already cached (it downloads once when online). The model is built with
``AutoModel`` and must have ``get_image_features`` and ``get_text_features``.

Preprocessing is the folder's own image processor (``AutoImageProcessor``); tokenisation its own tokenizer
(``AutoTokenizer``), padded as the model was trained: SigLIP models to ``max_length`` (their text tower
reads the last position), CLIP models to the longest prompt. A prompt longer than the text tower's
positions is an :class:`~geoclip_utils.errors.InputError`, never silently cut. Features are
``get_image_features`` / ``get_text_features``. The model id is ``hf/<folder name>-<sha12>`` with the
sha256 over the folder's weight files (also the checksum), so two folders never share a cache.
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

__all__ = ["load", "encode_image", "encode_text", "Preprocess"]

BACKEND = "hf"
_WEIGHTS = ("*.safetensors", "pytorch_model*.bin")


class Preprocess:
    """PIL image → the model's pixel tensor (C, H, W), through the folder's image processor (picklable)."""

    def __init__(self, image_processor) -> None:
        self.image_processor = image_processor

    def __call__(self, image) -> torch.Tensor:
        return self.image_processor(images=image, return_tensors="pt")["pixel_values"][0]

    def __repr__(self) -> str:
        return f"Preprocess({type(self.image_processor).__name__})"


def _weights_digest(folder: Path) -> str:
    files = sorted({p for pattern in _WEIGHTS for p in folder.glob(pattern)})
    if not files:
        raise DataError(
            f"model folder {folder} has no weights file (model.safetensors or pytorch_model.bin); "
            "write it with model.save_pretrained(folder)"
        )
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode() + b"\0" + sha256_of(p).encode())
    return h.hexdigest()


def _offline(src: str, exc: Exception) -> ConfigError:
    first = str(exc).splitlines()[0] if str(exc) else ""
    return ConfigError(
        f"could not load the Hugging Face model {src!r} ({type(exc).__name__}: {first}); without network, "
        "on a machine that has it run model.save_pretrained(DIR) and processor.save_pretrained(DIR), copy "
        "DIR here and pass --model hf:DIR"
    )


def load(src: str, dev: torch.device, prec: str) -> tuple[torch.nn.Module, Callable, str]:
    """Load ``hf:DIR_OR_ID`` (see the module docstring).

    Raises
    ------
    ConfigError
        transformers missing; the id is not cached and cannot be downloaded (the message says how to pass
        a local folder); not a CLIP-family model.
    DataError
        A folder without weights, config or processor files.
    """
    transformers = require("transformers", BACKEND, "transformers")
    if not src:
        raise ConfigError("model 'hf:' names no folder; use hf:path/to/folder (written by save_pretrained)")
    path = Path(src).expanduser()
    local = path.is_dir()
    if local and not (path / "config.json").is_file():
        raise DataError(
            f"model folder {path} has no config.json; write it with model.save_pretrained({path})"
        )
    where = str(path) if local else src
    try:
        model = transformers.AutoModel.from_pretrained(where, local_files_only=local)
    except OSError as exc:
        if local:
            raise DataError(f"model folder {path} could not be loaded ({exc})") from exc
        raise _offline(src, exc) from exc
    except ValueError as exc:
        raise ConfigError(f"{src!r} is not a model transformers can build ({exc})") from exc
    if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
        raise ConfigError(
            f"{src!r} is a {type(model).__name__}, not a CLIP-family model (no get_image_features / "
            "get_text_features); use a CLIPModel or SiglipModel folder"
        )
    try:
        image_processor = transformers.AutoImageProcessor.from_pretrained(where, local_files_only=local)
        tokenizer = transformers.AutoTokenizer.from_pretrained(where, local_files_only=local)
    except (OSError, ValueError) as exc:
        raise DataError(
            f"{src!r} has no usable processor files ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            "write them with processor.save_pretrained(DIR) next to the model"
        ) from exc
    if not local:
        hub = require("huggingface_hub", BACKEND, "huggingface_hub")
        path = Path(hub.snapshot_download(src, local_files_only=True))
    digest = _weights_digest(path)
    name = path.name if local else src.replace("/", "--")
    cfg = model.config
    text_positions = int(getattr(cfg.text_config, "max_position_embeddings", 0) or 0)
    model.geoclip_tokenizer = tokenizer
    model.geoclip_padding = "max_length" if cfg.model_type.startswith("siglip") else "longest"
    model.geoclip_max_tokens = text_positions
    proc_cfg = json.dumps(image_processor.to_dict(), sort_keys=True, default=str)
    info = ModelInfo(
        model_id=f"hf/{name}-{digest[:12]}",
        device=str(dev),
        precision=prec,
        input_resolution=int(cfg.vision_config.image_size),
        source=f"hf:{path.resolve() if local else src}",
        checksum=digest,
        backend=BACKEND,
        preprocess=f"transformers.{type(image_processor).__name__}"
        f"(sha256:{hashlib.sha256(proc_cfg.encode()).hexdigest()[:12]})",
    )
    return finish(model, Preprocess(image_processor), dev, prec, info)


def _features(out) -> torch.Tensor:
    """transformers 4 returns a tensor; 5 a model output whose ``pooler_output`` is the projected feature."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def encode_image(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``model.get_image_features(pixel_values=images)`` (raw features)."""
    return _features(model.get_image_features(pixel_values=images))


def tokenize(model: torch.nn.Module, texts: list[str]) -> dict[str, torch.Tensor]:
    """The model's tokenizer, padded as it was trained (see the module docstring).

    Raises
    ------
    InputError
        A prompt with more tokens than the text tower has positions.
    """
    tok, n = model.geoclip_tokenizer, model.geoclip_max_tokens
    if n:
        for t, ids in zip(texts, tok(list(texts), truncation=False)["input_ids"], strict=True):
            if len(ids) > n:
                raise InputError(f"the prompt {t[:60]!r} is too long for the model's {n}-token context")
    if model.geoclip_padding == "max_length":
        enc = tok(list(texts), padding="max_length", max_length=n, truncation=True, return_tensors="pt")
    else:
        enc = tok(list(texts), padding=True, return_tensors="pt")
    return {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask")}


def encode_text(model: torch.nn.Module, texts: list[str]) -> torch.Tensor:
    """:func:`tokenize`, then ``model.get_text_features`` (raw features)."""
    dev = next(model.parameters()).device
    enc = {k: v.to(dev) for k, v in tokenize(model, texts).items()}
    return _features(model.get_text_features(**enc))
