"""The eval_report folder: predictions (raw and judged), the chart, report.md/.html and
metrics.json (written last: its presence means the folder is complete)."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from distill_assets.core.common.artifacts import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
)
from distill_assets.core.common.schema import FIELDS
from distill_assets.core.evaluation.misses import miss_kinds
from distill_assets.core.evaluation.runs import Run
from distill_assets.core.evaluation.score import Views

if TYPE_CHECKING:
    from pathlib import Path

    from distill_assets.core.evaluation.evaluate import EvalParams, TestSet

CHART = "field_accuracy.png"


def prediction_rows(data: TestSet, run: Run, views: Views, judged: str) -> list[dict[str, Any]]:
    """One row per test record: the raw output, both readings, and what the judged one missed."""
    n = len(run.outputs)
    styles = data.styles or [""] * n
    rows = []
    for i in range(n):
        ref, answer = data.refs[i], views.view(judged)[i]
        misses = miss_kinds(answer, ref, run.truncated[i], data.texts[i])
        row: dict[str, Any] = {
            "id": str(data.frame["id"].iloc[i]),
            "text": data.texts[i],
            "style": styles[i],
            "prediction": run.outputs[i],
            "truncated": run.truncated[i],
            "parsed": views.raw[i],
            "canonical": views.canonical[i],
            "divisions": views.divisions[i],
            "judged": judged,
            "reference": ref,
            "correct": not misses,
            "misses": misses,
            "wrong_fields": [
                f for f in FIELDS if answer is not None and str(answer[f]) != str(ref[f])
            ],
        }
        if data.golds is not None:
            row["gold"] = data.golds[i]
        rows.append(row)
    return rows


def worst_errors(rows: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """The k wrong rows with the most wrong fields (invalid JSON counts as all six)."""
    wrong = [r for r in rows if not r["correct"]]

    def badness(r: dict[str, Any]) -> int:
        invalid = r["parsed"] is None
        return len(FIELDS) if invalid else len(r["wrong_fields"])

    return sorted(wrong, key=lambda r: (-badness(r), r["id"]))[:k]


def field_accuracy_png(metrics: dict[str, Any]) -> bytes:
    """Per-field accuracy bar chart: base, tuned raw, tuned canonicalised (PNG bytes)."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    labels = [*FIELDS, "exact_match"]
    series = [("base", metrics["base"]), ("tuned raw", metrics["tuned_raw"])]
    series.append(("tuned canonicalised", metrics["tuned_canonical"]))
    fig = Figure(figsize=(9, 4))
    ax = fig.subplots()
    width = 0.8 / len(series)
    for k, (label, m) in enumerate(series):
        values = [m["field_accuracy"][f] for f in FIELDS] + [m["exact_match"]]
        ax.bar([i + (k - 1) * width for i in range(len(labels))], values, width, label=label)
    ax.set_xticks(list(range(len(labels))), labels, rotation=20)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy vs teacher labels")
    ax.set_title(f"Per-field accuracy on {metrics['n']} test records")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def write_outputs(
    out_dir: Path,
    data: TestSet,
    base: tuple[Run, Views],
    tuned: tuple[Run, Views],
    metrics: dict[str, Any],
    gate: tuple[bool, str] | None,
    params: EvalParams,
    benchmark_rows: dict[str, list[dict[str, Any]]] | None = None,
) -> tuple[str, dict[str, Path]]:
    """`base` and `tuned` are each model's run and its answers as evaluate() read them;
    `benchmark_rows` the tuned student's rows on each benchmark, the reference being its gold
    (`predictions_bench_<name>.jsonl`)."""
    from distill_assets.core.evaluation.report import render_html, render_markdown

    base_rows = prediction_rows(data, *base, params.judged)
    tuned_rows = prediction_rows(data, *tuned, params.judged)
    errors = worst_errors(tuned_rows, params.n_errors)
    report_md = render_markdown(metrics, errors, gate, CHART)
    paths = {
        "predictions_base": out_dir / "predictions_base.jsonl",
        "predictions_tuned": out_dir / "predictions_tuned.jsonl",
        "metrics": out_dir / "metrics.json",
        "report_md": out_dir / "report.md",
        "report_html": out_dir / "report.html",
        "field_accuracy_png": out_dir / CHART,
    }
    atomic_write_text(paths["predictions_base"], _jsonl(base_rows))
    atomic_write_text(paths["predictions_tuned"], _jsonl(tuned_rows))
    for name, rows in (benchmark_rows or {}).items():
        paths[f"predictions_bench_{name}"] = out_dir / f"predictions_bench_{name}.jsonl"
        atomic_write_text(paths[f"predictions_bench_{name}"], _jsonl(rows))
    atomic_write_bytes(paths["field_accuracy_png"], field_accuracy_png(metrics))
    atomic_write_text(paths["report_md"], report_md)
    atomic_write_text(paths["report_html"], render_html(metrics, errors, gate, CHART))
    atomic_write_json(paths["metrics"], metrics)
    return report_md, paths
