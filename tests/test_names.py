"""Tests of geoclip_utils.names: country names to ISO-3, the label normaliser."""

from __future__ import annotations

import pytest

from geoclip_utils.errors import DataError
from geoclip_utils.names import country_converter, normalize_label, to_iso3


def test_to_iso3_known_names_and_aliases():
    assert to_iso3(["Czechia", "Russia", "United States", "South Korea", "Côte d'Ivoire"]) == [
        "CZE",
        "RUS",
        "USA",
        "KOR",
        "CIV",
    ]
    assert to_iso3(["Congo-Brazzaville", "Democratic Republic of the Congo", "Kosovo"]) == [
        "COG",
        "COD",
        "XKX",
    ]
    assert to_iso3(["other"]) == [""]


def test_to_iso3_unknown_name_is_an_error_unless_lenient():
    with pytest.raises(DataError, match="Atlantis"):
        to_iso3(["Belgium", "Atlantis"])
    assert to_iso3(["Belgium", "Atlantis"], strict=False) == ["BEL", ""]


def test_one_country_converter():
    assert country_converter() is country_converter()


@pytest.mark.parametrize(
    ("text", "kw", "want"),
    [
        ("Provence-Alpes-Côte d'Azur", {}, "provence alpes cote d azur"),
        ("  Medellín ", {}, "medellin"),
        ("São_Paulo", {}, "sao paulo"),
        ("Saint-Denis", {"keep_punctuation": True}, "saint-denis"),
        (
            "arrondissement de Menara المنارة",
            {"keep_punctuation": True, "ascii_only": True},
            "arrondissement de menara",
        ),
        ("Nyíregyháza", {"ascii_only": True}, "nyiregyhaza"),
        ("Ελλάδα", {}, "ελλαδα"),
    ],
)
def test_normalize_label(text, kw, want):
    assert normalize_label(text, **kw) == want
