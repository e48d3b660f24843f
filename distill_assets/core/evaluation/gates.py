"""Every check verdict of the graph as a plain function, with its threshold beside it.

The Dagster layer (defs/checks.py) turns each `Verdict` into an AssetCheckResult on the asset
named in CHECKS; nothing decides pass or fail outside this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from distill_assets.core.common.columns import is_str, pc, to_arrow
from distill_assets.core.common.schema import FIELDS, label_to_json
from distill_assets.core.dataset.clean import DatasetResult
from distill_assets.core.dataset.folder import (
    DATASET_FILES,
    MANIFEST,
    dataset_student_prompt,
    read_dataset,
)
from distill_assets.core.dataset.formats import (
    alpaca_array,
    array_bytes,
    label_json_array,
    messages_array,
)
from distill_assets.core.dataset.split import SPLITS, find_leaks
from distill_assets.core.teacher.ledger import failure_rate


@dataclass(frozen=True)
class CheckInfo:
    asset: str
    description: str
    blocking: bool = False  # a failed blocking check stops the artifact and what is downstream
    error: bool = False  # a failure is an error (blocking checks always are), else a warning


@dataclass(frozen=True)
class Verdict:
    check: str
    passed: bool
    detail: str
    metrics: dict[str, Any] = field(default_factory=dict)


CHECKS: dict[str, CheckInfo] = {
    "teacher_labels_failure_rate": CheckInfo(
        "teacher_labels", "share of rows the teacher failed to label"
    ),
    "teacher_labels_gazetteer_agreement": CheckInfo(
        "teacher_labels", "an LLM teacher's disagreement with the offline gazetteer teacher"
    ),
    "training_dataset_schema": CheckInfo(
        "training_dataset", "six string fields per row", blocking=True
    ),
    "training_dataset_no_leakage": CheckInfo(
        "training_dataset", "no text or name+phone across splits", blocking=True
    ),
    "training_dataset_drop_rate": CheckInfo(
        "training_dataset", "share of rows dropped by cleaning"
    ),
    "merged_model_matches_adapter": CheckInfo(
        "merged_model", "merged logits and greedy outputs equal base+adapter", blocking=True
    ),
    "eval_report_promotion": CheckInfo(
        "eval_report", "tuned beats base and reaches the threshold", error=True
    ),
}

# Disagreement above this is a warning: the teacher or the gazetteer is off on those texts.
MAX_GAZETTEER_DISAGREEMENT = 0.1
# Defaults of the thresholds a run can set (defs/configs.py names these).
DEFAULT_MAX_DROP_RATE = 0.2
DEFAULT_MAX_ABS_LOGIT_DIFF = 1e-3


# ---------------------------------------------------------------- teacher_labels


def labels_failure_rate(labels: pd.DataFrame, max_rate: float) -> Verdict:
    rate = failure_rate(labels)
    return Verdict(
        "teacher_labels_failure_rate",
        rate <= max_rate,
        f"failure rate {rate:.2%} (max {max_rate:.2%})",
        {"failure_rate": rate, "max_failure_rate": max_rate},
    )


def labels_gazetteer_agreement(disagreement: float | None) -> Verdict:
    name = "teacher_labels_gazetteer_agreement"
    if disagreement is None:
        return Verdict(name, True, "skipped: the teacher is the gazetteer itself")
    return Verdict(
        name,
        disagreement <= MAX_GAZETTEER_DISAGREEMENT,
        f"disagreement {disagreement:.2%} (max {MAX_GAZETTEER_DISAGREEMENT:.0%})",
        {"disagreement_rate": disagreement, "max": MAX_GAZETTEER_DISAGREEMENT},
    )


# ---------------------------------------------------------------- training_dataset


def dataset_schema(dataset_dir: str | Path) -> Verdict:
    """Every file present; parquet typed right; each JSONL line a valid record matching it."""
    ok, detail = _schema(Path(dataset_dir))
    return Verdict("training_dataset_schema", ok, detail)


def _schema(d: Path) -> tuple[bool, str]:
    missing = [f for f in DATASET_FILES if not (d / f).is_file()]
    if missing:
        return False, f"missing files in {d}: {missing}"
    df = read_dataset(d)
    need = ["id", "text", "style", *FIELDS, "split"]
    lacking = [c for c in need if c not in df.columns]
    if lacking:
        return False, f"dataset.parquet lacks columns {lacking}"
    for c in need:
        if not is_str(df[c]).all():
            return False, f"dataset.parquet column {c} has non-string or null values"
    if df["id"].duplicated().any():
        return False, "dataset.parquet has duplicate ids"
    bad_split = sorted(set(df["split"].unique()) - set(SPLITS))
    if bad_split:
        return False, f"dataset.parquet has unknown split values {bad_split}"
    if bool((df["text"].to_numpy() == "").any()):
        return False, "dataset.parquet has empty texts"
    if not df["phone"].str.fullmatch(r"[0-9]*").all():
        return False, "dataset.parquet has phones that are not digits only"
    prompt = dataset_student_prompt(d)
    split = df["split"].to_numpy(dtype=object)
    for s in SPLITS:
        part = df[split == s]
        out = label_json_array({f: part[f] for f in FIELDS})
        kinds = ("alpaca", "messages")
        if all(_is_written_form(d / f"{s}.{k}.jsonl", k, part, out, prompt) for k in kinds):
            continue
        want_texts = part["text"].tolist()
        want_out = [
            label_to_json(dict(zip(FIELDS, vals, strict=True)))
            for vals in zip(*(part[f].tolist() for f in FIELDS), strict=True)
        ]
        for kind in ("alpaca", "messages"):
            path = d / f"{s}.{kind}.jsonl"
            n = 0
            with open(path, encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if n > len(want_texts):
                        return False, f"{path.name}: more lines than {s} rows ({len(want_texts)})"
                    err = _check_record(kind, line, prompt, want_texts[n - 1], want_out[n - 1])
                    if err:
                        return False, f"{path.name} line {n}: {err}"
            if n != len(want_texts):
                return False, f"{path.name}: {n} lines, dataset.parquet has {len(want_texts)} {s}"
    return True, f"{len(df)} rows, {len(DATASET_FILES)} files consistent"


def _is_written_form(path: Path, kind: str, part: Any, out: pa.Array, prompt: str) -> bool:
    """The fast path (the line-by-line check re-parses every record in Python: 70% of the
    step at 100k rows): the file is byte for byte the lines the dataset writer makes of these
    dataset.parquet rows, and Arrow's JSON reader parses every line to the record's keys. Any
    doubt: False, and the line-by-line check says what is wrong."""
    from pyarrow import json as pa_json

    render = alpaca_array if kind == "alpaca" else messages_array
    want = array_bytes(render(part["text"], out, system=prompt)).cast("B")  # bytes compare as B
    pos = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            if want[pos : pos + len(chunk)] != chunk:
                return False
            pos += len(chunk)
    if pos != len(want):
        return False
    if part.empty:
        return True
    keys = ["instruction", "input", "output", "system"] if kind == "alpaca" else ["messages"]
    rows = 0
    try:
        with pa_json.open_json(path) as reader:
            if sorted(reader.schema.names) != sorted(keys):
                return False
            for batch in reader:
                rows += batch.num_rows
    except pa.ArrowInvalid:
        return False
    return rows == len(part)


def _check_record(kind: str, line: str, prompt: str, text: str, output: str) -> str:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"invalid JSON ({exc.msg})"
    if kind == "alpaca":
        if set(rec) != {"instruction", "input", "output", "system"}:
            return f"alpaca keys {sorted(rec)}"
        if rec["instruction"] != prompt or rec["system"] != prompt:
            return "instruction/system is not the student prompt"
        got_text, got_out = rec["input"], rec["output"]
    else:
        msgs = rec.get("messages")
        roles = [m.get("role") for m in msgs] if isinstance(msgs, list) else None
        if roles != ["system", "user", "assistant"] or not isinstance(msgs, list):
            return "messages must be system, user, assistant"
        if msgs[0]["content"] != prompt:
            return "system message is not the student prompt"
        got_text, got_out = msgs[1]["content"], msgs[2]["content"]
    if got_text != text:
        return "input text differs from dataset.parquet"
    try:
        label = json.loads(got_out)
    except (TypeError, json.JSONDecodeError):
        return "output is not JSON"
    if not isinstance(label, dict) or list(label) != list(FIELDS):
        return f"output keys {list(label) if isinstance(label, dict) else type(label)}"
    if not all(isinstance(v, str) for v in label.values()):
        return "output values must be strings"
    if got_out != output:
        return "output differs from dataset.parquet fields"
    return ""


def dataset_no_leakage(dataset_dir: str | Path) -> Verdict:
    """No normalised text (spaces ignored) and no name+phone appears in two splits."""
    table = pa.Table.from_pandas(
        read_dataset(dataset_dir)[["id", "text", "name", "phone", "split"]], preserve_index=False
    )
    problems = find_leaks(table)
    ids = to_arrow(table.column("id"))
    if pc.count_distinct(ids).as_py() != len(ids):
        problems.append("duplicate ids")
    if problems:
        return Verdict("training_dataset_no_leakage", False, "; ".join(problems))
    vc = pc.value_counts(to_arrow(table.column("split"))).to_pylist()
    sizes = {d["values"]: d["counts"] for d in vc}
    return Verdict("training_dataset_no_leakage", True, f"no leakage across splits {sizes}")


def dataset_drop_rate(
    result_or_manifest: DatasetResult | Mapping[str, Any] | str | Path, max_rate: float
) -> Verdict:
    """Dropped share of input rows at most `max_rate`; accepts a result, manifest dict or path."""
    src = result_or_manifest
    if isinstance(src, DatasetResult):
        rate, reasons = src.drop_rate, src.drop_reasons
    else:
        if isinstance(src, str | Path):
            p = Path(src)
            p = p / MANIFEST if p.is_dir() else p
            src = json.loads(p.read_text("utf-8"))
        if not isinstance(src, Mapping) or "drop_rate" not in src:
            raise KeyError("no drop_rate: not a training_dataset result or manifest")
        rate, reasons = float(src["drop_rate"]), dict(src.get("drop_reasons", {}))
    top = ", ".join(f"{k}={v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])[:4])
    ok = rate <= max_rate
    detail = f"drop rate {rate:.2%} {'<=' if ok else '>'} {max_rate:.2%} ({top or 'no drops'})"
    return Verdict("training_dataset_drop_rate", ok, detail, {"drop_rate": rate, "max": max_rate})


# ---------------------------------------------------------------- merged_model


# A correct merge in a low-precision dtype moves the logits by about the rounding the dtype
# itself causes (base+adapter in that dtype vs in fp32). Measured on a bf16 tiny Qwen3: a
# correct merge 1.2x that rounding on average, lost LoRA scaling 7x, a doubled one 4x; the
# largest single logit is noisier (a correct merge 1.1x, a wrong one 1.5-2.5x), so it only
# catches gross errors and the mean decides.
MERGE_MAX_ROUNDING_FACTOR = 4.0
MERGE_MEAN_ROUNDING_FACTOR = 3.0


def merge_logit_tolerance(comparison: Mapping[str, Any], max_diff: float) -> tuple[float, float]:
    """(max, mean) tolerances: `max_diff` (an fp32 figure) for an fp32 merge, or for bf16/fp16
    the dtype's measured rounding times the factors above: bf16 can never meet fp32's figure."""
    noise = float(comparison.get("rounding_logit_diff", 0.0))
    mean_noise = float(comparison.get("rounding_mean_diff", 0.0))
    if noise == 0.0:
        return max_diff, max_diff
    return (
        max(max_diff, MERGE_MAX_ROUNDING_FACTOR * noise),
        max(max_diff, MERGE_MEAN_ROUNDING_FACTOR * mean_noise),
    )


def merged_matches_adapter(comparison: Mapping[str, Any], max_diff: float) -> Verdict:
    """Logits over prompt + whole greedy answer within the dtype's tolerance, and greedy
    answers equal except where the reference itself was within that tolerance of a tie."""
    diff = float(comparison["max_abs_logit_diff"])
    mean = float(comparison.get("mean_abs_logit_diff", 0.0))
    tol, mean_tol = merge_logit_tolerance(comparison, max_diff)
    divergences = list(comparison.get("greedy_divergences", []))
    if not divergences and not comparison["greedy_equal"]:  # an older comparison
        divergences = [{"prompt": i, "ref_margin": None} for i in comparison["greedy_mismatches"]]
    ties = [d for d in divergences if d.get("ref_margin") is not None and d["ref_margin"] <= tol]
    wrong = [d["prompt"] for d in divergences if d not in ties]
    dtype = comparison.get("dtype", "float32")
    return Verdict(
        "merged_model_matches_adapter",
        diff <= tol and mean <= mean_tol and not wrong,
        f"{dtype}: max |logit diff| {diff:.3g} (max {tol:.3g}), mean {mean:.3g} (max "
        f"{mean_tol:.3g}); greedy answers differ on prompts {wrong or 'none'} "
        f"({len(ties)} rounding ties)",
        {
            "max_abs_logit_diff": diff,
            "threshold": tol,
            "mean_abs_logit_diff": mean,
            "mean_threshold": mean_tol,
            "fp32_threshold": max_diff,
            "dtype": dtype,
            "greedy_equal": bool(comparison["greedy_equal"]),
            "greedy_wrong": wrong,
            "greedy_ties": len(ties),
        },
    )


# ---------------------------------------------------------------- eval_report


def promotion_gate(metrics: dict[str, Any], threshold: float) -> tuple[bool, str]:
    """Promote the tuned model only if its exact match on the test split reaches `threshold` and
    beats the base on the same rows, both read in the same (judged) view."""
    try:
        judged = str(metrics.get("judged", "raw"))
        tuned = float(metrics["tuned"]["exact_match"])
        base = float(metrics["base"]["exact_match"])
        n_base = int(metrics["base"]["n"])
        same_rows = metrics.get("tuned_on_base_rows", metrics["tuned"])
        tuned_same = float(same_rows["exact_match"])
    except KeyError as e:
        raise KeyError(
            f"promotion_gate: metrics lack {e}; expected metrics[base|tuned][exact_match]"
        ) from e
    view = f"judged {judged} answers"
    if tuned < threshold:
        return False, f"{view}: tuned exact match {tuned:.3f} < threshold {threshold:.3f}"
    if tuned_same <= base:
        return False, (
            f"{view}: tuned exact match {tuned_same:.3f} does not beat base {base:.3f} "
            f"on the same {n_base} rows"
        )
    return True, (
        f"{view}: tuned exact match {tuned:.3f} >= {threshold:.3f}, and {tuned_same:.3f} > base "
        f"{base:.3f} on the same {n_base} rows"
    )


def promotion(metrics: Mapping[str, Any], threshold: float) -> Verdict:
    passed, reason = promotion_gate(dict(metrics), threshold)
    return Verdict(
        "eval_report_promotion",
        passed,
        reason,
        {
            "judged": str(metrics.get("judged", "raw")),
            "base_exact_match": float(metrics["base"]["exact_match"]),
            "tuned_exact_match": float(metrics["tuned"]["exact_match"]),
            "tuned_exact_match_on_base_rows": float(
                metrics.get("tuned_on_base_rows", metrics["tuned"])["exact_match"]
            ),
            "threshold": threshold,
        },
    )
