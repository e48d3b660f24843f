"""Output and the home folder for every command: results on stdout, progress on stderr."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from distill_assets.core.common.home import default_home


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def err(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def home() -> Path:
    """The home folder (created), also exported as $DAGSTER_HOME for the instance."""
    path = default_home().resolve()
    os.environ.setdefault("DAGSTER_HOME", str(path))
    path.mkdir(parents=True, exist_ok=True)
    return path
