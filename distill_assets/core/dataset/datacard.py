"""The training dataset's data card: what went in, what was dropped and why, masked examples."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from distill_assets.core.common.privacy import mask_name, mask_phone, mask_text
from distill_assets.core.common.schema import FIELDS

if TYPE_CHECKING:
    from distill_assets.core.dataset.clean import DatasetResult


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _gold_table(vs_gold: dict[str, Any]) -> list[str]:
    blocks = [
        ("answered", "rows the teacher answered (ok/repaired), as given"),
        ("all_input_rows", "all input rows (failures count as wrong)"),
        ("kept", "kept rows, after cleaning"),
    ]
    present = [(k, what) for k, what in blocks if vs_gold.get(k)]
    lines = [
        "| measured on | rows | exact (all six) | " + " | ".join(FIELDS) + " |",
        "|---|---:|---:|" + "---:|" * len(FIELDS),
    ]
    for key, what in present:
        b = vs_gold[key]
        per = b.get("per_field") or {}
        lines.append(
            f"| {what} | {b.get('rows', 0)} | {_pct(b.get('exact'))} | "
            + " | ".join(_pct(per.get(f)) for f in FIELDS)
            + " |"
        )
    return lines


def data_card_markdown(result: DatasetResult, examples: pd.DataFrame) -> str:
    """Markdown card; names and phones in the examples are masked (232****3945, 段**)."""
    c = result.counts
    lines = [
        "# Training dataset",
        "",
        f"Input rows: {c.get('input', 0)}; kept: {c.get('kept', 0)}; "
        f"dropped: {c.get('dropped', 0)} ({_pct(result.drop_rate)}).",
        "",
        "## Splits",
        "",
        "| split | rows |",
        "|---|---:|",
        *(f"| {s} | {c.get(s, 0)} |" for s in ("train", "val", "test")),
        "",
        "Rows sharing a normalised text or a name+phone are kept in one split (no leakage).",
        "",
        "## Drop reasons",
        "",
    ]
    if result.drop_reasons:
        n_in = max(c.get("input", 0), 1)
        lines += ["| reason | rows | share of input |", "|---|---:|---:|"]
        for reason, n in sorted(result.drop_reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"| {reason} | {n} | {_pct(n / n_in)} |")
    else:
        lines.append("No rows dropped.")
    lines += [
        "",
        "## Field coverage (share of kept rows with a non-empty value)",
        "",
        "| field | coverage |",
        "|---|---:|",
        *(f"| {f} | {_pct(result.field_coverage.get(f))} |" for f in FIELDS),
        "",
        "## Teacher vs gold",
        "",
    ]
    if result.teacher_vs_gold:
        lines += _gold_table(result.teacher_vs_gold)
    else:
        lines.append("No gold labels in this batch.")
    lines += ["", "## Examples (names and phones masked)", ""]
    if len(examples):
        lines += ["| text | " + " | ".join(FIELDS) + " |", "|---|" + "---|" * len(FIELDS)]
        for row in examples.to_dict("records"):
            name = str(row.get("name", "") or "")
            masked = {f: str(row.get(f, "") or "") for f in FIELDS}
            masked["name"] = mask_name(name)
            masked["phone"] = mask_phone(masked["phone"])
            text = mask_text(str(row.get("text", "")), [name] if name else [])
            lines.append(
                f"| {_cell(text)} | " + " | ".join(_cell(masked[f]) for f in FIELDS) + " |"
            )
    else:
        lines.append("No examples.")
    params = result.params or {}
    if params:
        lines += ["", "## Parameters", ""]
        lines += [f"- {k}: `{v}`" for k, v in sorted(params.items())]
    return "\n".join(lines) + "\n"
