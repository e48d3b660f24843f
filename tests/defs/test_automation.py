"""The inbox sensor, the nightly schedule and the declarative automation condition."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import dagster as dg
import pytest
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from distill_assets.core.data.dataset_versions import list_specs
from distill_assets.core.evaluation.gates import CHECKS
from distill_assets.defs.automation import asset_automation_condition, build_automation_sensor
from distill_assets.defs.checks import specs_for
from distill_assets.defs.partitions import dataset_version
from distill_assets.defs.sensors import build_sensor_and_schedule

# The asset graph (docs/ARCHITECTURE.md); test_graph_mirror_matches_the_definitions holds it.
GRAPH: dict[str, list[str]] = {
    "raw_addresses": [],
    "teacher_labels": ["raw_addresses"],
    "training_dataset": ["raw_addresses", "teacher_labels"],
    "lora_adapter": ["training_dataset"],
    "merged_model": ["lora_adapter"],
    "eval_report": ["merged_model", "training_dataset", "lora_adapter"],
}
# Not partitioned, outside the graph's job: the production alias (defs/production.py).
PRODUCTION = {"production_model": ["eval_report"]}
DOWNSTREAM_OF_DATASET = ["training_dataset", "lora_adapter", "merged_model", "eval_report"]

JOB = dg.define_asset_job("distill_graph", partitions_def=dataset_version)


def _rows(*texts: str) -> str:
    return "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)


@dataclass
class Tick:
    runs: list[dg.RunRequest]
    added: list[str]  # partition keys the sensor asked to add
    skip: str


class Inbox:
    """A home + inbox folder, an instance, and the sensor ticked like the daemon would."""

    def __init__(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, instance: dg.DagsterInstance
    ) -> None:
        self.home = tmp_path / "home"
        self.folder = tmp_path / "inbox"
        self.folder.mkdir(parents=True)
        monkeypatch.setenv("DISTILL_HOME", str(self.home))
        monkeypatch.setenv("DISTILL_INBOX", str(self.folder))
        self.instance = instance
        sensor, schedule = build_sensor_and_schedule(JOB)
        defs = dg.Definitions(assets=_graph(), jobs=[JOB], sensors=[sensor], schedules=[schedule])
        self.repo = defs.get_repository_def()
        self.sensor = self.repo.get_sensor_def("inbox_sensor")
        self.schedule = self.repo.get_schedule_def("nightly_newest_version")
        self.cursor: str | None = None

    def tick(self, reset_cursor: bool = False) -> Tick:
        """One evaluation; the partitions it asks for are added as the daemon would."""
        if reset_cursor:
            self.cursor = None
        # An instance ref, not the instance: partitioned run requests are resolved through it.
        with dg.build_sensor_context(
            instance_ref=self.instance.get_ref(), cursor=self.cursor, repository_def=self.repo
        ) as context:
            data = self.sensor.evaluate_tick(context)
        adds: list[str] = []
        for request in data.dynamic_partitions_requests or []:
            assert isinstance(request, dg.AddDynamicPartitionsRequest)
            assert request.partitions_def_name == "dataset_version"
            adds.extend(request.partition_keys)
        if adds:
            self.instance.add_dynamic_partitions("dataset_version", adds)
        self.cursor = data.cursor
        return Tick(list(data.run_requests or []), adds, data.skip_message or "")

    @property
    def partitions(self) -> list[str]:
        return list(self.instance.get_dynamic_partitions("dataset_version"))


@pytest.fixture(scope="module")
def persistent_instance(tmp_path_factory: pytest.TempPathFactory):
    """One temp SQLite instance for the module (a ref is needed, and each costs ~2 s)."""
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster"))) as instance:
        yield instance


@pytest.fixture
def inbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, persistent_instance):
    for key in persistent_instance.get_dynamic_partitions("dataset_version"):
        persistent_instance.delete_dynamic_partition("dataset_version", key)
    return Inbox(tmp_path, monkeypatch, persistent_instance)


def test_new_file_becomes_one_version_and_one_run(inbox: Inbox):
    (inbox.folder / "Batch 1.jsonl").write_text(_rows("大理市人民路25号 段丽娟"), "utf-8")
    data = inbox.tick()
    (key,) = data.added
    assert key.startswith("batch-1-")
    (run,) = data.runs
    assert run.partition_key == key and run.run_key == key
    assert run.tags.get("trigger") == "inbox"
    (spec,) = list_specs(inbox.home)
    assert spec.key == key and Path(spec.path).exists()
    assert inbox.partitions == [key]


def test_the_same_file_again_requests_nothing(inbox: Inbox):
    (inbox.folder / "a.jsonl").write_text(_rows("x"), "utf-8")
    inbox.tick()
    again = inbox.tick()
    assert not again.runs and not again.added
    assert "no new files" in again.skip
    # Even with the cursor lost (sensor reset), the registered content is recognised.
    fresh = inbox.tick(reset_cursor=True)
    assert not fresh.runs and not fresh.added
    assert len(inbox.partitions) == 1


def test_same_content_under_another_name_is_the_same_version(inbox: Inbox):
    (inbox.folder / "a.jsonl").write_text(_rows("x", "y"), "utf-8")
    inbox.tick()
    shutil.copyfile(inbox.folder / "a.jsonl", inbox.folder / "copy-of-a.jsonl")
    data = inbox.tick()
    assert not data.runs and not data.added
    assert len(list_specs(inbox.home)) == 1 and len(inbox.partitions) == 1


def test_two_new_files_with_the_same_content_in_one_tick_make_one_version(inbox: Inbox):
    (inbox.folder / "a.jsonl").write_text(_rows("x"), "utf-8")
    (inbox.folder / "b.jsonl").write_text(_rows("x"), "utf-8")
    data = inbox.tick()
    assert len(data.runs) == 1
    assert len(inbox.partitions) == 1


def test_edited_file_is_a_new_version(inbox: Inbox):
    path = inbox.folder / "a.jsonl"
    path.write_text(_rows("x"), "utf-8")
    first = inbox.tick().runs[0].partition_key
    path.write_text(_rows("x", "a new row"), "utf-8")
    data = inbox.tick()
    (run,) = data.runs
    assert run.partition_key != first
    assert inbox.partitions == [first, run.partition_key]


def test_non_data_and_hidden_files_are_ignored(inbox: Inbox):
    (inbox.folder / "README.txt").write_text("not data", "utf-8")
    (inbox.folder / ".upload.jsonl").write_text(_rows("half written"), "utf-8")
    (inbox.folder / "b.jsonl.part").write_text(_rows("half written"), "utf-8")
    (inbox.folder / "sub.csv").mkdir()
    data = inbox.tick()
    assert not data.runs and not data.added
    assert list_specs(inbox.home) == []
    (inbox.folder / "real.csv").write_text("id,text\n1,天津市河西区友谊路18号\n", "utf-8")
    (run,) = inbox.tick().runs
    assert str(run.partition_key).startswith("real-")


def test_a_bad_file_is_moved_to_rejected_with_its_reason(inbox: Inbox):
    """Read with the raw_addresses reader at registration: a file with no text column becomes
    no partition and no run; it is moved to rejected/ with why, and the tick says so."""
    (inbox.folder / "notext.csv").write_text("id,body\n1,hello\n", "utf-8")
    (inbox.folder / "empty.jsonl").write_bytes(b"")
    data = inbox.tick()
    assert not data.runs and not data.added
    assert list_specs(inbox.home) == [] and inbox.partitions == []
    assert "rejected" in data.skip and "notext.csv" in data.skip
    rejected = inbox.folder / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == [
        "empty.jsonl",
        "empty.jsonl.reason.txt",
        "notext.csv",
        "notext.csv.reason.txt",
    ]
    reason = (rejected / "notext.csv.reason.txt").read_text("utf-8")
    assert "notext.csv" in reason and "text" in reason
    assert not (inbox.folder / "notext.csv").exists()
    # A good file beside a bad one still becomes a version; the rejected ones stay out.
    (inbox.folder / "bad.jsonl").write_text('{"id": "1", "text": ""}\n', "utf-8")
    (inbox.folder / "good.jsonl").write_text(_rows("天津市河西区友谊路18号"), "utf-8")
    data = inbox.tick()
    (run,) = data.runs
    assert str(run.partition_key).startswith("good-")
    assert "line 1" in (rejected / "bad.jsonl.reason.txt").read_text("utf-8")
    assert not inbox.tick().runs


def test_missing_inbox_folder_skips(inbox: Inbox):
    inbox.folder.rmdir()
    data = inbox.tick()
    assert not data.runs
    assert "no inbox folder" in data.skip


def _schedule_tick(inbox: Inbox):
    when = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)
    with dg.build_schedule_context(
        instance=inbox.instance, scheduled_execution_time=when, repository_def=inbox.repo
    ) as ctx:
        return inbox.schedule.evaluate_tick(ctx)


def test_nightly_schedule_reruns_the_newest_version(inbox: Inbox):
    assert inbox.schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    empty = _schedule_tick(inbox)
    assert not empty.run_requests and empty.skip_message
    inbox.instance.add_dynamic_partitions("dataset_version", ["v-old", "v-new"])
    inbox.instance.add_dynamic_partitions("dataset_version", ["v-newest"])
    (run,) = _schedule_tick(inbox).run_requests or []
    assert run.partition_key == "v-newest"
    assert run.tags.get("trigger") == "nightly"
    assert run.run_key is None  # every night, not once


def test_nightly_schedule_skips_when_the_teacher_budget_of_the_day_is_spent(
    inbox: Inbox, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DISTILL_TEACHER_DAILY_BUDGET", "0.5")
    inbox.instance.add_dynamic_partitions("dataset_version", ["v-paid"])
    ledger = {"cost": 0.6, "tokens_in": 10, "tokens_out": 5}
    inbox.instance.report_runless_asset_event(
        dg.AssetMaterialization(
            "teacher_labels", partition="v-paid", metadata={"ledger": dg.MetadataValue.json(ledger)}
        )
    )
    data = _schedule_tick(inbox)
    assert not data.run_requests
    assert data.skip_message and "teacher daily budget spent" in data.skip_message
    monkeypatch.delenv("DISTILL_TEACHER_DAILY_BUDGET")
    assert _schedule_tick(inbox).run_requests


# --- declarative automation ----------------------------------------------------------------


def _graph(
    code_versions: dict[str, str] | None = None, condition: dg.AutomationCondition | None = None
) -> list[dg.AssetsDefinition]:
    """Stand-ins with the real keys, deps, partitions, checks and condition; code versions
    overridable."""
    code_versions = code_versions or {}
    condition = condition or asset_automation_condition()
    out = []
    for name, deps in GRAPH.items():

        @dg.asset(
            name=name,
            deps=deps,
            partitions_def=dataset_version,
            code_version=code_versions.get(name, "v1"),
            automation_condition=condition,
            check_specs=specs_for(name),
        )
        def _stand_in():  # no return annotation: with check specs, None means "no outputs"
            ...

        out.append(_stand_in)
    return out


def _requested(result) -> dict[str, set]:
    out = {}
    for name in GRAPH:
        keys = result.get_requested_partitions(dg.AssetKey(name))
        if keys:
            out[name] = set(keys)
    return out


def _report_check(instance: dg.DagsterInstance, check: str, passed: bool) -> None:
    """A check result on the asset's latest materialisation (as a run ties them)."""
    key = dg.AssetKey(CHECKS[check].asset)
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1)
    (latest,) = records.records
    target = AssetCheckEvaluationTargetMaterializationData(
        storage_id=latest.storage_id, run_id=latest.run_id, timestamp=latest.timestamp
    )
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=key,
            check_name=check,
            passed=passed,
            partition="v1",
            target_materialization_data=target,
        )
    )


def _materialized(instance: dg.DagsterInstance, name: str, failed: tuple[str, ...] = ()) -> None:
    """A materialisation of v1 with its checks' results, as a real run records them."""
    instance.report_runless_asset_event(dg.AssetMaterialization(name, partition="v1"))
    for check, info in CHECKS.items():
        if info.asset == name:
            _report_check(instance, check, passed=check not in failed)


@pytest.fixture
def built() -> dg.DagsterInstance:
    """Version v1 built by an earlier run; v2 registered but not built yet. (Its checks are
    left unreported: runless check results of one partition can be reported once.)"""
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("dataset_version", ["v1", "v2"])
    for name in GRAPH:
        instance.report_runless_asset_event(dg.AssetMaterialization(name, partition="v1"))
    return instance


def test_code_version_change_requests_that_asset_and_its_downstream(built):
    first = dg.evaluate_automation_conditions(defs=_graph(), instance=built)
    assert first.total_requested == 0  # turning automation on rebuilds nothing
    changed = _graph({"training_dataset": "v2-new-cleaning-rule"})
    result = dg.evaluate_automation_conditions(defs=changed, instance=built, cursor=first.cursor)
    # Only the built version, only the changed asset and what depends on it.
    assert _requested(result) == {name: {"v1"} for name in DOWNSTREAM_OF_DATASET}
    again = dg.evaluate_automation_conditions(defs=changed, instance=built, cursor=result.cursor)
    assert again.total_requested == 0  # handled once, not every tick


def test_an_edited_cleaning_rule_requests_the_dataset_and_its_downstream(built):
    """No constant bumped: the code versions are derived from the source of the step's core
    modules (defs/code_versions.py), so editing a rule in dataset/clean.py is enough."""
    from distill_assets.core.common.profiles import get_profile
    from distill_assets.defs import code_versions as cv

    profile = get_profile("test")
    before = cv.compute_code_versions(profile)
    first = dg.evaluate_automation_conditions(defs=_graph(before), instance=built)
    rule = cv.read_source("dataset/clean.py") + "\n\nMIN_TEXT_CHARS = 4\n"

    def read(rel: str) -> str:
        return rule if rel == "dataset/clean.py" else cv.read_source(rel)

    after = cv.compute_code_versions(profile, read=read)
    result = dg.evaluate_automation_conditions(
        defs=_graph(after), instance=built, cursor=first.cursor
    )
    assert _requested(result) == {name: {"v1"} for name in DOWNSTREAM_OF_DATASET}


def test_prompt_change_relabels_and_rebuilds_everything_downstream(built):
    first = dg.evaluate_automation_conditions(defs=_graph(), instance=built)
    changed = _graph({"teacher_labels": "labels-v1-newprompthash"})
    result = dg.evaluate_automation_conditions(defs=changed, instance=built, cursor=first.cursor)
    assert _requested(result) == {name: {"v1"} for name in GRAPH if name != "raw_addresses"}


def test_upstream_update_outside_a_run_flows_downstream(built):
    first = dg.evaluate_automation_conditions(defs=_graph(), instance=built)
    _materialized(built, "training_dataset")
    result = dg.evaluate_automation_conditions(defs=_graph(), instance=built, cursor=first.cursor)
    assert _requested(result) == {
        name: {"v1"} for name in ("lora_adapter", "merged_model", "eval_report")
    }


@pytest.mark.parametrize("gated", [True, False])
def test_a_failed_blocking_check_requests_nothing_downstream(built, gated: bool):
    """training_dataset rebuilt with a leak: its blocking check failed, so neither the adapter,
    the merged model nor the eval is requested; without the blocking-checks condition they are
    (the control case shows the test can fail)."""
    ac = dg.AutomationCondition
    base = asset_automation_condition()
    # The same condition less its blocking-checks operand: what the graph had before.
    ungated = (
        cast(dg.AutomationCondition, ac.any_deps_updated() | ac.code_version_changed())
        .since_last_handled()
        .with_label("ungated")
    )
    graph = _graph(condition=base if gated else ungated)
    first = dg.evaluate_automation_conditions(defs=graph, instance=built)
    _materialized(built, "training_dataset", failed=("training_dataset_no_leakage",))
    result = dg.evaluate_automation_conditions(defs=graph, instance=built, cursor=first.cursor)
    requested = _requested(result)
    if gated:
        assert requested == {}
    else:
        assert set(requested) >= {"lora_adapter", "eval_report"}


def test_a_new_version_is_left_to_the_inbox_sensor(built):
    first = dg.evaluate_automation_conditions(defs=_graph(), instance=built)
    built.add_dynamic_partitions("dataset_version", ["v3"])
    result = dg.evaluate_automation_conditions(defs=_graph(), instance=built, cursor=first.cursor)
    assert result.total_requested == 0


def test_automation_sensor_targets_every_asset_and_runs_by_default():
    sensor = build_automation_sensor()
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    defs = dg.Definitions(assets=_graph(), sensors=[sensor])
    graph = defs.resolve_asset_graph()
    selected = sensor.asset_selection.resolve(graph)
    assert {k.to_user_string() for k in selected} == set(GRAPH)


# --- the real code location ----------------------------------------------------------------


def test_graph_mirror_matches_the_definitions():
    from distill_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    real = {
        key.to_user_string(): sorted(p.to_user_string() for p in graph.get(key).parent_keys)
        for key in graph.get_all_asset_keys()
    }
    assert real == {name: sorted(deps) for name, deps in {**GRAPH, **PRODUCTION}.items()}


def test_definitions_assets_carry_the_automation_condition():
    from distill_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    expected = asset_automation_condition().get_label()
    for name in GRAPH:
        condition = graph.get(dg.AssetKey(name)).automation_condition
        assert condition is not None, f"{name} has no automation_condition"
        assert condition.get_label() == expected, name
