"""LoRA supervised fine-tuning of the student on the teacher's labels (transformers + peft).

Laid out like trl's sft.py: parameters (student/training_params.py), then one function in
Model / Dataset / Training sections. The loss covers only the assistant answer and its
end-of-turn token, and the output head is applied only at those positions (the prompt is ~2/3 of
every example), which is where most of the speed-up over the seed recipe comes from; batches
are length-grouped and padded dynamically. Checkpoints every `save_steps` let a killed run
resume where it stopped (student/checkpoints.py).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import (
    atomic_dir,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    package_versions,
    sha256_dir,
    sha256_file,
)
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.student.answer_only import make_trainer_class
from distill_assets.core.student.checkpoints import prepare_checkpoints, run_key
from distill_assets.core.student.learning_curve import make_curve_callback, write_learning_curve
from distill_assets.core.student.training_data import Examples, load_examples, make_collator
from distill_assets.core.student.training_log import (
    loss_rows,
    peak_memory_mb,
    plot_curve,
    progress_callback,
)
from distill_assets.core.student.training_params import LoraParams

__all__ = ["LoraParams", "TrainResult", "train_lora"]


@dataclass
class TrainResult:
    adapter_dir: Path
    loss_log: Path
    train_loss_png: Path
    eval_loss_png: Path
    summary_json: Path
    first_loss: float
    last_loss: float
    final_eval_loss: float
    train_tokens: int  # non-pad tokens processed by this invocation (resumed steps excluded)
    tokens_per_s: float
    peak_memory_mb: float
    steps: int
    params: dict[str, Any]
    wall_s: float
    adapter_sha256: str
    resumed_from_step: int | None = None
    n_train: int = 0
    n_val: int = 0
    dropped_too_long: int = 0
    lineage: dict[str, Any] = field(default_factory=dict)
    base_model: str = ""  # the spec asked for (built-in name, hub id or path)
    base_model_path: str = ""  # what was loaded
    learning_curve: list[dict[str, Any]] = field(default_factory=list)  # see learning_curve.py

    def metadata(self) -> dict[str, Any]:
        """Flat, JSON-able summary (paths as strings) for Dagster metadata and train_summary."""
        out = asdict(self)
        return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}


class TrainingInterrupted(RuntimeError):
    """Raised by a callback to stop a run (tests simulate a kill with it)."""


# ---------------------------------------------------------------- train_lora


def train_lora(
    base_model: str | Path,
    dataset_dir: Path,
    out_dir: Path,
    params: LoraParams,
    log: Logger = null_log,
    resume: bool = True,
    callbacks: Sequence[Any] = (),
    checkpoints_dir: Path | None = None,
) -> TrainResult:
    """Train a LoRA adapter on `dataset_dir/{train,val}.messages.jsonl` into `out_dir`.

    `callbacks` are extra transformers TrainerCallbacks (cancellation, tests). A rerun after a
    kill resumes from the last checkpoint in `checkpoints_dir` (default `out_dir/checkpoints`)
    when its base model, data and params are the same; otherwise the stale ones are removed.
    """
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t_start = time.perf_counter()
    base_model = str(base_model)
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available()
    bf16 = _use_bf16(params, cuda, log)

    # ---- Model
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if tokenizer.pad_token_id is None:
        raise ValueError(f"{base_model}: tokenizer has no pad token")
    model = AutoModelForCausalLM.from_pretrained(
        base_model, dtype=torch.bfloat16 if bf16 else torch.float32
    )
    if params.packing:
        # transformers reads packed rows from the position ids only when no cache is built.
        model.config.use_cache = False
    if params.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    model = get_peft_model(model, _lora_config(model, params))
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n_total = sum(p.numel() for p in model.parameters())
    log(f"train: base={base_model} lora r={params.r} trainable={n_trainable:,}/{n_total:,}")

    # ---- Dataset
    data = load_examples(tokenizer, dataset_dir, params, log)

    # ---- Training
    ckpt_dir = checkpoints_dir or out_dir / "checkpoints"
    key = run_key(base_model, data.dataset_hash, params)
    resume_from = prepare_checkpoints(ckpt_dir, key, resume, log)
    args = _training_arguments(params, ckpt_dir, len(data.train), bool(data.val), bf16, cuda)
    curve = _curve_callback(tokenizer, dataset_dir, params, log)
    trainer = make_trainer_class()(
        model=model,
        args=args,
        train_dataset=data.train,  # type: ignore[arg-type]
        eval_dataset=data.val or None,  # type: ignore[arg-type]
        data_collator=make_collator(params, tokenizer.pad_token_id, cuda),
        processing_class=None,  # keeps the 10+ MB tokenizer out of every checkpoint
        callbacks=[*callbacks, *([curve] if curve is not None else [])],
    )
    run = _run_trainer(trainer, params, resume_from, log)

    # ---- Artifacts
    result = _write_artifacts(trainer, tokenizer, out_dir, run, data, params)
    result.wall_s = time.perf_counter() - t_start
    result.lineage = _lineage(base_model, data, key, bf16, cuda, n_trainable)
    if curve is not None:
        result.learning_curve = list(curve.curve)
        write_learning_curve(out_dir, result.learning_curve)
    atomic_write_json(result.summary_json, result.metadata())
    log(
        f"train: done steps={result.steps} loss {result.first_loss:.4f} -> {result.last_loss:.4f} "
        f"eval_loss={result.final_eval_loss:.4f} tokens/s={result.tokens_per_s:.0f} "
        f"adapter={result.adapter_dir}"
    )
    return result


def train_student(
    base_spec: str,
    models_cache: Path,
    dataset_dir: Path,
    out_dir: Path,
    params: LoraParams,
    log: Logger = null_log,
    checkpoints_dir: Path | None = None,
) -> TrainResult:
    """Resolve the base model (building a local one once) and train the adapter on it."""
    from distill_assets.core.student.base_models import resolve_base_model

    base = resolve_base_model(base_spec, models_cache, log=log)
    result = train_lora(base, dataset_dir, out_dir, params, log, checkpoints_dir=checkpoints_dir)
    result.base_model, result.base_model_path = base_spec, str(base)
    return result


def _lineage(
    base_model: str, data: Examples, key: str, bf16: bool, cuda: bool, n_trainable: int
) -> dict[str, Any]:
    from distill_assets.core.student.base_models import model_fingerprint

    return {
        "base_model": model_fingerprint(base_model),
        "dataset_sha256": data.dataset_hash,
        "train_file_sha256": sha256_file(data.train_file),
        "val_file_sha256": sha256_file(data.val_file),
        "run_key": key,
        "bf16": bf16,
        "device": "cuda" if cuda else "cpu",
        "trainable_params": n_trainable,
        "versions": package_versions(),
    }


def _lora_config(model: Any, params: LoraParams) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=params.r,
        lora_alpha=params.alpha,
        lora_dropout=params.dropout,
        target_modules=_target_modules(model, params),
        bias="none",
        task_type="CAUSAL_LM",
        layers_to_transform=_top_layers(model, params.lora_layers),
    )


def _target_modules(model: Any, params: LoraParams) -> str | list[str]:
    """peft takes layers_to_transform only with named modules: "all-linear" spelled out."""
    import torch

    if params.lora_layers is None or params.target_modules != "all-linear":
        return params.target_modules
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and ".layers." in name
    }
    return sorted(names)


def _top_layers(model: Any, n: int | None) -> list[int] | None:
    """Indices of the top `n` decoder layers (None: every layer)."""
    if n is None:
        return None
    total = int(model.config.num_hidden_layers)
    return list(range(max(0, total - n), total))


def _curve_callback(tokenizer: Any, dataset_dir: Path, params: LoraParams, log: Logger) -> Any:
    if not params.curve_rows:
        return None
    return make_curve_callback(
        tokenizer,
        dataset_dir,
        params.curve_rows,
        params.curve_points,
        params.per_device_batch_size * params.gradient_accumulation,
        params.curve_max_new_tokens,
        log,
    )


def _use_bf16(params: LoraParams, cuda: bool, log: Logger) -> bool:
    """bf16 weights and autocast where bf16 is fast (a CUDA device that supports it, a CPU with
    AMX: ~1.2x per step for SmolLM2-135M on 2 cores), else fp32; `params.bf16` overrides."""
    import torch

    from distill_assets.core.student.inference import fast_bf16

    fast = bool(torch.cuda.is_bf16_supported()) if cuda else fast_bf16("cpu")
    bf16 = params.bf16 if params.bf16 is not None else fast
    if bf16 and not cuda and not fast:
        log("train: bf16 requested on a CPU without AMX; using fp32 (bf16 is slower there)")
        return False
    return bf16


def _training_arguments(
    params: LoraParams, ckpt_dir: Path, n_train: int, has_val: bool, bf16: bool, cuda: bool
) -> Any:
    from transformers import TrainingArguments

    steps_per_epoch = math.ceil(
        n_train / (params.per_device_batch_size * params.gradient_accumulation)
    )
    total_steps = params.max_steps or math.ceil(steps_per_epoch * params.epochs)
    return TrainingArguments(
        output_dir=str(ckpt_dir),
        per_device_train_batch_size=params.per_device_batch_size,
        per_device_eval_batch_size=params.per_device_eval_batch_size,
        gradient_accumulation_steps=params.gradient_accumulation,
        num_train_epochs=params.epochs,
        max_steps=params.max_steps or -1,
        learning_rate=params.learning_rate,
        lr_scheduler_type=params.lr_scheduler,
        warmup_steps=int(round(params.warmup_ratio * total_steps)),
        weight_decay=params.weight_decay,
        max_grad_norm=params.max_grad_norm,
        bf16=bf16,
        logging_steps=params.logging_steps,
        logging_first_step=True,
        eval_strategy="steps" if has_val else "no",
        eval_steps=params.eval_steps,
        save_strategy="steps",
        save_steps=params.save_steps,
        save_total_limit=params.save_total_limit,
        seed=params.seed,
        data_seed=params.seed,
        train_sampling_strategy="group_by_length" if params.group_by_length else "random",
        remove_unused_columns=False,
        prediction_loss_only=True,
        report_to="none",
        disable_tqdm=True,
        use_cpu=not cuda,
        dataloader_num_workers=0,
    )


@dataclass
class _Run:
    seconds: float
    tokens: int
    resumed_step: int | None
    final_eval: float


def _run_trainer(trainer: Any, params: LoraParams, resume_from: str | None, log: Logger) -> _Run:
    import torch
    from transformers.trainer_callback import PrinterCallback

    trainer.answer_only = params.answer_only_logits
    trainer.remove_callback(PrinterCallback)  # progress goes through `log`
    t_train = time.perf_counter()
    trainer.add_callback(progress_callback(log, [trainer], t_train))
    resumed_step = None
    if resume_from:
        resumed_step = int(Path(resume_from).name.rsplit("-", 1)[-1])
        log(f"train: resuming from {resume_from} (step {resumed_step})")
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - t_train
    final_eval = float("nan")
    if trainer.eval_dataset:
        last_eval = [
            e
            for e in trainer.state.log_history
            if "eval_loss" in e and e.get("step") == trainer.state.global_step
        ]
        final_eval = float(
            last_eval[-1]["eval_loss"] if last_eval else trainer.evaluate()["eval_loss"]
        )
    return _Run(seconds, trainer.token_counter, resumed_step, final_eval)


def _write_artifacts(
    trainer: Any, tokenizer: Any, out_dir: Path, run: _Run, data: Examples, params: LoraParams
) -> TrainResult:
    """Adapter, loss log and curves; fails loudly on a run that logged no or non-finite loss."""
    rows = loss_rows(trainer.state.log_history)
    train_losses = [r["loss"] for r in rows if r["loss"] is not None]
    if not train_losses:
        raise RuntimeError(
            f"{out_dir}: training logged no loss (steps={trainer.state.global_step})"
        )
    if any(not math.isfinite(x) for x in train_losses):
        raise RuntimeError(f"{out_dir}: non-finite training loss: {train_losses}")
    adapter_dir = out_dir / "adapter"
    with atomic_dir(adapter_dir) as tmp:
        trainer.model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
    loss_log = atomic_write_text(
        out_dir / "loss_log.jsonl", "".join(json.dumps(r) + "\n" for r in rows)
    )
    train_png = atomic_write_bytes(
        out_dir / "train_loss.png", plot_curve(rows, "loss", "train loss")
    )
    eval_png = atomic_write_bytes(
        out_dir / "eval_loss.png", plot_curve(rows, "eval_loss", "eval loss (val split)")
    )
    return TrainResult(
        adapter_dir=adapter_dir,
        loss_log=loss_log,
        train_loss_png=train_png,
        eval_loss_png=eval_png,
        summary_json=out_dir / "train_summary.json",
        first_loss=train_losses[0],
        last_loss=train_losses[-1],
        final_eval_loss=run.final_eval,
        train_tokens=run.tokens,
        tokens_per_s=run.tokens / run.seconds if run.seconds > 0 else 0.0,
        peak_memory_mb=peak_memory_mb(),
        steps=int(trainer.state.global_step),
        params=asdict(params),
        wall_s=0.0,
        adapter_sha256=sha256_dir(adapter_dir),
        resumed_from_step=run.resumed_step,
        n_train=len(data.train),
        n_val=len(data.val),
        dropped_too_long=data.dropped,
    )


def interrupt_after(step: int) -> Any:
    """A callback that raises TrainingInterrupted after optimizer step `step` (kill simulation)."""
    from transformers import TrainerCallback

    class _Interrupt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[override]
            if state.global_step >= step:
                raise TrainingInterrupted(f"interrupted after step {state.global_step}")

    return _Interrupt()
