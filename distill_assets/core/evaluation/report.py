"""The eval report (Markdown and HTML), from the metrics dict of evaluate().

Raw and canonicalised answers of the tuned student side by side, the base on the same rows, the
kinds of miss with examples, benchmarks and the learning curve. Examples are masked with
core/common/privacy.py (phones like 232****3945, names like 段**): reports are shared more
widely than the data they are built from.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from distill_assets.core.common.markdown import md_table
from distill_assets.core.common.privacy import mask_text
from distill_assets.core.common.schema import FIELDS, label_to_json

Table = tuple[list[str], list[list[str]]]
Section = tuple[str, str | Table]


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.1f}%"


def _num(x: Any, digits: int = 2) -> str:
    return "-" if x is None else f"{float(x):.{digits}f}"


def headline_table(metrics: dict[str, Any]) -> Table:
    """Base and tuned on the base's rows (the gate's comparison), then the tuned student on all
    test rows, raw and canonicalised."""
    cols = [
        metrics["base"],
        metrics["tuned_on_base_rows"],
        metrics["tuned_raw"],
        metrics["tuned_canonical"],
    ]
    rows = [
        ["test rows", *[str(c["n"]) for c in cols]],
        ["valid JSON", *[_pct(c["valid_json_rate"]) for c in cols]],
        ["exact match", *[_pct(c["exact_match"]) for c in cols]],
    ]
    rows += [[f, *[_pct(c["field_accuracy"][f]) for c in cols]] for f in FIELDS]
    judged = metrics.get("judged", "raw")
    head = [
        "metric (vs teacher labels)",
        f"base ({judged})",
        f"tuned, same rows ({judged})",
        "tuned raw",
        "tuned canonicalised",
    ]
    return head, rows


def speed_table(metrics: dict[str, Any]) -> Table:
    b, t = metrics["base"], metrics["tuned"]
    rows = [
        ["samples/s", _num(b.get("samples_per_s")), _num(t.get("samples_per_s"))],
        ["tokens/s", _num(b.get("tokens_per_s")), _num(t.get("tokens_per_s"))],
        ["seconds", _num(b.get("seconds"), 1), _num(t.get("seconds"), 1)],
    ]
    return ["speed", "base", "tuned"], rows


def style_table(metrics: dict[str, Any]) -> Table | None:
    groups = [metrics[k].get("by_group") or {} for k in ("base", "tuned_raw", "tuned_canonical")]
    styles = sorted(set().union(*groups))
    if not styles:
        return None
    rows = []
    for s in styles:
        n = groups[1].get(s, {}).get("n", 0)
        rows.append(
            [s or "(none)", str(n), *[_pct(g.get(s, {}).get("exact_match")) for g in groups]]
        )
    return ["style", "n", "base exact", "tuned raw exact", "tuned canonicalised exact"], rows


def miss_table(metrics: dict[str, Any]) -> Table:
    misses, raw = metrics["misses"], metrics.get("misses_raw") or {}
    rows = []
    for kind, m in misses.items():
        r = raw.get(kind, {})
        rows.append([kind, str(m["rows"]), _pct(m["share"]), str(r.get("rows", "-")), m["meaning"]])
    judged = metrics.get("judged", "raw")
    return ["kind of miss", f"rows ({judged})", "share", "rows (raw)", "meaning"], rows


def written_note(metrics: dict[str, Any]) -> str | None:
    share = metrics.get("divisions_written")
    if share is None:
        return None
    return (
        f"{_pct(share)} of the test rows write all their labelled divisions in full. The others "
        "name a division short (云南, 大理州) or not at all: a raw student gets them only from "
        "what it knows of the gazetteer, so its raw exact match stays near this share unless "
        "it learnt the divisions; post-processing supplies them (kind `division_unwritten`)."
    )


def miss_examples(metrics: dict[str, Any]) -> Table | None:
    rows = []
    for kind, m in metrics["misses"].items():
        for ex in m["examples"]:
            answer = ex["answer"]
            rows.append(
                [
                    kind,
                    ex["text"],
                    label_to_json(answer) if answer is not None else "(invalid)",
                    label_to_json(ex["label"]),
                ]
            )
    return (["kind", "text (masked)", "answer", "label"], rows) if rows else None


def gold_table(metrics: dict[str, Any]) -> Table | None:
    gold = metrics.get("gold")
    if not gold:
        return None
    who = [k for k in ("teacher", "base", "tuned", "tuned_raw") if k in gold]
    rows = [
        ["valid JSON", *[_pct(gold[k]["valid_json_rate"]) for k in who]],
        ["exact match", *[_pct(gold[k]["exact_match"]) for k in who]],
    ]
    rows += [[f, *[_pct(gold[k]["field_accuracy"][f]) for k in who]] for f in FIELDS]
    return ["metric (vs gold)", *who], rows


def benchmark_tables(metrics: dict[str, Any]) -> list[Section]:
    out: list[Section] = []
    for name, b in (metrics.get("benchmarks") or {}).items():
        rows = [
            ["exact match", _pct(b["tuned"]["exact_match"]), _pct(b["tuned_raw"]["exact_match"])],
            [
                "valid JSON",
                _pct(b["tuned"]["valid_json_rate"]),
                _pct(b["tuned_raw"]["valid_json_rate"]),
            ],
        ]
        rows += [
            [f, _pct(b["tuned"]["field_accuracy"][f]), _pct(b["tuned_raw"]["field_accuracy"][f])]
            for f in FIELDS
        ]
        out.append((f"Benchmark {name} ({b['n']} gold rows)", (["metric", "tuned", "raw"], rows)))
        history = (metrics.get("benchmark_history") or {}).get(name) or []
        if history:
            hist = [
                [
                    h["version"],
                    h["evaluated_at"],
                    str(h["n"]),
                    _pct(h["exact_match"]),
                    _pct(h["raw_exact_match"]),
                ]
                for h in history
            ]
            head = ["version", "evaluated", "n", "exact", "raw exact"]
            out.append((f"Benchmark {name} across versions", (head, hist)))
    return out


def curve_table(metrics: dict[str, Any]) -> Table | None:
    curve = metrics.get("learning_curve") or []
    if not curve:
        return None
    rows = [
        [str(p["examples"]), str(p["n"]), _pct(p["exact_match"]), _pct(p["raw_exact_match"])]
        for p in curve
    ]
    return ["training examples", "rows", "exact (canonicalised)", "exact (raw)"], rows


def error_rows(errors: Sequence[dict[str, Any]]) -> Table:
    """Masked examples: text, reference and prediction, with the misses named."""
    rows = []
    for e in errors:
        ref = e.get("reference") or {}
        parsed = e.get("parsed") or {}
        names = sorted({str(ref.get("name", "")), str(parsed.get("name", ""))}, key=len)[::-1]
        rows.append(
            [
                str(e.get("id", "")),
                mask_text(str(e.get("text", "")), names),
                mask_text(label_to_json(ref), names),
                mask_text(str(e.get("prediction", "")), names),
                ", ".join(e.get("misses") or []),
            ]
        )
    return ["id", "text", "reference", "tuned output (raw)", "misses"], rows


def decoding_words(params: dict[str, Any]) -> str:
    """How both models decoded, in the words `distill predict`'s flags use."""
    if params.get("grounded"):
        return (
            "grounded (`--grounded`: JSON skeleton forced; street, name and phone only as spans "
            "of the text)"
        )
    if params.get("json_constrained"):
        return "JSON skeleton forced (`--json-constrained`)"
    return "free (greedy, unconstrained)"


def _sections(
    metrics: dict[str, Any], errors: Sequence[dict[str, Any]], gate: tuple[bool, str] | None
) -> list[Section]:
    info, params = metrics.get("models", {}), metrics.get("params", {})
    judged = metrics.get("judged", "raw")
    intro = (
        f"{metrics['n']} test records. Base model `{info.get('base', '?')}` with the "
        f"{params.get('base_prompt', '?')} prompt on the first {metrics['base']['n']} of them; "
        f"tuned model `{info.get('tuned', '?')}` with the {params.get('tuned_prompt', '?')} "
        "prompt. Exact match: valid JSON and all six fields equal to the reference. Judged "
        f"view: {judged} (canonicalised = divisions made official by the gazetteer from the "
        "student's own fields and the text, and the street cut before the name or phone the "
        "student also wrote, as `distill predict` gives them). Decoding: "
        f"{decoding_words(params)}."
    )
    out: list[Section] = [("", intro)]
    if gate is not None:
        out.append(("Promotion gate", ("PASSED: " if gate[0] else "FAILED: ") + gate[1]))
    out.append(("Base vs tuned, raw and canonicalised", headline_table(metrics)))
    for title, table in (
        ("Exact match by text style", style_table(metrics)),
        ("Kinds of miss of the tuned model", miss_table(metrics)),
        ("Divisions the texts write", written_note(metrics)),
        ("Examples of each kind of miss (masked)", miss_examples(metrics)),
        ("Accuracy against gold (synthetic data)", gold_table(metrics)),
        ("Learning curve (exact match vs training examples)", curve_table(metrics)),
    ):
        if table is not None:
            out.append((title, table))
    out += benchmark_tables(metrics)
    div = metrics.get("divisions") or {}
    if div:
        out.append(
            (
                "What canonicalisation did",
                (["divisions", "rows"], [[k, str(v)] for k, v in sorted(div.items())]),
            )
        )
    out.append(("Speed", speed_table(metrics)))
    out.append(
        ("Worst errors of the tuned model (masked)", error_rows(errors) if errors else "none")
    )
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
        parts += [body if isinstance(body, str) else md_table(*body), ""]
    if chart:
        parts += [f"![per-field accuracy]({chart})", ""]
    return "\n".join(parts)


_CSS = (
    "body{font-family:sans-serif;max-width:70em;margin:2em auto}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
)


def _html_table(table: Table) -> str:
    head, rows = table
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


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
