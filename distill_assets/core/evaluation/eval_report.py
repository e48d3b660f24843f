"""The eval_report step of one dataset version: the evaluation with what the home adds to it
(registered benchmarks, their history across versions, the adapter's learning curve)."""

from __future__ import annotations

from pathlib import Path

from distill_assets.core.common.lineage import asset_dir, read_manifest
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.data.benchmarks import load_benchmarks
from distill_assets.core.evaluation.evaluate import EvalParams, EvalResult, evaluate
from distill_assets.core.student.learning_curve import read_learning_curve


def build_eval_report(
    home: Path,
    artifacts: Path,
    version: str,
    out: Path,
    params: EvalParams,
    log: Logger = null_log,
) -> EvalResult:
    merged = asset_dir(artifacts, version, "merged_model")
    base = read_manifest(merged)["base_model_path"]
    return evaluate(
        base,
        merged,
        asset_dir(artifacts, version, "training_dataset"),
        out,
        params,
        log=log,
        benchmarks=load_benchmarks(home),
        extra={
            "learning_curve": read_learning_curve(asset_dir(artifacts, version, "lora_adapter"))
        },
        history=(artifacts, version),
    )
