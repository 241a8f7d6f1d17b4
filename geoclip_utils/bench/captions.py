"""Benchmark of the caption counter against the authors' approach (``geoclip bench captions``).

One run: generate a caption file of realistic-looking captions (products, stock photos, travel
pictures naming places, long keyword lists, non-ASCII text, HTML entities, empty lines), time the
authors' per-caption loop (``clip.tokenize`` per caption, ``set``, ``issubset`` per label — as in
``notebooks/label_counts_tokens.py``) on a subset, time :func:`~geoclip_utils.captions.count_captions`
on the whole file in both modes, and check that our ``tokens`` counts equal the authors' loop on the
subset. The result is one JSON-serialisable dict.
"""

from __future__ import annotations

import os
import platform
import random
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from .captions import count_captions_report
from .errors import ConfigError

# The 115 country labels of the paper's country100 experiment (inputdata/country100.csv).
COUNTRIES = [
    "Algeria", "Argentina", "Australia", "Austria", "Azerbaijan", "Bahrain", "Bangladesh", "Barbados",
    "Belarus", "Belgium", "Bolivia", "Bosnia and Herzegovina", "Botswana", "Brazil", "Brunei", "Bulgaria",
    "Cambodia", "Canada", "Chile", "China", "Colombia", "Comoros", "Costa Rica", "Croatia", "Cuba",
    "Cyprus", "Czechia", "Côte d'Ivoire", "Democratic Republic of the Congo", "Denmark", "Dominica",
    "Ecuador", "Egypt", "El Salvador", "Estonia", "Ethiopia", "Finland", "France", "Georgia", "Germany",
    "Ghana", "Greece", "Guatemala", "Guyana", "Haiti", "Honduras", "Hungary", "India", "Indonesia", "Iran",
    "Iraq", "Ireland", "Israel", "Italy", "Japan", "Kazakhstan", "Kosovo", "Kuwait", "Kyrgyzstan", "Laos",
    "Latvia", "Lebanon", "Lesotho", "Lithuania", "Luxembourg", "Malaysia", "Malta", "Mexico", "Mongolia",
    "Morocco", "Mozambique", "Myanmar", "Namibia", "Nepal", "Netherlands", "New Zealand", "Nicaragua",
    "Nigeria", "North Macedonia", "Norway", "Oman", "Panama", "Paraguay", "Peru", "Philippines", "Poland",
    "Portugal", "Qatar", "Romania", "Russia", "Saint Lucia", "Saudi Arabia", "Senegal", "Serbia",
    "Singapore", "Slovakia", "Slovenia", "South Africa", "South Korea", "Spain", "Sri Lanka", "Suriname",
    "Sweden", "Switzerland", "Taiwan", "Tanzania", "Thailand", "Trinidad and Tobago", "Turkey", "Ukraine",
    "United Arab Emirates", "United Kingdom", "United States", "Uruguay", "Vietnam",
]  # fmt: skip

_BRANDS = ["Nike", "Adidas", "Samsung", "IKEA", "Lego", "Canon", "Sony", "Zara", "Levi's", "Apple", "Dell"]
_ADJ = [
    "vintage",
    "modern",
    "black",
    "white",
    "red",
    "blue",
    "leather",
    "wooden",
    "handmade",
    "luxury",
    "cute",
    "funny",
    "minimalist",
    "rustic",
    "large",
    "small",
    "new",
    "old",
    "beautiful",
    "cheap",
]
_PRODUCTS = [
    "shoes",
    "wallet",
    "dress",
    "t-shirt",
    "poster",
    "canvas print",
    "mug",
    "chair",
    "sofa",
    "lamp",
    "backpack",
    "watch",
    "phone case",
    "necklace",
    "ring",
    "jacket",
    "sneakers",
    "table",
]
_SUBJECTS = [
    "young woman",
    "businessman",
    "happy family",
    "cat",
    "dog",
    "little girl",
    "old man",
    "group of friends",
    "couple",
    "chef",
    "doctor",
    "student",
    "puppy",
    "bride and groom",
]
_VERBS = [
    "smiling",
    "working on laptop",
    "walking",
    "sitting",
    "running",
    "cooking",
    "reading a book",
    "looking at camera",
    "playing",
    "drinking coffee",
    "holding a sign",
]
_PLACES = [
    "in modern office",
    "on the beach",
    "in the park",
    "at home",
    "in the kitchen",
    "on white background",
    "in the city street",
    "near the lake",
    "in the mountains",
    "at sunset",
    "in a cafe",
]
_SCENES = [
    "Sunset over the old town",
    "View of the harbour",
    "Street market",
    "Mountain landscape",
    "Traditional house",
    "Beach with palm trees",
    "Cathedral square",
    "Night skyline",
    "Road trip",
    "Rice fields",
    "Desert dunes",
    "Snowy village",
    "Local food stall",
]
_CITIES = [
    "Paris",
    "Lyon",
    "Tokyo",
    "Osaka",
    "Lagos",
    "Niamey",
    "Hanoi",
    "Lima",
    "Quito",
    "Oslo",
    "Cairo",
    "Nairobi",
    "Seoul",
    "Auckland",
    "Dublin",
    "Lisbon",
    "Porto",
    "Kyiv",
    "Baku",
    "Doha",
    "Muscat",
]
_DISTRACTORS = [
    "Niger",
    "Guinea",
    "Papua New Guinea",
    "Equatorial Guinea",
    "Guinea-Bissau",
    "Dominican Republic",
    "New Mexico",
    "Georgia, USA",
    "Jordan sneakers",
    "Chile con carne",
    "Turkey dinner",
    "China plates",
    "french fries",
    "Indian food",
    "Irish pub",
    "Swiss cheese",
]
_NON_ASCII = [
    "café",
    "crème brûlée",
    "Müller",
    "São Paulo",
    "niño",
    "façade",
    "Zürich",
    "Ærø",
    "smörgåsbord",
    "“quoted”",
    "it’s",
    "2019 – 2020",
    "™",
    "®",
    "©",
    "★★★★★",
    "❤️",
    "😀",
    "東京",
    "北京 China",
    "서울",
    "Москва",
    "Россия",
    "Ελλάδα",
    "İstanbul",
    "ﬁne art",
    "ＦＵＬＬ",
    "naïve",
    "€ 19,99",
    "Â£",
    "Ã©tÃ©",
    "Cote d’Ivoire",
    "Côte d’Ivoire",
    "Réunion",
    "Curaçao",
]
_KEYWORDS = [
    "stock",
    "photo",
    "image",
    "royalty free",
    "background",
    "concept",
    "isolated",
    "texture",
    "abstract",
    "design",
    "nature",
    "travel",
    "summer",
    "holiday",
    "vacation",
    "tourism",
    "landmark",
    "architecture",
    "people",
    "lifestyle",
    "business",
    "technology",
    "food",
    "healthy",
    "fresh",
]


def _caption(rng: random.Random, labels: Sequence[str], place_rate: float = 0.16) -> str:
    r = rng.random()
    if r < 0.004:
        return rng.choice(["", "   "])
    if r < 0.02:  # long keyword list: more than 75 CLIP tokens
        words = rng.choices(_KEYWORDS + list(labels[:20]), k=rng.randint(45, 90))
        return ", ".join(words)
    # the rest: place captions (place_rate), distractors (3/8 of that), products/stock/other photos
    rest = (0.98 - place_rate * 1.375) / 0.76
    t_product = 0.02 + 0.32 * rest
    t_stock = t_product + 0.26 * rest
    t_place = t_stock + place_rate
    t_distractor = t_place + place_rate * 0.375
    if r < t_product:
        s = f"{rng.choice(_BRANDS)} {rng.choice(_ADJ)} {rng.choice(_PRODUCTS)} size {rng.randint(1, 48)}"
        if rng.random() < 0.3:
            s = "Men's " + s if rng.random() < 0.5 else "Women's " + s
    elif r < t_stock:
        s = f"{rng.choice(_SUBJECTS).capitalize()} {rng.choice(_VERBS)} {rng.choice(_PLACES)}"
    elif r < t_place:
        country = rng.choice(labels)
        form = rng.random()
        if form < 0.1:
            country = country.upper()
        elif form < 0.2:
            country = country.lower()
        s = rng.choice(
            [
                f"{rng.choice(_SCENES)} in {rng.choice(_CITIES)}, {country}",
                f"{country} travel poster, {rng.choice(_ADJ)} {rng.choice(_PRODUCTS)}",
                f"Map of {country} with flag",
                f"{rng.choice(_SCENES)} ({country}) - {rng.randint(1950, 2022)}",
                f"{country}: {rng.choice(_SCENES).lower()} #travel #{country.replace(' ', '').lower()}",
            ]
        )
    elif r < t_distractor:
        s = f"{rng.choice(_SCENES)} near {rng.choice(_DISTRACTORS)}"
    else:
        s = f"{rng.choice(_ADJ).capitalize()} {rng.choice(_PRODUCTS)} for {rng.choice(_SUBJECTS)}"
    if rng.random() < 0.10:
        s += " " + rng.choice(_NON_ASCII)
    if rng.random() < 0.01:
        s += " &amp; more"
    if rng.random() < 0.05:
        s += f" | {rng.choice(_KEYWORDS)} {rng.choice(_KEYWORDS)}"
    return s


def generate_captions(
    path: str | os.PathLike,
    n: int,
    labels: Sequence[str] = COUNTRIES,
    seed: int = 0,
    place_rate: float = 0.16,
) -> Path:
    """Write ``n`` synthetic captions, one per line (UTF-8), to ``path`` and return it.

    Parameters
    ----------
    path : str or os.PathLike
        Output text file.
    n : int
        Number of lines (a few are empty).
    labels : sequence of str
        Place names mixed into the captions.
    seed : int
        Random seed (the file is deterministic).
    place_rate : float
        Share of captions that name a label (default 0.16, place-heavy on purpose; real LAION
        captions name a country far less often). Another 3/8 of that share name look-alikes
        ("Niger", "Papua New Guinea", "Turkey dinner"); 1.6% are long keyword lists that also
        name labels.

    Returns
    -------
    Path
        The file.

    Example
    -------
    >>> generate_captions("caps.txt", 1000)  # doctest: +SKIP
    """
    rng = random.Random(seed)
    out = Path(path)
    with open(out, "w", encoding="utf-8", newline="\n") as fh:
        batch = []
        for _ in range(n):
            batch.append(_caption(rng, labels, place_rate))
            if len(batch) >= 10_000:
                fh.write("\n".join(batch) + "\n")
                batch = []
        if batch:
            fh.write("\n".join(batch) + "\n")
    return out


def authors_token_counts(path: str | os.PathLike, labels: Sequence[str]) -> dict[str, int]:
    """The authors' token-set count, as in their ``label_counts_tokens.py`` (one process).

    Label tokens: ``set(clip.tokenize(label).numpy()[0])``; for each caption line (text mode, UTF-8):
    ``set(clip.tokenize(caption).numpy()[0])``, skipping captions on which it raises (too long);
    a label counts when its set is a subset of the caption's.

    Parameters
    ----------
    path : str or os.PathLike
        Caption text file.
    labels : sequence of str
        Labels.

    Returns
    -------
    dict[str, int]
        label -> count.

    Example
    -------
    >>> authors_token_counts("caps.txt", ["France"])  # doctest: +SKIP
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import clip

    label_to_tokens = {}
    for label in labels:
        if label not in label_to_tokens:
            label_to_tokens[label] = set(clip.tokenize(label).numpy()[0])
    label_count = {label: 0 for label in label_to_tokens}
    with open(path, encoding="utf-8") as capfile:
        for caption in capfile:
            try:
                caption_tokens_set = set(clip.tokenize(caption).numpy()[0])
            except Exception:  # noqa: BLE001 - the authors used a bare except (too-long captions)
                continue
            for key, tokens in label_to_tokens.items():
                if tokens.issubset(caption_tokens_set):
                    label_count[key] += 1
    return label_count


def authors_substring_counts(path: str | os.PathLike, labels: Sequence[str]) -> dict[str, int]:
    """The authors' substring count (``LAION_label_count`` in their ``notebooks/Utils.py``).

    A caption line counts for a label when ``" " + label.lower()`` is in ``" " + line.lower()``.

    Parameters
    ----------
    path : str or os.PathLike
        Caption text file.
    labels : sequence of str
        Labels.

    Returns
    -------
    dict[str, int]
        label -> count.

    Example
    -------
    >>> authors_substring_counts("caps.txt", ["France"])  # doctest: +SKIP
    """
    keys = {" " + label.lower(): label for label in labels}
    counts = {label: 0 for label in labels}
    with open(path, encoding="utf-8") as capfile:
        for line in capfile:
            caption = " " + line.lower()
            for key, label in keys.items():
                if key in caption:
                    counts[label] += 1
    return counts


def run_caption_benchmark(
    n_captions: int = 1_000_000,
    seed_subset: int = 20_000,
    workers: int | None = None,
    labels: Sequence[str] | None = None,
    seed: int = 0,
    workdir: str | os.PathLike | None = None,
    place_rate: float = 0.16,
) -> dict:
    """Generate captions, time the authors' loop and our counter, check equality; return one dict.

    Parameters
    ----------
    n_captions : int
        Lines in the generated file (our counter runs on all of them).
    seed_subset : int
        The authors' loop is timed on the first ``seed_subset`` lines only (it is slow); our tokens
        counts on the same lines are compared with it.
    workers : int, optional
        Worker processes for our counter (default: all CPUs).
    labels : sequence of str, optional
        Labels (default: the paper's 115 countries).
    seed : int
        Generator seed.
    workdir : path, optional
        Where to write the files (default: a temporary folder, removed afterwards).
    place_rate : float
        Share of generated captions naming a label (see :func:`generate_captions`).

    Returns
    -------
    dict
        Throughputs (captions per second), speed-ups, the equality check and the setup.

    Raises
    ------
    ConfigError
        Non-positive sizes.

    Example
    -------
    >>> out = run_caption_benchmark(n_captions=50_000, seed_subset=2_000)  # doctest: +SKIP
    >>> out["tokens_equal_authors_on_subset"]  # doctest: +SKIP
    True
    """
    if n_captions < 1 or seed_subset < 1:
        raise ConfigError("n_captions and seed_subset must be positive")
    if not 0 <= place_rate <= 0.5:
        raise ConfigError(f"place_rate must be in [0, 0.5], got {place_rate}")
    seed_subset = min(seed_subset, n_captions)
    labels = list(labels or COUNTRIES)
    n_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        full = Path(tmp) / "captions.txt"
        t0 = time.perf_counter()
        generate_captions(full, n_captions, labels, seed=seed, place_rate=place_rate)
        gen_s = time.perf_counter() - t0
        subset = Path(tmp) / "subset.txt"
        with open(full, "rb") as src, open(subset, "wb") as dst:
            for i, line in enumerate(src):
                if i >= seed_subset:
                    break
                dst.write(line)

        authors_token_counts(subset, labels[:1])  # warm-up: import torch/clip outside the timing
        t0, c0 = time.perf_counter(), time.process_time()
        seed_counts = authors_token_counts(subset, labels)
        seed_s, seed_cpu = time.perf_counter() - t0, time.process_time() - c0
        seed_rate = seed_subset / seed_s
        seed_cpu_rate = seed_subset / seed_cpu

        ours_subset = count_captions_report(subset, labels, mode="tokens", workers=1, progress=False).counts
        mismatches = {k: [seed_counts[k], ours_subset[k]] for k in labels if seed_counts[k] != ours_subset[k]}
        t0 = time.perf_counter()
        sub_seed = authors_substring_counts(subset, labels)
        sub_seed_s = time.perf_counter() - t0
        sub_ours = count_captions_report(subset, labels, mode="substring", workers=1, progress=False).counts

        def timed(mode: str, w: int | None) -> dict:
            t, c = time.perf_counter(), time.process_time()
            rep = count_captions_report(full, labels, mode=mode, workers=w, progress=False)
            s, cpu = time.perf_counter() - t, time.process_time() - c
            extra = {}
            if w == 1:  # all the work is in this process: CPU time is robust to a busy machine
                extra = {
                    "cpu_seconds": round(cpu, 3),
                    "captions_per_cpu_s": round(rep.n_lines / cpu),
                    "cpu_speedup_vs_authors_tokens_loop": round(rep.n_lines / cpu / seed_cpu_rate, 1),
                }
            return {
                "workers": w if w is not None else n_cpus,
                "seconds": round(s, 3),
                "captions_per_s": round(rep.n_lines / s),
                "speedup_vs_authors_tokens_loop": round(rep.n_lines / s / seed_rate, 1),
                "mentions": sum(rep.counts.values()),
                **extra,
            }

        tokens = timed("tokens", workers)
        tokens_1 = timed("tokens", 1)
        phrase = timed("phrase", workers)
        phrase_1 = timed("phrase", 1)
        substring = timed("substring", workers)
        substring["speedup_vs_authors_substring_loop"] = round(
            substring["captions_per_s"] / (seed_subset / sub_seed_s), 1
        )
        file_bytes = full.stat().st_size
    return {
        "benchmark": "captions",
        "n_captions": n_captions,
        "file_bytes": file_bytes,
        "n_labels": len(labels),
        "place_rate": place_rate,
        "generate_seconds": round(gen_s, 2),
        "machine": {"cpus": n_cpus, "python": platform.python_version(), "platform": platform.platform()},
        "authors_loop": {
            "method": "clip.tokenize per caption + set + issubset per label (label_counts_tokens.py), "
            "1 process, timed on the first lines of the file only",
            "captions_timed": seed_subset,
            "seconds": round(seed_s, 3),
            "captions_per_s": round(seed_rate),
            "cpu_seconds": round(seed_cpu, 3),
            "captions_per_cpu_s": round(seed_cpu_rate),
        },
        "tokens": tokens,
        "tokens_1_worker": tokens_1,
        "phrase": phrase,
        "phrase_1_worker": phrase_1,
        "substring": substring,
        "tokens_equal_authors_on_subset": not mismatches,
        "subset_mismatches": mismatches,
        "substring_equal_authors_on_subset": sub_seed == sub_ours,
        "authors_substring_loop_captions_per_s": round(seed_subset / sub_seed_s),
        "note": "wall-clock throughputs include process start-up and file reading; the authors' rate "
        f"is from {seed_subset} captions, ours from all {n_captions}; cpu_* figures (1 process) do not "
        "depend on other load on the machine",
    }
