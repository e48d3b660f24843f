"""The one entry point named by workspace.yaml."""

from __future__ import annotations

import dagster as dg

from distill_assets.defs.assets import ALL_ASSETS
from distill_assets.defs.automation import build_automation_sensor
from distill_assets.defs.executors import build_executor
from distill_assets.defs.partitions import dataset_version
from distill_assets.defs.production import production_model
from distill_assets.defs.resources import build_settings, build_teacher
from distill_assets.defs.sensors import build_sensor_and_schedule

distill_job = dg.define_asset_job(
    name="distill_graph",
    selection=dg.AssetSelection.assets(*ALL_ASSETS),
    partitions_def=dataset_version,
    description="raw_addresses -> teacher_labels -> training_dataset -> lora_adapter -> "
    "merged_model -> eval_report for one dataset_version",
)

inbox_sensor, nightly_newest_version = build_sensor_and_schedule(distill_job)

defs = dg.Definitions(
    assets=[*ALL_ASSETS, production_model],
    jobs=[distill_job],
    sensors=[inbox_sensor, build_automation_sensor()],
    schedules=[nightly_newest_version],
    resources={"settings": build_settings(), "teacher": build_teacher()},
    executor=build_executor(),
)
