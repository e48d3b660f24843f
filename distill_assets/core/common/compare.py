"""Label frames compared field by field, after normalisation: against gold, or another teacher.

The one comparison behind the data card's "teacher vs gold", the teacher_labels metadata and the
LLM teacher's agreement with the rule teacher.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from distill_assets.core.common.columns import as_mask, pc
from distill_assets.core.common.normalize import normalize_array, normalize_phone_array
from distill_assets.core.common.schema import FIELDS, GOLD_COLUMNS


def normalize_field(field: str, values: Any) -> pa.Array:
    """A label column as compared and stored: phones digits only, every other field text."""
    return normalize_phone_array(values) if field == "phone" else normalize_array(values)


def gold_agreement(
    cols: Mapping[str, pa.Array],
    gold: Mapping[str, pa.Array],
    mask: np.ndarray | None = None,
    denominator: int | None = None,
) -> dict[str, Any]:
    """Exact match of all six fields and per-field accuracy of normalised columns vs gold.

    `mask` selects the rows that count as answered; `denominator` (default: their number) lets
    unanswered rows count as wrong.
    """
    n_rows = len(gold[FIELDS[0]])
    mask = np.ones(n_rows, dtype=bool) if mask is None else mask
    n = int(mask.sum()) if denominator is None else denominator
    if n == 0:
        return {"rows": 0, "exact": None, "per_field": dict.fromkeys(FIELDS)}
    all_eq = mask.copy()
    per: dict[str, float] = {}
    for f in FIELDS:
        eq = as_mask(pc.equal(cols[f], gold[f])) & mask
        all_eq &= eq
        per[f] = round(float(eq.sum()) / n, 6)
    return {"rows": n, "exact": round(float(all_eq.sum()) / n, 6), "per_field": per}


def teacher_vs_gold(raw: pd.DataFrame, labels: pd.DataFrame) -> float | None:
    """Share of raw rows whose label equals the gold fields (no label: wrong); None without gold."""
    if not set(GOLD_COLUMNS) <= set(raw.columns) or len(raw) == 0:
        return None
    merged = raw[["id", *GOLD_COLUMNS]].merge(labels[["id", *FIELDS]], on="id", how="left")
    cols = {f: normalize_field(f, merged[f].fillna("").astype(str)) for f in FIELDS}
    gold = {f: normalize_field(f, merged[f"gold_{f}"].fillna("").astype(str)) for f in FIELDS}
    return gold_agreement(cols, gold)["exact"]


def disagreement_rate(labels: pd.DataFrame, reference: pd.DataFrame) -> float:
    """Share of rows (joined on id) where any of the six normalised fields differ."""
    for what, frame in (("labels", labels), ("reference", reference)):
        missing = [c for c in ("id", *FIELDS) if c not in frame.columns]
        if missing:
            raise ValueError(f"{what} frame lacks columns {missing} (has {list(frame.columns)})")
    a = labels[["id", *FIELDS]].astype({"id": str})
    b = reference[["id", *FIELDS]].astype({"id": str})
    m = a.merge(b, on="id", suffixes=("", "_ref"), validate="one_to_one")
    if len(m) == 0:
        raise ValueError("labels and reference share no id")
    differ = np.zeros(len(m), dtype=bool)
    for f in FIELDS:
        x = normalize_field(f, m[f].fillna("").astype(str))
        y = normalize_field(f, m[f"{f}_ref"].fillna("").astype(str))
        differ |= ~as_mask(pc.equal(x, y))
    return float(differ.mean())
