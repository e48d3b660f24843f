"""LoRA supervised fine-tuning of the student on the teacher's labels (transformers + peft).

Laid out like trl's sft.py: parameters, then one function in Model / Dataset / Training
sections. The loss covers only the assistant answer and its end-of-turn token, and the output
head is applied only at those positions (the prompt is ~2/3 of every example), which is where
most of the speed-up over the seed recipe comes from; batches are length-grouped and padded
dynamically. Checkpoints every `save_steps` let a killed run resume where it stopped.
"""

from __future__ import annotations

import json
import math
import resource
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distill_assets.core.student.chat_template import IGNORE_INDEX, ExampleTooLong, encode_example
from distill_assets.core.common.artifacts import (
    Logger,
    atomic_dir,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    null_log,
    package_versions,
    sha256_dir,
    sha256_file,
    sha256_text,
)

RUN_KEY_FILE = "run_key.json"


@dataclass
class LoraParams:
    """Hyper-parameters of one LoRA run. Defaults are a middle ground; use the presets."""

    # LoRA
    r: int = 16  # rank of the update matrices
    alpha: int = 32  # scaling numerator: the update is scaled by alpha / r
    dropout: float = 0.05  # dropout on the LoRA branch input
    target_modules: str | list[str] = "all-linear"  # every linear layer except the output head
    # Optimisation
    learning_rate: float = 2e-4
    epochs: float = 3.0
    per_device_batch_size: int = 4
    gradient_accumulation: int = 1  # effective batch = per_device_batch_size * this
    warmup_ratio: float = 0.05  # fraction of the optimizer steps spent warming up
    lr_scheduler: str = "cosine"  # any transformers SchedulerType: linear, cosine, constant, ...
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_steps: int | None = None  # optional hard cap on optimizer steps (overrides epochs)
    # Data
    max_length: int = 512  # longer examples are dropped (counted), never truncated
    max_train_samples: int | None = None  # use only the first N training examples
    max_eval_samples: int | None = 64  # eval loss on at most N validation examples
    group_by_length: bool = True  # length-grouped batches: little padding
    # Precision / speed
    bf16: bool | None = None  # None = auto: bf16 on a CUDA device that supports it, fp32 on CPU
    answer_only_logits: bool = True  # apply the output head only where the loss is computed
    gradient_checkpointing: bool = False  # trade compute for memory (large models on GPU)
    # Bookkeeping
    seed: int = 0
    logging_steps: int = 10
    eval_steps: int = 50  # eval loss every N steps (and at the end)
    save_steps: int = 50  # checkpoint every N steps (resume point after a kill)
    save_total_limit: int = 2
    per_device_eval_batch_size: int = 8

    @classmethod
    def seeds_recipe(cls) -> LoraParams:
        """The gpu profile: the seed project's recipe for Qwen3-0.6B."""
        return cls(
            r=8,
            alpha=32,
            dropout=0.05,
            target_modules="all-linear",
            learning_rate=1e-4,
            epochs=10,
            per_device_batch_size=20,
            gradient_accumulation=16,
            warmup_ratio=0.05,
            lr_scheduler="cosine",
            max_length=2048,
            bf16=True,
            logging_steps=1,
            eval_steps=10,
            save_steps=10,
            max_eval_samples=None,
            gradient_checkpointing=False,
        )

    @classmethod
    def test(cls) -> LoraParams:
        """Tiny random Qwen3, a few dozen steps, a high learning rate so the loss visibly drops."""
        return cls(
            r=8,
            alpha=16,
            dropout=0.0,
            learning_rate=1e-2,
            epochs=1,
            max_steps=24,
            per_device_batch_size=4,
            warmup_ratio=0.0,
            lr_scheduler="constant",
            max_length=512,
            logging_steps=2,
            eval_steps=8,
            save_steps=8,
            max_eval_samples=8,
        )

    @classmethod
    def demo(cls) -> LoraParams:
        """SmolLM2-135M on 2 CPU cores: the calibration run of DESIGN.md (~600 records, ~12 min,
        exact match 0% -> 59%)."""
        return cls(
            r=16,
            alpha=32,
            dropout=0.05,
            learning_rate=3e-4,
            epochs=1,
            per_device_batch_size=4,
            gradient_accumulation=1,
            warmup_ratio=0.03,
            lr_scheduler="cosine",
            max_length=512,
            max_train_samples=600,
            max_eval_samples=32,
            logging_steps=10,
            eval_steps=50,
            save_steps=25,
        )

    @classmethod
    def for_profile(cls, profile: str) -> LoraParams:
        presets = {"test": cls.test, "demo": cls.demo, "gpu": cls.seeds_recipe}
        if profile not in presets:
            raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(presets)}")
        return presets[profile]()


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

    def metadata(self) -> dict[str, Any]:
        """Flat, JSON-able summary (paths as strings) for Dagster metadata and train_summary."""
        out = asdict(self)
        return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}


class TrainingInterrupted(RuntimeError):
    """Raised by a callback to stop a run (tests simulate a kill with it)."""


# ---------------------------------------------------------------- dataset


def read_messages(path: Path) -> list[tuple[str, str, str]]:
    """(system, user, answer) per line of a messages JSONL; errors name the file and line."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (expected a training_dataset folder)")
    rows: list[tuple[str, str, str]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                msgs = json.loads(line)["messages"]
                by_role = {m["role"]: m["content"] for m in msgs}
                if msgs[-1]["role"] != "assistant" or "user" not in by_role:
                    raise ValueError("needs a user turn and a final assistant turn")
                rows.append((by_role.get("system", ""), by_role["user"], msgs[-1]["content"]))
            except (json.JSONDecodeError, KeyError, TypeError, IndexError, ValueError) as exc:
                raise ValueError(f"{path}:{lineno}: bad messages row: {exc}") from exc
    return rows


def tokenize_rows(
    tokenizer: Any, rows: Sequence[tuple[str, str, str]], max_length: int, where: str
) -> tuple[list[dict[str, list[int]]], int]:
    """Encoded examples and how many were dropped for exceeding max_length."""
    out, dropped = [], 0
    for i, (system, user, answer) in enumerate(rows):
        try:
            out.append(encode_example(tokenizer, system, user, answer, max_length))
        except ExampleTooLong:
            dropped += 1
        except ValueError as exc:
            raise ValueError(f"{where} row {i}: {exc}") from exc
    return out, dropped


class PadCollator:
    """Right-pads a batch to its longest example (labels with -100, mask with 0)."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        n = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            n = math.ceil(n / self.pad_to_multiple_of) * self.pad_to_multiple_of
        pads = {"input_ids": self.pad_token_id, "labels": IGNORE_INDEX, "attention_mask": 0}
        return {
            key: torch.tensor([f[key] + [pad] * (n - len(f[key])) for f in features])
            for key, pad in pads.items()
        }


# ---------------------------------------------------------------- training helpers


def _make_trainer_class() -> type:
    from transformers import Trainer

    class AnswerOnlyTrainer(Trainer):
        """Trainer whose loss applies the output head only at supervised positions.

        Logits over a 150k vocabulary for every prompt token are the largest cost of a small
        model's step; the prompt's are never used by the loss.
        """

        token_counter: int = 0
        answer_only: bool = True

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            import torch
            import torch.nn.functional as F

            if model.training:
                self.token_counter += int(inputs["attention_mask"].sum())
            unwrapped = self.accelerator.unwrap_model(model)
            if not self.answer_only or unwrapped is not model:
                self.loss_is_scaled_for_ga = None
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            causal_lm = (
                unwrapped.get_base_model() if hasattr(unwrapped, "get_base_model") else model
            )
            labels = inputs["labels"]
            hidden = causal_lm.model(
                input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
            ).last_hidden_state
            shift_labels = labels[:, 1:]
            keep = shift_labels != IGNORE_INDEX
            logits = causal_lm.lm_head(hidden[:, :-1][keep]).float()
            loss = F.cross_entropy(logits, shift_labels[keep], reduction="sum")
            if num_items_in_batch is not None:
                loss = loss / num_items_in_batch
                self.loss_is_scaled_for_ga = True
            else:
                loss = loss / keep.sum().clamp(min=1)
                self.loss_is_scaled_for_ga = False
            if return_outputs:
                return loss, {"loss": loss.detach(), "logits": torch.empty(0)}
            return loss

    return AnswerOnlyTrainer


def _make_progress_callback(log: Logger, trainer_ref: list[Any], t0: float) -> Any:
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[override]
            if not logs:
                return
            tr = trainer_ref[0]
            tok_s = tr.token_counter / max(time.perf_counter() - t0, 1e-9)
            parts = [f"step {state.global_step}/{state.max_steps}"]
            for key in ("loss", "eval_loss", "learning_rate", "epoch"):
                if key in logs:
                    parts.append(f"{key}={logs[key]:.4g}")
            parts.append(f"tokens/s={tok_s:.0f}")
            log("train: " + " ".join(parts))

    return Progress()


def _peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def loss_rows(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per logged step: step, loss, eval_loss, lr, epoch (None where not logged)."""
    by_step: dict[int, dict[str, Any]] = {}
    for entry in log_history:
        step = int(entry.get("step", 0))
        if "loss" not in entry and "eval_loss" not in entry:
            continue
        row = by_step.setdefault(
            step, {"step": step, "loss": None, "eval_loss": None, "lr": None, "epoch": None}
        )
        if "loss" in entry:
            row["loss"] = float(entry["loss"])
            row["lr"] = float(entry.get("learning_rate", 0.0))
        if "eval_loss" in entry:
            row["eval_loss"] = float(entry["eval_loss"])
        if "epoch" in entry:
            row["epoch"] = float(entry["epoch"])
    return [by_step[s] for s in sorted(by_step)]


def plot_curve(rows: list[dict[str, Any]], key: str, title: str) -> bytes:
    """A PNG of `key` against step (Agg canvas: no display, no pyplot global state)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pts = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o" if len(pts) < 30 else None)
    ax.set_xlabel("step")
    ax.set_ylabel(key)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _run_key(base_model: str, dataset_hash: str, params: LoraParams) -> str:
    """Checkpoints are only resumed by a run with the same base, data and parameters."""
    return sha256_text(
        json.dumps(
            {"base": base_model, "data": dataset_hash, "params": asdict(params)}, sort_keys=True
        )
    )[:16]


# ---------------------------------------------------------------- train_lora


def train_lora(
    base_model: str | Path,
    dataset_dir: Path,
    out_dir: Path,
    params: LoraParams,
    log: Logger = null_log,
    resume: bool = True,
    callbacks: Sequence[Any] = (),
) -> TrainResult:
    """Train a LoRA adapter on `dataset_dir/{train,val}.messages.jsonl` into `out_dir`.

    `callbacks` are extra transformers TrainerCallbacks (cancellation, tests). A rerun after a
    kill resumes from the last checkpoint in `out_dir/checkpoints` when its base model, data and
    params are the same; otherwise the stale checkpoints are removed.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback
    from transformers.trainer_utils import get_last_checkpoint

    from distill_assets.core.student.base_models import model_fingerprint

    t_start = time.perf_counter()
    base_model = str(base_model)
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available()
    bf16 = params.bf16 if params.bf16 is not None else bool(cuda and torch.cuda.is_bf16_supported())
    if bf16 and not cuda:
        log("train: bf16 requested on CPU; using fp32 (bf16 is slower without AMX)")
        bf16 = False

    # ---- Model
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if tokenizer.pad_token_id is None:
        raise ValueError(f"{base_model}: tokenizer has no pad token")
    model = AutoModelForCausalLM.from_pretrained(
        base_model, dtype=torch.bfloat16 if bf16 else torch.float32
    )
    if params.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    lora = LoraConfig(
        r=params.r,
        lora_alpha=params.alpha,
        lora_dropout=params.dropout,
        target_modules=params.target_modules,
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n_total = sum(p.numel() for p in model.parameters())
    log(f"train: base={base_model} lora r={params.r} trainable={n_trainable:,}/{n_total:,}")

    # ---- Dataset
    train_file, val_file = dataset_dir / "train.messages.jsonl", dataset_dir / "val.messages.jsonl"
    train_rows, val_rows = read_messages(train_file), read_messages(val_file)
    if params.max_train_samples is not None:
        train_rows = train_rows[: params.max_train_samples]
    if params.max_eval_samples is not None:
        val_rows = val_rows[: params.max_eval_samples]
    train_ds, dropped_train = tokenize_rows(
        tokenizer, train_rows, params.max_length, str(train_file)
    )
    val_ds, dropped_val = tokenize_rows(tokenizer, val_rows, params.max_length, str(val_file))
    if not train_ds:
        raise ValueError(f"{train_file}: no training example fits max_length={params.max_length}")
    if dropped_train or dropped_val:
        log(f"train: dropped {dropped_train} train / {dropped_val} val examples > max_length")
    dataset_hash = sha256_text(sha256_file(train_file) + sha256_file(val_file))
    n_tokens = sum(len(x["input_ids"]) for x in train_ds)
    log(f"train: {len(train_ds)} train ({n_tokens:,} tokens), {len(val_ds)} val examples")

    # ---- Training
    ckpt_dir = out_dir / "checkpoints"
    run_key = _run_key(base_model, dataset_hash, params)
    resume_from = None
    if ckpt_dir.is_dir():
        key_file = ckpt_dir / RUN_KEY_FILE
        old_key = json.loads(key_file.read_text())["run_key"] if key_file.is_file() else None
        last = get_last_checkpoint(str(ckpt_dir))
        if resume and last and old_key == run_key:
            resume_from = last
        else:
            if last:
                log(f"train: discarding checkpoints in {ckpt_dir} (resume={resume}, key changed)")
            shutil.rmtree(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(ckpt_dir / RUN_KEY_FILE, {"run_key": run_key})

    steps_per_epoch = math.ceil(
        len(train_ds) / (params.per_device_batch_size * params.gradient_accumulation)
    )
    total_steps = params.max_steps or math.ceil(steps_per_epoch * params.epochs)
    args = TrainingArguments(
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
        eval_strategy="steps" if val_ds else "no",
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
    trainer_cls = _make_trainer_class()
    trainer_ref: list[Any] = []
    t_train = time.perf_counter()
    trainer = trainer_cls(
        model=model,
        args=args,
        train_dataset=train_ds,  # type: ignore[arg-type]
        eval_dataset=val_ds or None,  # type: ignore[arg-type]
        data_collator=PadCollator(tokenizer.pad_token_id, 8 if cuda else None),
        processing_class=None,  # keeps the 10+ MB tokenizer out of every checkpoint
        callbacks=[_make_progress_callback(log, trainer_ref, t_train), *callbacks],
    )
    trainer.answer_only = params.answer_only_logits
    trainer.remove_callback(PrinterCallback)  # progress goes through `log`
    trainer_ref.append(trainer)
    resumed_step = None
    if resume_from:
        resumed_step = int(Path(resume_from).name.rsplit("-", 1)[-1])
        log(f"train: resuming from {resume_from} (step {resumed_step})")
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    t_train = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume_from)
    train_s = time.perf_counter() - t_train
    final_eval = float("nan")
    if val_ds:
        last_eval = [
            e
            for e in trainer.state.log_history
            if "eval_loss" in e and e.get("step") == trainer.state.global_step
        ]
        final_eval = float(
            last_eval[-1]["eval_loss"] if last_eval else trainer.evaluate()["eval_loss"]
        )
    tokens = trainer.token_counter
    tokens_per_s = tokens / train_s if train_s > 0 else 0.0

    # ---- Artifacts
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
        trainer.model.save_pretrained(str(tmp))  # type: ignore[union-attr]
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
    result = TrainResult(
        adapter_dir=adapter_dir,
        loss_log=loss_log,
        train_loss_png=train_png,
        eval_loss_png=eval_png,
        summary_json=out_dir / "train_summary.json",
        first_loss=train_losses[0],
        last_loss=train_losses[-1],
        final_eval_loss=final_eval,
        train_tokens=tokens,
        tokens_per_s=tokens_per_s,
        peak_memory_mb=_peak_memory_mb(),
        steps=int(trainer.state.global_step),
        params=asdict(params),
        wall_s=time.perf_counter() - t_start,
        adapter_sha256=sha256_dir(adapter_dir),
        resumed_from_step=resumed_step,
        n_train=len(train_ds),
        n_val=len(val_ds),
        dropped_too_long=dropped_train + dropped_val,
        lineage={
            "base_model": model_fingerprint(base_model),
            "dataset_sha256": dataset_hash,
            "train_file_sha256": sha256_file(train_file),
            "val_file_sha256": sha256_file(val_file),
            "run_key": run_key,
            "bf16": bf16,
            "device": "cuda" if cuda else "cpu",
            "trainable_params": n_trainable,
            "versions": package_versions(),
        },
    )
    atomic_write_json(result.summary_json, result.metadata())
    log(
        f"train: done steps={result.steps} loss {result.first_loss:.4f} -> {result.last_loss:.4f} "
        f"eval_loss={final_eval:.4f} tokens/s={tokens_per_s:.0f} adapter={adapter_dir}"
    )
    return result


def interrupt_after(step: int) -> Any:
    """A callback that raises TrainingInterrupted after optimizer step `step` (kill simulation)."""
    from transformers import TrainerCallback

    class _Interrupt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[override]
            if state.global_step >= step:
                raise TrainingInterrupted(f"interrupted after step {state.global_step}")

    return _Interrupt()
