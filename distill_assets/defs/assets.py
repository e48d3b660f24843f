"""The six assets: short adapters from run config to a core call to a MaterializeResult."""

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from distill_assets.core.dataset import clean as cleaning
from distill_assets.core.evaluation import evaluate as evaluation
from distill_assets.core.student import base_models as models
from distill_assets.core.student import merging, training
from distill_assets.core.teacher import label_checks as quality
from distill_assets.core.common.artifacts import atomic_dir, atomic_write_text
from distill_assets.core.teacher.labeling import LabelingError, TeacherSettings, label_frame
from distill_assets.core.common.lineage import (
    INHERITED_KEYS,
    asset_dir,
    read_manifest,
    upstream_versions,
    write_manifest,
)
from distill_assets.core.student.predict import SYSTEM_PROMPT_FILE
from distill_assets.core.common.prompts import STUDENT_PROMPTS, load_prompt, prompt_hash, teacher_prompt
from distill_assets.core.data.dataset_versions import VersionError, load_spec
from distill_assets.defs import checks
from distill_assets.defs.automation import asset_automation_condition
from distill_assets.defs.configs import (
    DatasetConfig,
    EvalConfig,
    LabelingConfig,
    MergeConfig,
    SourceConfig,
    TrainingConfig,
)
from distill_assets.defs.executors import GPU_POOL, gpu_op_tags
from distill_assets.defs.metadata import image_md, preview_md
from distill_assets.defs.partitions import dataset_version
from distill_assets.defs.resources import DistillSettings, TeacherResource

# Code versions: bump when the step's logic changes; prompts hash in so a new prompt relabels.
RAW_CODE_VERSION = "raw-v1"
LABELS_CODE_VERSION = f"labels-v1-{prompt_hash(teacher_prompt())}"
_STUDENT_PROMPTS_HASH = prompt_hash("\n".join(load_prompt(p) for p in STUDENT_PROMPTS))
DATASET_CODE_VERSION = f"dataset-v1-{_STUDENT_PROMPTS_HASH}"
TRAIN_CODE_VERSION = "lora-v1"
MERGE_CODE_VERSION = "merge-v1"
EVAL_CODE_VERSION = f"eval-v1-{prompt_hash(teacher_prompt())}-{_STUDENT_PROMPTS_HASH}"

# GPU steps: one at a time inside a run (executor tag limit) and across runs (the `gpu` pool);
# on Kubernetes the same tag asks the step's pod for a GPU (defs/executors.py).
GPU_OP_TAGS = gpu_op_tags()
GPU_TAGS = {"gpu": ""}


def _fail(step: str, exc: BaseException | str) -> dg.Failure:
    return dg.Failure(description=f"{step} failed: {exc}", metadata={"error": str(exc)})


def _result(
    manifest: dict[str, Any], out: Path, metadata: dict[str, Any], checks_=()
) -> dg.MaterializeResult:
    """Lineage metadata common to every asset, then the asset's own."""
    base = {
        "path": dg.MetadataValue.path(str(out)),
        "data_version": manifest["data_version"],
        "code_version": manifest["code_version"],
        "upstream": dg.MetadataValue.json(manifest["upstream"]),
        "files_sha256": dg.MetadataValue.json(manifest["files"]),
        "packages": dg.MetadataValue.json(manifest["packages"]),
        **{k: str(manifest[k]) for k in INHERITED_KEYS if manifest.get(k)},
    }
    return dg.MaterializeResult(
        metadata={**base, **metadata},
        data_version=dg.DataVersion(manifest["data_version"]),
        check_results=list(checks_),
    )


@dg.asset(
    partitions_def=dataset_version,
    automation_condition=asset_automation_condition(),
    group_name="data",
    code_version=RAW_CODE_VERSION,
    kinds={"parquet"},
    description="The batch of raw records as Parquet: id, text, source, style (+ gold_* fields).",
)
def raw_addresses(
    context: dg.AssetExecutionContext, config: SourceConfig, settings: DistillSettings
) -> dg.MaterializeResult:
    from distill_assets.core.data.inputs import InputError, read_text_table
    from distill_assets.core.data.synth import generate_batch

    key = context.partition_key
    try:
        spec = load_spec(settings.home_path, key)
        if spec.kind == "synthetic":
            frame = generate_batch(spec.rows, seed=spec.seed)
        else:
            frame = read_text_table(Path(spec.path))
    except VersionError as exc:
        raise _fail("raw_addresses", exc) from exc
    except InputError as exc:
        raise _fail("raw_addresses", f"input file {spec.original_path}: {exc}") from exc
    out = asset_dir(settings.artifacts, key, "raw_addresses")
    with atomic_dir(out) as tmp:
        frame.to_parquet(tmp / "raw.parquet", index=False)
        manifest = write_manifest(
            tmp,
            version=context.partition_key,
            asset="raw_addresses",
            code_version=RAW_CODE_VERSION,
            upstream={},
            params={"spec": spec.to_json()},
            extra={"source": spec.to_json()},
        )
    styles = frame["style"].value_counts().to_dict() if "style" in frame else {}
    return _result(
        manifest,
        out,
        {
            "rows": len(frame),
            "source_kind": spec.kind,
            "has_gold": any(c.startswith("gold_") for c in frame.columns),
            "styles": dg.MetadataValue.json({str(k): int(v) for k, v in styles.items()}),
            "preview": dg.MetadataValue.md(
                preview_md(frame, config.preview_rows, unmask=settings.unmask_previews)
            ),
        },
    )


@dg.asset(
    partitions_def=dataset_version,
    automation_condition=asset_automation_condition(),
    group_name="data",
    deps=[raw_addresses],
    code_version=LABELS_CODE_VERSION,
    kinds={"parquet", "openai"},
    check_specs=[checks.LABELS_STATUS_SPEC, checks.LABELS_AGREEMENT_SPEC],
    description="One teacher answer per record: raw response, parsed fields, status, tokens.",
)
def teacher_labels(
    context: dg.AssetExecutionContext,
    config: LabelingConfig,
    settings: DistillSettings,
    teacher: TeacherResource,
) -> dg.MaterializeResult:
    key = context.partition_key
    profile = settings.get_profile()
    raw_dir = asset_dir(settings.artifacts, key, "raw_addresses")
    upstream = upstream_versions(settings.artifacts, key, ("raw_addresses",))
    raw = pd.read_parquet(raw_dir / "raw.parquet")
    teacher_settings = TeacherSettings(
        kind=teacher.kind or profile.teacher_kind,
        base_url=teacher.base_url or profile.teacher_base_url,
        model=teacher.model or profile.teacher_model,
        api_key=teacher.api_key,
        temperature=teacher.temperature,
        max_tokens=teacher.max_tokens,
        timeout_s=teacher.timeout_s,
        concurrency=teacher.concurrency,
        max_attempts=teacher.max_attempts,
        json_mode=teacher.json_mode,
        enable_thinking=teacher.enable_thinking,
        price_in_per_mtok=teacher.price_in_per_mtok,
        price_out_per_mtok=teacher.price_out_per_mtok,
        currency=teacher.currency,
        budget_tokens=teacher.budget_tokens,
        budget_cost=teacher.budget_cost,
        max_failure_rate=teacher.max_failure_rate,
        cache_dir=str(settings.cache_dir / "teacher"),
    )
    try:
        result = label_frame(raw.loc[:, ["id", "text"]], teacher_settings, log=context.log.info)
    except LabelingError as exc:
        raise _fail("teacher_labels", exc) from exc
    labels = result.frame
    ledger = result.ledger
    agreement = None
    if config.compare_with_gazetteer and teacher_settings.kind != "gazetteer":
        agreement = quality.gazetteer_disagreement(labels)
    out = asset_dir(settings.artifacts, key, "teacher_labels")
    with atomic_dir(out) as tmp:
        labels.to_parquet(tmp / "labels.parquet", index=False)
        manifest = write_manifest(
            tmp,
            version=context.partition_key,
            asset="teacher_labels",
            code_version=LABELS_CODE_VERSION,
            upstream=upstream,
            params={"teacher": teacher_settings.safe_dict(), "ledger": ledger},
            extra={
                "teacher_model": ledger.get("teacher_model"),
                "prompt_hash": ledger.get("prompt_hash"),
            },
        )
    gold_acc = quality.exact_vs_gold(raw, labels)
    meta: dict[str, Any] = {
        "rows": len(labels),
        "status_counts": dg.MetadataValue.json(
            {str(k): int(v) for k, v in labels["status"].value_counts().items()}
        ),
        "ledger": dg.MetadataValue.json(ledger),
        "preview": dg.MetadataValue.md(
            preview_md(labels, 5, unmask=settings.unmask_previews, drop=("raw_response",))
        ),
    }
    if gold_acc is not None:
        meta["teacher_exact_vs_gold"] = dg.MetadataValue.float(gold_acc)
    return _result(
        manifest,
        out,
        meta,
        [
            checks.labels_status_result(labels, teacher_settings.max_failure_rate),
            checks.labels_agreement_result(agreement),
        ],
    )


@dg.asset(
    partitions_def=dataset_version,
    automation_condition=asset_automation_condition(),
    group_name="data",
    deps=[raw_addresses, teacher_labels],
    code_version=DATASET_CODE_VERSION,
    kinds={"parquet", "json"},
    check_specs=checks.DATASET_SPECS,
    description="Cleaned, grounded, de-duplicated records split train/val/test without leakage; "
    "Alpaca JSONL, messages JSONL and Parquet, with a data card.",
)
def training_dataset(
    context: dg.AssetExecutionContext, config: DatasetConfig, settings: DistillSettings
) -> dg.MaterializeResult:
    key = context.partition_key
    profile = settings.get_profile()
    upstream = upstream_versions(settings.artifacts, key, ("raw_addresses", "teacher_labels"))
    raw = pd.read_parquet(asset_dir(settings.artifacts, key, "raw_addresses") / "raw.parquet")
    labels = pd.read_parquet(
        asset_dir(settings.artifacts, key, "teacher_labels") / "labels.parquet"
    )
    params = cleaning.CleaningParams(
        test_size=config.test_size if config.test_size is not None else profile.test_size,
        val_fraction=config.val_fraction,
        max_drop_rate=config.max_drop_rate,
        split_salt=config.split_salt,
        student_prompt=config.student_prompt or profile.student_prompt,
    )
    out = asset_dir(settings.artifacts, key, "training_dataset")
    try:
        result = cleaning.build_training_dataset(raw, labels, out, params, log=context.log.info)
    except ValueError as exc:
        raise _fail("training_dataset", exc) from exc
    manifest = write_manifest(
        out,
        version=context.partition_key,
        asset="training_dataset",
        code_version=DATASET_CODE_VERSION,
        upstream=upstream,
        params=asdict(params),
        extra={"counts": result.counts, "drop_reasons": result.drop_reasons},
    )
    card = (out / "data_card.md").read_text("utf-8")
    meta: dict[str, Any] = {
        "rows_kept": int(result.counts.get("kept", 0)),
        "train_rows": int(result.counts.get("train", 0)),
        "val_rows": int(result.counts.get("val", 0)),
        "test_rows": int(result.counts.get("test", 0)),
        "drop_rate": dg.MetadataValue.float(float(result.drop_rate)),
        "drop_reasons": dg.MetadataValue.json(result.drop_reasons),
        "data_card": dg.MetadataValue.md(card),
    }
    return _result(manifest, out, meta, checks.dataset_results(out, result, params.max_drop_rate))


def _lora_params(config: TrainingConfig, preset: str, overrides: dict[str, Any]):
    changes = {
        "epochs": config.epochs,
        "learning_rate": config.learning_rate,
        "r": config.lora_r,
        "alpha": config.lora_alpha,
        "per_device_batch_size": config.per_device_batch_size,
        "gradient_accumulation": config.gradient_accumulation,
        "max_steps": config.max_steps,
        "max_length": config.max_length,
    }
    base = replace(training.LoraParams.for_profile(preset), **overrides)
    return replace(base, **{k: v for k, v in changes.items() if v is not None})


@dg.asset(
    partitions_def=dataset_version,
    automation_condition=asset_automation_condition(),
    group_name="model",
    deps=[training_dataset],
    code_version=TRAIN_CODE_VERSION,
    kinds={"pytorch", "huggingface"},
    tags=GPU_TAGS,
    op_tags=GPU_OP_TAGS,
    pool=GPU_POOL,
    description="A PEFT LoRA adapter (loss on the answer only), its loss log and loss curves.",
)
def lora_adapter(
    context: dg.AssetExecutionContext, config: TrainingConfig, settings: DistillSettings
) -> dg.MaterializeResult:
    key = context.partition_key
    profile = settings.get_profile()
    upstream = upstream_versions(settings.artifacts, key, ("training_dataset",))
    base_spec = config.base_model or profile.base_model
    base = models.resolve_base_model(base_spec, settings.cache_dir / "models", log=context.log.info)
    params = _lora_params(config, profile.lora_preset, profile.lora_overrides)
    out = asset_dir(settings.artifacts, key, "lora_adapter")
    try:
        result = training.train_lora(
            base,
            asset_dir(settings.artifacts, key, "training_dataset"),
            out,
            params,
            log=context.log.info,
        )
    except (ValueError, RuntimeError) as exc:
        raise _fail("lora_adapter", exc) from exc
    manifest = write_manifest(
        out,
        version=context.partition_key,
        asset="lora_adapter",
        code_version=TRAIN_CODE_VERSION,
        upstream=upstream,
        params=asdict(params),
        extra={"base_model": base_spec, "base_model_path": str(base)},
    )
    meta: dict[str, Any] = {
        "first_loss": dg.MetadataValue.float(float(result.first_loss)),
        "last_loss": dg.MetadataValue.float(float(result.last_loss)),
        "final_eval_loss": dg.MetadataValue.float(float(result.final_eval_loss or float("nan"))),
        "steps": int(result.steps),
        "train_tokens": int(result.train_tokens),
        "tokens_per_s": dg.MetadataValue.float(float(result.tokens_per_s)),
        "peak_memory_mb": dg.MetadataValue.float(float(result.peak_memory_mb)),
        "hyper_parameters": dg.MetadataValue.json(asdict(params)),
        "train_loss": dg.MetadataValue.md(image_md(result.train_loss_png, "train loss")),
        "eval_loss": dg.MetadataValue.md(image_md(result.eval_loss_png, "eval loss")),
    }
    return _result(manifest, out, meta)


@dg.asset(
    partitions_def=dataset_version,
    automation_condition=asset_automation_condition(),
    group_name="model",
    deps=[lora_adapter],
    code_version=MERGE_CODE_VERSION,
    kinds={"huggingface", "safetensors"},
    tags=GPU_TAGS,
    op_tags=GPU_OP_TAGS,
    pool=GPU_POOL,
    check_specs=[checks.MERGED_EQUALS_SPEC],
    description="Base + adapter merged (merge_and_unload) into a standalone HF model folder.",
)
def merged_model(
    context: dg.AssetExecutionContext, config: MergeConfig, settings: DistillSettings
) -> dg.MaterializeResult:
    key = context.partition_key
    upstream = upstream_versions(settings.artifacts, key, ("lora_adapter",))
    adapter_manifest_dir = asset_dir(settings.artifacts, key, "lora_adapter")
    lora_manifest = read_manifest(adapter_manifest_dir)
    base = lora_manifest["base_model_path"]
    adapter = adapter_manifest_dir / "adapter"
    out = asset_dir(settings.artifacts, key, "merged_model")
    try:
        result = merging.merge_adapter(base, adapter, out, log=context.log.info)
    except (ValueError, RuntimeError, OSError) as exc:
        raise _fail("merged_model", exc) from exc
    dataset_dir = asset_dir(settings.artifacts, key, "training_dataset")
    system = cleaning.dataset_student_prompt(dataset_dir)
    # `distill predict` reads the prompt the student was trained with from the model folder.
    atomic_write_text(out / SYSTEM_PROMPT_FILE, system)
    test_texts = checks.sample_test_texts(dataset_dir, config.compare_samples)
    comparison = merging.compare_merged(base, adapter, out, test_texts, system=system)
    manifest = write_manifest(
        out,
        version=context.partition_key,
        asset="merged_model",
        code_version=MERGE_CODE_VERSION,
        upstream=upstream,
        params={"max_abs_logit_diff": config.max_abs_logit_diff},
        extra={
            "base_model": lora_manifest.get("base_model"),
            "base_model_path": base,
            "fingerprint": models.model_fingerprint(out),
        },
    )
    meta: dict[str, Any] = {
        "comparison": dg.MetadataValue.json(comparison),
        "fingerprint": dg.MetadataValue.json(manifest["fingerprint"]),
        "merge": dg.MetadataValue.json(result.metadata()),
    }
    return _result(
        manifest, out, meta, [checks.merged_equals_result(comparison, config.max_abs_logit_diff)]
    )


@dg.asset(
    partitions_def=dataset_version,
    automation_condition=asset_automation_condition(),
    group_name="evaluation",
    deps=[merged_model, training_dataset],
    code_version=EVAL_CODE_VERSION,
    kinds={"markdown", "json"},
    tags=GPU_TAGS,
    op_tags=GPU_OP_TAGS,
    pool=GPU_POOL,
    check_specs=[checks.PROMOTION_SPEC],
    description="Base (detailed prompt) vs tuned student (short prompt) on the test split.",
)
def eval_report(
    context: dg.AssetExecutionContext, config: EvalConfig, settings: DistillSettings
) -> dg.MaterializeResult:
    from distill_assets.core.evaluation.report import promotion_gate

    key = context.partition_key
    profile = settings.get_profile()
    upstream = upstream_versions(settings.artifacts, key, ("training_dataset", "merged_model"))
    merged_dir = asset_dir(settings.artifacts, key, "merged_model")
    base = read_manifest(merged_dir)["base_model_path"]
    threshold = (
        config.promotion_threshold
        if config.promotion_threshold is not None
        else profile.promotion_threshold
    )
    params = evaluation.EvalParams(
        promotion_threshold=threshold,
        backend=config.backend or profile.eval_backend,
        max_new_tokens=config.max_new_tokens or profile.eval_max_new_tokens,
        batch_size=config.batch_size or profile.eval_batch_size,
        json_constrained=config.json_constrained,
        limit=config.limit,
        base_limit=config.base_limit if config.base_limit is not None else profile.eval_base_limit,
    )
    out = asset_dir(settings.artifacts, key, "eval_report")
    try:
        result = evaluation.evaluate(
            base,
            merged_dir,
            asset_dir(settings.artifacts, key, "training_dataset"),
            out,
            params,
            log=context.log.info,
        )
    except (ValueError, RuntimeError, KeyError, OSError) as exc:
        raise _fail("eval_report", exc) from exc
    passed, reason = promotion_gate(result.metrics, threshold)
    manifest = write_manifest(
        out,
        version=context.partition_key,
        asset="eval_report",
        code_version=EVAL_CODE_VERSION,
        upstream=upstream,
        params=asdict(params),
        extra={"promotion": {"passed": passed, "reason": reason, "threshold": threshold}},
    )
    m = result.metrics
    meta: dict[str, Any] = {
        "base_exact_match": dg.MetadataValue.float(float(m["base"]["exact_match"])),
        "tuned_exact_match": dg.MetadataValue.float(float(m["tuned"]["exact_match"])),
        "base_valid_json": dg.MetadataValue.float(float(m["base"]["valid_json_rate"])),
        "tuned_valid_json": dg.MetadataValue.float(float(m["tuned"]["valid_json_rate"])),
        "test_rows": int(m["tuned"]["n"]),
        "metrics": dg.MetadataValue.json(m),
        "report": dg.MetadataValue.md(result.report_md),
    }
    return _result(manifest, out, meta, [checks.promotion_result(passed, reason, m)])


ALL_ASSETS = [
    raw_addresses,
    teacher_labels,
    training_dataset,
    lora_adapter,
    merged_model,
    eval_report,
]
