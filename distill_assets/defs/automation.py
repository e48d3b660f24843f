"""The declarative automation condition that re-materialises what a code change affects, and
the sensor that evaluates it.

docs/OPERATIONS.md says what each one does in production.
"""

from __future__ import annotations

from typing import cast

import dagster as dg


def asset_automation_condition() -> dg.AutomationCondition:
    """Re-materialise a partition when its own code version changed (prompt, cleaning rule,
    recipe) or an upstream partition was updated outside the run that built it.

    Like `eager()` without its `newly_missing` branch: a new version is run by the inbox sensor
    (or by hand), so automation must not race it with a second run. A code change only touches
    partitions that were built before, and since_last_handled keeps it pending while the asset
    or its parents are in progress, so a change is never lost.

    all_deps_blocking_checks_passed: a parent whose latest blocking check failed (a leak in
    training_dataset, a merged model unequal to base+adapter) requests nothing downstream of
    it; a parent requested in the same tick is allowed, as the run itself stops at its checks.
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
        & ac.all_deps_blocking_checks_passed()
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
