"""Model backends behind one interface, chosen by a prefix of the model name.

=====================  ==========================================  ==========================================
prefix                 what                                        model id (the cache key)
=====================  ==========================================  ==========================================
``openai:`` or none    the ``clip`` package: ``ViT-L/14``, a       ``openai/ViT-L-14``, ``file/<stem>-<sha12>``,
                       state-dict file, ``tiny``                   ``random/tiny-seed0`` (unchanged)
``open_clip:``         ``ARCH[:PRETRAINED]`` (open_clip_torch)     ``open_clip/<arch>/<weights>``
``hf:``                ``DIR_OR_ID`` (transformers CLIPModel /     ``hf/<folder>-<sha12>``
                       SiglipModel, saved with save_pretrained)
=====================  ==========================================  ==========================================

Each backend module has ``load(rest, device, precision)`` and ``encode_image`` / ``encode_text`` (raw
features); :mod:`geoclip_utils.engine.models` is the one entry point the engine calls. open_clip and
transformers are optional (``pip install 'geoclip-utils[models]'``): the package imports without them,
and a prefix that needs a missing one is a one-line :class:`~geoclip_utils.errors.ConfigError`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["BACKENDS", "split_backend", "backend_module"]

#: prefix → backend module name (in this package).
BACKENDS: dict[str, str] = {"openai": "openai", "open_clip": "openclip", "hf": "hf"}


def split_backend(name: str) -> tuple[str, str]:
    """``"open_clip:ViT-B-32:laion2b_s34b_b79k"`` → ``("open_clip", "ViT-B-32:laion2b_s34b_b79k")``.

    A name without one of the known prefixes belongs to the openai backend, whole (so a Windows path
    ``C:\\w.pt`` or today's ``ViT-L/14`` are unchanged).

    Example
    -------
    >>> split_backend("ViT-L/14"), split_backend("hf:/models/streetclip")
    (('openai', 'ViT-L/14'), ('hf', '/models/streetclip'))
    """
    prefix, sep, rest = str(name).partition(":")
    if sep and prefix in BACKENDS:
        return prefix, rest
    return "openai", str(name)


def backend_module(backend: str) -> ModuleType:
    """The module of a backend (``openai``, ``open_clip`` or ``hf``)."""
    return importlib.import_module(f".{BACKENDS[backend]}", __name__)
