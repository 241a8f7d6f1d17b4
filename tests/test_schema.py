"""geoclip_utils.schema: validation and the Parquet round trip."""

from __future__ import annotations

import math

import pytest

from geoclip_utils.errors import DataError
from geoclip_utils.schema import make_predictions, read_predictions, save_predictions


def test_round_trip_keeps_attrs(tmp_path):
    df = make_predictions(
        ["a", "b"],
        ["X", "Y"],
        [("X", "Y"), ("Y", "X")],
        [(0.7, 0.3), (0.6, 0.4)],
        experiment="demo",
        source="local",
    )
    p = save_predictions(df, tmp_path / "sub" / "demo.parquet")
    back = read_predictions(p)
    assert back.attrs == {"experiment": "demo", "source": "local", "k": 2}
    assert back["top_labels"].tolist() == [("X", "Y"), ("Y", "X")]
    assert back["top_probs"].iloc[1] == (0.6, 0.4)
    assert not list((tmp_path / "sub").glob("*.tmp"))


def test_missing_probs_are_nan():
    df = make_predictions(["a"], ["X"], [("X",)], experiment="e", source="paper")
    assert math.isnan(df["top_probs"].iloc[0][0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(image_id=["a", "a"], gold=["X", "X"], top_labels=[("X",), ("X",)]), "duplicated image ids"),
        (dict(image_id=["a", "b"], gold=["X", "X"], top_labels=[("X",), ("X", "Y")]), "row 1 has 2 labels"),
        (dict(image_id=["a"], gold=["X", "Y"], top_labels=[("X",)]), "lengths differ"),
        (dict(image_id=[], gold=[], top_labels=[]), "empty"),
    ],
)
def test_validation_errors(kwargs, match):
    with pytest.raises(DataError, match=match):
        make_predictions(**kwargs, experiment="bad", source="local")


def test_corrupt_parquet(tmp_path):
    p = tmp_path / "x.parquet"
    p.write_bytes(b"not parquet")
    with pytest.raises(DataError, match="not readable Parquet"):
        read_predictions(p)
