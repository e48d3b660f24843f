"""The teacher's daily budget across runs: automated runs stop once today's ledgers (from the
teacher_labels materialisations) reach it, with the reason in the UI."""

from __future__ import annotations

import dagster as dg
import pytest

from distill_assets.defs.assets import teacher_labels
from distill_assets.defs.resources import DistillSettings, TeacherResource, build_settings
from distill_assets.defs.teacher_budget import daily_budget_skip, spent_today


def _paid_run(instance: dg.DagsterInstance, cost: float, tokens: int, key: str = "v1") -> None:
    """A teacher_labels materialisation of today with its ledger, as the asset records it."""
    ledger = {"cost": cost, "tokens_in": tokens, "tokens_out": 0, "currency": "CNY"}
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            "teacher_labels", partition=key, metadata={"ledger": dg.MetadataValue.json(ledger)}
        )
    )


@pytest.fixture
def instance() -> dg.DagsterInstance:
    inst = dg.DagsterInstance.ephemeral()
    inst.add_dynamic_partitions("dataset_version", ["v1", "v2"])
    return inst


def test_spend_is_summed_from_todays_materialisations(instance):
    _paid_run(instance, 0.4, 1000)
    _paid_run(instance, 0.35, 500, key="v2")
    spend = spent_today(instance)
    assert (spend.cost, spend.tokens, spend.runs) == (0.75, 1500, 2)
    tomorrow = spent_today(instance, now=spend_day_after())
    assert tomorrow.runs == 0 and tomorrow.cost == 0


def spend_day_after() -> float:
    import time

    return time.time() + 86_400


def _run(instance, settings: DistillSettings, trigger: str):
    teacher = TeacherResource(kind="openai", base_url="http://127.0.0.1:9/v1", model="m")
    assets: list = [teacher_labels]  # graph_asset is untyped: pyright sees a plain function
    return dg.materialize(
        assets,
        partition_key="v2",
        instance=instance,
        resources={"settings": settings, "teacher": teacher},
        tags={"trigger": trigger},
        raise_on_error=False,
    )


def test_an_automated_run_over_todays_budget_is_skipped_with_the_reason(instance, tmp_path):
    settings = DistillSettings(profile="test", home=str(tmp_path), teacher_daily_budget_cost=1.0)
    _paid_run(instance, 0.7, 1000)
    _paid_run(instance, 0.4, 1000, key="v2")
    result = _run(instance, settings, "automation")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data)
    assert "teacher daily budget spent" in message and "1.1000 CNY of 1.0000 CNY" in message
    assert "automation run" in message


def test_the_nightly_schedule_skips_once_the_budget_is_spent(instance, monkeypatch):
    monkeypatch.setenv("DISTILL_TEACHER_DAILY_TOKENS", "1500")
    settings = build_settings("test")
    assert settings.teacher_daily_budget_tokens == 1500
    assert daily_budget_skip(instance, settings) == ""
    _paid_run(instance, 0.0, 1600)
    why = daily_budget_skip(instance, settings)
    assert "1600 of 1500 tokens" in why
    monkeypatch.setenv("DISTILL_TEACHER_DAILY_TOKENS", "lots")
    with pytest.raises(ValueError, match="DISTILL_TEACHER_DAILY_TOKENS"):
        build_settings("test")


def test_an_automated_run_under_the_budget_is_capped_at_what_is_left(instance, tmp_path):
    """0.7 of 1.0 spent today: the run may spend at most 0.3 more (its TokenBudget's cap)."""
    from distill_assets.core.data.dataset_versions import register_synthetic
    from distill_assets.defs.assets import raw_addresses
    from tests.fake_openai import FakeOpenAI

    settings = DistillSettings(profile="test", home=str(tmp_path), teacher_daily_budget_cost=1.0)
    key = register_synthetic(tmp_path, 6, seed=3, name="v-cap").key
    instance.add_dynamic_partitions("dataset_version", [key])
    _paid_run(instance, 0.7, 1000)
    with FakeOpenAI() as srv:
        teacher = TeacherResource(
            kind="openai",
            base_url=srv.base_url,
            model="m",
            price_in_per_mtok=1.0,
            price_out_per_mtok=1.0,
        )
        assets: list = [raw_addresses, teacher_labels]
        result = dg.materialize(
            assets,
            partition_key=key,
            instance=instance,
            resources={"settings": settings, "teacher": teacher},
            tags={"trigger": "nightly"},
        )
    assert result.success
    (mat,) = result.asset_materializations_for_node("teacher_labels")
    ledger = mat.metadata["ledger"].value
    assert isinstance(ledger, dict)
    cap = ledger["budget_cost"]
    assert isinstance(cap, float) and abs(cap - 0.3) < 1e-9, ledger
