"""Does the wording of the prompt matter? Per-class changes between two runs on the same label set."""

from __future__ import annotations

import pandas as pd

from .. import stats

__all__ = ["class_change_table"]


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
    ra, rb = stats.per_class_report(a), stats.per_class_report(b)
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
