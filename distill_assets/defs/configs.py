"""Run config of each stage: every field left as None falls back to the profile."""

from __future__ import annotations

import dagster as dg
from pydantic import Field


class SourceConfig(dg.Config):
    preview_rows: int = Field(default=5, description="rows shown (masked) in the metadata preview")


class LabelingConfig(dg.Config):
    compare_with_gazetteer: bool = Field(
        default=True, description="with an LLM teacher, record its disagreement with the gazetteer"
    )


class DatasetConfig(dg.Config):
    test_size: int | None = Field(default=None, description="held-out test rows (seeds: 400)")
    val_fraction: float = Field(default=0.05, description="share of the rest kept for eval loss")
    max_drop_rate: float = Field(default=0.2, description="check: at most this share dropped")
    split_salt: str = Field(default="distill-v1", description="salt of the hash split")
    student_prompt: str | None = Field(
        default=None, description="student_system (the seeds') | student_short"
    )


class TrainingConfig(dg.Config):
    base_model: str | None = Field(default=None, description="hub id, local path, or built-in")
    epochs: float | None = None
    learning_rate: float | None = None
    lora_r: int | None = None
    lora_alpha: int | None = None
    per_device_batch_size: int | None = None
    gradient_accumulation: int | None = None
    max_steps: int | None = Field(default=None, description="cap on optimizer steps")
    max_length: int | None = None


class MergeConfig(dg.Config):
    max_abs_logit_diff: float = Field(default=1e-3, description="check: merged vs base+adapter")
    compare_samples: int = Field(default=4, description="test texts used for the comparison")


class EvalConfig(dg.Config):
    backend: str | None = Field(default=None, description="transformers | vllm")
    max_new_tokens: int | None = None
    batch_size: int | None = None
    json_constrained: bool = False
    limit: int | None = Field(default=None, description="evaluate at most this many test rows")
    base_limit: int | None = Field(default=None, description="the base on only this many rows")
    promotion_threshold: float | None = Field(default=None, description="gate on tuned exact")
