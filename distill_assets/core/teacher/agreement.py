"""How often an LLM teacher disagrees with the offline rule teacher on the same texts."""

from __future__ import annotations

import pandas as pd

from distill_assets.core.common.compare import disagreement_rate
from distill_assets.core.teacher.rule_teacher import GazetteerTeacher


def gazetteer_disagreement(labels: pd.DataFrame) -> float:
    """Share of rows where any normalised field differs from the rule teacher's label, over the
    rows the rule teacher settles (an ambiguous or region-less text has no reference answer)."""
    teacher = GazetteerTeacher()
    ref_rows = []
    for i, t in zip(labels["id"], labels["text"], strict=True):
        label, status, _detail = teacher.label_with_status(t)
        if status == "ok":
            ref_rows.append({"id": i, **label})
    if not ref_rows:
        return 0.0
    ref = pd.DataFrame(ref_rows)
    kept = labels.loc[labels["id"].astype(str).isin(ref["id"].astype(str)).to_numpy()]
    return disagreement_rate(kept, ref)
