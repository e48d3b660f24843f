"""Resources: the profile and home folder, and the teacher service (with its offline twin)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from distill_assets.core.common import home as homes
from distill_assets.core.common.profiles import DEFAULT_PROFILE, PROFILE_ENV, Profile, get_profile
from distill_assets.core.teacher.settings import API_KEY_ENV, TeacherSettings


class DistillSettings(dg.ConfigurableResource):
    """Which profile runs (test/demo/gpu) and where versions, artifacts and caches live."""

    profile: str = Field(
        default=DEFAULT_PROFILE, description="test | demo | gpu (docs/CONVENTIONS.md: profiles)"
    )
    home: str = Field(default="", description="root folder; empty = $DISTILL_HOME/$DAGSTER_HOME")
    unmask_previews: bool = Field(
        default=False, description="show names and phones unmasked in metadata previews"
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


def build_settings(profile: str | None = None) -> DistillSettings:
    return DistillSettings(profile=profile or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE)


def build_teacher() -> TeacherResource:
    """The key is wired through dg.EnvVar only when it is set, so offline runs need none."""
    key_var = os.environ.get("DISTILL_TEACHER_KEY_ENV", API_KEY_ENV)
    if os.environ.get(key_var):
        return TeacherResource(api_key=dg.EnvVar(key_var))
    return TeacherResource()
