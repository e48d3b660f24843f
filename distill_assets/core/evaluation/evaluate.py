"""The base-vs-tuned evaluation of the student on the test split (scored by evaluation/score.py)."""

from __future__ import annotations

import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    package_versions,
    sha256_file,
    sha256_text,
)
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.common.prompts import prompt_hash, student_prompt, teacher_prompt
from distill_assets.core.common.schema import FIELDS
from distill_assets.core.evaluation.score import field_hits, score
from distill_assets.core.teacher.answers import parse_prediction

# ---------------------------------------------------------------- evaluate


@dataclass
class EvalParams:
    """How the test split is evaluated (defaults are the test/demo profiles' choices)."""

    backend: str = "transformers"  # or "vllm" (gpu profile)
    max_new_tokens: int = 160  # a label is ~60-90 Qwen tokens; room for a longer address
    batch_size: int = 16
    json_constrained: bool = False  # force the six-key skeleton while decoding
    limit: int | None = None  # at most this many test rows (None: all)
    # The untuned base on only the first N of those rows: with the ~1,000-token detailed prompt it
    # is the slowest part on a CPU, and it scores near zero (demo profile: 50).
    base_limit: int | None = None
    base_prompt: str = "teacher"  # the seeds evaluate the base with the detailed prompt
    tuned_prompt: str = "dataset"  # ... the tuned one with the prompt it was trained with
    device: str | None = None  # None: cuda when available, else cpu
    dtype: str | None = None  # None: bf16 on cuda, fp32 on cpu
    promotion_threshold: float | None = None  # shown in the report when set
    n_errors: int = 8  # worst errors shown (masked) in the report


@dataclass
class EvalResult:
    metrics: dict[str, Any]
    report_md: str
    paths: dict[str, Path] = field(default_factory=dict)


_PROMPTS = {"teacher": teacher_prompt, "student": student_prompt}


def _prompt(name: str, dataset_dir: Path) -> str:
    """ "dataset" is the student prompt the training files were written with."""
    if name == "dataset":
        from distill_assets.core.dataset.folder import dataset_student_prompt

        return dataset_student_prompt(dataset_dir)
    if name not in _PROMPTS:
        raise ValueError(f"unknown prompt {name!r}: expected one of {sorted(_PROMPTS)}, dataset")
    return _PROMPTS[name]()


def _read_test_rows(dataset_dir: Path, limit: int | None) -> Any:
    import pandas as pd

    path = dataset_dir / "dataset.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: not a training_dataset folder")
    df = pd.read_parquet(path)
    need = ["id", "text", "split", *FIELDS]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    test = df[df["split"] == "test"].reset_index(drop=True)
    if limit is not None:
        test = test.head(limit)
    if test.empty:
        raise ValueError(f"{path}: no rows with split == 'test'")
    for c in ["text", *FIELDS]:
        bad = [i for i, v in zip(test["id"], test[c], strict=True) if pd.isna(v)]
        if bad:
            raise ValueError(f"{path}: test row id={bad[0]!r} has a null {c!r}")
    return test


def _labels(df: Any, prefix: str = "") -> list[dict[str, str]]:
    cols = {f: df[prefix + f].astype(str).tolist() for f in FIELDS}
    return [{f: cols[f][i] for f in FIELDS} for i in range(len(df))]


def _run_model(
    model: str | Path,
    system: str,
    texts: list[str],
    params: EvalParams,
    who: str,
    log: Logger,
) -> tuple[list[str], dict[str, Any]]:
    from distill_assets.core.student.inference import load_backend

    log(f"eval[{who}]: loading {params.backend} backend for {model}")
    backend = load_backend(
        params.backend,
        model,
        max_new_tokens=params.max_new_tokens,
        batch_size=params.batch_size,
        json_constrained=params.json_constrained,
        device=params.device,
        dtype=params.dtype,
        log=lambda m: log(f"eval[{who}]: {m}"),
    )
    try:
        t0 = time.perf_counter()
        gens = backend.generate([(system, t) for t in texts])
        seconds = time.perf_counter() - t0
        info = dict(getattr(backend, "info", {}))
    finally:
        backend.close()
    tokens_out = sum(g.tokens_out for g in gens)
    tokens_in = sum(g.tokens_in for g in gens)
    perf = {
        "seconds": seconds,
        "samples_per_s": len(texts) / seconds if seconds > 0 else None,
        "tokens_per_s": tokens_out / seconds if seconds > 0 else None,
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "backend": info,
    }
    log(
        f"eval[{who}]: {len(texts)} samples in {seconds:.1f}s "
        f"({len(texts) / max(seconds, 1e-9):.2f} samples/s, {tokens_out} tokens out)"
    )
    return [g.text for g in gens], perf


def _prediction_rows(
    test: Any, preds: list[str], refs: list[dict[str, str]], golds: list[dict[str, str]] | None
) -> list[dict[str, Any]]:
    styles = test["style"].astype(str).tolist() if "style" in test.columns else [""] * len(test)
    rows = []
    for i, (pred, ref) in enumerate(zip(preds, refs, strict=True)):
        parsed = parse_prediction(pred)
        hits = field_hits(parsed, ref)
        row: dict[str, Any] = {
            "id": str(test["id"].iloc[i]),
            "text": str(test["text"].iloc[i]),
            "style": styles[i],
            "prediction": pred,
            "parsed": parsed,
            "reference": ref,
            "correct": parsed is not None and all(hits.values()),
            "wrong_fields": [f for f in FIELDS if not hits[f]] if parsed is not None else [],
        }
        if golds is not None:
            row["gold"] = golds[i]
        rows.append(row)
    return rows


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def worst_errors(rows: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """The k wrong rows with the most wrong fields (invalid JSON counts as all six)."""
    wrong = [r for r in rows if not r["correct"]]

    def badness(r: dict[str, Any]) -> int:
        return len(FIELDS) if r["parsed"] is None else len(r["wrong_fields"])

    return sorted(wrong, key=lambda r: (-badness(r), r["id"]))[:k]


def field_accuracy_png(metrics: dict[str, Any]) -> bytes:
    """Per-field accuracy bar chart, base vs tuned (PNG bytes)."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    labels = [*FIELDS, "exact_match"]
    base = [metrics["base"]["field_accuracy"][f] for f in FIELDS] + [metrics["base"]["exact_match"]]
    tuned = [metrics["tuned"]["field_accuracy"][f] for f in FIELDS]
    tuned.append(metrics["tuned"]["exact_match"])
    fig = Figure(figsize=(9, 4))
    ax = fig.subplots()
    x = list(range(len(labels)))
    ax.bar([i - 0.2 for i in x], base, width=0.4, label="base")
    ax.bar([i + 0.2 for i in x], tuned, width=0.4, label="tuned")
    ax.set_xticks(x, labels, rotation=20)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy vs teacher labels")
    ax.set_title(f"Per-field accuracy on {metrics['n']} test records")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _model_lineage(model: str | Path) -> dict[str, Any]:
    try:
        from distill_assets.core.student.base_models import model_fingerprint
    except ImportError:  # models.py is optional for scoring-only use
        return {"model": str(model)}
    return model_fingerprint(model)


@dataclass
class _TestSet:
    frame: Any
    texts: list[str]
    refs: list[dict[str, str]]
    golds: list[dict[str, str]] | None
    styles: list[str] | None


def _test_set(dataset_dir: Path, limit: int | None, log: Logger) -> _TestSet:
    test = _read_test_rows(dataset_dir, limit)
    has_gold = all(f"gold_{f}" in test.columns for f in FIELDS)
    log(f"eval: {len(test)} test rows from {dataset_dir} (gold: {has_gold})")
    return _TestSet(
        frame=test,
        texts=test["text"].astype(str).tolist(),
        refs=_labels(test),
        golds=_labels(test, "gold_") if has_gold else None,
        styles=test["style"].astype(str).tolist() if "style" in test.columns else None,
    )


def evaluate(
    base_model: str | Path,
    tuned_model: str | Path,
    dataset_dir: str | Path,
    out_dir: str | Path,
    params: EvalParams,
    log: Logger = null_log,
) -> EvalResult:
    """Base (detailed prompt) vs tuned (short prompt) on the test split; writes the report files.

    Scores against the teacher labels, and also against gold when the data is synthetic.
    """
    from distill_assets.core.evaluation.gates import promotion_gate

    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    data = _test_set(dataset_dir, params.limit, log)
    texts = data.texts
    base_sys = _prompt(params.base_prompt, dataset_dir)
    tuned_sys = _prompt(params.tuned_prompt, dataset_dir)
    nb = len(texts) if params.base_limit is None else max(1, min(params.base_limit, len(texts)))
    base_preds, base_perf = _run_model(base_model, base_sys, texts[:nb], params, "base", log)
    tuned_preds, tuned_perf = _run_model(tuned_model, tuned_sys, texts, params, "tuned", log)

    metrics: dict[str, Any] = {"n": len(texts)}
    for who, preds, perf, sys_prompt in (
        ("base", base_preds, base_perf, base_sys),
        ("tuned", tuned_preds, tuned_perf, tuned_sys),
    ):
        metrics[who] = {**_score_on(data, preds), **perf, "prompt_hash": prompt_hash(sys_prompt)}
    metrics["gold"] = _gold_scores(data, nb, base_preds, tuned_preds)
    metrics["params"] = asdict(params)
    metrics["models"] = {"base": str(base_model), "tuned": str(tuned_model)}
    metrics["lineage"] = {
        "dataset_parquet_sha256": sha256_file(dataset_dir / "dataset.parquet"),
        "test_ids_sha256": sha256_text("\n".join(data.frame["id"].astype(str))),
        "base_model": _model_lineage(base_model),
        "tuned_model": _model_lineage(tuned_model),
        "base_prompt_hash": prompt_hash(base_sys),
        "tuned_prompt_hash": prompt_hash(tuned_sys),
        "versions": package_versions(),
    }
    gate = None
    if params.promotion_threshold is not None:
        gate = promotion_gate(metrics, params.promotion_threshold)
        metrics["promotion_gate"] = {"passed": gate[0], "reason": gate[1]}
    report_md, paths = _write_outputs(
        out_dir, data, nb, base_preds, tuned_preds, metrics, gate, params
    )
    log(
        f"eval: base exact={metrics['base']['exact_match']:.3f} "
        f"tuned exact={metrics['tuned']['exact_match']:.3f} -> {out_dir}"
    )
    return EvalResult(metrics=metrics, report_md=report_md, paths=paths)


def _score_on(data: _TestSet, preds: list[str], gold: bool = False) -> dict[str, Any]:
    """Scores of the first len(preds) test rows, against the teacher labels or gold."""
    n = len(preds)
    refs = data.golds if gold else data.refs
    assert refs is not None
    return score(preds, refs[:n], data.styles[:n] if data.styles else None)


def _gold_scores(
    data: _TestSet, nb: int, base_preds: list[str], tuned_preds: list[str]
) -> dict[str, Any] | None:
    if data.golds is None:
        return None
    teacher_texts = [json.dumps(r, ensure_ascii=False) for r in data.refs]
    return {
        "teacher": _score_on(data, teacher_texts, gold=True),
        "base": _score_on(data, base_preds[:nb], gold=True),
        "tuned": _score_on(data, tuned_preds, gold=True),
    }


def _write_outputs(
    out_dir: Path,
    data: _TestSet,
    nb: int,
    base_preds: list[str],
    tuned_preds: list[str],
    metrics: dict[str, Any],
    gate: tuple[bool, str] | None,
    params: EvalParams,
) -> tuple[str, dict[str, Path]]:
    from distill_assets.core.evaluation.report import render_html, render_markdown

    golds = data.golds
    base_rows = _prediction_rows(
        data.frame.iloc[:nb], base_preds, data.refs[:nb], golds[:nb] if golds else None
    )
    tuned_rows = _prediction_rows(data.frame, tuned_preds, data.refs, golds)
    errors = worst_errors(tuned_rows, params.n_errors)
    chart = "field_accuracy.png"
    report_md = render_markdown(metrics, errors, gate, chart)
    paths = {
        "predictions_base": out_dir / "predictions_base.jsonl",
        "predictions_tuned": out_dir / "predictions_tuned.jsonl",
        "metrics": out_dir / "metrics.json",
        "report_md": out_dir / "report.md",
        "report_html": out_dir / "report.html",
        "field_accuracy_png": out_dir / chart,
    }
    atomic_write_text(paths["predictions_base"], _jsonl(base_rows))
    atomic_write_text(paths["predictions_tuned"], _jsonl(tuned_rows))
    atomic_write_bytes(paths["field_accuracy_png"], field_accuracy_png(metrics))
    atomic_write_text(paths["report_md"], report_md)
    atomic_write_text(paths["report_html"], render_html(metrics, errors, gate, chart))
    # metrics.json last: its presence means the folder is complete.
    atomic_write_json(paths["metrics"], metrics)
    return report_md, paths
