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


def check_number(
    name: str, value, *, minimum: float | None = None, maximum: float | None = None, integer: bool = False
):
    """Check a numeric chapter parameter up front, with one sentence naming it, its value and what is allowed.

    Raises
    ------
    ConfigError

    Example
    -------
    >>> check_number("n_boot", 1000, minimum=1, integer=True)
    1000
    >>> check_number("n_boot", -5, minimum=1, integer=True)
    Traceback (most recent call last):
    ...
    geoclip_utils.errors.ConfigError: n_boot=-5 is not allowed: use an integer of at least 1
    """
    what = "an integer" if integer else "a number"
    limits = []
    if minimum is not None:
        limits.append(f"of at least {minimum:g}")
    if maximum is not None:
        limits.append(f"of at most {maximum:g}")
    allowed = f"use {what}" + (" " + " and ".join(limits) if limits else "")
    ok = isinstance(value, numbers.Integral) if integer else isinstance(value, numbers.Real)
    ok = ok and not isinstance(value, bool)
    if ok and not integer and not np.isfinite(value):
        ok = False
    if ok and minimum is not None and value < minimum:
        ok = False
    if ok and maximum is not None and value > maximum:
        ok = False
    if not ok:
        raise ConfigError(f"{name}={value!r} is not allowed: {allowed}")
    return value


def check_choice(name: str, value, choices, *, hint: str = ""):
    """Check a chapter parameter that takes one of a few values (one sentence on failure; ``hint`` is
    appended, e.g. which chapter fits instead)."""
    choices = list(choices)
    if value not in choices:
        extra = f"; {hint}" if hint else ""
        raise ConfigError(f"{name}={value!r} is not allowed: choose one of {choices}{extra}")
    return value


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


def check_results_dir(results_dir, source: str):
    """Check the ``results_dir`` parameter of a chapter against its ``source`` (one sentence on failure).

    ``None`` is always allowed (``$GEOCLIP_RESULTS`` or ``results/``); a folder is read only with
    ``source="local"`` and must exist.

    Raises
    ------
    ConfigError

    Example
    -------
    >>> check_results_dir(None, "paper") is None
    True
    >>> check_results_dir("somewhere", "paper")
    Traceback (most recent call last):
    ...
    geoclip_utils.errors.ConfigError: results_dir='somewhere' is read only with source='local': drop it, or set source='local'
    """
    from pathlib import Path

    if results_dir is None:
        return None
    if source != "local":
        raise ConfigError(
            f"results_dir={results_dir!r} is read only with source='local': drop it, or set source='local'"
        )
    if not isinstance(results_dir, str | Path) or not Path(results_dir).expanduser().is_dir():
        raise ConfigError(
            f"results_dir={results_dir!r} is not a folder: give the folder `geoclip classify` wrote its results to"
        )
    return results_dir


def check_run_parameters(*, source: str, results_dir, n_boot, seed) -> None:
    """Check the parameters most chapters share, in the order a reader would fix them: ``source``
    (``"paper"`` or ``"local"``), ``results_dir`` (:func:`check_results_dir`), ``n_boot`` (an integer ≥ 1)
    and ``seed`` (an integer ≥ 0).

    Raises
    ------
    ConfigError
        One sentence naming the first parameter that is wrong.

    Example
    -------
    >>> check_run_parameters(source="paper", results_dir=None, n_boot=1000, seed=0)
    >>> check_run_parameters(source="paper", results_dir=None, n_boot=-5, seed=0)
    Traceback (most recent call last):
    ...
    geoclip_utils.errors.ConfigError: n_boot=-5 is not allowed: use an integer of at least 1
    """
    check_choice(
        "source", source, ["paper", "local"], hint="'paper' reads the authors' files, 'local' your runs"
    )
    check_results_dir(results_dir, source)
    check_number("n_boot", n_boot, minimum=1, integer=True)
    check_number("seed", seed, minimum=0, integer=True)


def check_positive(name: str, value) -> float:
    """Check a numeric chapter parameter that must be greater than zero (a distance, a radius).

    Raises
    ------
    ConfigError
        One sentence naming the parameter, its value and what is allowed.

    Example
    -------
    >>> check_positive("dedupe_km", 1.0)
    1.0
    >>> check_positive("dedupe_km", 0)
    Traceback (most recent call last):
    ...
    geoclip_utils.errors.ConfigError: dedupe_km=0 is not allowed: use a number greater than 0
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and bool(np.isfinite(value))
    if not ok or value <= 0:
        raise ConfigError(f"{name}={value!r} is not allowed: use a number greater than 0")
    return value


def check_label_set(
    name: str, *, parameter: str = "label_set", chapter: str = "", coordinates: bool = False, countries=None
):
    """Check a label-set parameter up front: registered, with coordinates (``coordinates=True``) and of
    countries (``countries=True``) when the chapter needs them.

    Returns
    -------
    The registry record (:class:`geoclip_utils.experiments.LabelSet`).

    Raises
    ------
    ConfigError
        One sentence naming the parameter, the value, the label sets the chapter takes and the chapter
        that analyses the set instead (from the registry's experiments of that label set).

    Example
    -------
    >>> check_label_set("US_states_max100", chapter="data", coordinates=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geoclip_utils.errors.ConfigError: label_set='US_states_max100' has no coordinates; the data chapter takes [...]; the below_country chapter analyses it
    """
    from . import experiments

    sets = experiments.label_sets()
    fits = [
        n
        for n, s in sets.items()
        if (not coordinates or s.coordinates) and (countries is None or s.countries == countries)
    ]
    here = f"the {chapter} chapter" if chapter else "this step"
    if name not in sets:
        raise ConfigError(f"{parameter}={name!r} is not a registered label set; {here} takes {fits}")
    if name not in fits:
        ls = sets[name]
        why = "has no coordinates" if coordinates and not ls.coordinates else f"is a set of {ls.place} labels"
        others = sorted(
            {e.chapter for e in experiments.experiments().values() if e.label_set == name and e.chapter}
        )
        instead = f"; the {' and '.join(others)} chapter analyses it" if others else ""
        raise ConfigError(f"{parameter}={name!r} {why}; {here} takes {fits}{instead}")
    return sets[name]
