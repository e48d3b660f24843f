"""The six assets: run config -> one core call -> MaterializeResult (skeleton: defs/step.py)."""

from pathlib import Path
from typing import Any

import dagster as dg

from distill_assets.core.common.lineage import read_manifest
from distill_assets.core.data.raw_batch import write_raw_batch
from distill_assets.core.dataset.clean import build_from_artifacts
from distill_assets.core.dataset.cumulative import build_with_previous
from distill_assets.core.evaluation import gates
from distill_assets.core.evaluation.eval_report import build_eval_report
from distill_assets.core.student.merging import build_merged_model
from distill_assets.core.student.training import train_student
from distill_assets.core.teacher.label_batch import label_batch
from distill_assets.defs import code_versions, metadata
from distill_assets.defs.automation import asset_automation_condition
from distill_assets.defs.checks import specs_for
from distill_assets.defs.configs import (
    DatasetConfig,
    EvalConfig,
    LabelingConfig,
    MergeConfig,
    SourceConfig,
    TrainingConfig,
)
from distill_assets.defs.executors import GPU_POOL, gpu_op_tags
from distill_assets.defs.partitions import dataset_version
from distill_assets.defs.resources import DistillSettings, TeacherResource
from distill_assets.defs.step import Built, Step
from distill_assets.defs.teacher_budget import within_daily_budget

Context = dg.AssetExecutionContext


def graph_asset(group: str, *, gpu: bool = False, **kwargs: Any):
    """@dg.asset with what every asset of the graph shares: the partitions, the automation
    condition, its group and checks; GPU steps carry the gpu tag, op tags and pool."""
    name = kwargs["name"]
    extra: dict[str, Any] = {"tags": {"gpu": ""}, "op_tags": gpu_op_tags(), "pool": GPU_POOL}
    return dg.asset(
        partitions_def=dataset_version,
        automation_condition=asset_automation_condition(),
        group_name=group,
        check_specs=specs_for(name),
        **(extra if gpu else {}),
        **kwargs,
    )


@graph_asset(
    "data",
    name="raw_addresses",
    code_version=code_versions.RAW,
    kinds={"parquet"},
    description="The batch of raw records as Parquet: id, text, source, style (+ gold_* fields).",
)
def raw_addresses(
    context: Context, config: SourceConfig, settings: DistillSettings
) -> dg.MaterializeResult:
    step = Step(context, settings)

    def build(out: Path) -> Built:
        batch = write_raw_batch(settings.home_path, step.key, out, step.log)
        meta = metadata.raw_metadata(batch, config.preview_rows, settings.unmask_previews)
        spec = batch.spec.to_json()
        return Built(params={"spec": spec}, metadata=meta, extra={"source": spec})

    return step.run(build)


@graph_asset(
    "data",
    name="teacher_labels",
    deps=["raw_addresses"],
    code_version=code_versions.LABELS,
    kinds={"parquet", "openai"},
    description="One teacher answer per record: raw response, parsed fields, status, tokens.",
)
def teacher_labels(
    context: Context, config: LabelingConfig, settings: DistillSettings, teacher: TeacherResource
) -> dg.MaterializeResult:
    step = Step(context, settings)
    ask = within_daily_budget(context, settings, teacher.for_run(settings))

    def build(out: Path) -> Built:
        batch = label_batch(
            step.dir("raw_addresses"),
            out,
            ask,
            compare_with_gazetteer=config.compare_with_gazetteer,
            log=step.log,
        )
        led = batch.ledger
        return Built(
            params={"teacher": ask.safe_dict(), "ledger": led},
            metadata=metadata.labels_metadata(batch, settings.unmask_previews),
            extra={
                "teacher_model": led.get("teacher_model"),
                "prompt_hash": led.get("prompt_hash"),
            },
            verdicts=[
                gates.labels_failure_rate(batch.frame, ask.max_failure_rate),
                gates.labels_gazetteer_agreement(batch.disagreement),
            ],
        )

    return step.run(build)


@graph_asset(
    "data",
    name="training_dataset",
    deps=["raw_addresses", "teacher_labels"],
    code_version=code_versions.DATASET,
    kinds={"parquet", "json"},
    description="Cleaned, grounded, de-duplicated records split train/val/test without leakage; "
    "Alpaca JSONL, messages JSONL and Parquet, with a data card.",
)
def training_dataset(
    context: Context, config: DatasetConfig, settings: DistillSettings
) -> dg.MaterializeResult:
    step = Step(context, settings)
    params = config.params(step.profile)

    def build(out: Path) -> Built:
        included: list[dict[str, Any]] = []
        if config.include_previous:
            keys = context.instance.get_dynamic_partitions(dataset_version.name or "")
            earlier = keys[: keys.index(step.key)]  # partitions list in the order they were added
            result, included = build_with_previous(
                settings.artifacts, earlier, step.key, out, params, step.log
            )
        else:
            result = build_from_artifacts(
                step.dir("raw_addresses"), step.dir("teacher_labels"), out, params, step.log
            )
        return Built(
            params={**metadata.params_of(params), "include_previous": config.include_previous},
            metadata={**metadata.dataset_metadata(result), "included_versions": included},
            extra={
                "counts": result.counts,
                "drop_reasons": result.drop_reasons,
                "included_versions": included,
            },
            verdicts=[
                gates.dataset_schema(out),
                gates.dataset_no_leakage(out),
                gates.dataset_drop_rate(result, params.max_drop_rate),
            ],
        )

    return step.run(build)


@graph_asset(
    "model",
    gpu=True,
    name="lora_adapter",
    deps=["training_dataset"],
    code_version=code_versions.TRAIN,
    kinds={"pytorch", "huggingface"},
    description="A PEFT LoRA adapter (loss on the answer only), its loss log and loss curves.",
)
def lora_adapter(
    context: Context, config: TrainingConfig, settings: DistillSettings
) -> dg.MaterializeResult:
    step = Step(context, settings)
    params = config.params(step.profile)

    def build(out: Path) -> Built:
        result = train_student(
            config.base_spec(step.profile),
            settings.cache_dir / "models",
            step.dir("training_dataset"),
            out,
            params,
            step.log,
            checkpoints_dir=step.scratch() / "checkpoints",
        )
        return Built(
            params=metadata.params_of(params),
            metadata=metadata.adapter_metadata(result),
            extra={"base_model": result.base_model, "base_model_path": result.base_model_path},
        )

    return step.run(build)


@graph_asset(
    "model",
    gpu=True,
    name="merged_model",
    deps=["lora_adapter"],
    code_version=code_versions.MERGE,
    kinds={"huggingface", "safetensors"},
    description="Base + adapter merged (merge_and_unload) into a standalone HF model folder.",
)
def merged_model(
    context: Context, config: MergeConfig, settings: DistillSettings
) -> dg.MaterializeResult:
    step = Step(context, settings)

    def build(out: Path) -> Built:
        adapter = read_manifest(step.dir("lora_adapter"))
        merged = build_merged_model(
            adapter["base_model_path"],
            step.dir("lora_adapter") / "adapter",
            step.dir("training_dataset"),
            out,
            config.compare_samples,
            step.log,
        )
        return Built(
            params={"max_abs_logit_diff": config.max_abs_logit_diff},
            metadata=metadata.merged_metadata(merged),
            extra={
                "base_model": adapter.get("base_model"),
                "base_model_path": merged.base_model_path,
                "fingerprint": merged.fingerprint,
            },
            verdicts=[gates.merged_matches_adapter(merged.comparison, config.max_abs_logit_diff)],
        )

    return step.run(build)


@graph_asset(
    "evaluation",
    gpu=True,
    name="eval_report",
    deps=["merged_model", "training_dataset", "lora_adapter"],
    code_version=code_versions.EVAL,
    kinds={"markdown", "json"},
    description="Base (detailed prompt) vs tuned student (short prompt) on the test split.",
)
def eval_report(
    context: Context, config: EvalConfig, settings: DistillSettings
) -> dg.MaterializeResult:
    step = Step(context, settings)
    params = config.params(step.profile)

    def build(out: Path) -> Built:
        result = build_eval_report(
            step.settings.home_path, step.settings.artifacts, step.key, out, params, step.log
        )
        verdict = gates.promotion(result.metrics, float(params.promotion_threshold or 0.0))
        return Built(
            params=metadata.params_of(params),
            metadata=metadata.eval_metadata(result.metrics, result.report_md),
            extra={"promotion": {"passed": verdict.passed, "reason": verdict.detail}},
            verdicts=[verdict],
        )

    return step.run(build)


ALL_ASSETS = [
    raw_addresses,
    teacher_labels,
    training_dataset,
    lora_adapter,
    merged_model,
    eval_report,
]
