"""`production_model`: the asset the UI shows for the model in production.

Not partitioned: there is one production alias. Its materialisations are the promotion history
(version, why, the gate's figures, the previous model). Automation requests it when an
eval_report partition is updated; it then promotes that version if it passed the promotion
gate and otherwise records nothing (the log says why), so production never moves to a model
that failed. Run config `version` promotes a given version by hand, `rollback` goes back.
Core: core/evaluation/production.py.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from pydantic import Field

from distill_assets.core.evaluation.production import (
    PromotionError,
    promote,
    read_current,
    rollback,
)
from distill_assets.defs.resources import DistillSettings

PRODUCTION_ASSET = "production_model"


class PromoteConfig(dg.Config):
    version: str = Field(
        default="", description="version to promote; empty = the eval_report updated last"
    )
    reason: str = Field(default="", description="why (recorded with the promotion)")
    rollback: bool = Field(default=False, description="put the previous model back instead")


def production_condition() -> dg.AutomationCondition:
    """Whenever an eval_report partition is updated (and nothing upstream is still running)."""
    ac = dg.AutomationCondition
    return (
        ac.any_deps_updated().since_last_handled() & ~ac.any_deps_in_progress() & ~ac.in_progress()
    ).with_label("promote_on_new_eval")


def latest_evaluated_version(instance: dg.DagsterInstance) -> str | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("eval_report")), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    return records[0].asset_materialization.partition


def record_metadata(current: dict[str, Any]) -> dict[str, Any]:
    previous = current.get("previous") or []
    return {
        "version": current["version"],
        "action": current["action"],
        "reason": current["reason"],
        "gate": current.get("gate", ""),
        "tuned_exact_match": float(current["tuned_exact_match"]),
        "base_exact_match": float(current["base_exact_match"]),
        "merged_data_version": current["merged_data_version"],
        "model_path": dg.MetadataValue.path(current["model_path"]),
        "previous_version": previous[0]["version"] if previous else "",
        "by": current.get("by", ""),
    }


@dg.asset(
    name=PRODUCTION_ASSET,
    deps=["eval_report"],
    group_name="production",
    kinds={"huggingface"},
    automation_condition=production_condition(),
    output_required=False,
    description="The `production` alias: the merged model of the version whose eval passed the "
    "promotion gate, a frozen copy, with the previous one kept for rollback.",
)
def production_model(
    context: dg.AssetExecutionContext, config: PromoteConfig, settings: DistillSettings
) -> Iterator[dg.MaterializeResult]:
    home = settings.home_path
    trigger = context.run.tags.get("trigger", "") or "run"
    try:
        if config.rollback:
            current = rollback(home, config.reason or "rollback", by=trigger)
        else:
            version = config.version or latest_evaluated_version(context.instance)
            if not version:
                context.log.info("production_model: no eval_report yet; nothing to promote")
                return
            now = read_current(home)
            if now and now["version"] == version and not config.version:
                context.log.info(f"production_model: {version} is already in production")
                return
            reason = config.reason or f"eval_report of {version} passed the promotion gate"
            current = promote(home, version, reason, by=trigger)
    except PromotionError as exc:
        if config.version or config.rollback:
            raise dg.Failure(description=f"production_model: {exc}") from exc
        context.log.warning(f"production_model: production unchanged: {exc}")
        return
    context.log.info(f"production_model: {current['version']} in production ({current['reason']})")
    yield dg.MaterializeResult(
        metadata=record_metadata(current),
        data_version=dg.DataVersion(current["merged_data_version"]),
    )
