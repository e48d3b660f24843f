"""Code versions of the assets: a new version re-materialises that asset and what is downstream
(defs/automation.py). Prompts hash in, so a new prompt relabels."""

from __future__ import annotations

from distill_assets.core.common.prompts import (
    STUDENT_PROMPTS,
    load_prompt,
    prompt_hash,
    teacher_prompt,
)

_STUDENT_PROMPTS_HASH = prompt_hash("\n".join(load_prompt(p) for p in STUDENT_PROMPTS))

RAW = "raw-v1"
LABELS = f"labels-v1-{prompt_hash(teacher_prompt())}"
DATASET = f"dataset-v1-{_STUDENT_PROMPTS_HASH}"
TRAIN = "lora-v1"
MERGE = "merge-v1"
EVAL = f"eval-v1-{prompt_hash(teacher_prompt())}-{_STUDENT_PROMPTS_HASH}"
