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

from distill_assets.core.common.markdown import md_table
from distill_assets.core.common.privacy import preview_markdown
from distill_assets.core.common.schema import FIELDS
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
    curve = result.learning_curve
    headline = (
        f"loss {result.first_loss:.3f} -> {result.last_loss:.3f} over {result.steps} steps on "
        f"{result.n_train} examples, {result.tokens_per_s:.0f} tokens/s"
    )
    if curve:
        headline += f"; exact match on {curve[-1]['n']} val rows {_pct(curve[-1]['exact_match'])}%"
    meta: dict[str, Any] = {"headline": headline}
    if curve:
        meta["curve_exact_pct"] = _pct(curve[-1]["exact_match"])
        meta["learning_curve"] = Markdown(
            md_table(
                ["step", "examples", "exact (canonicalised)", "exact (raw)"],
                [
                    [
                        p["step"],
                        p["examples"],
                        f"{_pct(p['exact_match'])}%",
                        f"{_pct(p['raw_exact_match'])}%",
                    ]
                    for p in curve
                ],
            )
        )
    return meta | {
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
    c = merged.comparison
    return {
        "headline": (
            f"merged == base+adapter: max |logit diff| "
            f"{float(c.get('max_abs_logit_diff', float('nan'))):.2e}, "
            f"greedy answers equal: {c.get('greedy_equal')}"
        ),
        "comparison": merged.comparison,
        "fingerprint": merged.fingerprint,
        "merge": merged.merge.metadata(),
    }


def _pct(x: Any) -> float:
    return round(100.0 * float(x), 2)


def _bar(x: float, width: int = 20) -> str:
    return "█" * round(width * x) + "░" * (width - round(width * x))


def per_field_chart(metrics: dict[str, Any]) -> Markdown:
    """Per-field accuracy as an inline bar chart (a Markdown table the UI renders as it is)."""
    rows = []
    for f in (*FIELDS, "exact_match"):
        get = (
            (lambda m: m["exact_match"])
            if f == "exact_match"
            else (lambda m, f=f: m["field_accuracy"][f])
        )
        canon, raw, base = (get(metrics[k]) for k in ("tuned_canonical", "tuned_raw", "base"))
        rows.append([f, f"`{_bar(canon)}` {_pct(canon)}%", f"{_pct(raw)}%", f"{_pct(base)}%"])
    head = ["field", "tuned canonicalised", "tuned raw", f"base ({metrics['base']['n']} rows)"]
    return Markdown(md_table(head, rows))


def eval_metadata(metrics: dict[str, Any], report_md: str) -> dict[str, Any]:
    """Headline figures first (percentages, typed so the UI plots them across versions), the
    per-field chart, the tables; hashes and package versions last."""
    base, tuned, raw = metrics["base"], metrics["tuned"], metrics["tuned_raw"]
    same = metrics["tuned_on_base_rows"]
    headline = (
        f"exact match base {_pct(base['exact_match'])}% -> tuned {_pct(tuned['exact_match'])}% "
        f"({metrics['judged']}; raw {_pct(raw['exact_match'])}%) on {metrics['n']} test rows"
    )
    meta: dict[str, Any] = {
        "headline": headline,
        "tuned_exact_pct": _pct(tuned["exact_match"]),
        "tuned_raw_exact_pct": _pct(raw["exact_match"]),
        "base_exact_pct": _pct(base["exact_match"]),
        "tuned_exact_on_base_rows_pct": _pct(same["exact_match"]),
        "tuned_valid_json_pct": _pct(tuned["valid_json_rate"]),
        "base_valid_json_pct": _pct(base["valid_json_rate"]),
        "judged_view": metrics["judged"],
        "test_rows": int(metrics["n"]),
        "per_field": per_field_chart(metrics),
    }
    if metrics.get("divisions_written") is not None:
        meta["test_rows_divisions_written_pct"] = _pct(metrics["divisions_written"])
    for name, b in (metrics.get("benchmarks") or {}).items():
        meta[f"benchmark_{name}_exact_pct"] = _pct(b["tuned"]["exact_match"])
        history = (metrics.get("benchmark_history") or {}).get(name) or []
        if history:
            rows = [
                [
                    h["version"],
                    h["n"],
                    f"{_pct(h['exact_match'])}%",
                    f"{_pct(h['raw_exact_match'])}%",
                ]
                for h in history
            ]
            meta[f"benchmark_{name}_history"] = Markdown(
                md_table(["version", "n", "exact", "raw exact"], rows)
            )
    meta["misses"] = {k: v["rows"] for k, v in metrics["misses"].items()}
    meta["report"] = Markdown(report_md)
    meta["metrics"] = {k: v for k, v in metrics.items() if k != "lineage"}
    meta["lineage"] = metrics.get("lineage", {})
    return meta


def params_of(params: Any) -> dict[str, Any]:
    """A parameters dataclass as a JSON-safe dict for the manifest."""
    return json.loads(json.dumps(asdict(params), default=str))
