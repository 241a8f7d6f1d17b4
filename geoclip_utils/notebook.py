"""Small helpers for chapters: publishing computed numbers to the prose (MyST ``glue``), sortable tables.

Chapters quote numbers through ``{glue:text}`name:format``` roles, so a rerun with other parameters can
never leave stale prose. :func:`glue_values` stores plain Python numbers and strings (numpy scalars are
converted, since myst-nb formats the stored ``repr``).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .errors import ConfigError


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


def format_ci(value: float, lo: float, hi: float, fmt: str = ".2%", style: str = "ci") -> str:
    """A value with its 95 % interval, the one way chapters print an estimate.

    Parameters
    ----------
    value, lo, hi : the estimate and its interval.
    fmt : format spec of the three numbers (``".2%"``, ``".0f"``, ``"+.2f"``, …).
    style : ``"ci"`` → ``"51.74%  (95% CI 50.83% – 52.70%)"``; ``"paren"`` → ``"51.74% (50.83% – 52.70%)"``;
        ``"bracket"`` → ``"51.74% [50.83%, 52.70%]"``.

    Example
    -------
    >>> format_ci(0.5174, 0.5083, 0.527)
    '51.74%  (95% CI 50.83% – 52.70%)'
    >>> format_ci(1695.2, 1630, 1773, ".0f", "bracket")
    '1695 [1630, 1773]'
    """
    v, a, b = (format(x, fmt) for x in (value, lo, hi))
    if style == "ci":
        return f"{v}  (95% CI {a} – {b})"
    if style == "paren":
        return f"{v} ({a} – {b})"
    if style == "bracket":
        return f"{v} [{a}, {b}]"
    raise ConfigError(f"format_ci: style {style!r} is not one of 'ci', 'paren', 'bracket'")


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


_SORT_JS = """
<script>
(function () {
  const t = document.getElementById("%(id)s");
  if (!t) return;
  t.querySelectorAll("thead th").forEach(function (th, col) {
    th.style.cursor = "pointer";
    th.title = "click to sort";
    th.addEventListener("click", function () {
      const body = t.tBodies[0];
      const rows = Array.from(body.rows);
      const asc = th.dataset.sort !== "asc";
      th.dataset.sort = asc ? "asc" : "desc";
      const key = function (r) {
        const c = r.cells[col];
        const s = c ? c.textContent.trim() : "";
        const x = parseFloat(s.replace(/[%%,+]/g, ""));
        return isNaN(x) ? s : x;
      };
      rows.sort(function (r1, r2) {
        const x = key(r1), y = key(r2);
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
</script>
"""


def sortable_html(df: pd.DataFrame, table_id: str, formats: Mapping[str, str] | None = None) -> str:
    """HTML of a table whose columns sort on a click of their header (a few lines of inline JavaScript).

    Parameters
    ----------
    df : the table; its index becomes the first column.
    table_id : a page-unique HTML id (letters, digits, ``-``, ``_``).
    formats : column → a format applied before rendering: a template (``"{:.2f}"``) or a bare format
        spec (``".1%"``, ``",.0f"``); a missing value (NaN, None) renders as an empty cell.

    Returns
    -------
    str
        ``<table id=…>`` followed by the ``<script>`` that makes it sortable (works offline).

    Raises
    ------
    ConfigError
        If ``table_id`` holds other characters.
    """
    if not table_id or not all(ch.isalnum() or ch in "-_" for ch in table_id):
        raise ConfigError(f"table id {table_id!r}: use letters, digits, '-' and '_'")
    shown = df.copy()
    for col, fmt in (formats or {}).items():
        if col not in shown.columns:
            raise ConfigError(f"sortable_html: no column {col!r} to format (columns: {list(shown.columns)})")
        one = fmt.format if "{" in fmt else (lambda v, spec=fmt: format(v, spec))
        shown[col] = ["" if pd.isna(v) else one(v) for v in shown[col]]
    html = shown.reset_index().to_html(table_id=table_id, index=False, border=0, classes="dataframe sortable")
    return html + _SORT_JS % {"id": table_id}


# --------------------------------------------------------------------------- chapter helpers (part 2)
def format_interval(lo: float, hi: float, fmt: str = ".1%") -> str:
    """A 95 % interval alone, for a table column next to its estimate: ``"50.8% – 52.7%"``.

    Parameters
    ----------
    lo, hi : the interval.
    fmt : format spec of both ends.

    Returns
    -------
    str

    Example
    -------
    >>> format_interval(0.5083, 0.527)
    '50.8% – 52.7%'
    >>> format_interval(0.0712, 0.0931, ".3f")
    '0.071 – 0.093'
    """
    return f"{lo:{fmt}} – {hi:{fmt}}"


#: (upper bound, words) for :func:`share_in_words`; each share gets the words of the first bound above it.
_SHARE_WORDS = (
    (0.05, "almost none"),
    (0.15, "about a tenth"),
    (0.225, "about a fifth"),
    (0.29, "about a quarter"),
    (0.42, "about a third"),
    (0.58, "about half"),
    (0.71, "about two thirds"),
    (0.775, "about three quarters"),
    (0.85, "about four fifths"),
    (0.95, "about nine tenths"),
)


def share_in_words(share: float) -> str:
    """A share in plain words (``0.517`` → ``"about half"``), for a conclusion the numbers choose.

    Parameters
    ----------
    share : a number between 0 and 1.

    Returns
    -------
    str
        ``"almost none"``, ``"about a tenth"``, ``"about a fifth"``, ``"about a quarter"``, ``"about a third"``,
        ``"about half"``, ``"about two thirds"``, ``"about three quarters"``, ``"about four fifths"``,
        ``"about nine tenths"`` or ``"almost all"``.

    Raises
    ------
    ConfigError
        If ``share`` is not a number between 0 and 1.

    Example
    -------
    >>> share_in_words(0.517), share_in_words(0.31), share_in_words(0.98)
    ('about half', 'about a third', 'almost all')
    """
    if not isinstance(share, numbers.Real) or not 0 <= share <= 1:
        raise ConfigError(f"share_in_words takes a number between 0 and 1, got {share!r}")
    for bound, words in _SHARE_WORDS:
        if share < bound:
            return words
    return "almost all"


def word_for_interval(lo: float, hi: float, below: str, overlap: str, above: str) -> str:
    """The words a 95 % interval of a difference supports: ``below`` when it lies wholly below zero,
    ``above`` when wholly above, ``overlap`` when it contains zero (or is undefined).

    Example
    -------
    >>> word_for_interval(-0.05, -0.01, "hurts", "makes no clear difference", "helps")
    'hurts'
    >>> word_for_interval(-0.01, 0.02, "hurts", "makes no clear difference", "helps")
    'makes no clear difference'
    """
    if hi < 0:
        return below
    if lo > 0:
        return above
    return overlap
