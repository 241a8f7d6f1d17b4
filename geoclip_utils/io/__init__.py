"""Where files come in and go out: one strict way to read a user's file, one policy for every output.

Three mechanisms, each the one place its guarantee is kept:

* :mod:`.sources` — :func:`open_input` opens a user's file and says what it is from its first bytes, not its
  name: gzip, bz2, xz and zstd are decoded; Parquet is handed to the readers that take it; any other
  container (tar, zip, 7z, an image, ...) is refused, naming what was found. Text must be UTF-8 and no line
  may be longer than :data:`MAX_LINE_BYTES`; both are checked line by line, naming the line as an editor
  counts it.
* :mod:`.delimited` — the one strict reader of delimited text (points, coordinates, gold tables, id lists,
  label CSVs, benchmark metadata): the header is matched to the columns a caller asks for (two columns that
  mean the same thing are refused, naming both), every row has the header's number of fields, numbers are
  decimal notation only, ids are cleaned the same way in every row. It reads at columnar speed (pyarrow) and,
  only after a problem, rereads exactly to name its line.
* :mod:`.outputs` — :func:`check_output` and :class:`Output`: an output is never an input nor inside one,
  nor inside a cache of the run; a link is written through, a pipe or a device is streamed, a regular file is
  replaced atomically (temporary files carry a name the next run recognises and removes); a full disk names
  the file.

This package imports nothing of ``geoclip_utils`` but :mod:`geoclip_utils.errors`.
"""

from __future__ import annotations

from .outputs import Output, atomic_write, check_output
from .sources import MAX_LINE_BYTES, Input, open_input

__all__ = ["MAX_LINE_BYTES", "Input", "Output", "atomic_write", "check_output", "open_input"]
