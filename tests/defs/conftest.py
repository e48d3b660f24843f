"""Asset tests: dg.materialize on the test profile with local twins, in a temp DAGSTER_HOME."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from distill_assets.defs.resources import DistillSettings, TeacherResource


class Env:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.instance = dg.DagsterInstance.ephemeral()
        self.settings = DistillSettings(profile="test", home=str(home))

    def add(self, key: str) -> str:
        self.instance.add_dynamic_partitions("dataset_version", [key])
        return key

    def materialize(self, assets, key: str, run_config: dict | None = None, **kw):
        return dg.materialize(
            assets,
            partition_key=key,
            instance=self.instance,
            resources={"settings": self.settings, "teacher": TeacherResource()},
            run_config=run_config or {},
            **kw,
        )

    def asset_dir(self, key: str, asset: str) -> Path:
        return self.home / "artifacts" / key / asset


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path / "home")
