"""Asset checks on the edges of the graph. Each result wraps a plain function from core."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from distill_assets.core.dataset import clean as cleaning
from distill_assets.core.teacher import label_checks as quality
from distill_assets.defs.partitions import dataset_version

_ERROR = dg.AssetCheckSeverity.ERROR
_WARN = dg.AssetCheckSeverity.WARN


def _spec(asset: str, name: str, description: str, blocking: bool = False) -> dg.AssetCheckSpec:
    # Partitioned checks are a Dagster preview: results are kept per dataset_version.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name=name,
            asset=asset,
            description=description,
            blocking=blocking,
            partitions_def=dataset_version,
        )


LABELS_STATUS_SPEC = _spec(
    "teacher_labels", "teacher_labels_failure_rate", "share of rows the teacher failed to label"
)
LABELS_AGREEMENT_SPEC = _spec(
    "teacher_labels",
    "teacher_labels_gazetteer_agreement",
    "an LLM teacher's disagreement with the offline gazetteer teacher",
)
DATASET_SPECS = [
    _spec("training_dataset", "training_dataset_schema", "six string fields per row", True),
    _spec(
        "training_dataset",
        "training_dataset_no_leakage",
        "no text or name+phone across splits",
        True,
    ),
    _spec("training_dataset", "training_dataset_drop_rate", "share of rows dropped by cleaning"),
]
MERGED_EQUALS_SPEC = _spec(
    "merged_model",
    "merged_model_matches_adapter",
    "merged logits and greedy outputs equal base+adapter",
    True,
)
PROMOTION_SPEC = _spec(
    "eval_report", "eval_report_promotion", "tuned beats base and reaches the threshold"
)

# Disagreement above this is a warning: the teacher or the gazetteer is off on those texts.
MAX_GAZETTEER_DISAGREEMENT = 0.1


def labels_status_result(labels: pd.DataFrame, max_rate: float) -> dg.AssetCheckResult:
    rate = quality.failure_rate(labels)
    return dg.AssetCheckResult(
        check_name=LABELS_STATUS_SPEC.name,
        passed=rate <= max_rate,
        severity=_WARN,
        metadata={"failure_rate": rate, "max_failure_rate": max_rate},
    )


def labels_agreement_result(disagreement: float | None) -> dg.AssetCheckResult:
    if disagreement is None:
        return dg.AssetCheckResult(
            check_name=LABELS_AGREEMENT_SPEC.name,
            passed=True,
            metadata={"skipped": "the teacher is the gazetteer itself"},
        )
    return dg.AssetCheckResult(
        check_name=LABELS_AGREEMENT_SPEC.name,
        passed=disagreement <= MAX_GAZETTEER_DISAGREEMENT,
        severity=_WARN,
        metadata={"disagreement_rate": disagreement, "max": MAX_GAZETTEER_DISAGREEMENT},
    )


def dataset_results(
    dataset_dir: Path, result: Any, max_drop_rate: float
) -> list[dg.AssetCheckResult]:
    schema_ok, schema_detail = cleaning.check_schema(dataset_dir)
    leak_ok, leak_detail = cleaning.check_no_leakage(dataset_dir)
    drop_ok, drop_detail = cleaning.check_drop_rate(result, max_drop_rate)
    return [
        dg.AssetCheckResult(
            check_name="training_dataset_schema",
            passed=schema_ok,
            severity=_ERROR,
            metadata={"detail": str(schema_detail)},
        ),
        dg.AssetCheckResult(
            check_name="training_dataset_no_leakage",
            passed=leak_ok,
            severity=_ERROR,
            metadata={"detail": str(leak_detail)},
        ),
        dg.AssetCheckResult(
            check_name="training_dataset_drop_rate",
            passed=drop_ok,
            severity=_WARN,
            metadata={"detail": str(drop_detail)},
        ),
    ]


def sample_test_texts(dataset_dir: Path, n: int) -> list[str]:
    frame = pd.read_parquet(Path(dataset_dir) / "dataset.parquet", columns=["text", "split"])
    return frame.loc[frame["split"] == "test", "text"].head(n).tolist()


def merged_equals_result(comparison: dict[str, Any], max_diff: float) -> dg.AssetCheckResult:
    diff = float(comparison["max_abs_logit_diff"])
    passed = diff <= max_diff and bool(comparison["greedy_equal"])
    return dg.AssetCheckResult(
        check_name=MERGED_EQUALS_SPEC.name,
        passed=passed,
        severity=_ERROR,
        metadata={
            "max_abs_logit_diff": diff,
            "threshold": max_diff,
            "greedy_equal": bool(comparison["greedy_equal"]),
        },
    )


def promotion_result(passed: bool, reason: str, metrics: dict[str, Any]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=PROMOTION_SPEC.name,
        passed=passed,
        severity=_ERROR,
        metadata={
            "reason": reason,
            "base_exact_match": float(metrics["base"]["exact_match"]),
            "tuned_exact_match": float(metrics["tuned"]["exact_match"]),
            "summary": dg.MetadataValue.json(json.loads(json.dumps(metrics["tuned"]))),
        },
    )
