"""The eval report (Markdown and HTML), from the metrics dict of evaluate().

Examples shown in a report are masked with core.privacy (phones like 232****3945, names like
段**): reports are shared more widely than the data they are built from.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from distill_assets.core.common.privacy import mask_text
from distill_assets.core.common.schema import FIELDS, label_to_json

# ---------------------------------------------------------------- tables


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.1f}%"


def _num(x: Any, digits: int = 2) -> str:
    return "-" if x is None else f"{float(x):.{digits}f}"


Table = tuple[list[str], list[list[str]]]


def headline_table(metrics: dict[str, Any]) -> Table:
    base, tuned = metrics["base"], metrics["tuned"]
    rows = [
        ["valid JSON", _pct(base["valid_json_rate"]), _pct(tuned["valid_json_rate"])],
        ["exact match", _pct(base["exact_match"]), _pct(tuned["exact_match"])],
    ]
    for f in FIELDS:
        rows.append([f, _pct(base["field_accuracy"][f]), _pct(tuned["field_accuracy"][f])])
    rows.append(["samples/s", _num(base.get("samples_per_s")), _num(tuned.get("samples_per_s"))])
    rows.append(["tokens/s", _num(base.get("tokens_per_s")), _num(tuned.get("tokens_per_s"))])
    rows.append(["test rows", str(base["n"]), str(tuned["n"])])
    return ["metric (vs teacher labels)", "base", "tuned"], rows


def style_table(metrics: dict[str, Any]) -> Table | None:
    base_g = metrics["base"].get("by_group") or {}
    tuned_g = metrics["tuned"].get("by_group") or {}
    styles = sorted(set(base_g) | set(tuned_g))
    if not styles:
        return None
    rows = []
    for s in styles:
        b, t = base_g.get(s, {}), tuned_g.get(s, {})
        n = t.get("n", b.get("n", 0))
        rows.append([s or "(none)", str(n), _pct(b.get("exact_match")), _pct(t.get("exact_match"))])
    return ["style", "n", "base exact", "tuned exact"], rows


def gold_table(metrics: dict[str, Any]) -> Table | None:
    gold = metrics.get("gold")
    if not gold:
        return None
    who = [k for k in ("teacher", "base", "tuned") if k in gold]
    rows = [
        ["valid JSON", *[_pct(gold[k]["valid_json_rate"]) for k in who]],
        ["exact match", *[_pct(gold[k]["exact_match"]) for k in who]],
    ]
    for f in FIELDS:
        rows.append([f, *[_pct(gold[k]["field_accuracy"][f]) for k in who]])
    return ["metric (vs gold)", *who], rows


def error_rows(errors: Sequence[dict[str, Any]]) -> Table:
    """Masked examples: text, reference and prediction, with the wrong fields named."""
    rows = []
    for e in errors:
        ref = e.get("reference") or {}
        parsed = e.get("parsed") or {}
        names = sorted({str(ref.get("name", "")), str(parsed.get("name", ""))}, key=len)[::-1]
        wrong = e.get("wrong_fields") or []
        rows.append(
            [
                str(e.get("id", "")),
                mask_text(str(e.get("text", "")), names),
                mask_text(label_to_json(ref), names),
                mask_text(str(e.get("prediction", "")), names),
                ", ".join(wrong) if e.get("parsed") is not None else "invalid JSON",
            ]
        )
    return ["id", "text", "reference", "tuned prediction", "wrong"], rows


# ---------------------------------------------------------------- rendering


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> str:
    head, rows = table
    lines = ["| " + " | ".join(_md_cell(h) for h in head) + " |"]
    lines.append("|" + "|".join("---" for _ in head) + "|")
    lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _html_table(table: Table) -> str:
    head, rows = table
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _sections(
    metrics: dict[str, Any], errors: Sequence[dict[str, Any]], gate: tuple[bool, str] | None
) -> list[tuple[str, str | Table]]:
    info = metrics.get("models", {})
    intro = (
        f"{metrics['n']} test records. Base model `{info.get('base', '?')}` with the "
        f"{metrics.get('params', {}).get('base_prompt', '?')} prompt; tuned model "
        f"`{info.get('tuned', '?')}` with the {metrics.get('params', {}).get('tuned_prompt', '?')} "
        "prompt. Exact match: valid JSON and all six fields equal to the reference."
    )
    out: list[tuple[str, str | Table]] = [("", intro)]
    if gate is not None:
        out.append(("Promotion gate", ("PASSED: " if gate[0] else "FAILED: ") + gate[1]))
    out.append(("Base vs tuned", headline_table(metrics)))
    st = style_table(metrics)
    if st is not None:
        out.append(("Exact match by text style", st))
    gt = gold_table(metrics)
    if gt is not None:
        out.append(("Accuracy against gold (synthetic data)", gt))
    if errors:
        out.append(("Worst errors of the tuned model (masked)", error_rows(errors)))
    else:
        out.append(("Worst errors of the tuned model (masked)", "none"))
    return out


def render_markdown(
    metrics: dict[str, Any],
    errors: Sequence[dict[str, Any]] = (),
    gate: tuple[bool, str] | None = None,
    chart: str | None = None,
) -> str:
    parts = ["# Evaluation report", ""]
    for title, body in _sections(metrics, errors, gate):
        if title:
            parts += [f"## {title}", ""]
        parts += [body if isinstance(body, str) else _md_table(body), ""]
    if chart:
        parts += [f"![per-field accuracy]({chart})", ""]
    return "\n".join(parts)


_CSS = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
)


def render_html(
    metrics: dict[str, Any],
    errors: Sequence[dict[str, Any]] = (),
    gate: tuple[bool, str] | None = None,
    chart: str | None = None,
) -> str:
    parts = [
        '<!doctype html><html><head><meta charset="utf-8"><title>Evaluation report</title>',
        f"<style>{_CSS}</style></head><body><h1>Evaluation report</h1>",
    ]
    for title, body in _sections(metrics, errors, gate):
        if title:
            parts.append(f"<h2>{html.escape(title)}</h2>")
        if isinstance(body, str):
            parts.append(f"<p>{html.escape(body).replace('`', '')}</p>")
        else:
            parts.append(_html_table(body))
    if chart:
        parts.append(f'<img src="{html.escape(chart)}" alt="per-field accuracy">')
    parts.append("</body></html>")
    return "\n".join(parts)
