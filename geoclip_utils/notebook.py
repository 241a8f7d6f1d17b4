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


def format_points(
    value: float, lo: float | None = None, hi: float | None = None, digits: int = 1, unit: str = " points"
) -> str:
    """A difference of two shares in percentage points, the one way chapters print one (a share is printed
    with ``%``, a difference of shares with "points").

    Parameters
    ----------
    value : the difference, as a difference of shares (``-0.066`` is 6.6 points down).
    lo, hi : its 95 % interval, if any.
    digits : decimals.
    unit : what follows the value (``""`` for a bare number).

    Example
    -------
    >>> format_points(-0.0659)
    '-6.6 points'
    >>> format_points(-0.0659, -0.0727, -0.0596, digits=2)
    '-6.59 points (95% CI -7.27 – -5.96)'
    >>> format_points(0.0), format_points(-0.00003)
    ('0.0 points', '0.0 points')
    """

    def pts(x: float) -> str:
        text = f"{100 * x:+.{digits}f}"
        return text[1:] if float(text) == 0 else text  # no sign on a zero

    text = f"{pts(value)}{unit}"
    if lo is None or hi is None:
        return text
    return f"{text} (95% CI {pts(lo)} – {pts(hi)})"


def points(**values: float) -> dict:
    """Differences of shares as percentage points for the prose: each ``name`` becomes ``name_pts`` (times
    100), glued and written ``{glue:text}`name_pts:+.1f` points``.

    Example
    -------
    >>> points(diff=-0.0659, diff_lo=-0.0727)
    {'diff_pts': -6.59, 'diff_lo_pts': -7.27}
    """
    return {f"{k}_pts": round(100 * float(v), 10) for k, v in values.items()}


#: What :func:`paired_glue` can publish from a paired comparison (A against B on the same images).
_PAIRED_FIELDS = {
    "n": lambda p: p.n,
    "a": lambda p: p.accuracy_a,
    "a_lo": lambda p: p.accuracy_a_ci95[0],
    "a_hi": lambda p: p.accuracy_a_ci95[1],
    "b": lambda p: p.accuracy_b,
    "b_lo": lambda p: p.accuracy_b_ci95[0],
    "b_hi": lambda p: p.accuracy_b_ci95[1],
    "diff": lambda p: p.diff,
    "diff_abs": lambda p: abs(p.diff),
    "diff_lo": lambda p: p.diff_ci95[0],
    "diff_hi": lambda p: p.diff_ci95[1],
    "p": lambda p: p.mcnemar_p,
    "p_text": lambda p: p.p_text,
    "only_a": lambda p: p.only_a,
    "only_b": lambda p: p.only_b,
}


def paired_glue(comparison, /, **names: str) -> dict:
    """The numbers of a paired comparison (:class:`geoclip_utils.stats.PairedComparison`) under the glue
    names a chapter quotes: the one place a comparison is unpacked for the prose.

    Each keyword is a field and its value the glue name: ``n``, ``a``, ``a_lo``, ``a_hi`` (A's accuracy and
    its 95 % interval), ``b``, ``b_lo``, ``b_hi``, ``diff`` (B − A), ``diff_abs``, ``diff_lo``, ``diff_hi``,
    ``p`` (McNemar), ``p_text`` (its wording), ``only_a``, ``only_b`` (discordant images); ``diff_pts``,
    ``diff_lo_pts`` and ``diff_hi_pts`` give the difference in percentage points under ``<name>_pts`` (as
    :func:`points`). A ``comparison`` of ``None`` (one that could not be made) gives NaN for every number.

    Example
    -------
    >>> from geoclip_utils.stats import paired
    >>> c = paired(np.array([1, 0, 1, 1], bool), np.array([1, 1, 1, 1], bool), n_boot=10)
    >>> paired_glue(c, b="stage2", diff_pts="gain", only_b="only_stage2")
    {'stage2': 1.0, 'gain_pts': 25.0, 'only_stage2': 1}
    """
    p = comparison
    out = {}
    for field, name in names.items():
        base = field.removesuffix("_pts")
        if base not in _PAIRED_FIELDS:
            known = [*_PAIRED_FIELDS, "diff_pts", "diff_lo_pts", "diff_hi_pts"]
            raise TypeError(f"paired_glue: unknown field {field!r}; known: {', '.join(known)}")
        if field == base:
            out[name] = float("nan") if p is None else _PAIRED_FIELDS[field](p)
        elif base.startswith("diff") and base != "diff_abs":
            out.update(points(**{name: float("nan") if p is None else _PAIRED_FIELDS[base](p)}))
        else:
            raise TypeError(f"paired_glue: only a difference has points, not {field!r}")
    return out


def candidates_words(n_candidates: int, n_outside: int) -> str:
    """What a country run could answer, against the photos' countries, for the sentence "CLIP chooses among
    …": its ``n_candidates`` candidate countries, ``n_outside`` of them without photos.

    Example
    -------
    >>> candidates_words(115, 0)
    'the 115 countries of the test set only'
    >>> candidates_words(167, 52)
    '167 countries, 52 of them without photos in the test set'
    """
    if n_outside == 0:
        return f"the {n_candidates:,} countries of the test set only"
    return f"{n_candidates:,} countries, {n_outside:,} of them without photos in the test set"


def count_words(n: int, one: str, many: str | None = None, *, zero: str = "no") -> str:
    """A count with its noun, singular or plural: ``count_words(1, "photo")`` → ``"1 photo"``,
    ``count_words(0, "photo")`` → ``"no photos"``, ``count_words(1200, "photo")`` → ``"1,200 photos"``.

    Example
    -------
    >>> count_words(1, "country", "countries"), count_words(0, "country", "countries")
    ('1 country', 'no countries')
    """
    many = many or one + "s"
    if n == 0:
        return f"{zero} {many}"
    return f"{n:,} {one if n == 1 else many}"


def join_words(items, *, empty: str = "none") -> str:
    """Items in prose: ``"A"``, ``"A and B"``, ``"A, B and C"``; ``empty`` for none.

    Example
    -------
    >>> join_words(["Kuwait"]), join_words(["Kuwait", "Georgia"]), join_words([])
    ('Kuwait', 'Kuwait and Georgia', 'none')
    """
    items = [str(i) for i in items]
    if not items:
        return empty
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def tied_at(values: pd.Series, end: str = "max", digits: int = 2, limit: int = 3) -> str:
    """The labels at one end of a table column, with every label tied there at the printed precision: the
    best or worst of a ranking in prose (``"Kuwait and Georgia"`` when both show F1 0.00).

    Parameters
    ----------
    values : scores indexed by label.
    end : ``"max"`` or ``"min"``.
    digits : decimals the prose prints (labels equal at that precision are tied).
    limit : name at most this many; more ties read ``"Kuwait, Georgia, Mali and 4 others"``.

    Raises
    ------
    ConfigError
        For an empty series or an unknown ``end``.

    Example
    -------
    >>> s = pd.Series({"UK": 0.9, "Kuwait": 0.0, "Georgia": 0.001, "Mali": 0.2})
    >>> tied_at(s, "min"), tied_at(s, "max")
    ('Georgia and Kuwait', 'UK')
    """
    if end not in ("max", "min"):
        raise ConfigError(f"tied_at: end must be 'max' or 'min', got {end!r}")
    shown = values.dropna().round(digits)
    if shown.empty:
        raise ConfigError("tied_at: no values")
    target = shown.max() if end == "max" else shown.min()
    names = sorted(str(k) for k in shown.index[shown == target])
    if len(names) > limit:
        return ", ".join(names[:limit]) + f" and {len(names) - limit} others"
    return join_words(names)


def like_for_like_sentence(r, a_name: str, b_name: str, unit: str = "labels") -> str:
    """Whether two runs scored on the same photos could give the same answers, in words and numbers: the
    sentence every comparison of two runs opens with.

    Parameters
    ----------
    r : a :class:`geoclip_utils.stats.RestrictedComparison` of the two runs.
    a_name, b_name : how the prose names run A and run B.
    unit : what a label is, plural (``"countries"``).

    Example
    -------
    >>> from geoclip_utils.stats import RestrictedComparison, paired
    >>> p = paired([1, 0], [1, 0], n_boot=10)
    >>> r = RestrictedComparison(2, 3, 3, 3, 0, 0, 0, 0, 0, p, p, p)
    >>> like_for_like_sentence(r, "A", "B")
    'Both runs scored the same 2 photos and could give the same 3 labels, so they are compared like for like.'
    """
    if r.a_labels == r.b_labels == r.labels:
        return (
            f"Both runs scored the same {r.n:,} photos and could give the same {r.labels:,} {unit}, so they are "
            "compared like for like."
        )
    parts = [
        f"Both runs scored the same {r.n:,} photos, but they could not give the same answers: {a_name} could "
        f"answer {r.a_labels:,} {unit}, {b_name} {r.b_labels:,}, and {r.labels:,} of them are common to both."
    ]
    for name, other, n_out in ((b_name, a_name, r.b_outside), (a_name, b_name, r.a_outside)):
        if n_out:
            parts.append(
                f"{count_words(n_out, 'first answer')} of {name} ({n_out / r.n:.1%} of the photos) "
                f"{'names' if n_out == 1 else 'name'} {unit} that {other} could not give."
            )
    if r.a_outside == 0 and r.b_outside == 0:
        parts.append("Neither run gave a first answer outside the common labels.")
    if r.gold_outside:
        labels = r.gold_outside_labels
        of = f" (of {join_words(labels)})" if 0 < len(labels) <= 3 else ""
        one = r.gold_outside == 1
        parts.append(
            f"{count_words(r.gold_outside, 'photo')}{of} {'has' if one else 'have'} a true label only one of the "
            f"runs could answer; restricted to the common labels, {'it is' if one else 'they are'} wrong for both."
        )
    return " ".join(parts)


def restricted_sentence(r, a_name: str, b_name: str, unit: str = "labels", top: str = "top-5") -> str:
    """The comparison of two runs restricted to the labels both could answer, in words and numbers: each
    run's accuracy (a range where its stored answers run out of common labels), the difference in points and
    the verdict its 95 % limits allow.

    Parameters
    ----------
    r : a :class:`geoclip_utils.stats.RestrictedComparison`.
    a_name, b_name : how the prose names run A and run B (differences are B − A).
    unit : what a label is, plural.
    top : what the runs store, for the sentence on run-outs (``"top-5"``, ``"first answer"``).
    """

    def acc(lo: float, hi: float) -> str:
        return f"{lo:.1%}" if round(lo, 4) == round(hi, 4) else f"between {lo:.1%} and {hi:.1%}"

    a_hi, b_hi = r.low.accuracy_a, r.high.accuracy_b
    text = (
        f"Restricted to the {r.labels:,} {unit} both could answer, {a_name} is right for "
        f"{acc(r.point.accuracy_a, a_hi)} of the photos and {b_name} for {acc(r.point.accuracy_b, b_hi)}"
    )
    ran = [(n, name) for n, name in ((r.a_ran_out, a_name), (r.b_ran_out, b_name)) if n]
    if ran:
        who = " and ".join(f"{count_words(n, 'photo')} of {name}" for n, name in ran)
        text += (
            f" (for {who}, none of the stored answers, the {top}, is one of the common {unit}: the restricted "
            "answer is unknown, counted wrong at one end of the range and right, where the true label was a "
            "candidate, at the other)"
        )
    lo, hi = r.diff_bounds
    ci_lo, ci_hi = r.diff_bounds_ci95
    if r.exact:
        text += f". The difference is {format_points(r.point.diff, *r.point.diff_ci95)}"
    else:
        text += (
            f". The difference lies between {format_points(lo, unit='')} and {format_points(hi)} (95 % limits "
            f"{format_points(ci_lo, unit='')} and {format_points(ci_hi, unit='')})"
        )
    verdict = word_for_interval(
        ci_lo,
        ci_hi,
        f"{b_name} is worse like for like",
        "like for like, the stored answers cannot tell which run is better",
        f"{b_name} is better like for like",
    )
    return f"{text}: {verdict}."
