"""geoclip_utils.geo.coordinates: zero-shot coordinates (city label sets, top city and refinement, country → city)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoclip_utils.errors import ConfigError
from geoclip_utils.geo import coordinates, gazetteer
from geoclip_utils.studies import your_model


def test_predict_coordinates_top_and_refined():
    cities = pd.DataFrame({"text": ["A", "B", "C"], "lat": [0.0, 0.0, 50.0], "lon": [0.0, 10.0, 0.0]})
    p = np.array([[0.6, 0.4, 0.0], [0.0, 0.1, 0.9]])
    out = coordinates.predict_coordinates(p, cities, top_k=2)
    assert out["top_city"].tolist() == ["A", "C"]
    assert out.loc[0, "refined_lon"] == pytest.approx(4.0, abs=0.05)  # 0.6·0 + 0.4·10 on the equator
    one = coordinates.predict_coordinates(p, cities, top_k=1)
    assert np.allclose(one["refined_lat"], one["top_lat"]) and np.allclose(one["refined_lon"], one["top_lon"])
    with pytest.raises(ConfigError, match="do not match"):
        coordinates.predict_coordinates(p[:, :2], cities)


def test_hierarchical_rules_and_their_paired_comparison():
    cities = pd.DataFrame(
        {
            "text": ["Paris", "Lyon", "Madrid"],
            "cc": ["FR", "FR", "ES"],
            "lat": [48.85, 45.76, 40.42],
            "lon": [2.35, 4.83, -3.70],
            "population": [2_000_000, 500_000, 3_000_000],
        }
    )
    e = np.eye(4, dtype=np.float32)
    country_f = np.stack([e[0], e[1]])  # FR, ES
    city_f = np.stack([0.6 * e[0] + 0.8 * e[2], 0.6 * e[0] + 0.8 * e[3], e[1]])
    # image 0: clearly France, a bit Paris; image 1: France and very much Lyon
    x = np.stack([0.9 * e[0] + 0.436 * e[2], 0.5 * e[0] + 0.866 * e[3]]).astype(np.float32)
    h = coordinates.hierarchical_coordinates(x, country_f, ["FR", "ES"], city_f, cities)
    assert h["country"].tolist() == ["FR", "FR"] and h["city"].tolist() == ["Paris", "Lyon"]
    assert h["descended"].tolist() == [False, True]
    assert (h.loc[0, "always_lat"], h.loc[1, "if_better_lat"]) == (48.85, 45.76)
    fr_lat, fr_lon = gazetteer.spherical_mean([[48.85, 45.76]], [[2.35, 4.83]], [[2_000_000, 500_000]])
    assert h.loc[0, "if_better_lat"] == pytest.approx(fr_lat[0]) and h.loc[
        0, "if_better_lon"
    ] == pytest.approx(fr_lon[0])
    r = your_model.compare_rules([48.85, 45.76], [2.35, 4.83], h, 25, n_boot=50)
    assert (r.n, r.accuracy_a, r.accuracy_b, r.only_a, r.only_b) == (2, 1.0, 0.5, 1, 0)
    with pytest.raises(ConfigError, match="without a city"):
        coordinates.hierarchical_coordinates(
            x, np.stack([e[0], e[1], e[2]]), ["FR", "ES", "IT"], city_f, cities
        )


def test_city_labels_are_unique_and_readable():
    c = coordinates.city_labels(5_000_000, max_cities=10)
    assert len(c) == 10 and c["label"].is_unique and c["population"].is_monotonic_decreasing
    assert all(", " in t for t in c["text"])
    with pytest.raises(ConfigError, match="max_cities"):
        coordinates.city_labels(5_000_000, max_cities=0)
