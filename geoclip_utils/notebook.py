"""Small helpers for chapters: publishing computed numbers to the prose (MyST ``glue``).

Chapters quote numbers through ``{glue:text}`name:format``` roles, so a rerun with other parameters can
never leave stale prose. :func:`glue_values` stores plain Python numbers and strings (numpy scalars are
converted, since myst-nb formats the stored ``repr``).
"""

from __future__ import annotations

import numbers

import numpy as np


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | str | int | float) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"glue_values takes numbers and strings, got {type(value).__name__}")


def glue_values(**values) -> None:
    """Glue each keyword as a hidden value for the page's prose (returns nothing, so nothing is shown).

    Example
    -------
    In a code cell ``glue_values(top1=0.517)``; in the Markdown ``{glue:text}`top1:.1%```.
    """
    from myst_nb import glue

    plain = {k: _plain(v) for k, v in values.items()}
    for k, v in plain.items():
        glue(k, v, display=False)
