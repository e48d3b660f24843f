"""The teacher's daily budget across runs: summed from the runs' ledgers, per UTC day."""

from __future__ import annotations

import datetime as dt

from distill_assets.core.teacher.ledger import daily_budget_left, day_start, sum_ledgers


def test_day_start_is_midnight_utc():
    now = dt.datetime(2026, 12, 2, 17, 45, tzinfo=dt.UTC).timestamp()
    assert day_start(now) == dt.datetime(2026, 12, 2, tzinfo=dt.UTC).timestamp()


def test_spend_is_summed_over_runs_and_the_limit_says_why():
    ledgers = [
        {"cost": 0.4, "tokens_in": 1000, "tokens_out": 200},
        {"cost": 0.35, "tokens_in": 900, "tokens_out": 100},
    ]
    spend = sum_ledgers("2026-12-02", ledgers)
    assert (spend.cost, spend.tokens, spend.runs) == (0.75, 2200, 2)
    cost_left, tokens_left, why = daily_budget_left(spend, 1.0, None, "CNY")
    assert abs((cost_left or 0) - 0.25) < 1e-9 and tokens_left is None and why == ""
    _, _, why = daily_budget_left(spend, 0.75, None, "CNY")
    assert "daily budget spent" in why and "0.7500 CNY of 0.7500 CNY" in why and "2 runs" in why
    _, tokens_left, why = daily_budget_left(spend, None, 2000)
    assert tokens_left == 0 and "2200 of 2000 tokens" in why
    assert daily_budget_left(spend, None, None) == (None, None, "")
