"""The *Data* chapter: where were the photos taken? Its analyses.

Named after its chapter (``book/data.md``; it was ``data_quality``). Not :mod:`geoclip_utils.data`, which
fetches and reads the authors' files; this study only calls it (through the registry).

Owns, for a label set with coordinates (:func:`geoclip_utils.experiments.load_coordinates`):

* **balance** — photos per country (:func:`photo_counts`) and how concentrated each country's photos are:
  the *distinct places* that survive the authors' near-duplicate rule (:func:`place_spread`, through
  :func:`geoclip_utils.geo.dedupe_by_distance`);
* **label agreement** — the offline country of every photo (:func:`geoclip_utils.geo.geocode`) against the
  authors' Nominatim label (:func:`label_agreement`), and *why* each disagreement happens
  (:func:`disagreement_reasons`, one of :data:`REASONS`);
* **climates** — photos per Köppen-Geiger class (:func:`climate_counts`);
* **region taxonomies** — the authors' two hand lists against the UN M49 scheme (:func:`region_taxonomies`);
* the **sentences** of the chapter whose wording depends on the data (:func:`balance_sentence`,
  :func:`climate_balance_sentence`, :func:`summary_sentence`), each with its thresholds documented.

Does not own the geocoder, the climate map or the region lists (:mod:`geoclip_utils.geo`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import geo
from ..errors import ConfigError

__all__ = [
    "REASONS",
    "NEAR_TOWN_KM",
    "photo_counts",
    "place_spread",
    "spread_summary",
    "filtered_set_numbers",
    "balance_sentence",
    "per_country_phrase",
    "label_agreement",
    "disagreement_reasons",
    "disagreement_pairs",
    "agreement_summary",
    "agreement_by_country",
    "headline",
    "climate_counts",
    "climate_summary",
    "climate_balance_sentence",
    "region_taxonomies",
    "summary_sentence",
]

#: Why the offline country differs from the authors' label, in the order the rules are tried.
REASONS: tuple[str, ...] = (
    "no polygon within tolerance (small island, coast)",
    "disputed or special territory",
    "border: nearest town agrees with the authors",
    "border: coarse polygon, town elsewhere",
)
#: A disagreement whose nearest town is at most this far away, in the authors' country, is a border case
#: that the town settles in the authors' favour.
NEAR_TOWN_KM = 10.0
#: Pairs of codes that one source gives to a place the other gives to its neighbour (disputed areas).
_DISPUTED_PAIRS = ({"PSE", "ISR"},)
#: Codes that are special territories inside another country (the Vatican inside Rome).
_SPECIAL = ("VAT",)


def _need(df: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ConfigError(f"{what} needs the columns {missing}; it has {list(df.columns)}")


def photo_counts(df: pd.DataFrame) -> dict:
    """How many photos each country has.

    Parameters
    ----------
    df : one row per photo with ``label`` (the country).

    Returns
    -------
    ``{"n_images", "n_countries", "per_country" (median), "min_per_country", "max_per_country",
    "equal" (every country has the same number)}``.

    Raises
    ------
    ConfigError
        For an empty table or one without ``label``.

    Example
    -------
    >>> photo_counts(pd.DataFrame({"label": ["A", "A", "B", "B"]}))["equal"]
    True
    """
    _need(df, ["label"], "photo_counts")
    if df.empty:
        raise ConfigError("photo_counts: no photos")
    per = df.groupby("label").size()
    return {
        "n_images": len(df),
        "n_countries": per.size,
        "per_country": int(per.median()),
        "min_per_country": int(per.min()),
        "max_per_country": int(per.max()),
        "equal": bool(per.min() == per.max()),
    }


def place_spread(df: pd.DataFrame, radius_km: float) -> tuple[np.ndarray, pd.DataFrame]:
    """Distinct places: the photos kept by the authors' near-duplicate rule, counted per country.

    The rule (:func:`geoclip_utils.geo.dedupe_by_distance`): within a country, walk the photos in file order
    and drop every photo closer than ``radius_km`` to a photo already kept.

    Parameters
    ----------
    df : ``image_id``, ``lat``, ``lon``, ``label``, ``iso3``, in file order.
    radius_km : the near-duplicate radius.

    Returns
    -------
    keep : boolean per photo (a distinct place).
    spread : one row per country, ``label``, ``iso3``, ``photos``, ``distinct_places``, sorted by
        ``distinct_places`` (most concentrated first).
    """
    _need(df, ["image_id", "lat", "lon", "label", "iso3"], "place_spread")
    dd = geo.dedupe_by_distance(df["lat"], df["lon"], df["iso3"], radius_km=radius_km)
    keep = dd["keep"].to_numpy()
    spread = (
        df.assign(distinct_place=keep)
        .groupby(["label", "iso3"])
        .agg(photos=("image_id", "size"), distinct_places=("distinct_place", "sum"))
        .reset_index()
        .sort_values("distinct_places")
    )
    return keep, spread


def spread_summary(keep: np.ndarray, spread: pd.DataFrame, *, few: int = 10) -> dict:
    """The numbers the chapter quotes about :func:`place_spread`.

    Returns ``n_distinct``, ``share_distinct``, ``n_under_10`` (countries with fewer than ``few`` distinct
    places), ``most_conc`` / ``most_conc_n`` (fewest places) and ``least_conc`` / ``least_conc_n`` (most).
    """
    keep = np.asarray(keep, bool)
    return {
        "n_distinct": int(keep.sum()),
        "share_distinct": float(keep.mean()),
        "n_under_10": int((spread["distinct_places"] < few).sum()),
        "most_conc": spread["label"].iloc[0],
        "most_conc_n": int(spread["distinct_places"].iloc[0]),
        "least_conc": spread["label"].iloc[-1],
        "least_conc_n": int(spread["distinct_places"].iloc[-1]),
    }


def filtered_set_numbers(
    full: pd.DataFrame, filtered: pd.DataFrame, spread: pd.DataFrame | None = None, radius_km: float = 1.0
) -> dict:
    """How the authors' near-duplicate-filtered label set relates to the full one, for the chapters that show
    both (the glued numbers and one sentence each).

    The authors' script (``notebooks/distance_correction.py`` in their repository) applied the 1-km rule to
    the photos of their whole download, then drew the filtered set from what survived; so the filtered set is
    a new draw, not the distinct places of the full set.

    Parameters
    ----------
    full, filtered : the two gold tables (``image_id``, ``label``), e.g. ``country100`` and
        ``filtered_country100``.
    spread : :func:`place_spread` of ``full`` (for the distinct places of the countries the filtered set
        lacks), or ``None``. The sentences name the sets ``country100`` and ``filtered_country100``.
    radius_km : the rule's radius, for the sentence.

    Returns
    -------
    dict
        ``filt_images``, ``filt_countries``, ``filt_per_country`` (``"100 from each"`` or a range),
        ``filt_shared`` (photos also in the full set), ``filt_missing`` (countries of the full set it lacks),
        ``filt_missing_names``, ``filt_missing_places`` and ``filt_kept_places`` (median distinct places, in the
        full set, of the missing and of the kept countries; NaN without ``spread``), ``filt_sentence`` (how the
        two relate, for the Data chapter) and ``filt_caveat`` (what that does to comparing their accuracies).

    Example
    -------
    >>> full = pd.DataFrame({"image_id": ["a", "b", "c", "d"], "label": ["X", "X", "Y", "Y"]})
    >>> filt = pd.DataFrame({"image_id": ["a", "e"], "label": ["X", "X"]})
    >>> n = filtered_set_numbers(full, filt)
    >>> n["filt_shared"], n["filt_missing"], n["filt_missing_names"]
    (1, 1, 'Y')
    """
    from ..notebook import count_words, join_words

    per = filtered["label"].value_counts()
    missing = sorted(set(full["label"]) - set(filtered["label"]))
    shared = int(filtered["image_id"].isin(set(full["image_id"])).sum())
    n_f, n_c = len(filtered), int(filtered["label"].nunique())
    per_words = (
        f"{per.min():,} from each" if per.min() == per.max() else f"{per.min():,} to {per.max():,} from each"
    )
    nan = float("nan")
    if spread is not None and missing:
        is_missing = spread["label"].isin(missing)
        missing_places = (
            float(spread.loc[is_missing, "distinct_places"].median()) if is_missing.any() else nan
        )
        kept_places = (
            float(spread.loc[~is_missing, "distinct_places"].median()) if (~is_missing).any() else nan
        )
    else:
        missing_places = kept_places = nan
    sentence = (
        f"The authors' near-duplicate-filtered set (`filtered_country100`) is not the distinct places of "
        f"`country100`: it holds {n_f:,} photos, {per_words} of {count_words(n_c, 'country', 'countries')}, and "
        f"only {shared:,} of them are also `country100` photos. Their script applied the {radius_km:g}-km rule "
        "to every photo they had downloaded and drew the filtered set from what survived"
    )
    if missing:
        sentence += (
            f"; {count_words(len(missing), 'country', 'countries')} of `country100` "
            f"{'is' if len(missing) == 1 else 'are'} missing from it"
        )
        if missing_places == missing_places and kept_places == kept_places:  # not NaN
            sentence += (
                f", and in `country100` {'it has' if len(missing) == 1 else 'they have'} a median of "
                f"{missing_places:g} distinct places against {kept_places:g} for the countries kept"
            )
    sentence += "."
    caveat = (
        f"`filtered_country100` is another set of photos, not a cleaned copy of `country100`: {n_f:,} photos of "
        f"{count_words(n_c, 'country', 'countries')} ({per_words}), only {shared:,} of them shared with "
        f"`country100`, so its accuracy differs in photos and in candidates (chance 1/{n_c}) and is not "
        "comparable with the full set's"
        + (
            f"; the {count_words(len(missing), 'country', 'countries')} it lacks include {join_words(missing[:3])}"
            if missing
            else ""
        )
        + "."
    )
    return {
        "filt_images": n_f,
        "filt_countries": n_c,
        "filt_per_country": per_words,
        "filt_shared": shared,
        "filt_missing": len(missing),
        "filt_missing_names": join_words(missing, empty="none"),
        "filt_missing_places": missing_places,
        "filt_kept_places": kept_places,
        "filt_sentence": sentence,
        "filt_caveat": caveat,
    }


def balance_sentence(counts: dict, spread: pd.DataFrame) -> str:
    """The sentence on how evenly the countries are covered, worded by the numbers.

    "The same number of photos" only when every country has exactly as many (``counts["equal"]``),
    otherwise the range; "not the same spread of places" only when the countries' numbers of distinct
    places differ.

    Example
    -------
    >>> s = pd.DataFrame({"distinct_places": [3, 90]})
    >>> balance_sentence({"equal": True, "per_country": 100}, s)
    'Every country contributes the same number of photos, but not the same spread of places.'
    >>> balance_sentence({"equal": False, "min_per_country": 40, "max_per_country": 100}, s)
    'Countries contribute between 40 and 100 photos each, and not the same spread of places.'
    """
    places_differ = spread["distinct_places"].nunique() > 1
    if counts["equal"]:
        head = "Every country contributes the same number of photos"
        tail = ", but not the same spread of places." if places_differ else ", and about as many places."
    else:
        head = (
            f"Countries contribute between {counts['min_per_country']} and {counts['max_per_country']} "
            "photos each"
        )
        tail = ", and not the same spread of places." if places_differ else "."
    return head + tail


def per_country_phrase(counts: dict) -> str:
    """``"100 from each"`` when every country has as many photos, else ``"40 to 100 from each"``.

    Example
    -------
    >>> per_country_phrase({"equal": True, "per_country": 100})
    '100 from each'
    """
    if counts["equal"]:
        return f"{counts['per_country']} from each"
    return f"{counts['min_per_country']} to {counts['max_per_country']} from each"


def disagreement_reasons(
    table: pd.DataFrame, *, nearest_place_iso3: np.ndarray | None = None, near_town_km: float = NEAR_TOWN_KM
) -> pd.Series:
    """Why the offline country differs from the authors' label, one of :data:`REASONS` per row.

    The rules, tried in order:

    1. no offline country at all (``geo_iso3 == ""``): no polygon within the tolerance, e.g. a small
       island or a pier;
    2. the two codes are Israel and Palestine, or ours is the Vatican: disputed or special territory;
    3. the nearest GeoNames town is at most ``near_town_km`` away (``geo_place_km``) and lies in the
       authors' country: a border that the coarse polygons draw a little off, settled by the town in the
       authors' favour;
    4. otherwise: a border case where the coarse polygon and the nearest town both point elsewhere.

    Parameters
    ----------
    table : the disagreements, with ``iso3`` (authors), ``geo_iso3`` (ours), ``geo_place_km``, ``lat``,
        ``lon``.
    nearest_place_iso3 : the country of each row's nearest town (default: looked up with
        :func:`geoclip_utils.geo.nearest_places`).
    near_town_km : the distance of rule 3.

    Returns
    -------
    A string Series aligned with ``table``.

    Example
    -------
    >>> t = pd.DataFrame({"iso3": ["FRA", "PSE", "KHM"], "geo_iso3": ["", "ISR", "THA"],
    ...                   "geo_place_km": [50.0, 3.0, 2.0], "lat": [0.0] * 3, "lon": [0.0] * 3})
    >>> disagreement_reasons(t, nearest_place_iso3=np.array(["FRA", "PSE", "KHM"])).tolist()[1:]
    ['disputed or special territory', 'border: nearest town agrees with the authors']
    """
    _need(table, ["iso3", "geo_iso3", "geo_place_km", "lat", "lon"], "disagreement_reasons")
    if nearest_place_iso3 is None:
        if len(table):
            nearest_place_iso3 = geo.nearest_places(table["lat"], table["lon"])["place_iso3"].to_numpy()
        else:
            nearest_place_iso3 = np.array([], dtype=object)
    town = np.asarray(nearest_place_iso3, dtype=object)
    if town.shape != (len(table),):
        raise ConfigError(f"disagreement_reasons: {len(town)} nearest towns for {len(table)} rows")
    ours = table["geo_iso3"].astype(str).to_numpy()
    theirs = table["iso3"].astype(str).to_numpy()
    disputed = np.isin(ours, _SPECIAL)
    for pair in _DISPUTED_PAIRS:
        a, b = sorted(pair)
        disputed |= ((ours == a) & (theirs == b)) | ((ours == b) & (theirs == a))
    town_agrees = (table["geo_place_km"].to_numpy(float) < near_town_km) & (town == theirs)
    reason = np.select([ours == "", disputed, town_agrees], list(REASONS[:3]), default=REASONS[3])
    return pd.Series(reason, index=table.index, name="reason", dtype=object)


def label_agreement(df: pd.DataFrame, *, tolerance_km: float, border_km: float) -> pd.DataFrame:
    """Geocode every photo offline and compare with the authors' label.

    Parameters
    ----------
    df : ``lat``, ``lon``, ``iso3`` (the authors' label) and any other columns.
    tolerance_km, border_km : passed to :func:`geoclip_utils.geo.geocode`.

    Returns
    -------
    ``df`` (index reset) plus the geocoder's columns prefixed ``geo_`` (``geo_iso3``,
    ``geo_sovereign_iso3``, ``geo_method``, ``geo_place_km``, ``geo_climate``, …), ``agree`` (the
    sovereign code equals the authors' code) and ``reason`` (:func:`disagreement_reasons`, ``""`` where
    they agree).
    """
    _need(df, ["lat", "lon", "iso3"], "label_agreement")
    ours = geo.geocode(df["lat"], df["lon"], tolerance_km=tolerance_km, border_km=border_km)
    out = pd.concat([df.reset_index(drop=True), ours.add_prefix("geo_")], axis=1)
    out["agree"] = out["geo_sovereign_iso3"] == out["iso3"]
    out["reason"] = ""
    bad = ~out["agree"]
    out.loc[bad, "reason"] = disagreement_reasons(out[bad])
    return out


def disagreement_pairs(table: pd.DataFrame) -> pd.DataFrame:
    """The disagreements of :func:`label_agreement` grouped by (authors' label, ours, reason), largest first:
    ``label``, ``iso3``, ``geo_iso3``, ``reason``, ``photos``."""
    bad = table[~table["agree"]]
    return (
        bad.groupby(["label", "iso3", "geo_iso3", "reason"])
        .size()
        .rename("photos")
        .reset_index()
        .sort_values("photos", ascending=False)
    )


def agreement_summary(table: pd.DataFrame, pairs: pd.DataFrame) -> dict:
    """The numbers the chapter quotes about :func:`label_agreement`: shares, counts per geocoding method and
    per reason, and the largest group of :func:`disagreement_pairs` (``top_*``; empty when none)."""
    method = table["geo_method"]
    reason = table["reason"]
    top = pairs.iloc[0] if len(pairs) else None
    return {
        "agree": float(table["agree"].mean()),
        "agree_iso": float((table["geo_iso3"] == table["iso3"]).mean()),
        "n_disagree": int((~table["agree"]).sum()),
        "n_within": int((method == "within").sum()),
        "n_nearest": int((method == "nearest").sum()),
        "n_border": int((method == "border").sum()),
        "n_none": int((method == "none").sum()),
        "top_gold": top["label"] if top is not None else "",
        "top_ours": top["geo_iso3"] if top is not None else "",
        "top_n": int(top["photos"]) if top is not None else 0,
        "top_reason": top["reason"] if top is not None else "",
        "n_reason_border": int(reason.str.startswith("border").sum()),
        "n_reason_disputed": int((reason == REASONS[1]).sum()),
        "n_reason_none": int((reason == REASONS[0]).sum()),
    }


def agreement_by_country(table: pd.DataFrame) -> pd.DataFrame:
    """Per country, the share of its photos whose offline country equals the authors' label:
    ``label``, ``iso3``, ``agreement``."""
    return table.groupby(["label", "iso3"])["agree"].mean().rename("agreement").reset_index()


def headline(table: pd.DataFrame, radius_km: float) -> str:
    """The chapter's checked lines: photos and distinct places, agreement, photos per geocoding method.

    ``table`` is :func:`label_agreement`'s output with the ``distinct_place`` column of
    :func:`place_spread`.
    """
    agree = table["agree"]
    methods = table["geo_method"].value_counts()
    methods = methods.sort_index().sort_values(ascending=False, kind="stable")
    return "\n".join(
        [
            f"photos: {len(table)}, distinct places ({radius_km:g} km rule): {int(table['distinct_place'].sum())}",
            f"offline country = authors' label: {agree.mean():.2%} ({int(agree.sum())} of {len(table)})",
            "photos by geocoding method: " + ", ".join(f"{m} {n}" for m, n in methods.items()),
        ]
    )


def climate_counts(codes) -> pd.DataFrame:
    """Photos per Köppen-Geiger class, most common first: ``code``, ``photos``, ``group``, ``description``
    (from :func:`geoclip_utils.geo.koppen_table`)."""
    kt = geo.koppen_table().set_index("code")
    clim = pd.Series(codes).value_counts().rename("photos").reset_index()
    clim = clim.rename(columns={clim.columns[0]: "code"})
    clim["group"] = kt["group"].reindex(clim["code"]).to_numpy()
    clim["description"] = kt["description"].reindex(clim["code"]).to_numpy()
    return clim


def climate_summary(clim: pd.DataFrame) -> dict:
    """``n_climates`` (land classes), ``top_climate``, ``top_climate_desc``, ``top_climate_share``,
    ``polar_share`` of a :func:`climate_counts` table."""
    n = clim["photos"].sum()
    return {
        "n_climates": int((clim["code"] != "Ocean").sum()),
        "top_climate": clim["code"].iloc[0],
        "top_climate_desc": clim["description"].iloc[0],
        "top_climate_share": float(clim["photos"].iloc[0] / n),
        "polar_share": float(clim.loc[clim["group"] == "Polar", "photos"].sum() / n),
    }


#: :func:`climate_balance_sentence` calls the classes "far from balanced" when the most common class
#: holds at least this many times the share it would have if every class were equally common.
UNBALANCED_RATIO = 2.0


def climate_balance_sentence(summary: dict) -> str:
    """Whether the climate classes are balanced, by the share of the most common class.

    "Far from balanced" when ``top_climate_share >= UNBALANCED_RATIO / n_climates`` (the most common
    class holds at least twice its share under an even spread), else "roughly balanced".

    Example
    -------
    >>> climate_balance_sentence({"n_climates": 27, "top_climate_share": 0.19})[:40]
    'Climate classes are far from balanced, w'
    """
    even = 1 / max(summary["n_climates"], 1)
    if summary["top_climate_share"] >= UNBALANCED_RATIO * even:
        return (
            "Climate classes are far from balanced, which matters for the climate experiments: a classifier "
            "can score well by favouring the common classes."
        )
    return (
        "Climate classes are roughly balanced, so a classifier gains little by favouring the common classes."
    )


def region_taxonomies(iso3s) -> tuple[dict, pd.DataFrame]:
    """The authors' two region lists against each other and the UN M49 scheme, for the countries given.

    Returns
    -------
    numbers : ``n_regions_a``, ``n_regions_b`` (regions of ``country_to_region`` and
        ``region_to_country``), ``n_overlap_a``, ``n_overlap_b`` (countries in more than one region),
        ``n_differ`` (countries placed differently), ``n_missing_a`` (of ``iso3s``, countries in no region
        of the first list), ``missing_a_words`` (that count in a sentence, naming up to three of them),
        ``n_un_sub`` (UN sub-regions of ``iso3s``).
    table : the countries in several regions or placed differently: ``country``, ``country_to_region``,
        ``region_to_country``, ``UN sub-region``.
    """
    cmp = geo.compare_region_maps()
    c = cmp.countries
    codes = set(iso3s)
    missing = sorted(codes - set(c.loc[c["n_a"] > 0, "iso3"]))
    numbers = {
        "n_regions_a": len(cmp.regions[cmp.regions["n_a"] > 0]),
        "n_regions_b": len(cmp.regions[cmp.regions["n_b"] > 0]),
        "n_overlap_a": int((c["n_a"] > 1).sum()),
        "n_overlap_b": int((c["n_b"] > 1).sum()),
        "n_differ": int((~c["same"]).sum()),
        "n_missing_a": len(missing),
        "missing_a_words": missing_sentence(missing),
        "n_un_sub": int(geo.un_regions(sorted(codes))["subregion"].nunique()),
    }
    view = c[(c["n_a"] != 1) | (~c["same"])].copy()
    view["regions_a"] = view["regions_a"].map(", ".join)
    view["regions_b"] = view["regions_b"].map(", ".join)
    table = view[["country", "regions_a", "regions_b", "un_subregion"]].rename(
        columns={
            "regions_a": "country_to_region",
            "regions_b": "region_to_country",
            "un_subregion": "UN sub-region",
        }
    )
    return numbers, table


def missing_sentence(iso3s, limit: int = 3) -> str:
    """The countries of the experiment that sit in no region of the authors' list, in words (named when at
    most ``limit``).

    Example
    -------
    >>> missing_sentence([]), missing_sentence(["DEU"])
    ("every one of the experiment's countries is in a region of the list used", "one of the experiment's countries, Germany, is in no region of the list used")
    """
    from ..names import country_converter
    from ..notebook import join_words

    n = len(iso3s)
    if n == 0:
        return "every one of the experiment's countries is in a region of the list used"
    names = ""
    if n <= limit:
        short = country_converter().convert(list(iso3s), src="ISO3", to="name_short", not_found=None)
        names = join_words([short] if isinstance(short, str) else short)
    if n == 1:
        return f"one of the experiment's countries, {names}, is in no region of the list used"
    if names:
        return f"{n} of the experiment's countries, {names}, are in no region of the list used"
    return f"{n} of the experiment's countries are in no region of the list used"


#: :func:`summary_sentence` says the labels are reproduced "for nearly every photo" at this agreement
#: or more, "for most photos" above one half.
NEARLY_ALL = 0.95
#: :func:`summary_sentence` names the reasons, largest first, until they hold this share of the disagreements.
REASON_COVER = 0.9


def summary_sentence(counts: dict, spread: dict, agreement: dict) -> str:
    """The chapter's summary, worded by the numbers.

    * coverage: "evenly by count" only when every country has as many photos; "some countries are a
      handful of spots" when at least one country has fewer than 10 distinct places;
    * agreement: "nearly every photo" at :data:`NEARLY_ALL` or more, "most photos" above one half,
      else "fewer than half of the photos";
    * where the differences sit: the reasons (borders, disputed territory, no polygon), largest first,
      until they hold :data:`REASON_COVER` of the disagreements; "the few differences … not in the bulk
      of the data" only at an agreement of :data:`NEARLY_ALL` or more.

    Example
    -------
    >>> summary_sentence({"equal": True}, {"n_under_10": 3},
    ...                  {"agree": 0.99, "n_disagree": 10, "n_reason_border": 8, "n_reason_disputed": 2,
    ...                   "n_reason_none": 0})  # doctest: +NORMALIZE_WHITESPACE
    "The photos cover many countries evenly by count but not by place: some countries are a handful of
    spots. The authors' country labels can be reproduced offline, from the paper's own polygons, for
    nearly every photo; the few differences sit on borders and in disputed territory, not in the bulk of
    the data."
    """
    handful = spread["n_under_10"] > 0
    if counts["equal"]:
        cover = (
            "The photos cover many countries evenly by count but not by place: some countries are a handful "
            "of spots."
            if handful
            else "The photos cover many countries evenly, by count and by place: every country has at least "
            "ten distinct places."
        )
    else:
        cover = (
            "The photos cover the countries unevenly, by count and by place: some countries are a handful "
            "of spots."
            if handful
            else "The photos cover the countries unevenly by count, though every country has at least ten "
            "distinct places."
        )
    share = agreement["agree"]
    nearly = share >= NEARLY_ALL
    how = (
        "nearly every photo" if nearly else "most photos" if share > 0.5 else "fewer than half of the photos"
    )
    labels = (
        f"The authors' country labels can be reproduced offline, from the paper's own polygons, for {how}"
    )
    n = agreement["n_disagree"]
    if n == 0:
        return f"{cover} {labels}; there are no differences."
    parts = sorted(
        [
            (agreement["n_reason_border"], 0, "on borders"),
            (agreement["n_reason_disputed"], 1, "in disputed territory"),
            (agreement["n_reason_none"], 2, "off every polygon (small islands)"),
        ],
        key=lambda t: (-t[0], t[1]),
    )
    where, held = [], 0
    for k, _, text in parts:
        if k and held < REASON_COVER * n:
            where.append(text)
            held += k
    sit = where[0] if len(where) == 1 else ", ".join(where[:-1]) + " and " + where[-1]
    if nearly:
        return f"{cover} {labels}; the few differences sit {sit}, not in the bulk of the data."
    return f"{cover} {labels}; the differences sit {sit}."
