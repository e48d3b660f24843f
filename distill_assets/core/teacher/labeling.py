"""Teacher labeling of a text frame: the gazetteer offline, or any OpenAI-compatible API.

Shared by the `teacher_labels` asset and `distill label`. With an API teacher every answer that
parses is cached on disk the moment it arrives (core/label_cache.py), so reruns, overlapping
batches and reruns after a crash pay nothing for rows already answered. A token or money budget
stops the batch before it is exceeded; a failure rate above `max_failure_rate` raises
`LabelingError` after everything successful was cached. The API key never leaves this process:
it is not in repr, logs, the ledger, the frame, the cache or exception text.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import math
import os
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from distill_assets.core.teacher.answers import parse_teacher_answer
from distill_assets.core.common.artifacts import Logger, atomic_write_text, null_log, sha256_file, sha256_text
from distill_assets.core.teacher.cache import CachedAnswer, LabelCache, cache_key
from distill_assets.core.teacher.openai_client import OpenAITeacher, TeacherCall, redact
from distill_assets.core.common.prompts import prompt_hash, teacher_prompt
from distill_assets.core.common.schema import FIELDS

T = TypeVar("T")

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
USABLE_STATUSES = frozenset({"ok", "repaired"})
FAILED_STATUSES = frozenset({"invalid_json", "refused", "error"})
# Chat-template tokens around system + user, added to the input estimate for the budget.
_TEMPLATE_OVERHEAD_TOKENS = 64


class LabelingError(RuntimeError):
    """The batch failed as a whole (too many failed rows); `result` holds what was labelled."""

    def __init__(self, message: str, result: LabelResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class TeacherSettings:
    kind: str = "gazetteer"  # "gazetteer" | "openai"
    base_url: str = ""
    model: str = ""
    # Falls back to $OPENAI_API_KEY; never logged, repr'd, cached or written.
    api_key: str | None = field(default=None, repr=False)
    temperature: float = 0.0
    max_tokens: int = 256  # the answer is ~80 tokens; also the output bound for the budget
    timeout_s: float = 60.0
    concurrency: int = 32
    max_attempts: int = 6
    json_mode: bool = False  # response_format=json_object, dropped if the server rejects it
    enable_thinking: bool = False
    # Send chat_template_kwargs.enable_thinking (Qwen3 on vllm/SGLang/DashScope); dropped for
    # the batch if the server rejects it.
    send_thinking_flag: bool = True
    price_in_per_mtok: float = 0.0
    price_out_per_mtok: float = 0.0
    currency: str = "USD"
    budget_tokens: int | None = None  # in + out tokens this run may spend
    budget_cost: float | None = None  # money this run may spend, in `currency`
    max_failure_rate: float = 0.1  # over rows that were attempted (budget skips excluded)
    cache_dir: str | None = None  # None: no cache
    progress_every_s: float = 5.0
    http_backend: str = "auto"  # "auto" (aiohttp if installed), "aiohttp" or "httpx"
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0

    def __post_init__(self) -> None:
        if self.kind not in ("gazetteer", "openai"):
            raise ValueError(f"teacher kind must be 'gazetteer' or 'openai', got {self.kind!r}")
        if self.kind == "openai":
            if not self.base_url or not self.model:
                raise ValueError("an openai teacher needs base_url and model")
            if self.concurrency < 1 or self.max_attempts < 1:
                raise ValueError("concurrency and max_attempts must be >= 1")
        if not 0.0 <= self.max_failure_rate <= 1.0:
            raise ValueError(f"max_failure_rate must be in [0, 1], got {self.max_failure_rate}")

    def resolved_api_key(self) -> str:
        return self.api_key or os.environ.get("OPENAI_API_KEY") or ""

    def safe_dict(self) -> dict[str, Any]:
        """Every setting but the key, for metadata (dataclasses.asdict would include it)."""
        out = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "api_key"
        }
        out["api_key_set"] = bool(self.resolved_api_key())
        return out

    def generation_params(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "json_mode": self.json_mode,
            "enable_thinking": self.enable_thinking,
        }


@dataclass
class LabelResult:
    frame: pd.DataFrame
    ledger: dict[str, Any]


def teacher_identity(settings: TeacherSettings) -> dict[str, Any]:
    """What determines the labels (for the asset's code version): never the key."""
    if settings.kind == "gazetteer":
        from distill_assets.core.regions.gazetteer import GAZETTEER_VERSION, GazetteerTeacher

        ident: dict[str, Any] = {
            "kind": "gazetteer",
            "teacher_model": GazetteerTeacher().model_id,
            "prompt_hash": "gazetteer",
            "gazetteer_version": GAZETTEER_VERSION,
        }
    else:
        ident = {
            "kind": "openai",
            "teacher_model": settings.model,
            "base_url": redact(settings.base_url.rstrip("/"), settings.resolved_api_key()),
            "prompt_hash": prompt_hash(teacher_prompt()),
            "params": settings.generation_params(),
        }
    ident["code_version"] = sha256_text(json.dumps(ident, sort_keys=True))[:16]
    return ident


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


def _row(
    id_: str, text: str, fields: dict[str, str] | None, status: str, error: str, **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {"id": id_, "text": text, "raw_response": ""}
    row.update(fields or dict.fromkeys(FIELDS, ""))
    row.update(status=status, error=error, tokens_in=0, tokens_out=0, latency_s=0.0)
    row.update(cached=False, teacher_model="", prompt_hash="")
    row.update(extra)
    return row


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(LABEL_COLUMNS))
    if rows:
        frame = frame.astype(
            {"tokens_in": "int64", "tokens_out": "int64", "latency_s": "float64", "cached": "bool"}
        )
    return frame


class _Progress:
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


def _ledger(
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
        "kind": settings.kind,
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
        "base_url": redact(settings.base_url.rstrip("/"), settings.resolved_api_key()),
        "teacher_code_version": ident["code_version"],
        "params": settings.generation_params() if settings.kind == "openai" else {},
    }
    ledger.update(extra)
    return ledger


def _check_failure_rate(result: LabelResult, settings: TeacherSettings, secret: str) -> None:
    led = result.ledger
    if led["failure_rate"] <= settings.max_failure_rate:
        return
    bad = [r for r in result.frame.to_dict("records") if r["status"] in FAILED_STATUSES][:3]
    examples = "; ".join(f"id={r['id']}: {r['status']} {str(r['error'])[:160]}" for r in bad)
    msg = (
        f"teacher failure rate {led['failure_rate']:.3f} > max_failure_rate "
        f"{settings.max_failure_rate:.3f}: {led['failed']} of "
        f"{led['rows'] - led['skipped_budget']} rows failed (error={led['errors']}, "
        f"invalid_json={led['invalid_json']}, refused={led['refused']}); "
        f"{led['cached'] + led['ok'] + led['repaired']} answers are kept in the cache. "
        f"First failures: {examples}"
    )
    raise LabelingError(redact(msg, secret), result)


# ---------------------------------------------------------------------------- gazetteer


def _label_gazetteer(
    ids: list[str], texts: list[str], settings: TeacherSettings, log: Logger
) -> LabelResult:
    from distill_assets.core.regions.gazetteer import GazetteerTeacher

    teacher = GazetteerTeacher()
    model_id = str(teacher.model_id)
    ident = teacher_identity(settings)
    progress = _Progress(len(texts), log, settings.progress_every_s, "gazetteer")
    rows: list[dict[str, Any]] = []
    for id_, text in zip(ids, texts, strict=True):
        t0 = time.perf_counter()
        try:
            label = teacher.label(text)
            fields = {k: str(label.get(k, "") or "") for k in FIELDS}
            status, error = "ok", ""
        except Exception as exc:  # one bad row must not stop the batch
            fields, status, error = None, "error", f"{type(exc).__name__}: {exc}"[:500]
        raw = json.dumps(fields, ensure_ascii=False) if fields else ""
        rows.append(
            _row(
                id_,
                text,
                fields,
                status,
                error,
                raw_response=raw,
                latency_s=time.perf_counter() - t0,
                teacher_model=model_id,
                prompt_hash="gazetteer",
            )
        )
        progress.add(status)
        progress.maybe_log()
    frame = _frame(rows)
    ledger = _ledger(frame, settings, ident, time.perf_counter() - progress.started)
    log(progress.line())
    return LabelResult(frame, ledger)


# ---------------------------------------------------------------------------- budget


class _Budget:
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


# ---------------------------------------------------------------------------- openai


@dataclass
class _Outcome:
    call: TeacherCall
    fields: dict[str, str] | None
    status: str
    error: str


async def _label_openai_async(
    ids: list[str],
    texts: list[str],
    settings: TeacherSettings,
    secret: str,
    cache: LabelCache | None,
    log: Logger,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    system = teacher_prompt()
    p_hash = prompt_hash(system)
    params = settings.generation_params()
    keys = [
        cache_key(settings.base_url, settings.model, sha256_text(system), params, t) for t in texts
    ]
    hits = cache.get_many(keys) if cache is not None else {}
    # Parse cached answers again: what no longer parses (a stricter parser) is asked again.
    cached: dict[str, tuple[dict[str, str], str, str, CachedAnswer]] = {}
    for key, hit in hits.items():
        fields, status, error = parse_teacher_answer(hit.raw_response)
        if fields is not None and status in USABLE_STATUSES:
            cached[key] = (fields, status, error, hit)
    todo: dict[str, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key not in cached and key not in todo:
            todo[key] = text
    log(
        f"teacher {settings.model} at {settings.base_url}: {len(texts)} rows, "
        f"{len(texts) - sum(1 for k in keys if k in todo)} from cache, {len(todo)} to request, "
        f"concurrency {settings.concurrency}"
    )
    progress = _Progress(len(todo), log, settings.progress_every_s, "teacher")
    budget = _Budget(settings, system)
    outcomes: dict[str, _Outcome] = {}
    pending = iter(list(todo.items()))

    teacher = OpenAITeacher(
        settings.base_url,
        settings.model,
        secret or None,
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        timeout_s=settings.timeout_s,
        concurrency=settings.concurrency,
        max_attempts=settings.max_attempts,
        json_mode=settings.json_mode,
        enable_thinking=settings.enable_thinking,
        send_thinking_flag=settings.send_thinking_flag,
        backoff_base_s=settings.backoff_base_s,
        backoff_max_s=settings.backoff_max_s,
        system_prompt=system,
        http_backend=settings.http_backend,
    )

    async def worker() -> None:
        for key, text in pending:  # one shared iterator: rows go out in input order
            call = await teacher.complete(text, budget)
            if call.skipped_budget:
                outcome = _Outcome(call, None, "skipped_budget", redact(call.error, secret))
            elif not call.ok:
                outcome = _Outcome(call, None, "error", redact(call.error, secret))
            else:
                fields, status, error = parse_teacher_answer(call.text)
                if status not in USABLE_STATUSES and call.finish_reason == "length":
                    error = f"{error} (finish_reason=length: raise max_tokens)"
                outcome = _Outcome(call, fields, status, redact(error, secret))
                if cache is not None and status in USABLE_STATUSES:
                    cache.put(
                        key,
                        CachedAnswer(
                            call.text,
                            call.tokens_in,
                            call.tokens_out,
                            call.latency_s,
                            call.response_model,
                        ),
                    )
            outcomes[key] = outcome
            progress.add(outcome.status)
            progress.maybe_log()

    async def ticker() -> None:
        while True:
            await asyncio.sleep(max(settings.progress_every_s, 0.05))
            progress.maybe_log()

    tick = asyncio.create_task(ticker())
    try:
        async with teacher:
            workers = [
                asyncio.create_task(worker()) for _ in range(min(settings.concurrency, len(todo)))
            ]
            await asyncio.gather(*workers)
    finally:
        tick.cancel()
    if todo:
        log(progress.line())

    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for id_, text, key in zip(ids, texts, keys, strict=True):
        common = {"teacher_model": settings.model, "prompt_hash": p_hash}
        if key in cached:
            fields, status, error, hit = cached[key]
            rows.append(
                _row(id_, text, fields, status, error, raw_response=hit.raw_response,
                     cached=True, **common)
            )  # fmt: skip
            continue
        out = outcomes[key]
        if key in seen:  # a duplicate text of this batch: answered once, paid once
            rows.append(
                _row(id_, text, out.fields, out.status, out.error, raw_response=out.call.text,
                     cached=out.status in USABLE_STATUSES, **common)
            )  # fmt: skip
            continue
        seen.add(key)
        rows.append(
            _row(
                id_,
                text,
                out.fields,
                out.status,
                out.error,
                raw_response=out.call.text,
                tokens_in=out.call.tokens_in,
                tokens_out=out.call.tokens_out,
                latency_s=round(out.call.latency_s, 4),
                **common,
            )
        )
    st = teacher.stats
    extra = {
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
        "concurrency": settings.concurrency,
        "http_backend": teacher.http_backend_used,
        "cache_path": str(cache.path) if cache is not None else "",
        "budget_tokens": settings.budget_tokens,
        "budget_cost": settings.budget_cost,
    }
    return rows, extra


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also from inside a running loop (notebooks): then in a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def label_frame(df: pd.DataFrame, settings: TeacherSettings, log: Logger = null_log) -> LabelResult:
    """Label every row of `df` (`id`, `text`); rows come back in input order.

    Raises LabelingError when the failure rate passes settings.max_failure_rate (after the
    batch finished and every usable answer was cached); the exception carries the result.
    """
    ids, texts = _check_frame(df)
    if settings.kind == "gazetteer":
        result = _label_gazetteer(ids, texts, settings, log)
        _check_failure_rate(result, settings, "")
        return result
    secret = settings.resolved_api_key()

    def safe_log(msg: str) -> None:  # a base URL may carry a key as a query parameter
        log(redact(msg, secret))

    started = time.perf_counter()
    cache = LabelCache(settings.cache_dir) if settings.cache_dir else None
    try:
        rows, extra = _run(_label_openai_async(ids, texts, settings, secret, cache, safe_log))
    finally:
        if cache is not None:
            cache.close()
    frame = _frame(rows)
    wall_s = time.perf_counter() - started
    result = LabelResult(
        frame, _ledger(frame, settings, teacher_identity(settings), wall_s, **extra)
    )
    led = result.ledger
    safe_log(
        f"teacher done: {led['rows']} rows, ok={led['ok']} repaired={led['repaired']} "
        f"failed={led['failed']} cached={led['cached']} skipped_budget={led['skipped_budget']} "
        f"requests={led['requests']} tokens={led['tokens_in']}+{led['tokens_out']} "
        f"cost={led['cost']:.4f} {led['currency']}"
        + (" (stopped by budget)" if led["stopped_by_budget"] else "")
    )
    _check_failure_rate(result, settings, secret)
    return result


# ---------------------------------------------------------------------------- files


def _read_input(path: Path, log: Logger) -> pd.DataFrame:
    try:
        from distill_assets.core.data.inputs import read_text_table
    except ImportError:
        read_text_table = None
    if read_text_table is not None:
        return read_text_table(path, log=log)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        with open(path, encoding="utf-8") as fh:
            recs = [json.loads(line) for line in fh if line.strip()]
        df = pd.DataFrame(recs)
    elif suffix == ".csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    elif suffix in (".parquet", ".pq"):
        df = pd.read_parquet(path)
    else:
        raise ValueError(f"{path}: unsupported input type {suffix!r} (jsonl, csv or parquet)")
    if "text" not in df.columns:
        raise ValueError(f"{path}: no `text` column")
    if "id" not in df.columns:
        df["id"] = [f"{i:06d}" for i in range(len(df))]
    return df


def label_file(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    settings: TeacherSettings,
    log: Logger = null_log,
) -> dict[str, Any]:
    """Label a jsonl/csv/parquet file into JSONL (id, six fields, status, error per row).

    The output is written even when the failure rate raises LabelingError, so that the
    failures can be inspected; the error is raised after it.
    """
    df = _read_input(Path(input_path), log)
    failure: LabelingError | None = None
    try:
        result = label_frame(df, settings, log)
    except LabelingError as exc:
        if exc.result is None:
            raise
        failure, result = exc, exc.result
    lines = []
    for rec in result.frame.to_dict(orient="records"):
        out = {"id": rec["id"], **{k: rec[k] for k in FIELDS}}
        out.update(status=rec["status"], error=rec["error"])
        lines.append(json.dumps(out, ensure_ascii=False))
    out_path = atomic_write_text(output_path, "\n".join(lines) + ("\n" if lines else ""))
    led = result.ledger
    usable = led["ok"] + led["repaired"]
    summary = {
        **led,
        "usable": usable,
        "output": str(out_path),
        "output_sha256": sha256_file(out_path),
        "line": (
            f"labelled {led['rows']}: ok={usable} failed={led['failed']} "
            f"cached={led['cached']} requests={led['requests']}"
        ),
    }
    if failure is not None:
        raise failure
    return summary
