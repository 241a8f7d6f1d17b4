"""The settings of an embedding run that change what its cache holds: one record.

:class:`EmbedSettings` names the model (id, backend, weights checksum, precision, input resolution), the
preprocessing, the pixel limit and where an image's id comes from (``id_field``). The record is stored in
the cache's manifest *and* in every chunk file, and a run that adds to a cache compares its own record
with both (:meth:`EmbedSettings.check`), so one cache never mixes features of two kinds — also when the
manifest was lost, and per shard, since every piece of a shard is a chunk.

A cache written by an older version may lack a setting (``id_field`` is recorded since the one-driver
engine; the record itself since the model backends): a setting that was not recorded is not compared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..errors import ConfigError
from .images import DEFAULT_MAX_PIXELS

__all__ = ["FORMAT_VERSION", "FAST_DECODE", "EmbedSettings", "recorded_settings"]

#: The version of the cache layout (chunk files, manifest); a newer layout that older versions still read
#: keeps the number.
FORMAT_VERSION = 1

#: What the fast JPEG decoding adds to the name of the preprocessing (see :func:`~.images.open_rgb`).
FAST_DECODE = " + JPEG draft >= 2x resolution"

#: How each setting is chosen on the command line, for the message of :meth:`EmbedSettings.check`.
OPTION = {
    "model_id": "--model",
    "backend": "--model (its prefix: openai:, open_clip:, hf:)",
    "model_checksum": "--model (the weights file changed)",
    "precision": "--precision / --device",
    "input_resolution": "--model",
    "preprocess": "--exact-preprocess",
    "max_pixels": "max_pixels",
    "id_field": "--id-field",
    "format": "the geoclip version",
}

#: Settings whose value may be unknown (``""`` or ``None``) in a cache of an older version: not compared
#: then. ``id_field`` is not among them: ``None`` there means "the sample key or file name".
_MAY_BE_UNKNOWN = frozenset(OPTION) - {"id_field"}


@dataclass(frozen=True)
class EmbedSettings:
    """Every setting of an embedding run that changes the features, or which image an id names.

    Attributes
    ----------
    model_id, backend, model_checksum, precision, input_resolution : the model
        (:class:`~geoclip_utils.engine.models.ModelInfo`).
    preprocess : the model's image transform in words, plus :data:`FAST_DECODE` with fast JPEG decoding.
    max_pixels : larger images are skipped.
    id_field : the field of a tar sample's ``.json`` member that holds its id; ``None``: the sample key
        (tar shards) or the file name (a folder).
    format : :data:`FORMAT_VERSION`.

    Example
    -------
    >>> s = EmbedSettings("random/tiny-seed0", "openai", "", "fp32", 64, "clip._transform", 10)
    >>> s.check({**s.to_dict(), "precision": "fp16"}, "cache c")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geoclip_utils.errors.ConfigError: cache c was made with precision='fp16' but this run has ...
    """

    model_id: str
    backend: str
    model_checksum: str
    precision: str
    input_resolution: int
    preprocess: str
    max_pixels: int
    id_field: str | None = None
    format: int = FORMAT_VERSION

    @classmethod
    def of(
        cls,
        info,
        *,
        fast_decode: bool = True,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        id_field: str | None = None,
    ) -> EmbedSettings:
        """The record of a run of the model ``info`` (a :class:`~geoclip_utils.engine.models.ModelInfo`)."""
        return cls(
            model_id=info.model_id,
            backend=getattr(info, "backend", "openai"),
            model_checksum=info.checksum,
            precision=info.precision,
            input_resolution=info.input_resolution,
            preprocess=getattr(info, "preprocess", "clip._transform") + (FAST_DECODE if fast_decode else ""),
            max_pixels=max_pixels,
            id_field=id_field,
        )

    @property
    def draft_size(self) -> int | None:
        """The JPEG draft size of the decoders: twice the model resolution, or ``None`` (full decode)."""
        return 2 * self.input_resolution if self.preprocess.endswith(FAST_DECODE) else None

    def to_dict(self) -> dict:
        """The record as a dict (what the manifest stores under ``settings``)."""
        return asdict(self)

    def to_json(self) -> str:
        """The record as one JSON text (what each chunk stores)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def check(self, recorded: Mapping, where: str | Path) -> None:
        """Refuse to add to ``where`` (a cache or a chunk) if it was made with other settings.

        Parameters
        ----------
        recorded : the record found there (:func:`recorded_settings` of a manifest, or a chunk's record).
        where : what holds it, for the message (e.g. ``"embedding cache cache/random__tiny-seed0"``).

        Raises
        ------
        ConfigError
            Naming the first setting that differs, the recorded value, this run's value and the option
            that chooses it.
        """
        for key, value in self.to_dict().items():
            if key not in recorded:
                continue
            old = recorded[key]
            unknown = key in _MAY_BE_UNKNOWN and (old in (None, "") or value in (None, ""))
            if not unknown and old != value:
                mixed = "ids of two kinds" if key == "id_field" else "features of the two"
                raise ConfigError(
                    f"{where} was made with {key}={old!r} but this run has {key}={value!r} ({OPTION[key]}); "
                    f"{mixed} would be mixed in one cache. Give this run another --out folder, or delete the "
                    "cache's folder to start it over"
                )


def recorded_settings(manifest: Mapping) -> dict:
    """The settings a manifest records (older layouts kept some at its top level).

    Example
    -------
    >>> recorded_settings({"model_id": "m", "preprocess": "p", "settings": {"precision": "fp32"}})
    {'model_id': 'm', 'preprocess': 'p', 'precision': 'fp32'}
    """
    names = [f.name for f in fields(EmbedSettings)]
    top = {k: manifest[k] for k in names if k in manifest and k != "format"}
    return {**top, **manifest.get("settings", {})}
