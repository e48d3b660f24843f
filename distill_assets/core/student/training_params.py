"""LoRA hyper-parameters: one dataclass with commented defaults, and a preset per profile."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LoraParams:
    """Hyper-parameters of one LoRA run. Defaults are a middle ground; use the presets."""

    # LoRA
    r: int = 16  # rank of the update matrices
    alpha: int = 32  # scaling numerator: the update is scaled by alpha / r
    dropout: float = 0.05  # dropout on the LoRA branch input
    target_modules: str | list[str] = "all-linear"  # every linear layer except the output head
    # LoRA on the top N decoder layers only (None: all): the backward pass stops at the lowest
    # adapted layer, so a CPU run spends less per example.
    lora_layers: int | None = None
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
    # Each batch as one row with no padding at all; position ids restart per example, so
    # attention stays inside each example (transformers' packed-sequence masks). Pays where
    # the attention kernel skips masked blocks (flash/varlen on GPU); on CPU the dense mask
    # costs about what the padding saved.
    packing: bool = False
    # Precision / speed
    # None = auto: bf16 on a CUDA device that supports it and on a CPU with AMX, else fp32
    bf16: bool | None = None
    answer_only_logits: bool = True  # apply the output head only where the loss is computed
    gradient_checkpointing: bool = False  # trade compute for memory (large models on GPU)
    # Learning curve: exact match on this many validation rows at `curve_points` evenly spaced
    # steps (None: no curve; each point costs a greedy generation of those rows).
    curve_rows: int | None = None
    curve_points: int = 4
    curve_max_new_tokens: int = 160
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
            curve_rows=64,
            curve_points=5,
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
            curve_rows=4,
            curve_points=2,
            curve_max_new_tokens=16,
        )

    @classmethod
    def demo(cls) -> LoraParams:
        """SmolLM2-135M on 2 CPU cores: a calibration run on this machine (~600 records, ~12 min,
        exact match 0% -> 59%)."""
        return cls(
            r=16,
            alpha=32,
            dropout=0.05,
            # every layer: LoRA on the top 20 of 30 (lora_layers=20) trained the demo 23% faster
            # (15.7 vs 20.5 min) but scored 84.0% vs 91.3% post-processed on the same split
            learning_rate=1e-3,
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
