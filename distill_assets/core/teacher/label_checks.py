"""Plain check logic over label frames (the Dagster checks in defs/checks.py wrap these)."""

from __future__ import annotations

import pandas as pd

from distill_assets.core.common.schema import FIELDS

OK_STATUSES = ("ok", "repaired")


def failure_rate(labels: pd.DataFrame) -> float:
    if len(labels) == 0:
        return 0.0
    ok = labels["status"].isin(OK_STATUSES).to_numpy()
    return float(1.0 - ok.mean())


def exact_vs_gold(raw: pd.DataFrame, labels: pd.DataFrame) -> float | None:
    """Share of rows whose six labelled fields all equal the gold ones; None without gold."""
    gold_cols = [f"gold_{f}" for f in FIELDS]
    if not set(gold_cols) <= set(raw.columns) or len(raw) == 0:
        return None
    merged = raw[["id", *gold_cols]].merge(labels[["id", *FIELDS]], on="id", how="left")
    equal = pd.Series(True, index=merged.index)
    for f in FIELDS:
        equal &= merged[f].fillna("").astype(str) == merged[f"gold_{f}"].fillna("").astype(str)
    return float(equal.mean())


def gazetteer_disagreement(labels: pd.DataFrame) -> float:
    """How often an LLM teacher disagrees with the offline gazetteer teacher."""
    from distill_assets.core.dataset.clean import disagreement_rate
    from distill_assets.core.regions.gazetteer import GazetteerTeacher

    teacher = GazetteerTeacher()
    ref = pd.DataFrame(
        [{"id": i, **teacher.label(t)} for i, t in zip(labels["id"], labels["text"], strict=True)]
    )
    return disagreement_rate(labels, ref)
