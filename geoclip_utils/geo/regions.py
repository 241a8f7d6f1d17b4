"""Region taxonomies: UN M49 regions of countries, and the comparison of the authors' two hand-made lists."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..names import country_converter, to_iso3

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["M49_REGION", "un_regions", "RegionMapComparison", "compare_region_maps"]


#: UN M49 sub-region (or intermediate region, as country_converter names it) → M49 region.
M49_REGION: dict[str, str] = {
    "Northern Africa": "Africa",
    "Eastern Africa": "Africa",
    "Middle Africa": "Africa",
    "Southern Africa": "Africa",
    "Western Africa": "Africa",
    "Caribbean": "Americas",
    "Central America": "Americas",
    "South America": "Americas",
    "Northern America": "Americas",
    "Central Asia": "Asia",
    "Eastern Asia": "Asia",
    "South-eastern Asia": "Asia",
    "Southern Asia": "Asia",
    "Western Asia": "Asia",
    "Eastern Europe": "Europe",
    "Northern Europe": "Europe",
    "Southern Europe": "Europe",
    "Western Europe": "Europe",
    "Australia and New Zealand": "Oceania",
    "Melanesia": "Oceania",
    "Micronesia": "Oceania",
    "Polynesia": "Oceania",
    "Antarctica": "Antarctica",
}


@functools.cache
def _m49_table() -> dict[str, str]:
    df = country_converter().data
    return {
        str(i): str(s)
        for i, s in zip(df["ISO3"], df["UNregion"], strict=True)
        if isinstance(s, str) and s in M49_REGION
    }


def un_regions(iso3s: Iterable[str]) -> pd.DataFrame:
    """UN M49 region and sub-region of ISO-3 codes (the default region taxonomy).

    ``subregion`` is country_converter's ``UNregion``: the M49 sub-region, or the intermediate region
    where M49 has one (Caribbean, Central America, South America; the African ones), so Latin America
    is split as GeoGuessr players would expect. ``region`` is the M49 region (Africa, Americas, Asia,
    Europe, Oceania; Antarctica on its own). Unknown or empty codes give ``""``.

    Example
    -------
    >>> un_regions(["FRA", "BRA"]).to_dict("list")
    {'iso3': ['FRA', 'BRA'], 'region': ['Europe', 'Americas'], 'subregion': ['Western Europe', 'South America']}
    """
    import pandas as pd

    values = iso3s if isinstance(iso3s, pd.Series | np.ndarray) else list(iso3s)
    pos, uniq = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    # computed once per distinct value, then spread (a million points cost one array lookup each)
    codes = np.array([c if isinstance(c, str) else "" for c in uniq], dtype=object)
    table = _m49_table()
    sub = np.array([table.get(c, "") for c in codes], dtype=object)
    region = np.array([M49_REGION.get(s, "") for s in sub], dtype=object)
    return pd.DataFrame({"iso3": codes[pos], "region": region[pos], "subregion": sub[pos]}, copy=False)


class RegionMapComparison(NamedTuple):
    """Result of :func:`compare_region_maps`."""

    countries: pd.DataFrame
    regions: pd.DataFrame


def compare_region_maps(
    a: dict[str, list[str]] | None = None,
    b: dict[str, list[str]] | None = None,
    names: tuple[str, str] = ("country_to_region", "region_to_country"),
) -> RegionMapComparison:
    """Compare two region → countries maps (default: the authors' two hand lists).

    Parameters
    ----------
    a, b : region → list of country names; default ``data.load_region_map(names[0])`` and ``names[1]``.
    names : labels of the two maps in the output.

    Returns
    -------
    ``countries``: one row per country in either map: ``country``, ``iso3``, ``regions_a``, ``regions_b``
    (tuples, file order), ``n_a``, ``n_b`` (how many regions list it; > 1 is an overlap), ``same``
    (the two maps put it in the same set of regions), ``un_subregion``.
    ``regions``: one row per region in either map: ``region``, ``n_a``, ``n_b``, ``only_in_a``,
    ``only_in_b`` (country names in one map's list of that region and not the other's).
    The frames' ``attrs["names"]`` holds ``names``.
    """
    import pandas as pd

    from .. import data

    a = data.load_region_map(names[0]) if a is None else a
    b = data.load_region_map(names[1]) if b is None else b
    inv_a, inv_b = data.regions_of(a), data.regions_of(b)
    countries = sorted(set(inv_a) | set(inv_b))
    iso = to_iso3(countries, strict=False)
    df = pd.DataFrame(
        {
            "country": countries,
            "iso3": iso,
            "regions_a": [inv_a.get(c, ()) for c in countries],
            "regions_b": [inv_b.get(c, ()) for c in countries],
        }
    )
    df["n_a"] = df["regions_a"].map(len)
    df["n_b"] = df["regions_b"].map(len)
    df["same"] = [set(x) == set(y) for x, y in zip(df["regions_a"], df["regions_b"], strict=True)]
    df["un_subregion"] = un_regions(df["iso3"])["subregion"].to_numpy()
    rows = []
    for r in list(a) + [r for r in b if r not in a]:
        sa, sb = set(a.get(r, [])), set(b.get(r, []))
        rows.append(
            (
                r,
                len(sa) if r in a else 0,
                len(sb) if r in b else 0,
                tuple(sorted(sa - sb)),
                tuple(sorted(sb - sa)),
            )
        )
    regions = pd.DataFrame(rows, columns=["region", "n_a", "n_b", "only_in_a", "only_in_b"])
    df.attrs["names"] = regions.attrs["names"] = names
    return RegionMapComparison(df, regions)
