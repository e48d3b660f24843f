"""What runs the graph without a person: the inbox sensor and the nightly schedule.

docs/OPERATIONS.md says what each one does in production.
"""

from __future__ import annotations

import json

import dagster as dg

from distill_assets.core.common.home import default_home
from distill_assets.core.data.inbox import inbox_dir, scan_inbox
from distill_assets.defs.partitions import dataset_version
from distill_assets.defs.resources import build_settings
from distill_assets.defs.teacher_budget import daily_budget_skip

PARTITIONS_NAME = dataset_version.name or "dataset_version"


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
        "version) and runs the whole graph for it. A file the raw_addresses reader rejects is "
        "moved to <inbox>/rejected/ with <name>.reason.txt.",
    )
    def inbox_sensor(context: dg.SensorEvaluationContext):
        home = default_home()
        folder = inbox_dir(home)
        if not folder.is_dir():
            return dg.SkipReason(f"no inbox folder {folder}")
        cursor = json.loads(context.cursor) if context.cursor else {}
        known = set(context.instance.get_dynamic_partitions(PARTITIONS_NAME))
        scan = scan_inbox(home, folder, known, cursor, log=context.log.info)
        for name, why in scan.rejected.items():
            context.log.warning(f"inbox: {name} rejected, moved to {folder}/rejected/: {why}")
        cursor_text = json.dumps(scan.cursor, sort_keys=True)
        rejected = (
            f"; rejected {', '.join(sorted(scan.rejected))} (see {folder}/rejected/*.reason.txt)"
            if scan.rejected
            else ""
        )
        if not scan.new_keys:
            return dg.SensorResult(
                skip_reason=dg.SkipReason(f"no new files in {folder}{rejected}"),
                cursor=cursor_text,
            )
        new_keys = scan.new_keys
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
        over = daily_budget_skip(context.instance, build_settings())
        if over:
            return dg.SkipReason(f"nightly run skipped: {over}")
        return dg.RunRequest(partition_key=keys[-1], run_key=None, tags={"trigger": "nightly"})

    return inbox_sensor, nightly_newest_version
