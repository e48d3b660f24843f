"""Run config of each stage. Fields left as None fall back to the profile, in one place
(`ProfileConfig.resolved`), and each config builds its stage's core parameters."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import dagster as dg
from pydantic import Field

from distill_assets.core.common.profiles import Profile
from distill_assets.core.dataset.clean import CleaningParams
from distill_assets.core.evaluation.evaluate import EvalParams
from distill_assets.core.evaluation.gates import DEFAULT_MAX_ABS_LOGIT_DIFF, DEFAULT_MAX_DROP_RATE
from distill_assets.core.student.training_params import LoraParams


class ProfileConfig(dg.Config):
    """A stage config whose None fields take the profile's value (PROFILE_FIELDS: field ->
    Profile attribute)."""

    PROFILE_FIELDS: ClassVar[dict[str, str]] = {}

    def resolved(self, profile: Profile) -> dict[str, Any]:
        values = dict(self.model_dump())
        for name, attr in self.PROFILE_FIELDS.items():
            if values.get(name) is None:
                values[name] = getattr(profile, attr)
        return values


class SourceConfig(dg.Config):
    preview_rows: int = Field(default=5, description="rows shown (masked) in the metadata preview")


class LabelingConfig(dg.Config):
    compare_with_gazetteer: bool = Field(
        default=True, description="with an LLM teacher, record its disagreement with the gazetteer"
    )


class DatasetConfig(ProfileConfig):
    PROFILE_FIELDS: ClassVar[dict[str, str]] = {
        "test_size": "test_size",
        "student_prompt": "student_prompt",
    }

    test_size: int | None = Field(default=None, description="held-out test rows (seeds: 400)")
    val_fraction: float = Field(default=0.05, description="share of the rest kept for eval loss")
    max_drop_rate: float = Field(
        default=DEFAULT_MAX_DROP_RATE, description="check: at most this share dropped"
    )
    split_salt: str = Field(default="distill-v1", description="salt of the hash split")
    student_prompt: str | None = Field(
        default=None, description="student_system (the seeds') | student_short"
    )
    include_previous: bool = Field(
        default=False,
        description="build from this version and every earlier one (de-duplicated; a test "
        "split once drawn stays test)",
    )

    def params(self, profile: Profile) -> CleaningParams:
        values = self.resolved(profile)
        values.pop("include_previous")  # which rows, not how they are cleaned
        return CleaningParams(**values)


class TrainingConfig(ProfileConfig):
    PROFILE_FIELDS: ClassVar[dict[str, str]] = {"base_model": "base_model"}
    # Config field -> LoraParams field, where the names differ.
    _RENAMED: ClassVar[dict[str, str]] = {"lora_r": "r", "lora_alpha": "alpha"}

    base_model: str | None = Field(default=None, description="hub id, local path, or built-in")
    epochs: float | None = None
    learning_rate: float | None = None
    lora_r: int | None = None
    lora_alpha: int | None = None
    per_device_batch_size: int | None = None
    gradient_accumulation: int | None = None
    max_steps: int | None = Field(default=None, description="cap on optimizer steps")
    max_length: int | None = None

    def base_spec(self, profile: Profile) -> str:
        return str(self.resolved(profile)["base_model"])

    def params(self, profile: Profile) -> LoraParams:
        """The profile's preset and overrides, then every field this run sets."""
        base = replace(LoraParams.for_profile(profile.lora_preset), **profile.lora_overrides)
        changes = {
            self._RENAMED.get(k, k): v
            for k, v in self.model_dump().items()
            if k != "base_model" and v is not None
        }
        return replace(base, **changes)


class MergeConfig(dg.Config):
    max_abs_logit_diff: float = Field(
        default=DEFAULT_MAX_ABS_LOGIT_DIFF, description="check: merged vs base+adapter"
    )
    compare_samples: int = Field(default=4, description="test texts used for the comparison")


class EvalConfig(ProfileConfig):
    PROFILE_FIELDS: ClassVar[dict[str, str]] = {
        "backend": "eval_backend",
        "max_new_tokens": "eval_max_new_tokens",
        "batch_size": "eval_batch_size",
        "json_constrained": "eval_json_constrained",
        "grounded": "eval_grounded",
        "base_limit": "eval_base_limit",
        "canonicalize": "eval_canonicalize",
        "promotion_threshold": "promotion_threshold",
    }

    backend: str | None = Field(default=None, description="transformers | vllm")
    max_new_tokens: int | None = None
    batch_size: int | None = None
    json_constrained: bool | None = Field(
        default=None, description="force the six-key JSON skeleton while decoding"
    )
    grounded: bool | None = Field(
        default=None, description="street, name and phone only as spans of the text (transformers)"
    )
    limit: int | None = Field(default=None, description="evaluate at most this many test rows")
    base_limit: int | None = Field(default=None, description="the base on only this many rows")
    canonicalize: bool | None = Field(
        default=None,
        description="judge canonicalised divisions (as distill predict gives them); false: raw",
    )
    promotion_threshold: float | None = Field(default=None, description="gate on tuned exact")

    def params(self, profile: Profile) -> EvalParams:
        return EvalParams(**self.resolved(profile))
