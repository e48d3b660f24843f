"""Teacher labeling of a text frame: the rule teacher offline, or any OpenAI-compatible API.

Shared by the `teacher_labels` asset and `distill label`. Rows come back in input order with
the columns of teacher/ledger.py; a failure rate above `max_failure_rate` raises
`LabelingError` after every usable answer was kept (and, for an API, cached).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import pandas as pd

from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.common.privacy import redact
from distill_assets.core.common.schema import FIELDS
from distill_assets.core.teacher.ledger import (
    LabelResult,
    Progress,
    build_ledger,
    check_failure_rate,
    frame_of_rows,
    label_row,
)
from distill_assets.core.teacher.settings import TeacherSettings

T = TypeVar("T")


def _check_frame(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    missing = [c for c in ("id", "text") if c not in df.columns]
    if missing:
        raise ValueError(f"label_frame: input frame lacks column(s) {missing}")
    texts: list[str] = []
    for i, t in enumerate(df["text"].tolist()):
        if not isinstance(t, str):
            raise ValueError(f"label_frame: row {i} (id={df['id'].iloc[i]!r}) text is {t!r}")
        texts.append(t)
    return [str(x) for x in df["id"].tolist()], texts


def label_with_rules(
    ids: list[str], texts: list[str], settings: TeacherSettings, log: Logger
) -> LabelResult:
    """The offline rule teacher over a batch (teacher/rule_teacher.py)."""
    from distill_assets.core.teacher.rule_teacher import GazetteerTeacher

    teacher = GazetteerTeacher()
    model_id = str(teacher.model_id)
    progress = Progress(len(texts), log, settings.progress_every_s, "gazetteer")
    rows: list[dict[str, Any]] = []
    for id_, text in zip(ids, texts, strict=True):
        t0 = time.perf_counter()
        try:
            label, status, error = teacher.label_with_status(text)
            fields: dict[str, str] | None = {k: str(label.get(k, "") or "") for k in FIELDS}
        except Exception as exc:  # one bad row must not stop the batch
            fields, status, error = None, "error", f"{type(exc).__name__}: {exc}"[:500]
        raw = json.dumps(fields, ensure_ascii=False) if fields else ""
        rows.append(
            label_row(id_, text, fields, status, error, raw_response=raw,
                      latency_s=time.perf_counter() - t0, teacher_model=model_id,
                      prompt_hash="gazetteer")
        )  # fmt: skip
        progress.add(status)
        progress.maybe_log()
    frame = frame_of_rows(rows)
    wall_s = time.perf_counter() - progress.started
    ledger = build_ledger(frame, settings, settings.identity(), wall_s)
    log(progress.line())
    return LabelResult(frame, ledger)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also from inside a running loop (notebooks): then in a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _label_api(ids: list[str], texts: list[str], settings: TeacherSettings, log: Logger):
    from distill_assets.core.teacher.api_labeling import label_with_api
    from distill_assets.core.teacher.cache import LabelCache

    secret = settings.resolved_api_key()

    def safe_log(msg: str) -> None:  # a base URL may carry a key as a query parameter
        log(redact(msg, secret))

    started = time.perf_counter()
    cache = LabelCache(settings.cache_dir) if settings.cache_dir else None
    try:
        rows, extra = _run(label_with_api(ids, texts, settings, secret, cache, safe_log))
    finally:
        if cache is not None:
            cache.close()
    frame = frame_of_rows(rows)
    wall_s = time.perf_counter() - started
    result = LabelResult(frame, build_ledger(frame, settings, settings.identity(), wall_s, **extra))
    led = result.ledger
    safe_log(
        f"teacher done: {led['rows']} rows, ok={led['ok']} repaired={led['repaired']} "
        f"failed={led['failed']} cached={led['cached']} skipped_budget={led['skipped_budget']} "
        f"requests={led['requests']} tokens={led['tokens_in']}+{led['tokens_out']} "
        f"cost={led['cost']:.4f} {led['currency']}"
        + (" (stopped by budget)" if led["stopped_by_budget"] else "")
    )
    return result, secret


def label_frame(df: pd.DataFrame, settings: TeacherSettings, log: Logger = null_log) -> LabelResult:
    """Label every row of `df` (`id`, `text`); rows come back in input order.

    Raises LabelingError when the failure rate passes settings.max_failure_rate (after the
    batch finished and every usable answer was cached); the exception carries the result.
    """
    settings.check()
    ids, texts = _check_frame(df)
    if settings.effective_kind == "gazetteer":
        result, secret = label_with_rules(ids, texts, settings, log), ""
    else:
        result, secret = _label_api(ids, texts, settings, log)
    check_failure_rate(result, settings, secret)
    return result
