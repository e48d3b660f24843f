"""New versions from an inbox folder, and a schedule that re-evaluates the newest version."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from distill_assets.core.versions import VersionError, register_file
from distill_assets.defs.partitions import dataset_version
from distill_assets.defs.resources import default_home

INBOX_SUFFIXES = {".jsonl", ".json", ".csv", ".parquet"}


def inbox_dir() -> Path:
    return Path(os.environ.get("DISTILL_INBOX") or Path(default_home()) / "inbox")


def build_sensor_and_schedule(job: dg.UnresolvedAssetJobDefinition):
    @dg.sensor(
        name="inbox_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Each new file in the inbox becomes a dataset_version and runs the graph.",
    )
    def inbox_sensor(context: dg.SensorEvaluationContext):
        folder = inbox_dir()
        if not folder.is_dir():
            return dg.SkipReason(f"no inbox folder {folder}")
        known = set(context.instance.get_dynamic_partitions(dataset_version.name or ""))
        new_keys: list[str] = []
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in INBOX_SUFFIXES or path.name.startswith("."):
                continue
            try:
                spec = register_file(Path(default_home()), path)
            except VersionError as exc:
                context.log.warning(f"skipped {path.name}: {exc}")
                continue
            if spec.key not in known and spec.key not in new_keys:
                new_keys.append(spec.key)
        if not new_keys:
            return dg.SkipReason("no new files")
        return dg.SensorResult(
            run_requests=[dg.RunRequest(partition_key=k, run_key=k) for k in new_keys],
            dynamic_partitions_requests=[dataset_version.build_add_request(new_keys)],
        )

    @dg.schedule(
        name="nightly_newest_version",
        job=job,
        cron_schedule="0 2 * * *",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Re-evaluates the newest dataset_version every night (off until turned on).",
    )
    def nightly_newest_version(context: dg.ScheduleEvaluationContext):
        keys = context.instance.get_dynamic_partitions(dataset_version.name or "")
        if not keys:
            return dg.SkipReason("no dataset_version yet")
        newest = keys[-1]
        return dg.RunRequest(partition_key=newest, run_key=None, tags={"trigger": "nightly"})

    return inbox_sensor, nightly_newest_version
