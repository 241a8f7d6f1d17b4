"""Synthetic LAION-like captions for demos, tests and the caption benchmark.

Products, stock photos, travel pictures naming places (countries, look-alike names, cities), long keyword
lists, non-ASCII text, HTML entities and empty lines, in roughly the proportions of a LAION shard. The
counts of real shards differ; the *ratio* of two counters measured on the same file does not depend on it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path

from .._io import atomic_write

__all__ = ["COUNTRIES", "generate_captions"]


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

    def write(fh) -> None:
        batch = []
        for _ in range(n):
            batch.append(_caption(rng, labels, place_rate))
            if len(batch) >= 10_000:
                fh.write(("\n".join(batch) + "\n").encode("utf-8"))
                batch = []
        if batch:
            fh.write(("\n".join(batch) + "\n").encode("utf-8"))

    return atomic_write(path, write)
