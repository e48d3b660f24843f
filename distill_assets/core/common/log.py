"""The logger every core function takes: a plain callable, never a Dagster context."""

from __future__ import annotations

from collections.abc import Callable

Logger = Callable[[str], None]


def null_log(_msg: str) -> None:
    """A logger that drops messages, for callers that do not care."""
