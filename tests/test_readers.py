"""Readers of user files reject what they cannot read unambiguously, naming the file, the line as an editor
counts it, and the value — and read well-formed files exactly. One property test per reader feeds random
malformed rows: the reader must fail on the right line, or return the right result; never a shifted column."""

from __future__ import annotations

import math
import string

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoclip_utils.errors import DataError, InputError
from geoclip_utils.labels import read_gold_csv, read_ids, read_labels
from geoclip_utils.schema import make_predictions, read_predictions, save_predictions

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ids_st = st.lists(
    st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=12),
    min_size=1,
    max_size=15,
    unique=True,
)
labels_st = st.lists(
    st.sampled_from(["France", "Spain", "Côte d'Ivoire", "Japan", "New Zealand"]), min_size=1, max_size=15
)


def _write(tmp_path, name: str, text: str):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# --------------------------------------------------------------------------- the strict CSV reader
def test_extra_field_is_an_error_not_a_shift(tmp_path):
    p = _write(tmp_path, "g.csv", "image_id,label\n\nabc,France,extra\n")
    with pytest.raises(
        InputError,
        match=r"line 3 has 3 fields but the header \(line 1\) has 2: .* \(the extra value is 'extra'\)",
    ):
        read_gold_csv(p)


def test_other_delimiter_is_named(tmp_path):
    p = _write(tmp_path, "g.csv", "image_id;label\na;France\n")
    with pytest.raises(InputError, match="line 1 is delimited by ';', expected ','"):
        read_gold_csv(p)


def test_not_utf8_and_missing(tmp_path):
    p = tmp_path / "g.csv"
    p.write_bytes(b"image_id,label\na,Fran\xe7e\n")
    with pytest.raises(InputError, match=r"g.csv: line 2 is not UTF-8 text \(byte 0xe7 at column 7\)"):
        read_gold_csv(p)
    with pytest.raises(InputError, match="does not exist"):
        read_gold_csv(tmp_path / "nope.csv")


# --------------------------------------------------------------------------- gold CSV
def test_gold_csv_header_or_two_columns(tmp_path):
    a = read_gold_csv(_write(tmp_path, "a.csv", "label,image_id,note\nFrance,x1,ok\nSpain,x2,\n"))
    assert a.to_dict("list") == {"image_id": ["x1", "x2"], "label": ["France", "Spain"]}
    b = read_gold_csv(_write(tmp_path, "b.csv", "x1,France\n\nx2,Spain\n"))
    assert b["label"].tolist() == ["France", "Spain"]
    with pytest.raises(InputError, match="line 1 has 3 fields; give a header"):
        read_gold_csv(_write(tmp_path, "c.csv", "x1,France,extra\nx2,Spain,extra\n"))
    with pytest.raises(InputError, match="line 3 has a blank label"):
        read_gold_csv(_write(tmp_path, "d.csv", "image_id,label\nx1,France\nx2, \n"))
    with pytest.raises(InputError, match=r"'x1' appears 2 times \(lines 2, 4\)"):
        read_gold_csv(_write(tmp_path, "e.csv", "image_id,label\nx1,France\n\nx1,Spain\n"))


@SETTINGS
@given(ids=ids_st, data=st.data())
def test_gold_csv_property(tmp_path, ids, data):
    labels = [data.draw(st.sampled_from(["France", "Spain", "Japan"])) for _ in ids]
    lines = ["image_id,label"] + [f"{i},{lab}" for i, lab in zip(ids, labels, strict=True)]
    blanks = data.draw(st.sets(st.integers(1, len(lines)), max_size=3))
    for b in sorted(blanks, reverse=True):  # blank lines anywhere after the header
        lines.insert(b, "")
    kind = data.draw(st.sampled_from(["ok", "extra", "short"]))
    bad_line = None
    if kind != "ok":
        data_rows = [n for n, line in enumerate(lines) if line and n > 0]
        j = data.draw(st.sampled_from(data_rows))
        lines[j] = lines[j] + ",oops" if kind == "extra" else lines[j].split(",")[0]
        bad_line = j + 1
    p = _write(tmp_path, "gold.csv", "\n".join(lines) + "\n")
    if kind == "ok":
        got = read_gold_csv(p)
        assert got["image_id"].tolist() == ids and got["label"].tolist() == labels
    else:
        with pytest.raises(InputError, match=f"line {bad_line} has"):
            read_gold_csv(p)


# --------------------------------------------------------------------------- id lists
@SETTINGS
@given(ids=ids_st, data=st.data())
def test_id_list_property(tmp_path, ids, data):
    header = data.draw(st.sampled_from(["image_id", "id,label", None]))
    body = [f"{i},x" if header == "id,label" else i for i in ids]
    lines = ([header] if header else []) + body
    for b in sorted(data.draw(st.sets(st.integers(1, len(lines)), max_size=3)), reverse=True):
        lines.insert(b, "  ")
    kind = data.draw(st.sampled_from(["ok", "extra", "dup"]))
    rows = [n for n, line in enumerate(lines) if line.strip() and (n > 0 or not header)]
    j = data.draw(st.sampled_from(rows))
    if kind == "extra":
        lines[j] += ",extra"
    elif kind == "dup":
        lines.insert(j + 1, lines[j])
    p = _write(tmp_path, "ids.csv", "\n".join(lines) + "\n")
    if kind == "ok":
        assert read_ids(p) == ids
    elif kind == "extra" and j == rows[0] and not header:  # the first row sets the width
        if len(rows) == 1:
            assert read_ids(p) == ids  # one row of two columns: a valid file
        else:
            with pytest.raises(InputError, match=rf"fields but the first row \(line {j + 1}\) has"):
                read_ids(p)
    elif kind == "extra":
        with pytest.raises(InputError, match=f"line {j + 1} has"):
            read_ids(p)
    else:
        with pytest.raises(InputError, match=rf"appears 2 times \(lines {j + 1}, {j + 2}\)"):
            read_ids(p)


def test_id_list_line_numbers_count_blank_lines(tmp_path):
    with pytest.raises(InputError, match="line 4 has a blank id"):
        read_ids(_write(tmp_path, "ids.csv", "image_id,label\n\na,France\n,Spain\n"))


# --------------------------------------------------------------------------- label files
@SETTINGS
@given(
    labels=st.lists(
        st.text(string.ascii_letters + " '-", min_size=1, max_size=10).filter(str.strip),
        min_size=1,
        max_size=10,
        unique_by=str.strip,
    ),
    data=st.data(),
)
def test_label_file_property(tmp_path, labels, data):
    lines = list(labels)
    kind = data.draw(st.sampled_from(["ok", "blank", "dup"]))
    j = data.draw(st.integers(0, len(lines) - 1))
    if kind == "blank":
        lines.insert(j, "   ")
    elif kind == "dup":
        lines.insert(j + 1, lines[j])
    p = _write(tmp_path, "labels.txt", "\n".join(lines) + "\n\n")
    if kind == "ok":
        assert read_labels(p) == [lab.strip() for lab in labels]
    elif kind == "blank":
        with pytest.raises(InputError, match=rf"blank label on line\(s\) \[{j + 1}\]"):
            read_labels(p)
    else:
        with pytest.raises(InputError, match=f"lines {j + 1} and {j + 2}"):
            read_labels(p)


# --------------------------------------------------------------------------- predictions files
def _table(**over):
    df = make_predictions(
        ["a", "b"],
        ["France", "Spain"],
        [("France", "Spain"), ("Spain", "France")],
        [(0.7, 0.2), (0.6, 0.3)],
        experiment="mine",
        source="local",
    )
    for col, values in over.items():
        df[col] = values
    return df


def _write_raw(path, df):
    out = df.copy()
    out["top_labels"] = out["top_labels"].map(list)
    out["top_probs"] = out["top_probs"].map(list)
    pq.write_table(pa.Table.from_pandas(out, preserve_index=False), path)
    return path


@pytest.mark.parametrize(
    ("over", "message"),
    [
        (
            {"top_probs": [(0.7, float("nan")), (0.6, 0.3)]},
            r"row 0 \(0-based\) has a missing \(NaN\) probability",
        ),
        ({"top_probs": [(0.7, 0.2), (1.6, 0.3)]}, r"row 1 \(0-based\) has a probability outside \[0, 1\]"),
        ({"top_probs": [(0.7, 0.2), (0.6, -0.1)]}, "outside"),
        ({"top_probs": [(0.7, 0.2), (float("inf"), 0.3)]}, "outside"),
        ({"top_probs": [(0.7, 0.5), (0.6, 0.3)]}, "summing to 1.2 > 1"),
        ({"top_labels": [("France", "France"), ("Spain", "France")]}, "names a label twice in its top-2"),
        ({"gold": ["France", ""]}, "row 1 .* has an empty gold"),
    ],
)
def test_bad_local_predictions_are_refused(tmp_path, over, message):
    p = _write_raw(tmp_path / "mine.parquet", _table(**over))
    with pytest.raises(DataError, match=message):
        read_predictions(p)


def test_predictions_without_probabilities_are_fine(tmp_path):
    p = _write_raw(tmp_path / "mine.parquet", _table(top_probs=[(math.nan, math.nan)] * 2))
    assert len(read_predictions(p)) == 2


@SETTINGS
@given(data=st.data())
def test_predictions_property(tmp_path, data):
    n = data.draw(st.integers(1, 8))
    probs = data.draw(
        st.lists(
            st.lists(
                st.one_of(st.floats(-0.5, 1.5), st.sampled_from([math.nan, math.inf])), min_size=2, max_size=2
            ),
            min_size=n,
            max_size=n,
        )
    )
    labels = [data.draw(st.sampled_from([("A", "B"), ("B", "A"), ("A", "A")])) for _ in range(n)]
    df = make_predictions(
        [f"i{k}" for k in range(n)],
        ["A"] * n,
        labels,
        [tuple(p) for p in probs],
        experiment="x",
        source="local",
    )
    p = _write_raw(tmp_path / "x.parquet", df)
    arr = np.array(probs, float)
    valid = all(len(set(t)) == 2 for t in labels) and (
        np.isnan(arr).all()
        or (
            np.isfinite(arr).all()
            and (arr >= 0).all()
            and (arr <= 1).all()
            and (arr.sum(1) <= 1 + 1e-5).all()
        )
    )
    if valid:
        back = read_predictions(p)
        assert back["top_labels"].tolist() == labels
    else:
        with pytest.raises(DataError, match=r"row \d+ \(0-based\)"):
            read_predictions(p)


def test_predictions_file_that_is_not_parquet(tmp_path):
    p = tmp_path / "x.parquet"
    p.write_text("not parquet")
    with pytest.raises(DataError, match="not readable Parquet"):
        read_predictions(p)
    pd.DataFrame({"image_id": ["a"]}).to_parquet(tmp_path / "y.parquet")
    with pytest.raises(DataError, match="missing columns"):
        read_predictions(tmp_path / "y.parquet")


def test_our_own_writer_refuses_a_bad_table(tmp_path):
    with pytest.raises(DataError, match="outside"):
        save_predictions(_table(top_probs=[(0.7, 0.2), (1.6, 0.3)]), tmp_path / "z.parquet")
    assert not (tmp_path / "z.parquet").exists()
