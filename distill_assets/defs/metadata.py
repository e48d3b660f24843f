"""What the UI shows for each asset: the figures a person reads first, then the rest.

Core results carry plain values; here they become typed Dagster metadata (numbers as floats so
the UI plots them across versions, Markdown for tables and charts).
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import dagster as dg

from distill_assets.core.common.privacy import preview_markdown
from distill_assets.core.data.raw_batch import RawBatch
from distill_assets.core.dataset.clean import DatasetResult
from distill_assets.core.student.merging import MergedModel
from distill_assets.core.student.training import TrainResult
from distill_assets.core.teacher.label_batch import LabelBatch


class Markdown(str):
    """A metadata value rendered as Markdown."""


def image_md(path: str | Path | None, alt: str) -> Markdown:
    """A PNG inlined as a data URI, so the UI shows it without serving files."""
    if not path or not Path(path).exists():
        return Markdown(f"_{alt}: no image_")
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return Markdown(f"![{alt}](data:image/png;base64,{data})")


def to_metadata(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values -> Dagster metadata, keeping their order."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Markdown):
            out[key] = dg.MetadataValue.md(str(value))
        elif isinstance(value, Path):
            out[key] = dg.MetadataValue.path(str(value))
        elif isinstance(value, bool | int | str) or value is None:
            out[key] = value if value is not None else "n/a"
        elif isinstance(value, float):
            out[key] = dg.MetadataValue.float(value if math.isfinite(value) else float("nan"))
        else:
            out[key] = dg.MetadataValue.json(json.loads(json.dumps(value, default=str)))
    return out


def raw_metadata(batch: RawBatch, preview_rows: int, unmask: bool) -> dict[str, Any]:
    return {
        "rows": len(batch.frame),
        "source_kind": batch.spec.kind,
        "has_gold": batch.has_gold,
        "styles": batch.style_counts(),
        "preview": Markdown(preview_markdown(batch.frame, preview_rows, unmask=unmask)),
    }


def labels_metadata(batch: LabelBatch, unmask: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"rows": len(batch.frame)}
    if batch.exact_vs_gold is not None:
        meta["teacher_exact_vs_gold"] = float(batch.exact_vs_gold)
    meta |= {
        "status_counts": batch.status_counts(),
        "ledger": batch.ledger,
        "preview": Markdown(
            preview_markdown(batch.frame, 5, unmask=unmask, drop=("raw_response",))
        ),
    }
    return meta


def dataset_metadata(result: DatasetResult) -> dict[str, Any]:
    c = result.counts
    return {
        "rows_kept": int(c.get("kept", 0)),
        "train_rows": int(c.get("train", 0)),
        "val_rows": int(c.get("val", 0)),
        "test_rows": int(c.get("test", 0)),
        "drop_rate": float(result.drop_rate),
        "drop_reasons": result.drop_reasons,
        "review_rows": int(sum(result.review_counts.values())),
        "review_file": "review.csv and review.parquet in the dataset folder: "
        + (", ".join(f"{k}={v}" for k, v in sorted(result.review_counts.items())) or "none"),
        "data_card": Markdown((result.out_dir / "data_card.md").read_text("utf-8")),
    }


def adapter_metadata(result: TrainResult) -> dict[str, Any]:
    return {
        "first_loss": float(result.first_loss),
        "last_loss": float(result.last_loss),
        "final_eval_loss": float(result.final_eval_loss),
        "steps": int(result.steps),
        "train_tokens": int(result.train_tokens),
        "tokens_per_s": float(result.tokens_per_s),
        "peak_memory_mb": float(result.peak_memory_mb),
        "train_loss": image_md(result.train_loss_png, "train loss"),
        "eval_loss": image_md(result.eval_loss_png, "eval loss"),
        "hyper_parameters": result.params,
    }


def merged_metadata(merged: MergedModel) -> dict[str, Any]:
    return {
        "comparison": merged.comparison,
        "fingerprint": merged.fingerprint,
        "merge": merged.merge.metadata(),
    }


def eval_metadata(metrics: dict[str, Any], report_md: str) -> dict[str, Any]:
    return {
        "base_exact_match": float(metrics["base"]["exact_match"]),
        "tuned_exact_match": float(metrics["tuned"]["exact_match"]),
        "base_valid_json": float(metrics["base"]["valid_json_rate"]),
        "tuned_valid_json": float(metrics["tuned"]["valid_json_rate"]),
        "test_rows": int(metrics["tuned"]["n"]),
        "report": Markdown(report_md),
        "metrics": metrics,
    }


def params_of(params: Any) -> dict[str, Any]:
    """A parameters dataclass as a JSON-safe dict for the manifest."""
    return json.loads(json.dumps(asdict(params), default=str))
