"""Labeling through an OpenAI-compatible API: cache first, then the rest at bounded concurrency.

Every answer that parses is cached on disk the moment it arrives (teacher/cache.py), so reruns,
overlapping batches and reruns after a crash pay nothing for rows already answered. A token or
money budget (teacher/budget.py) stops the batch before it is exceeded. The API key never leaves
this process: it is not in logs, the ledger, the frame, the cache or exception text.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from distill_assets.core.common.artifacts import sha256_text
from distill_assets.core.common.log import Logger
from distill_assets.core.common.privacy import redact
from distill_assets.core.common.prompts import prompt_hash
from distill_assets.core.common.schema import USABLE_STATUSES
from distill_assets.core.teacher.answers import parse_teacher_answer
from distill_assets.core.teacher.budget import TokenBudget
from distill_assets.core.teacher.cache import CachedAnswer, LabelCache, cache_key
from distill_assets.core.teacher.ledger import Progress, label_row
from distill_assets.core.teacher.openai_client import OpenAITeacher, TeacherCall
from distill_assets.core.teacher.settings import TeacherSettings

_Cached = tuple[dict[str, str], str, str, CachedAnswer]


@dataclass(slots=True)
class _Outcome:  # one per text until the frame is built: slotted, no per-instance dict
    call: TeacherCall
    fields: dict[str, str] | None
    status: str
    error: str


def _usable_cached(cache: LabelCache | None, keys: list[str]) -> dict[str, _Cached]:
    """Cached answers that still parse (a stricter parser asks again for the others)."""
    hits = cache.get_many(keys) if cache is not None else {}
    out: dict[str, _Cached] = {}
    for key, hit in hits.items():
        fields, status, error = parse_teacher_answer(hit.raw_response)
        if fields is not None and status in USABLE_STATUSES:
            out[key] = (fields, status, error, hit)
    return out


def _outcome(call: TeacherCall, secret: str) -> _Outcome:
    if call.skipped_budget:
        return _Outcome(call, None, "skipped_budget", redact(call.error, secret))
    if not call.ok:
        return _Outcome(call, None, "error", redact(call.error, secret))
    fields, status, error = parse_teacher_answer(call.text)
    if status not in USABLE_STATUSES and call.finish_reason == "length":
        error = f"{error} (finish_reason=length: raise max_tokens)"
    return _Outcome(call, fields, status, redact(error, secret))


async def _ask_all(
    teacher: OpenAITeacher,
    todo: dict[str, str],
    budget: TokenBudget,
    cache: LabelCache | None,
    progress: Progress,
    secret: str,
    every_s: float,
) -> dict[str, _Outcome]:
    """Each text once, `concurrency` workers pulling from one iterator in input order."""
    outcomes: dict[str, _Outcome] = {}
    pending = iter(todo.items())  # one shared iterator: `concurrency` tasks, none per row

    async def worker() -> None:
        for key, text in pending:
            out = _outcome(await teacher.complete(text, budget), secret)
            if cache is not None and out.status in USABLE_STATUSES:
                c = out.call
                answer = CachedAnswer(
                    c.text, c.tokens_in, c.tokens_out, c.latency_s, c.response_model
                )
                cache.put(key, answer)
            outcomes[key] = out
            progress.add(out.status)
            progress.maybe_log()

    async def ticker() -> None:
        while True:
            await asyncio.sleep(max(every_s, 0.05))
            progress.maybe_log()

    tick = asyncio.create_task(ticker())
    try:
        async with teacher:
            n_workers = min(teacher.settings.concurrency, len(todo))
            await asyncio.gather(*(asyncio.create_task(worker()) for _ in range(n_workers)))
    finally:
        tick.cancel()
    return outcomes


def _rows(
    ids: list[str],
    texts: list[str],
    keys: list[str],
    cached: dict[str, _Cached],
    outcomes: dict[str, _Outcome],
    common: dict[str, Any],
) -> list[dict[str, Any]]:
    """One row per input in input order; a text repeated in the batch is answered (paid) once."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for id_, text, key in zip(ids, texts, keys, strict=True):
        if key in cached:
            fields, status, error, hit = cached[key]
            raw = hit.raw_response
            rows.append(
                label_row(id_, text, fields, status, error, raw_response=raw, cached=True, **common)
            )
            continue
        out = outcomes[key]
        if key in seen:
            rows.append(
                label_row(id_, text, out.fields, out.status, out.error, raw_response=out.call.text,
                          cached=out.status in USABLE_STATUSES, **common)
            )  # fmt: skip
            continue
        seen.add(key)
        c = out.call
        rows.append(
            label_row(id_, text, out.fields, out.status, out.error, raw_response=c.text,
                      tokens_in=c.tokens_in, tokens_out=c.tokens_out,
                      latency_s=round(c.latency_s, 4), **common)
        )  # fmt: skip
    return rows


def _stats(
    teacher: OpenAITeacher,
    outcomes: dict[str, _Outcome],
    budget: TokenBudget,
    cache: LabelCache | None,
    secret: str,
) -> dict[str, Any]:
    st, s = teacher.stats, teacher.settings
    return {
        "requests": st.requests,
        "retries": st.retries,
        "rate_limited": st.rate_limited,
        "server_errors": st.server_errors,
        "timeouts": st.timeouts,
        "connection_errors": st.connection_errors,
        "json_mode_effective": teacher.json_mode,
        "thinking_flag_effective": teacher.send_thinking_flag,
        "json_mode_fallbacks": st.json_mode_fallbacks,
        "usage_estimated": sum(1 for o in outcomes.values() if o.call.usage_estimated),
        "stopped_by_budget": budget.stopped,
        "fatal_error": redact(teacher.fatal_error, secret),
        "concurrency": s.concurrency,
        "http_backend": teacher.http_backend_used,
        "cache_path": str(cache.path) if cache is not None else "",
        "budget_tokens": s.budget_tokens,
        "budget_cost": s.budget_cost,
    }


async def label_with_api(
    ids: list[str],
    texts: list[str],
    settings: TeacherSettings,
    secret: str,
    cache: LabelCache | None,
    log: Logger,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(label rows in input order, ledger extras) for a batch, asking only what is not cached."""
    system = settings.system_prompt()
    params = settings.generation_params()
    keys = [
        cache_key(settings.base_url, settings.model, sha256_text(system), params, t) for t in texts
    ]
    cached = _usable_cached(cache, keys)
    todo: dict[str, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key not in cached and key not in todo:
            todo[key] = text
    log(
        f"teacher {settings.model} at {settings.safe_base_url()}: {len(texts)} rows, "
        f"{len(texts) - sum(1 for k in keys if k in todo)} from cache, {len(todo)} to request, "
        f"concurrency {settings.concurrency}"
    )
    progress = Progress(len(todo), log, settings.progress_every_s, "teacher")
    budget = TokenBudget(settings, system)
    teacher = OpenAITeacher(settings, system_prompt=system)
    outcomes = await _ask_all(
        teacher, todo, budget, cache, progress, secret, settings.progress_every_s
    )
    if todo:
        log(progress.line())
    common = {"teacher_model": settings.model, "prompt_hash": prompt_hash(system)}
    rows = _rows(ids, texts, keys, cached, outcomes, common)
    return rows, _stats(teacher, outcomes, budget, cache, secret)
