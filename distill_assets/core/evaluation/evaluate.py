"""The base-vs-tuned evaluation of the student on the test split, the benchmarks and the
learning curve (scored by evaluation/score.py, misses named by evaluation/misses.py).

Like with like: the base and the tuned student are read the same way (the judged view: raw, or
canonicalised divisions as `distill predict` gives them) and, where the base runs on only the
first N test rows, the tuned student is also scored on those N rows for the comparison.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import package_versions, sha256_file, sha256_text
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.common.prompts import prompt_hash, student_prompt, teacher_prompt
from distill_assets.core.common.schema import FIELDS
from distill_assets.core.data.benchmarks import Benchmark
from distill_assets.core.evaluation.misses import divisions_written_share, miss_summary
from distill_assets.core.evaluation.runs import Run, run_model
from distill_assets.core.evaluation.score import CANONICAL, RAW, Views, read_views, score_answers


@dataclass
class EvalParams:
    """How the test split is evaluated (defaults are the test/demo profiles' choices)."""

    backend: str = "transformers"  # or "vllm" (gpu profile)
    max_new_tokens: int = 160  # a label is ~60-90 Qwen tokens; room for a longer address
    batch_size: int = 16
    json_constrained: bool = False  # force the six-key skeleton while decoding
    # ... and the copied fields (street, name, phone) to spans of the input text
    grounded: bool = False
    limit: int | None = None  # at most this many test rows (None: all)
    # The untuned base on only the first N of those rows: with the ~1,000-token detailed prompt it
    # is the slowest part on a CPU, and it scores near zero (demo profile: 50).
    base_limit: int | None = None
    base_prompt: str = "teacher"  # the seeds evaluate the base with the detailed prompt
    tuned_prompt: str = "dataset"  # ... the tuned one with the prompt it was trained with
    # Judge the canonicalised answers (divisions made official by core/student/postprocess.py,
    # as `distill predict` and a served model's client read them); False judges the raw ones.
    canonicalize: bool = True
    device: str | None = None  # None: cuda when available, else cpu
    dtype: str | None = None  # None: bf16 on cuda and on an AMX cpu, else fp32 (fast_bf16)
    promotion_threshold: float | None = None  # shown in the report when set
    n_errors: int = 8  # worst errors shown (masked) in the report
    n_examples: int = 3  # masked examples per kind of miss

    @property
    def judged(self) -> str:
        return CANONICAL if self.canonicalize else RAW

    def backend_options(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "max_new_tokens": self.max_new_tokens,
            "batch_size": self.batch_size,
            "json_constrained": self.json_constrained,
            "grounded": self.grounded,
            "device": self.device,
            "dtype": self.dtype,
        }


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


@dataclass
class TestSet:
    frame: Any
    texts: list[str]
    refs: list[dict[str, str]]
    golds: list[dict[str, str]] | None
    styles: list[str] | None


def _labels(df: Any, prefix: str = "") -> list[dict[str, str]]:
    cols = {f: df[prefix + f].astype(str).tolist() for f in FIELDS}
    return [{f: cols[f][i] for f in FIELDS} for i in range(len(df))]


def read_test_set(dataset_dir: Path, limit: int | None, log: Logger = null_log) -> TestSet:
    import pandas as pd

    path = dataset_dir / "dataset.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: not a training_dataset folder")
    df = pd.read_parquet(path)
    missing = [c for c in ["id", "text", "split", *FIELDS] if c not in df.columns]
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
    has_gold = all(f"gold_{f}" in test.columns for f in FIELDS)
    log(f"eval: {len(test)} test rows from {dataset_dir} (gold: {has_gold})")
    return TestSet(
        frame=test,
        texts=test["text"].astype(str).tolist(),
        refs=_labels(test),
        golds=_labels(test, "gold_") if has_gold else None,
        styles=test["style"].astype(str).tolist() if "style" in test.columns else None,
    )


def _scores(answers: Sequence[Any], refs: Sequence[dict[str, str]], styles: Any) -> dict:
    n = len(answers)
    return score_answers(answers, refs[:n], styles[:n] if styles else None)


def _benchmark_scores(
    tuned_model: str | Path,
    system: str,
    benchmarks: Sequence[Benchmark],
    p: EvalParams,
    log: Logger,
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """(each benchmark's figures, its prediction rows for `predictions_bench_<name>.jsonl`)."""
    from distill_assets.core.evaluation.outputs import prediction_rows

    out: dict[str, Any] = {}
    rows: dict[str, list[dict[str, Any]]] = {}
    for b in benchmarks:
        run = run_model(tuned_model, system, b.texts, p.backend_options(), f"bench:{b.name}", log)
        views = read_views(run.outputs, b.texts)
        styles = b.frame["style"].astype(str).tolist()
        bench_set = TestSet(frame=b.frame, texts=b.texts, refs=b.golds, golds=None, styles=styles)
        rows[b.name] = prediction_rows(bench_set, run, views, p.judged)
        out[b.name] = {
            "n": len(b.frame),
            "sha256": b.sha256,
            "tuned": _scores(views.view(p.judged), b.golds, styles),
            "tuned_raw": _scores(views.raw, b.golds, styles),
        }
        log(f"eval: benchmark {b.name}: exact {out[b.name]['tuned']['exact_match']:.3f}")
    return out, rows


def build_metrics(
    data: TestSet, base: Views, tuned: Views, tuned_run: Run, p: EvalParams
) -> dict[str, Any]:
    """Every figure of the report from the two models' views (no model runs here)."""
    judged, nb, styles = p.judged, len(base.raw), data.styles
    metrics: dict[str, Any] = {
        "n": len(data.texts),
        "judged": judged,
        "base": _scores(base.view(judged), data.refs, styles),
        "tuned": _scores(tuned.view(judged), data.refs, styles),
        "tuned_raw": _scores(tuned.raw, data.refs, styles),
        "tuned_canonical": _scores(tuned.canonical, data.refs, styles),
        "tuned_on_base_rows": _scores(tuned.head(nb).view(judged), data.refs, styles),
        "base_raw": _scores(base.raw, data.refs, styles),
        "divisions": dict(Counter(tuned.divisions)),
        "misses": miss_summary(
            tuned.view(judged), data.refs, data.texts, tuned_run.truncated, p.n_examples
        ),
        "misses_raw": miss_summary(tuned.raw, data.refs, data.texts, tuned_run.truncated, 0),
        "divisions_written": divisions_written_share(data.refs, data.texts),
    }
    if data.golds is not None:
        metrics["gold"] = {
            "teacher": _scores(data.refs, data.golds, styles),
            "base": _scores(base.view(judged), data.golds, styles),
            "tuned": _scores(tuned.view(judged), data.golds, styles),
            "tuned_raw": _scores(tuned.raw, data.golds, styles),
        }
    return metrics


def evaluate(
    base_model: str | Path,
    tuned_model: str | Path,
    dataset_dir: str | Path,
    out_dir: str | Path,
    params: EvalParams,
    log: Logger = null_log,
    benchmarks: Sequence[Benchmark] = (),
    extra: dict[str, Any] | None = None,
    history: tuple[Path, str] | None = None,
) -> EvalResult:
    """Base (detailed prompt) vs tuned (short prompt) on the test split, then the tuned student
    on every benchmark; writes the report files. `extra` (e.g. the learning curve) is merged
    into the metrics; `history` (artifacts root, this version) adds each benchmark's figures
    across the latest versions."""
    from distill_assets.core.evaluation.gates import promotion_gate
    from distill_assets.core.evaluation.outputs import write_outputs

    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    data = read_test_set(dataset_dir, params.limit, log)
    texts = data.texts
    base_sys = _prompt(params.base_prompt, dataset_dir)
    tuned_sys = _prompt(params.tuned_prompt, dataset_dir)
    nb = len(texts) if params.base_limit is None else max(1, min(params.base_limit, len(texts)))
    opts = params.backend_options()
    base_run = run_model(base_model, base_sys, texts[:nb], opts, "base", log)
    tuned_run = run_model(tuned_model, tuned_sys, texts, opts, "tuned", log)
    base_views = read_views(base_run.outputs, texts[:nb])
    tuned_views = read_views(tuned_run.outputs, texts)

    metrics = build_metrics(data, base_views, tuned_views, tuned_run, params)
    metrics["base"] |= {**base_run.perf, "prompt_hash": prompt_hash(base_sys)}
    metrics["tuned"] |= {**tuned_run.perf, "prompt_hash": prompt_hash(tuned_sys)}
    metrics["benchmarks"], bench_rows = _benchmark_scores(
        tuned_model, tuned_sys, benchmarks, params, log
    )
    metrics["evaluated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    metrics["params"] = asdict(params)
    metrics["models"] = {"base": str(base_model), "tuned": str(tuned_model)}
    metrics["lineage"] = {
        "dataset_parquet_sha256": sha256_file(dataset_dir / "dataset.parquet"),
        "test_ids_sha256": sha256_text("\n".join(data.frame["id"].astype(str))),
        "base_model": _model_lineage(base_model),
        "tuned_model": _model_lineage(tuned_model),
        "base_prompt_hash": prompt_hash(base_sys),
        "tuned_prompt_hash": prompt_hash(tuned_sys),
        "benchmarks": {b.name: b.sha256 for b in benchmarks},
        "versions": package_versions(),
    }
    metrics |= extra or {}
    if history is not None:
        from distill_assets.core.evaluation.history import benchmark_history

        root, version = history
        metrics["benchmark_history"] = {
            b.name: benchmark_history(root, b.name, current=(version, metrics)) for b in benchmarks
        }
    gate = None
    if params.promotion_threshold is not None:
        gate = promotion_gate(metrics, params.promotion_threshold)
        metrics["promotion_gate"] = {"passed": gate[0], "reason": gate[1]}
    report_md, paths = write_outputs(
        out_dir,
        data,
        (base_run, base_views),
        (tuned_run, tuned_views),
        metrics,
        gate,
        params,
        bench_rows,
    )
    log(
        f"eval: base exact={metrics['base']['exact_match']:.3f} "
        f"tuned exact={metrics['tuned']['exact_match']:.3f} ({params.judged}) "
        f"raw={metrics['tuned_raw']['exact_match']:.3f} -> {out_dir}"
    )
    return EvalResult(metrics=metrics, report_md=report_md, paths=paths)


def _model_lineage(model: str | Path) -> dict[str, Any]:
    from distill_assets.core.student.base_models import model_fingerprint

    return model_fingerprint(model)
