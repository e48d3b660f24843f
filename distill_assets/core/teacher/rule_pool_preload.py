"""Imported by the rule pool's forkserver before it forks any worker (`set_forkserver_preload`):
the rule teacher's modules and gazetteer tables load once there, and every worker forked from
it starts with them in memory (shared, copy-on-write) instead of loading its own."""

from distill_assets.core.teacher.rule_pool import _warm
from distill_assets.core.teacher.settings import TeacherSettings

_warm(TeacherSettings(kind="gazetteer"))
