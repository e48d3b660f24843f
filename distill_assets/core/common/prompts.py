"""Prompts are data: text files in distill_assets/prompts, hashed into every label and version."""

from __future__ import annotations

from functools import cache
from importlib import resources

from distill_assets.core.common.artifacts import sha256_text


@cache
def load_prompt(name: str) -> str:
    """`name` is a file stem in distill_assets/prompts, e.g. "teacher_system"."""
    text = resources.files("distill_assets.prompts").joinpath(f"{name}.txt").read_text("utf-8")
    return text.strip()


def prompt_hash(text: str) -> str:
    """Short, stable id of a prompt's exact text (12 hex chars of its sha256)."""
    return sha256_text(text)[:12]


def teacher_prompt() -> str:
    """The detailed prompt: teacher labeling, and the base student's evaluation (as the seeds)."""
    return load_prompt("teacher_system")


STUDENT_PROMPTS = ("student_system", "student_short")


def student_prompt(name: str = "student_system") -> str:
    """The short prompt the tuned student is trained and evaluated with.

    "student_system" is the seeds' prompt; "student_short" is one line (fewer tokens per example:
    the demo profile trains ~1.5x faster on CPU with it).
    """
    if name not in STUDENT_PROMPTS:
        raise ValueError(f"unknown student prompt {name!r}; choose one of {STUDENT_PROMPTS}")
    return load_prompt(name)
