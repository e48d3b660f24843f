"""Resources: the profile and artifact root, and the teacher service (with its offline twin)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from distill_assets.core.common.profiles import DEFAULT_PROFILE, PROFILE_ENV, Profile, get_profile


def default_home() -> str:
    """Artifacts and caches live beside the instance: $DISTILL_HOME, else $DAGSTER_HOME."""
    home = os.environ.get("DISTILL_HOME") or os.environ.get("DAGSTER_HOME")
    return str(Path(home) if home else Path.cwd() / "dagster_home")


class DistillSettings(dg.ConfigurableResource):
    """Which profile runs (test/demo/gpu) and where versions, artifacts and caches live."""

    profile: str = Field(
        default=DEFAULT_PROFILE, description="test | demo | gpu (DESIGN.md: profiles)"
    )
    home: str = Field(default="", description="root folder; empty = $DISTILL_HOME/$DAGSTER_HOME")
    unmask_previews: bool = Field(
        default=False, description="show names and phones unmasked in metadata previews"
    )

    @property
    def home_path(self) -> Path:
        return Path(self.home or default_home())

    @property
    def artifacts(self) -> Path:
        return self.home_path / "artifacts"

    @property
    def cache_dir(self) -> Path:
        return self.home_path / "cache"

    def get_profile(self, **overrides) -> Profile:
        return get_profile(self.profile, **overrides)


class TeacherResource(dg.ConfigurableResource):
    """The teacher LLM: any OpenAI-compatible API, or the offline gazetteer twin.

    Empty fields fall back to the profile. The key only ever comes from `dg.EnvVar`.
    """

    kind: str = Field(default="", description="gazetteer | openai; empty = the profile's")
    base_url: str = Field(default="", description="OpenAI-compatible base URL")
    model: str = Field(default="", description="teacher model name")
    api_key: str | None = Field(default=None, description="set with dg.EnvVar, never inline")
    temperature: float = 0.0
    max_tokens: int = 512
    timeout_s: float = 60.0
    concurrency: int = 32
    max_attempts: int = 6
    json_mode: bool = True
    enable_thinking: bool = False
    price_in_per_mtok: float = 0.0
    price_out_per_mtok: float = 0.0
    currency: str = "CNY"
    budget_tokens: int | None = None
    budget_cost: float | None = None
    max_failure_rate: float = 0.05


def build_settings(profile: str | None = None) -> DistillSettings:
    return DistillSettings(profile=profile or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE)


def build_teacher() -> TeacherResource:
    """The key is wired through dg.EnvVar only when it is set, so offline runs need none."""
    key_var = os.environ.get("DISTILL_TEACHER_KEY_ENV", "OPENAI_API_KEY")
    if os.environ.get(key_var):
        return TeacherResource(api_key=dg.EnvVar(key_var))
    return TeacherResource()
