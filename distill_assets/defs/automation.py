"""What runs the graph without a person: the inbox sensor, the nightly schedule, and the
declarative automation condition that re-materialises what a code change affects.

docs/OPERATIONS.md says what each one does in production.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import cast

import dagster as dg

from distill_assets.core.common.artifacts import Logger, null_log, sha256_file
from distill_assets.core.data.dataset_versions import VersionError, list_specs, register_file
from distill_assets.defs.partitions import dataset_version
from distill_assets.defs.resources import default_home

INBOX_ENV = "DISTILL_INBOX"
INBOX_SUFFIXES = frozenset({".jsonl", ".json", ".csv", ".parquet"})
PARTITIONS_NAME = dataset_version.name or "dataset_version"


def inbox_dir() -> Path:
    """$DISTILL_INBOX, else <home>/inbox (home: $DISTILL_HOME, else $DAGSTER_HOME)."""
    return Path(os.environ.get(INBOX_ENV) or Path(default_home()) / "inbox")


def inbox_files(folder: Path) -> list[Path]:
    """Data files only: hidden files and other suffixes (.tmp, .part, ...) are half-written or
    not ours, so a producer writes `.name.jsonl` and renames it when complete."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in INBOX_SUFFIXES
    )


def _signature(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def scan_inbox(
    home: Path,
    folder: Path,
    known: set[str],
    cursor: dict[str, list[str]],
    log: Logger = null_log,
) -> tuple[list[str], dict[str, list[str]]]:
    """Register new inbox files as versions; return (keys not yet partitions, new cursor).

    The cursor maps file name -> [size:mtime signature, version key], so unchanged files are not
    hashed again. A version is its content: a file whose bytes are already registered (under any
    name) maps to that version instead of making a new one.
    """
    new_cursor: dict[str, list[str]] = {}
    by_digest: dict[str, str] | None = None
    new_keys: list[str] = []
    for path in inbox_files(folder):
        sig = _signature(path)
        seen = cursor.get(path.name)
        if seen and seen[0] == sig:
            new_cursor[path.name] = seen
            continue
        if by_digest is None:
            by_digest = {s.sha256: s.key for s in list_specs(home) if s.kind == "file"}
        digest = sha256_file(path)
        key = by_digest.get(digest)
        if key is None:
            try:
                key = register_file(home, path).key
            except VersionError as exc:
                log(f"inbox: skipped {path.name} for now: {exc}")
                continue
            by_digest[digest] = key
            log(f"inbox: {path.name} registered as dataset_version {key}")
        elif key in known or key in new_keys:
            log(f"inbox: {path.name} has the content of version {key}; nothing new")
        new_cursor[path.name] = [sig, key]
        if key not in known and key not in new_keys:
            new_keys.append(key)
    return new_keys, new_cursor


def build_sensor_and_schedule(
    job: dg.UnresolvedAssetJobDefinition,
) -> tuple[dg.SensorDefinition, dg.ScheduleDefinition]:
    @dg.sensor(
        name="inbox_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Each new data file in the inbox ($DISTILL_INBOX, else <home>/inbox) becomes "
        "a dataset_version (named by file and content hash; the same content twice is one "
        "version) and runs the whole graph for it.",
    )
    def inbox_sensor(context: dg.SensorEvaluationContext):
        folder = inbox_dir()
        if not folder.is_dir():
            return dg.SkipReason(f"no inbox folder {folder}")
        cursor = json.loads(context.cursor) if context.cursor else {}
        known = set(context.instance.get_dynamic_partitions(PARTITIONS_NAME))
        new_keys, new_cursor = scan_inbox(
            Path(default_home()), folder, known, cursor, log=context.log.info
        )
        cursor_text = json.dumps(new_cursor, sort_keys=True)
        if not new_keys:
            return dg.SensorResult(
                skip_reason=dg.SkipReason(f"no new files in {folder}"), cursor=cursor_text
            )
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(partition_key=k, run_key=k, tags={"trigger": "inbox"})
                for k in new_keys
            ],
            dynamic_partitions_requests=[dataset_version.build_add_request(new_keys)],
            cursor=cursor_text,
        )

    @dg.schedule(
        name="nightly_newest_version",
        job=job,
        cron_schedule="0 2 * * *",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Re-runs the graph for the newest dataset_version every night at 02:00 "
        "(off until turned on).",
    )
    def nightly_newest_version(context: dg.ScheduleEvaluationContext):
        keys = context.instance.get_dynamic_partitions(PARTITIONS_NAME)
        if not keys:
            return dg.SkipReason("no dataset_version yet")
        return dg.RunRequest(partition_key=keys[-1], run_key=None, tags={"trigger": "nightly"})

    return inbox_sensor, nightly_newest_version


def asset_automation_condition() -> dg.AutomationCondition:
    """Re-materialise a partition when its own code version changed (prompt, cleaning rule,
    recipe) or an upstream partition was updated outside the run that built it.

    Like `eager()` without its `newly_missing` branch: a new version is run by the inbox sensor
    (or by hand), so automation must not race it with a second run. A code change only touches
    partitions that were built before, and since_last_handled keeps it pending while the asset
    or its parents are in progress, so a change is never lost.
    """
    ac = dg.AutomationCondition
    code_changed = (ac.code_version_changed() & ~ac.missing()).with_label(
        "code_version_changed (built before)"
    )
    # cast: dagster's invariant generics reject since_last_handled on an AssetKey-only operand.
    trigger = cast(dg.AutomationCondition, ac.any_deps_updated() | code_changed)
    return (
        trigger.since_last_handled()
        & ~ac.any_deps_missing()
        & ~ac.any_deps_in_progress()
        & ~ac.in_progress()
    ).with_label("rerun_on_code_or_upstream_change")


def build_automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """Evaluates the assets' automation conditions in the daemon; running by default so a code
    change is picked up without a click (stop it in the UI to pause automation)."""
    return dg.AutomationConditionSensorDefinition(
        "distill_automation",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=60,
        run_tags={"trigger": "automation"},
        description="Re-materialises the partitions a code version change or an upstream "
        "update affects (asset_automation_condition in defs/automation.py).",
    )
