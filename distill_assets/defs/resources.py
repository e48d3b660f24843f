"""Resources: the profile and home folder, and the teacher service (with its offline twin)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from distill_assets.core.common import home as homes
from distill_assets.core.common.profiles import DEFAULT_PROFILE, PROFILE_ENV, Profile, get_profile
from distill_assets.core.teacher.settings import API_KEY_ENV, TeacherSettings

DAILY_COST_ENV = "DISTILL_TEACHER_DAILY_BUDGET"
DAILY_TOKENS_ENV = "DISTILL_TEACHER_DAILY_TOKENS"


class DistillSettings(dg.ConfigurableResource):
    """Which profile runs (test/demo/gpu) and where versions, artifacts and caches live."""

    profile: str = Field(
        default=DEFAULT_PROFILE, description="test | demo | gpu (docs/CONVENTIONS.md: profiles)"
    )
    home: str = Field(default="", description="root folder; empty = $DISTILL_HOME/$DAGSTER_HOME")
    unmask_previews: bool = Field(
        default=False, description="show names and phones unmasked in metadata previews"
    )
    teacher_daily_budget_cost: float | None = Field(
        default=None,
        description="money (the teacher's currency) the teacher may be paid per UTC day across "
        "runs started by automation, the schedule or the inbox; None = no limit "
        f"(${DAILY_COST_ENV})",
    )
    teacher_daily_budget_tokens: int | None = Field(
        default=None,
        description=f"the same in tokens (in + out); None = no limit (${DAILY_TOKENS_ENV})",
    )

    @property
    def home_path(self) -> Path:
        return Path(self.home) if self.home else homes.default_home()

    @property
    def artifacts(self) -> Path:
        return homes.artifacts_dir(self.home_path)

    @property
    def cache_dir(self) -> Path:
        return homes.cache_dir(self.home_path)

    def get_profile(self, **overrides) -> Profile:
        return get_profile(self.profile, **overrides)


class TeacherResource(dg.ConfigurableResource, TeacherSettings):
    """The teacher LLM: any OpenAI-compatible API, or the offline gazetteer twin.

    Its fields are TeacherSettings' (core/teacher/settings.py), so `distill label` and this
    resource ask the same way. Empty kind/base_url/model fall back to the profile; the key only
    ever comes from `dg.EnvVar`.
    """

    def for_run(self, settings: DistillSettings) -> TeacherSettings:
        """These settings with the profile's teacher and the home's cache filled in."""
        p = settings.get_profile()
        cache = str(settings.cache_dir / "teacher")
        return self.resolve(p.teacher_kind, p.teacher_base_url, p.teacher_model, cache)


def _env_number(name: str, kind: type) -> float | int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"${name}={raw!r} is not a {kind.__name__}") from None


def build_settings(profile: str | None = None) -> DistillSettings:
    return DistillSettings(
        profile=profile or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE,
        teacher_daily_budget_cost=_env_number(DAILY_COST_ENV, float),
        teacher_daily_budget_tokens=_env_number(DAILY_TOKENS_ENV, int),  # type: ignore[arg-type]
    )


def build_teacher() -> TeacherResource:
    """The key is wired through dg.EnvVar only when it is set, so offline runs need none."""
    key_var = os.environ.get("DISTILL_TEACHER_KEY_ENV", API_KEY_ENV)
    if os.environ.get(key_var):
        return TeacherResource(api_key=dg.EnvVar(key_var))
    return TeacherResource()
