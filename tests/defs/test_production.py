"""production_model: promotes a version whose eval passed the gate, records nothing otherwise,
rolls back on request; automation requests it when an eval_report is updated."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from distill_assets.core.evaluation.production import read_current
from distill_assets.defs.partitions import dataset_version
from distill_assets.defs.production import production_condition, production_model
from distill_assets.defs.resources import DistillSettings
from tests.production_chain import fake_version


class Prod:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.instance = dg.DagsterInstance.ephemeral()

    def evaluated(self, version: str, **kw) -> None:
        """A version whose eval_report was materialised (artifacts on disk, event recorded)."""
        fake_version(self.home, version, **kw)
        self.instance.add_dynamic_partitions("dataset_version", [version])
        self.instance.report_runless_asset_event(
            dg.AssetMaterialization("eval_report", partition=version)
        )

    def run(self, **config) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [production_model],
            instance=self.instance,
            resources={"settings": DistillSettings(profile="test", home=str(self.home))},
            run_config={"ops": {"production_model": {"config": config}}},
            raise_on_error=False,
        )


@pytest.fixture
def prod(tmp_path: Path) -> Prod:
    return Prod(tmp_path / "home")


def _materializations(result) -> list[dict]:
    return [
        {k: v.value for k, v in m.metadata.items()}
        for m in result.asset_materializations_for_node("production_model")
    ]


def test_promotes_the_newest_passing_eval_then_keeps_it_when_the_next_fails(prod: Prod):
    prod.evaluated("v1")
    result = prod.run()
    assert result.success
    (meta,) = _materializations(result)
    assert meta["version"] == "v1" and meta["action"] == "promote"
    assert "promotion gate" in meta["reason"] and meta["tuned_exact_match"] == 0.8

    prod.evaluated("v2", passed=False)
    result = prod.run()
    assert result.success and _materializations(result) == []
    current = read_current(prod.home)
    assert current is not None and current["version"] == "v1"

    prod.evaluated("v3", tuned=0.9)
    (meta,) = _materializations(prod.run())
    assert meta["version"] == "v3" and meta["previous_version"] == "v1"


def test_by_hand_a_failing_version_is_a_failure_and_rollback_goes_back(prod: Prod):
    prod.evaluated("v1")
    prod.evaluated("v2", tuned=0.9)
    prod.evaluated("bad", passed=False)
    assert prod.run(version="v1").success
    assert prod.run(version="v2", reason="better").success
    failed = prod.run(version="bad")
    assert not failed.success
    current = read_current(prod.home)
    assert current is not None and current["version"] == "v2"
    (meta,) = _materializations(prod.run(rollback=True, reason="v2 misbehaves"))
    assert meta["version"] == "v1" and meta["action"] == "rollback"


def test_automation_requests_it_when_an_eval_is_updated():
    @dg.asset(name="eval_report", partitions_def=dataset_version)
    def eval_report() -> None: ...

    @dg.asset(
        name="production_model", deps=["eval_report"], automation_condition=production_condition()
    )
    def stand_in() -> None: ...

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("dataset_version", ["v1"])
    first = dg.evaluate_automation_conditions(defs=[eval_report, stand_in], instance=instance)
    assert first.total_requested == 0
    instance.report_runless_asset_event(dg.AssetMaterialization("eval_report", partition="v1"))
    result = dg.evaluate_automation_conditions(
        defs=[eval_report, stand_in], instance=instance, cursor=first.cursor
    )
    assert result.total_requested == 1
