"""The teacher's settings: one type for the Dagster resource, the CLI and the core alike.

`defs.resources.TeacherResource` inherits these fields (so the launchpad shows each one with its
default and description) and `distill label` builds the same type from its options, so both
ask the same teacher the same way and share one cache key. Empty kind, base_url and model fall
back to the profile's (`resolve`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from distill_assets.core.common.artifacts import sha256_text
from distill_assets.core.common.privacy import mask_url, redact
from distill_assets.core.common.prompts import prompt_hash, teacher_prompt

TEACHER_KINDS = ("gazetteer", "openai")
# Where each provider reads Qwen3's thinking switch. DashScope and SiliconFlow take a top-level
# `enable_thinking` (DashScope refuses a non-streaming call to Qwen3 without it set false);
# vLLM and llama.cpp's server pass `chat_template_kwargs` to the chat template; OpenAI itself
# has neither (its reasoning models do not take the switch).
PROVIDER_THINKING: dict[str, str] = {
    "dashscope": "top_level",
    "siliconflow": "top_level",
    "vllm": "chat_template_kwargs",
    "llamacpp": "chat_template_kwargs",
    "openai": "none",
}
PROVIDER_HOSTS: dict[str, str] = {
    "dashscope.aliyuncs.com": "dashscope",
    "dashscope-intl.aliyuncs.com": "dashscope",
    "siliconflow.cn": "siliconflow",
    "siliconflow.com": "siliconflow",
    "api.openai.com": "openai",
}
API_KEY_ENV = "OPENAI_API_KEY"


class TeacherSettings(BaseModel):
    """How the teacher is asked. Defaults suit an OpenAI-compatible API such as DashScope."""

    kind: str = Field(default="", description="gazetteer | openai; empty = the profile's")
    base_url: str = Field(default="", description="OpenAI-compatible base URL; empty = profile's")
    model: str = Field(default="", description="teacher model name; empty = the profile's")
    api_key: str | None = Field(
        default=None,
        repr=False,
        description=f"set with dg.EnvVar, never inline; empty = ${API_KEY_ENV}",
    )
    temperature: float = Field(default=0.0, description="0 = greedy: labels reproducible")
    max_tokens: int = Field(
        default=256, description="answer bound (a label is ~80 tokens); also the budget's bound"
    )
    timeout_s: float = Field(default=60.0, description="per request")
    concurrency: int = Field(default=32, ge=1, description="requests in flight")
    max_attempts: int = Field(default=6, ge=1, description="tries per row (429/5xx/timeouts)")
    json_mode: bool = Field(
        default=True, description="response_format=json_object; dropped if the server rejects it"
    )
    enable_thinking: bool = Field(default=False, description="Qwen3 thinking (off for labels)")
    send_thinking_flag: bool = Field(
        default=True,
        description="send the provider's thinking switch; dropped if the server rejects it",
    )
    price_in_per_mtok: float = Field(default=0.0, description="price per million input tokens")
    price_out_per_mtok: float = Field(default=0.0, description="price per million output tokens")
    currency: str = Field(default="CNY", description="currency of the prices and budget_cost")
    budget_tokens: int | None = Field(default=None, description="in + out tokens a run may spend")
    budget_cost: float | None = Field(default=None, description="money a run may spend")
    max_failure_rate: float = Field(
        default=0.05, ge=0.0, le=1.0, description="over attempted rows (budget skips excluded)"
    )
    cache_dir: str | None = Field(default=None, description="answer cache; empty = <home>/cache")
    progress_every_s: float = Field(default=5.0, description="progress log interval")
    http_backend: str = Field(default="auto", description="auto (aiohttp if installed) | httpx")
    backoff_base_s: float = Field(default=0.5, description="first retry's backoff bound")
    backoff_max_s: float = Field(default=30.0, description="largest backoff between retries")
    # -- how this provider wants thinking switched off, and anything else it needs (issue 12)
    provider: str = Field(
        default="auto",
        description="auto (from base_url) | dashscope | siliconflow | vllm | llamacpp | openai",
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description="free-form fields merged into every request body last (overrides presets)",
    )

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, v: str) -> str:
        if v != "auto" and v not in PROVIDER_THINKING:
            raise ValueError(f"provider must be auto or one of {sorted(PROVIDER_THINKING)}")
        return v

    def resolved_provider(self) -> str:
        """The preset: as set, or guessed from the base URL's host (a self-hosted server,
        vLLM or llama.cpp alike, reads chat_template_kwargs)."""
        if self.provider != "auto":
            return self.provider
        host = (urlsplit(self.base_url).hostname or "").lower()
        for suffix, provider in PROVIDER_HOSTS.items():
            if host == suffix or host.endswith("." + suffix):
                return provider
        return "vllm"

    def thinking_fields(self) -> dict[str, Any]:
        """The body fields that switch Qwen3's thinking as `enable_thinking` says."""
        where = PROVIDER_THINKING[self.resolved_provider()]
        if where == "top_level":
            return {"enable_thinking": self.enable_thinking}
        if where == "chat_template_kwargs":
            return {"chat_template_kwargs": {"enable_thinking": self.enable_thinking}}
        return {}

    # ---------------------------------------------------------------- issue 14: the prompt
    prompt_file: str = Field(
        default="", description="a text file with the teacher's system prompt; empty = packaged"
    )

    def system_prompt(self) -> str:
        """The teacher's system prompt: `prompt_file` when set, else the packaged one; its hash
        is part of the cache key and of the identity."""
        if not self.prompt_file:
            return teacher_prompt()
        try:
            text = Path(self.prompt_file).read_text("utf-8").strip()
        except OSError as exc:
            raise ValueError(f"teacher prompt_file {self.prompt_file}: {exc}") from exc
        if not text:
            raise ValueError(f"teacher prompt_file {self.prompt_file} is empty")
        return text

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v and v not in TEACHER_KINDS:
            raise ValueError(f"teacher kind must be one of {TEACHER_KINDS} (or empty), got {v!r}")
        return v

    @field_validator("http_backend")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        if v not in ("auto", "aiohttp", "httpx"):
            raise ValueError(f"http_backend must be auto, aiohttp or httpx, got {v!r}")
        return v

    # ---------------------------------------------------------------- building

    @classmethod
    def of(cls, obj: Any) -> TeacherSettings:
        """A plain copy of the settings fields of `obj` (the Dagster resource, say)."""
        return cls(**{name: getattr(obj, name) for name in cls.model_fields})

    def resolve(
        self, kind: str, base_url: str, model: str, cache_dir: str | None = None
    ) -> TeacherSettings:
        """Empty kind/base_url/model (and cache_dir) filled from the profile's (the home's),
        then checked as a whole."""
        out = TeacherSettings.of(self).model_copy(
            update={
                "kind": self.kind or kind or "gazetteer",
                "base_url": self.base_url or base_url,
                "model": self.model or model,
                "cache_dir": self.cache_dir or cache_dir,
            }
        )
        out.check()
        return out

    def check(self) -> None:
        """What a runnable teacher needs (ValueError otherwise)."""
        kind = self.kind or "gazetteer"
        if kind == "openai" and (not self.base_url or not self.model):
            raise ValueError("an openai teacher needs base_url and model")
        if kind == "openai" and self.prompt_file:
            self.system_prompt()  # a missing or empty prompt file fails before any request

    # ---------------------------------------------------------------- reading

    @property
    def effective_kind(self) -> str:
        return self.kind or "gazetteer"

    def resolved_api_key(self) -> str:
        return self.api_key or os.environ.get(API_KEY_ENV) or ""

    def safe_base_url(self) -> str:
        """The base URL for lineage, logs and metadata: key and credentials masked."""
        return mask_url(redact(self.base_url.rstrip("/"), self.resolved_api_key()))

    def safe_dict(self) -> dict[str, Any]:
        """Every setting but the key, for metadata (model_dump would include it)."""
        out = self.model_dump(exclude={"api_key"})
        out["base_url"] = self.safe_base_url()
        out["api_key_set"] = bool(self.resolved_api_key())
        return out

    def generation_params(self) -> dict[str, Any]:
        """What shapes an answer besides model, prompt and text (part of the cache key)."""
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "json_mode": self.json_mode,
            "enable_thinking": self.enable_thinking,
        } | ({"extra_body": self.extra_body} if self.extra_body else {})

    def identity(self) -> dict[str, Any]:
        """What determines the labels (for code versions and lineage): never the key."""
        if self.effective_kind == "gazetteer":
            from distill_assets.core.regions.tables import GAZETTEER_VERSION
            from distill_assets.core.teacher.rule_teacher import GazetteerTeacher

            ident: dict[str, Any] = {
                "kind": "gazetteer",
                "teacher_model": GazetteerTeacher.model_id,
                "prompt_hash": "gazetteer",
                "gazetteer_version": GAZETTEER_VERSION,
            }
        else:
            ident = {
                "kind": "openai",
                "teacher_model": self.model,
                "base_url": self.safe_base_url(),
                "prompt_hash": prompt_hash(self.system_prompt()),
                "params": self.generation_params(),
            }
        ident["code_version"] = sha256_text(json.dumps(ident, sort_keys=True))[:16]
        return ident
