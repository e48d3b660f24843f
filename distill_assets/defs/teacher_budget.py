"""The teacher's daily budget across runs: what automation, the schedule and the inbox may
spend per UTC day, summed from today's teacher_labels materialisations (their ledgers).

A run started by a person is not limited (its own budget_cost/budget_tokens still apply).
"""

import time

import dagster as dg

from distill_assets.core.teacher.ledger import DailySpend, daily_budget_left, day_start, sum_ledgers
from distill_assets.core.teacher.settings import TeacherSettings
from distill_assets.defs.resources import DistillSettings

AUTOMATED_TRIGGERS = frozenset({"automation", "nightly", "inbox"})
LABELS_ASSET = dg.AssetKey("teacher_labels")


def spent_today(instance: dg.DagsterInstance, now: float | None = None) -> DailySpend:
    now = time.time() if now is None else now
    start = day_start(now)
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=LABELS_ASSET, after_timestamp=start), limit=10_000
    ).records
    ledgers = []
    for record in records:
        mat = record.asset_materialization
        value = mat.metadata.get("ledger") if mat else None
        data = getattr(value, "value", value)
        if isinstance(data, dict):
            ledgers.append(data)
    return sum_ledgers(time.strftime("%Y-%m-%d", time.gmtime(start)), ledgers)


def has_daily_budget(settings: DistillSettings) -> bool:
    return (
        settings.teacher_daily_budget_cost is not None
        or settings.teacher_daily_budget_tokens is not None
    )


def daily_budget_skip(
    instance: dg.DagsterInstance, settings: DistillSettings, currency: str = ""
) -> str:
    """Why an automated run must not start now ("" when it may)."""
    if not has_daily_budget(settings):
        return ""
    _, _, why = daily_budget_left(
        spent_today(instance),
        settings.teacher_daily_budget_cost,
        settings.teacher_daily_budget_tokens,
        currency,
    )
    return why


def within_daily_budget(
    context: dg.AssetExecutionContext, settings: DistillSettings, ask: TeacherSettings
) -> TeacherSettings:
    """The teacher settings of this run with what is left of today's budget as its cap; a
    dg.Failure naming the spend when nothing is left. Only automated runs of a paid teacher."""
    trigger = context.run.tags.get("trigger", "")
    if ask.effective_kind == "gazetteer" or trigger not in AUTOMATED_TRIGGERS:
        return ask
    if not has_daily_budget(settings):
        return ask
    spend = spent_today(context.instance)
    cost_left, tokens_left, why = daily_budget_left(
        spend,
        settings.teacher_daily_budget_cost,
        settings.teacher_daily_budget_tokens,
        ask.currency,
    )
    if why:
        raise dg.Failure(
            description=f"teacher_labels skipped ({trigger} run): {why}; start it by hand to "
            "run it anyway, or raise the daily budget",
            metadata={"spent_today_cost": spend.cost, "spent_today_tokens": spend.tokens},
        )
    caps: dict[str, float | int] = {}
    priced = ask.price_in_per_mtok > 0 or ask.price_out_per_mtok > 0
    if cost_left is not None and not priced:
        context.log.warning(
            "teacher daily budget: no prices set (price_in_per_mtok/price_out_per_mtok), so "
            "the money budget cannot be counted; set the prices or a token budget"
        )
    if cost_left is not None and priced:
        caps["budget_cost"] = min(ask.budget_cost or cost_left, cost_left)
    if tokens_left is not None:
        caps["budget_tokens"] = min(ask.budget_tokens or tokens_left, tokens_left)
    context.log.info(
        f"teacher daily budget: spent {spend.cost:.4f} {ask.currency} / {spend.tokens} tokens "
        f"today over {spend.runs} runs; this run is capped at {caps}"
    )
    return ask.model_copy(update=caps)
