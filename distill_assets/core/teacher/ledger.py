"""The teacher_labels frame and its ledger: one row per input, counts, tokens, cost.

Shared by the rule teacher and the API teacher, so both write the same columns and the same
ledger keys; `check_failure_rate` is the batch-level verdict `label_frame` applies.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from distill_assets.core.common.log import Logger
from distill_assets.core.common.privacy import redact, redact_clip
from distill_assets.core.common.schema import FAILED_STATUSES, FIELDS
from distill_assets.core.teacher.settings import TeacherSettings

LABEL_COLUMNS: tuple[str, ...] = (
    "id",
    "text",
    "raw_response",
    *FIELDS,
    "status",
    "error",
    "tokens_in",
    "tokens_out",
    "latency_s",
    "cached",
    "teacher_model",
    "prompt_hash",
)


class LabelingError(RuntimeError):
    """The batch failed as a whole (too many failed rows); `result` holds what was labelled."""

    def __init__(self, message: str, result: LabelResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class LabelResult:
    frame: pd.DataFrame
    ledger: dict[str, Any]


def failure_rate(labels: pd.DataFrame) -> float:
    """Share of attempted rows (budget skips excluded) the teacher failed (FAILED_STATUSES), as
    the ledger counts it: a review status (ambiguous, ...) is an answer, not a failure."""
    status = labels["status"].astype(str).to_numpy(dtype=object)
    attempted = int(np.count_nonzero(status != "skipped_budget"))
    if attempted == 0:
        return 0.0
    return float(np.isin(status, sorted(FAILED_STATUSES)).sum() / attempted)


def label_row(
    id_: str, text: str, fields: dict[str, str] | None, status: str, error: str, **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {"id": id_, "text": text, "raw_response": ""}
    row.update(fields or dict.fromkeys(FIELDS, ""))
    row.update(status=status, error=error, tokens_in=0, tokens_out=0, latency_s=0.0)
    row.update(cached=False, teacher_model="", prompt_hash="")
    row.update(extra)
    return row


def frame_of_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(LABEL_COLUMNS))
    if rows:
        frame = frame.astype(
            {"tokens_in": "int64", "tokens_out": "int64", "latency_s": "float64", "cached": "bool"}
        )
    return frame


class Progress:
    def __init__(self, total: int, log: Logger, every_s: float, what: str) -> None:
        self.total, self.log, self.every_s, self.what = total, log, every_s, what
        self.started = time.perf_counter()
        self.last = self.started
        self.counts: Counter[str] = Counter()
        self.done = 0

    def add(self, status: str, n: int = 1) -> None:
        self.done += n
        self.counts[status] += n

    def line(self) -> str:
        el = max(time.perf_counter() - self.started, 1e-9)
        failed = sum(self.counts[s] for s in FAILED_STATUSES)
        return (
            f"{self.what}: {self.done}/{self.total} rows, {self.done / el:.1f} rows/s, "
            f"usable={self.counts['ok'] + self.counts['repaired']} failed={failed} "
            f"skipped_budget={self.counts['skipped_budget']}"
        )

    def maybe_log(self) -> None:
        now = time.perf_counter()
        if now - self.last >= self.every_s:
            self.last = now
            self.log(self.line())


def build_ledger(
    frame: pd.DataFrame,
    settings: TeacherSettings,
    ident: dict[str, Any],
    wall_s: float,
    **extra: Any,
) -> dict[str, Any]:
    counts = Counter(frame["status"].tolist()) if len(frame) else Counter()
    rows = int(len(frame))
    failed = sum(counts[s] for s in FAILED_STATUSES)
    attempted = rows - counts["skipped_budget"]
    t_in = sum(int(x) for x in frame["tokens_in"].tolist())
    t_out = sum(int(x) for x in frame["tokens_out"].tolist())
    cost = (t_in * settings.price_in_per_mtok + t_out * settings.price_out_per_mtok) / 1e6
    ledger: dict[str, Any] = {
        "kind": settings.effective_kind,
        "rows": rows,
        "ok": counts["ok"],
        "repaired": counts["repaired"],
        "failed": failed,
        "invalid_json": counts["invalid_json"],
        "refused": counts["refused"],
        "errors": counts["error"],
        "skipped_budget": counts["skipped_budget"],
        "cached": sum(bool(x) for x in frame["cached"].tolist()),
        "requests": 0,
        "tokens_in": t_in,
        "tokens_out": t_out,
        "cost": round(cost, 6),
        "currency": settings.currency,
        "wall_s": round(wall_s, 3),
        "rows_per_s": round(rows / wall_s, 2) if wall_s > 0 else 0.0,
        "stopped_by_budget": False,
        "failure_rate": round(failed / attempted, 6) if attempted else 0.0,
        "teacher_model": ident["teacher_model"],
        "prompt_hash": ident["prompt_hash"],
        "base_url": settings.safe_base_url(),
        "teacher_code_version": ident["code_version"],
        "params": settings.generation_params() if settings.effective_kind == "openai" else {},
    }
    ledger.update(extra)
    return ledger


def check_failure_rate(result: LabelResult, settings: TeacherSettings, secret: str) -> None:
    led = result.ledger
    if led["failure_rate"] <= settings.max_failure_rate:
        return
    bad = [r for r in result.frame.to_dict("records") if r["status"] in FAILED_STATUSES][:3]
    examples = "; ".join(
        f"id={r['id']}: {r['status']} {redact_clip(str(r['error']), secret, 160)}" for r in bad
    )
    msg = (
        f"teacher failure rate {led['failure_rate']:.3f} > max_failure_rate "
        f"{settings.max_failure_rate:.3f}: {led['failed']} of "
        f"{led['rows'] - led['skipped_budget']} rows failed (error={led['errors']}, "
        f"invalid_json={led['invalid_json']}, refused={led['refused']}); "
        f"{led['cached'] + led['ok'] + led['repaired']} answers are kept in the cache. "
        f"First failures: {examples}"
    )
    raise LabelingError(redact(msg, secret), result)


# ---------------------------------------------------------------- the daily budget across runs

DAY_SECONDS = 86_400


@dataclass
class DailySpend:
    """What the teacher was paid today (UTC) across runs, summed from their ledgers."""

    day: str  # YYYY-MM-DD (UTC)
    cost: float = 0.0
    tokens: int = 0
    runs: int = 0


def day_start(now: float) -> float:
    """Midnight UTC of the day `now` (a Unix time) falls in."""
    return float(int(now) // DAY_SECONDS * DAY_SECONDS)


def sum_ledgers(day: str, ledgers: list[dict[str, Any]]) -> DailySpend:
    spend = DailySpend(day=day)
    for led in ledgers:
        spend.cost += float(led.get("cost", 0.0) or 0.0)
        spend.tokens += int(led.get("tokens_in", 0) or 0) + int(led.get("tokens_out", 0) or 0)
        spend.runs += 1
    spend.cost = round(spend.cost, 6)
    return spend


def daily_budget_left(
    spend: DailySpend, max_cost: float | None, max_tokens: int | None, currency: str = ""
) -> tuple[float | None, int | None, str]:
    """(cost left, tokens left, why nothing is left or ""); None where there is no limit."""
    cost_left = None if max_cost is None else max(max_cost - spend.cost, 0.0)
    tokens_left = None if max_tokens is None else max(max_tokens - spend.tokens, 0)
    why = ""
    if cost_left is not None and cost_left <= 0:
        why = (
            f"teacher daily budget spent: {spend.cost:.4f} {currency} of {max_cost:.4f} "
            f"{currency} on {spend.day} (UTC) over {spend.runs} runs"
        )
    elif tokens_left is not None and tokens_left <= 0:
        why = (
            f"teacher daily token budget spent: {spend.tokens} of {max_tokens} tokens on "
            f"{spend.day} (UTC) over {spend.runs} runs"
        )
    return cost_left, tokens_left, why
