"""A token / money budget for a batch of API calls: never spend past it, even in flight."""

from __future__ import annotations

import math
from typing import Any

from distill_assets.core.teacher.settings import TeacherSettings

FAILED_STATUSES = frozenset({"invalid_json", "refused", "error"})
# Chat-template tokens around system + user, added to the input estimate for the budget.
_TEMPLATE_OVERHEAD_TOKENS = 64


class TokenBudget:
    """Reserves a conservative cost before every request; refuses once one would not fit.

    Input tokens are bounded by the prompt's UTF-8 bytes (a byte-level BPE token is at least one
    byte) until answers show the real tokens-per-byte ratio, then by that ratio plus 25%; output
    tokens by max_tokens. Reservations of requests in flight count as spent, so the sum of what
    is paid never passes the budget.
    """

    def __init__(self, settings: TeacherSettings, system: str) -> None:
        self.max_tokens = settings.max_tokens
        self.tokens_limit = settings.budget_tokens
        self.cost_limit = settings.budget_cost
        self.p_in = settings.price_in_per_mtok / 1e6
        self.p_out = settings.price_out_per_mtok / 1e6
        self.system_bytes = len(system.encode("utf-8"))
        self.ratio = 1.0
        self.max_seen_ratio = 0.0
        self.spent_tokens = 0
        self.spent_cost = 0.0
        self.reserved_tokens = 0
        self.reserved_cost = 0.0
        self.stopped = False
        self.enabled = self.tokens_limit is not None or self.cost_limit is not None
        if self.cost_limit is not None and self.p_in == 0 and self.p_out == 0:
            raise ValueError("budget_cost needs price_in_per_mtok / price_out_per_mtok")

    def _estimate(self, text: str) -> tuple[int, int]:
        nbytes = self.system_bytes + len(text.encode("utf-8"))
        return math.ceil(nbytes * self.ratio) + _TEMPLATE_OVERHEAD_TOKENS, self.max_tokens

    def reserve(self, text: str) -> tuple[int, float, int] | None:
        if self.stopped:
            return None
        est_in, est_out = self._estimate(text)
        tokens = est_in + est_out
        cost = est_in * self.p_in + est_out * self.p_out
        over_tokens = (
            self.tokens_limit is not None
            and self.spent_tokens + self.reserved_tokens + tokens > self.tokens_limit
        )
        over_cost = (
            self.cost_limit is not None
            and self.spent_cost + self.reserved_cost + cost > self.cost_limit
        )
        if over_tokens or over_cost:
            self.stopped = True
            return None
        self.reserved_tokens += tokens
        self.reserved_cost += cost
        return (tokens, cost, len(text.encode("utf-8")))

    def settle(self, token: Any, tokens_in: int, tokens_out: int) -> None:
        tokens, cost, text_bytes = token
        self.reserved_tokens -= tokens
        self.reserved_cost -= cost
        self.spent_tokens += tokens_in + tokens_out
        self.spent_cost += tokens_in * self.p_in + tokens_out * self.p_out
        if tokens_in > 0:
            seen = tokens_in / (self.system_bytes + text_bytes)
            self.max_seen_ratio = max(self.max_seen_ratio, seen)
            self.ratio = min(1.0, self.max_seen_ratio * 1.25)
