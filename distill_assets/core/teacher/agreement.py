"""How often an LLM teacher disagrees with the offline rule teacher on the same texts."""

from __future__ import annotations

import pandas as pd

from distill_assets.core.common.compare import disagreement_rate
from distill_assets.core.teacher.rule_teacher import GazetteerTeacher


def gazetteer_disagreement(labels: pd.DataFrame) -> float:
    """Share of rows where any normalised field differs from the rule teacher's label."""
    teacher = GazetteerTeacher()
    ref = pd.DataFrame(
        [{"id": i, **teacher.label(t)} for i, t in zip(labels["id"], labels["text"], strict=True)]
    )
    return disagreement_rate(labels, ref)
