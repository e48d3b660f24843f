"""Where a deployment keeps its state: one home folder for versions, artifacts and caches."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "DISTILL_HOME"


def default_home() -> Path:
    """$DISTILL_HOME, else $DAGSTER_HOME (artifacts live beside the instance), else
    ./dagster_home."""
    home = os.environ.get(HOME_ENV) or os.environ.get("DAGSTER_HOME")
    return Path(home) if home else Path.cwd() / "dagster_home"


def artifacts_dir(home: Path) -> Path:
    return Path(home) / "artifacts"


def cache_dir(home: Path) -> Path:
    return Path(home) / "cache"
