"""The teacher_labels artifact: one teacher answer per raw record, as one Parquet file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from distill_assets.core.common.compare import teacher_vs_gold
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.data.raw_batch import read_raw
from distill_assets.core.teacher.labeling import label_frame
from distill_assets.core.teacher.rule_pool import label_rules_parallel
from distill_assets.core.teacher.settings import TeacherSettings

LABELS_FILE = "labels.parquet"


@dataclass
class LabelBatch:
    frame: pd.DataFrame
    ledger: dict[str, Any]
    settings: TeacherSettings
    disagreement: float | None  # an LLM teacher vs the rule teacher; None for the rule teacher
    exact_vs_gold: float | None  # None without gold

    def status_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.frame["status"].value_counts().items()}


def read_labels(labels_dir: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The labels frame; only `columns` that the file has, when given (the raw responses
    and errors are most of its bytes and cleaning needs neither)."""
    path = Path(labels_dir) / LABELS_FILE
    if columns is not None:
        have = set(pq.read_schema(path).names)
        columns = [c for c in columns if c in have]
    return pd.read_parquet(path, columns=None if columns is None else list(columns))


def label_batch(
    raw_dir: Path,
    out_dir: Path,
    settings: TeacherSettings,
    *,
    compare_with_gazetteer: bool = True,
    log: Logger = null_log,
) -> LabelBatch:
    """Label the raw batch in `raw_dir` into `out_dir` (LabelingError past the failure rate)."""
    raw = read_raw(raw_dir)
    if settings.effective_kind == "gazetteer":  # CPU-bound: every core (rule_pool.py)
        result = label_rules_parallel(raw.loc[:, ["id", "text"]], settings, log=log)
    else:
        result = label_frame(raw.loc[:, ["id", "text"]], settings, log=log)
    labels = result.frame
    disagreement = None
    if compare_with_gazetteer and settings.effective_kind != "gazetteer":
        from distill_assets.core.teacher.agreement import gazetteer_disagreement

        disagreement = gazetteer_disagreement(labels)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels.to_parquet(out_dir / LABELS_FILE, index=False)
    return LabelBatch(labels, result.ledger, settings, disagreement, teacher_vs_gold(raw, labels))
