"""Names of places: country name → ISO-3 code, and the one label normaliser.

Owns
    * :func:`country_converter` — the package's single ``country_converter`` instance (building one
      compiles hundreds of regular expressions, so it is made once and shared);
    * :func:`to_iso3` — country names (the authors' free text, shapefile names, …) to ISO-3 codes, with
      the documented exceptions of ``resources/country_aliases.csv`` taking precedence;
    * :func:`normalize_label` — the one way labels are normalised for matching (caption-count keys,
      GeoNames place names).

Does not own: geocoding (:mod:`geoclip_utils.geo`), the data files (:mod:`geoclip_utils.data`).
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING

from .errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["country_converter", "to_iso3", "normalize_label", "ALIASES_FILE"]

#: The documented exceptions to country_converter (name, iso3, note), shipped inside the package.
ALIASES_FILE = "country_aliases.csv"


@functools.cache
def country_converter():
    """The shared ``country_converter.CountryConverter`` (its log noise silenced)."""
    logging.getLogger("country_converter").setLevel(logging.ERROR)
    import country_converter as coco

    return coco.CountryConverter()


@functools.cache
def _aliases() -> dict[str, str]:
    import pandas as pd

    with resources.files("geoclip_utils.resources").joinpath(ALIASES_FILE).open("rb") as fh:
        df = pd.read_csv(fh, dtype=str, keep_default_na=False, comment="#")
    return dict(zip(df["name"], df["iso3"], strict=True))


def to_iso3(
    names: Sequence[str] | pd.Series, *, what: str = "country names", strict: bool = True
) -> list[str]:
    """ISO-3 codes for country names.

    Names in ``resources/country_aliases.csv`` (documented exceptions) win; the rest go through
    ``country_converter``. A name the alias table maps to an empty code (e.g. the authors' placeholder
    candidate ``"other"``) gives ``""``.

    Parameters
    ----------
    names : the names.
    what : what the names are, for the error message (e.g. the file they come from).
    strict : an unresolved name is an error (default); with ``strict=False`` it gives ``""``.

    Raises
    ------
    DataError
        With ``strict``, listing every name that could not be resolved.

    Example
    -------
    >>> to_iso3(["Czechia", "Côte d'Ivoire", "Kosovo"])
    ['CZE', 'CIV', 'XKX']
    >>> to_iso3(["Atlantis"], strict=False)
    ['']
    """
    names = [str(n) for n in names]
    uniq = sorted(set(names))
    alias = _aliases()
    todo = [n for n in uniq if n not in alias]
    out = {n: alias[n] for n in uniq if n in alias}
    if todo:
        codes = country_converter().convert(todo, to="ISO3", not_found=None)
        if isinstance(codes, str) or codes is None:
            codes = [codes]
        for n, c in zip(todo, codes, strict=True):
            if isinstance(c, str) and len(c) == 3:
                out[n] = c
    bad = [n for n in uniq if n not in out]
    if bad and strict:
        raise DataError(f"{what}: no ISO-3 code for {bad}; add them to {ALIASES_FILE} (name,iso3,note)")
    return [out.get(n, "") for n in names]


_PUNCTUATION = re.compile(r"[^\w\s]|_")


def normalize_label(text: str, *, keep_punctuation: bool = False, ascii_only: bool = False) -> str:
    """Normalise a label for matching: lower-case, accents removed, spaces collapsed.

    Parameters
    ----------
    text : the label.
    keep_punctuation : by default punctuation (hyphens, apostrophes, dots, commas, ``_``) becomes a
        space; ``True`` keeps it (GeoNames place names are matched with their punctuation).
    ascii_only : drop every character that has no ASCII decomposition (non-Latin script), not only the
        accents.

    Example
    -------
    >>> normalize_label("Provence-Alpes-Côte d'Azur")
    'provence alpes cote d azur'
    >>> normalize_label("arrondissement de Menara المنارة", keep_punctuation=True, ascii_only=True)
    'arrondissement de menara'
    """
    s = unicodedata.normalize("NFKD", str(text))
    if ascii_only:
        s = s.encode("ascii", "ignore").decode()
    else:
        s = "".join(ch for ch in s if not unicodedata.combining(ch))
    s = s.lower()
    if not keep_punctuation:
        s = _PUNCTUATION.sub(" ", s)
    return " ".join(s.split())
