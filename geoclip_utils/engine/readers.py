"""The inputs of an embedding run: each checks itself up front and turns into the units still to do.

Two readers, one shape (in the manner of clip-retrieval's readers):

* :class:`FolderInput` — an image folder and the ids to embed (``<id>.jpg`` files); units are slices of
  the ids the cache does not hold yet (ids skipped by an earlier run are tried again unless
  ``retry_skipped=False``), one chunk each;
* :class:`ShardInput` — WebDataset tar shards (:mod:`~geoclip_utils.engine.shards`); units are the shards
  the cache does not hold completely, with the pieces it holds (a resumed shard is read past them).

Both are checked when made (folder and ids, or the shard pattern and every shard's format), before a
model is loaded or a cache is opened. :meth:`plan` reads the open cache's progress and returns a
:class:`Plan`; :meth:`produced` and :meth:`report` say afterwards what the cache holds of the input. The
driver (:func:`geoclip_utils.engine.runner.embed`) hands the units to a distributor; adding an input
format is adding a reader here (and a :class:`~geoclip_utils.engine.units.Unit` kind if its images are read
another way).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import InputError
from .cache import ChunkWriter
from .images import read_ids
from .shards import expand_shards, shard_format
from .units import Unit

__all__ = ["Plan", "FolderInput", "ShardInput"]


@dataclass
class Plan:
    """What a run still has to do.

    Attributes
    ----------
    units : the units to embed (each becomes one or more chunks).
    n_units : the units of the whole input (shards; for a folder the slices of this run).
    done_before : units the cache held completely before the run (shards not reopened).
    retried : ids an earlier run skipped that this run tries again (folder input).
    total, initial : images of the input and those already in the cache, for the progress bar
        (``None`` and 0 when unknown before reading: tar shards).
    """

    units: list[Unit]
    n_units: int
    done_before: int = 0
    retried: list[str] = field(default_factory=list)
    total: int | None = None
    initial: int = 0


class FolderInput:
    """A folder of ``<id>.jpg`` (or .jpeg/.png) files and the ids to embed.

    Parameters
    ----------
    image_dir : the folder.
    ids : the ids, or the path of an id list (:func:`~geoclip_utils.engine.images.read_ids`).
    retry_skipped : try again the images an earlier run into the cache skipped (missing, corrupt, …), so a
        file that appeared or was repaired since gets embedded; ``False`` keeps the earlier verdict.

    Raises
    ------
    InputError
        The folder does not exist, the id list is empty or repeats an id.

    Example
    -------
    >>> FolderInput("photos/", "ids.csv").ids[:2]  # doctest: +SKIP
    ['I2bZIA3vJauI6rm_OV3Z7w', 'aKx0…']
    """

    kind = "folder"
    id_field = None

    def __init__(
        self,
        image_dir: str | os.PathLike,
        ids: Sequence[str] | str | os.PathLike,
        *,
        retry_skipped: bool = True,
    ) -> None:
        self.image_dir = Path(image_dir)
        if not self.image_dir.is_dir():
            raise InputError(f"image folder {self.image_dir} does not exist or is not a folder")
        if isinstance(ids, (str, os.PathLike)):
            ids = read_ids(ids)
        self.ids = [str(i) for i in ids]
        if not self.ids:
            raise InputError("the id list is empty; nothing to embed")
        seen: set[str] = set()
        dups = [i for i in self.ids if i in seen or seen.add(i)]
        if dups:
            raise InputError(f"{len(dups)} duplicated image ids, e.g. {dups[:3]}; remove the repeats")
        self.retry_skipped = retry_skipped

    @property
    def paths(self) -> list[Path]:
        """The files and folders the run reads (an output must not be one of them)."""
        return [self.image_dir]

    def plan(self, writer: ChunkWriter, part_size: int) -> Plan:
        """Slices of ``part_size`` of the ids the cache does not hold (or holds as skipped, when retried)."""
        done = writer.done
        retry = self.retry_skipped
        retried = [i for i in self.ids if retry and done.get(i, ("",))[0] == "skipped"]
        todo = [i for i in self.ids if i not in done or (retry and done[i][0] == "skipped")]
        units = [
            Unit(index=n, kind="ids", source=str(self.image_dir), ids=tuple(todo[s : s + part_size]))
            for n, s in enumerate(range(0, len(todo), part_size))
        ]
        return Plan(units, len(units), 0, retried, total=len(self.ids), initial=len(self.ids) - len(todo))

    def produced(self, writer: ChunkWriter) -> int:
        """Images of the input the cache holds embedded."""
        return sum(writer.done.get(i, ("",))[0] == "ok" for i in self.ids)

    def report(self, writer: ChunkWriter) -> pd.DataFrame:
        """One row per id, in input order: ``image_id``, ``status`` (``ok``, ``skipped``, or ``pending``
        when the run stopped early), ``reason``."""
        pending = ("pending", "not embedded yet (run stopped early)")
        rows = [(i, *writer.done.get(i, pending)) for i in self.ids]
        return pd.DataFrame(rows, columns=["image_id", "status", "reason"])


class ShardInput:
    """WebDataset / img2dataset tar shards.

    Parameters
    ----------
    shards : a brace pattern (:func:`~geoclip_utils.engine.shards.expand_shards`) or the list of shard
        files.
    id_field : take ids from this field of each sample's ``.json`` member (default: the sample key).

    Raises
    ------
    ConfigError
        A malformed pattern, or one naming too many files.
    InputError
        A shard that does not exist, or is not a tar file (:func:`~geoclip_utils.engine.shards.shard_format`).

    Example
    -------
    >>> len(ShardInput("data/{00000..00009}.tar").shards)  # doctest: +SKIP
    10
    """

    kind = "shards"

    def __init__(self, shards: str | Sequence[str | os.PathLike], *, id_field: str | None = None) -> None:
        self.shards = expand_shards(shards) if isinstance(shards, str) else [Path(p) for p in shards]
        if not self.shards:
            raise InputError("no shards given; nothing to embed")
        for path in self.shards:
            if not path.is_file():
                raise InputError(f"shard {path} does not exist or is not a file")
            shard_format(path)
        self.id_field = id_field

    @property
    def paths(self) -> list[Path]:
        """The files the run reads (an output must not be one of them)."""
        return list(self.shards)

    def plan(self, writer: ChunkWriter, part_size: int) -> Plan:
        """Every shard the cache does not hold completely, with the pieces it holds (a started shard keeps
        the piece size it was started with)."""
        units, complete = [], 0
        for path in self.shards:
            prog = writer.sources.get(str(path))
            if prog is not None and prog.complete:
                complete += 1
                continue
            done = tuple(sorted(prog.parts)) if prog is not None else ()
            size = prog.part_size if prog is not None and prog.part_size else part_size
            units.append(
                Unit(
                    index=len(units),
                    kind="shard",
                    source=str(path),
                    skip_parts=done,
                    part_size=size,
                    id_field=self.id_field,
                )
            )
        return Plan(units, len(self.shards), complete)

    def produced(self, writer: ChunkWriter) -> int:
        """Samples of these shards the cache holds embedded (also those an earlier shard or run had)."""
        return sum(writer.sources[str(p)].present for p in self.shards if str(p) in writer.sources)

    def report(self, writer: ChunkWriter) -> None:
        """Shard runs report through the cache's ``report.csv`` (their ids are known only once read)."""
        return None
