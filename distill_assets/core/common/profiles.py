"""The same graph at three sizes: `test` (CI), `demo` (a laptop, default) and `gpu`.

Chosen by `DISTILL_PROFILE` or the `settings` resource's `profile` in the UI's run config; every
field can be overridden alone through the assets' run config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

PROFILE_ENV = "DISTILL_PROFILE"
DEFAULT_PROFILE = "demo"


@dataclass(frozen=True)
class Profile:
    name: str
    # Teacher: "gazetteer" runs offline; "openai" is any OpenAI-compatible API.
    teacher_kind: str
    teacher_model: str
    teacher_base_url: str
    # Student base: "tiny-qwen3" and "smollm2-135m" are built locally; else a hub id or path.
    base_model: str
    # Size of a synthetic version when none is given.
    synthetic_rows: int
    # Held-out test rows (the seeds use 400).
    test_size: int
    # LoraParams preset name in core.training, and overrides applied on top of it.
    lora_preset: str
    lora_overrides: dict[str, Any] = field(default_factory=dict)
    # The student's system prompt (core.prompts.STUDENT_PROMPTS): the seeds' short prompt, or a
    # one-line one that makes each CPU training example ~100 tokens shorter.
    student_prompt: str = "student_system"
    # Inference backend for evaluation: "transformers" or "vllm".
    eval_backend: str = "transformers"
    eval_max_new_tokens: int = 256
    eval_batch_size: int = 16
    # Decoding: the six-key JSON skeleton forced, and (grounded) the street, name and phone held
    # to spans of the input text (transformers backend; core/student/json_decoding.py).
    eval_json_constrained: bool = False
    eval_grounded: bool = False
    # Evaluate the untuned base on only this many test rows (None: all of them).
    eval_base_limit: int | None = None
    # Judge the student's answers after division canonicalisation (core/student/postprocess.py).
    eval_canonicalize: bool = True
    # `distill demo` registers the shipped hand-written hold-out as benchmark "unseen_styles".
    unseen_styles_benchmark: bool = False
    # Promotion gate: tuned exact match must reach this and beat the base.
    promotion_threshold: float = 0.9


PROFILES: dict[str, Profile] = {
    "test": Profile(
        name="test",
        teacher_kind="gazetteer",
        teacher_model="",
        teacher_base_url="",
        base_model="tiny-qwen3",
        synthetic_rows=120,
        test_size=16,
        lora_preset="test",
        eval_max_new_tokens=24,
        eval_batch_size=16,
        promotion_threshold=0.0,
    ),
    "demo": Profile(
        name="demo",
        teacher_kind="gazetteer",
        teacher_model="",
        teacher_base_url="",
        base_model="smollm2-135m",
        synthetic_rows=900,
        test_size=150,
        lora_preset="demo",
        # every training row (~700 at 900 synthetic records), one epoch
        lora_overrides={"max_train_samples": None},
        student_prompt="student_short",
        eval_max_new_tokens=160,
        eval_base_limit=16,
        # 64 rows a batch: 1.26 rows/s vs 0.6 at 16 on 2 cores (one forward a token costs
        # about the same for 16 rows as for 64)
        eval_batch_size=64,
        eval_json_constrained=True,
        eval_grounded=True,
        unseen_styles_benchmark=True,
        promotion_threshold=0.3,
    ),
    "gpu": Profile(
        name="gpu",
        teacher_kind="openai",
        teacher_model="qwen3-235b-a22b",
        teacher_base_url="https://dashscope.aliyuncs.com/compatible-mode/v1",
        base_model="Qwen/Qwen3-0.6B",
        synthetic_rows=4000,
        test_size=400,
        lora_preset="gpu",
        eval_backend="vllm",
        eval_max_new_tokens=256,
        eval_batch_size=64,
        promotion_threshold=0.9,
    ),
}


def get_profile(name: str | None = None, **overrides: Any) -> Profile:
    """The named profile (default: $DISTILL_PROFILE, else demo) with non-None overrides applied."""
    name = name or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    return replace(PROFILES[name], **changes) if changes else PROFILES[name]
