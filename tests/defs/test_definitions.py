"""The code location loads with the graph, partition, tags, pools and executors it documents."""

import importlib

import dagster as dg
import pytest

from distill_assets.core.common.lineage import ASSET_CHAIN

ASSETS = list(ASSET_CHAIN)
GPU_ASSETS = {"lora_adapter", "merged_model", "eval_report"}


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from distill_assets import definitions

    return definitions.defs


def test_six_assets_on_the_dataset_version_partition(defs):
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    # Besides the six: the one production alias, not partitioned (defs/production.py).
    assert keys == {*ASSETS, "production_model"}
    assert graph.get(dg.AssetKey("production_model")).partitions_def is None
    for name in ASSETS:
        node = graph.get(dg.AssetKey(name))
        assert isinstance(node.partitions_def, dg.DynamicPartitionsDefinition)
        assert node.partitions_def.name == "dataset_version"


def test_lineage_edges_follow_the_design(defs):
    graph = defs.resolve_asset_graph()
    parents = {
        name: {k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys}
        for name in ASSETS
    }
    assert parents["raw_addresses"] == set()
    assert parents["teacher_labels"] == {"raw_addresses"}
    assert "teacher_labels" in parents["training_dataset"]
    assert parents["lora_adapter"] == {"training_dataset"}
    assert parents["merged_model"] == {"lora_adapter"}
    assert "merged_model" in parents["eval_report"]


def test_groups(defs):
    graph = defs.resolve_asset_graph()
    groups = {name: graph.get(dg.AssetKey(name)).group_name for name in ASSETS}
    assert groups == {
        "raw_addresses": "data",
        "teacher_labels": "data",
        "training_dataset": "data",
        "lora_adapter": "model",
        "merged_model": "model",
        "eval_report": "evaluation",
    }


def test_gpu_steps_are_tagged_and_pooled(defs):
    from distill_assets.defs.assets import ALL_ASSETS

    by_name = {a.key.to_user_string(): a for a in ALL_ASSETS}
    for name in ASSETS:
        op = by_name[name].op
        if name in GPU_ASSETS:
            assert op.tags.get("gpu") == "true", name
            assert op.pool == "gpu", name
        else:
            assert "gpu" not in op.tags, name
            assert op.pool is None, name


def test_checks_are_declared(defs):
    graph = defs.resolve_asset_graph()
    names = {k.name for k in graph.asset_check_keys}
    assert {
        "training_dataset_schema",
        "training_dataset_no_leakage",
        "training_dataset_drop_rate",
        "merged_model_matches_adapter",
        "eval_report_promotion",
    } <= names


def test_job_sensor_and_schedule(defs):
    job = defs.resolve_job_def("distill_graph")
    assert job.partitions_def is not None
    assert defs.resolve_sensor_def("inbox_sensor") is not None
    schedule = defs.resolve_schedule_def("nightly_newest_version")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_profile_env_selects_settings(monkeypatch):
    monkeypatch.setenv("DISTILL_PROFILE", "test")
    import distill_assets.definitions as d

    d = importlib.reload(d)
    settings = d.defs.resources["settings"]
    assert settings.profile == "test"
    monkeypatch.setenv("DISTILL_PROFILE", "demo")
    d = importlib.reload(d)
    assert d.defs.resources["settings"].profile == "demo"
