"""An async teacher for any OpenAI-compatible chat API (DashScope, SiliconFlow, vllm, llama.cpp).

One AsyncOpenAI client (one connection pool) per batch, at most `concurrency` requests in
flight. The client's own retries are off (max_retries=0): this module retries 429, 408/409, 5xx,
timeouts and dropped connections itself, with exponential backoff and full jitter, honouring
Retry-After (seconds, milliseconds or an HTTP date). A 429 with Retry-After pauses every
request of the batch, not just the one that got it. Errors that no retry can fix (401, 403,
404) stop new requests for the rest of the batch.

The API key is redacted from every error string this module produces.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import openai

from distill_assets.core.common.privacy import redact, redact_clip
from distill_assets.core.common.prompts import teacher_prompt
from distill_assets.core.teacher.answers import strip_think
from distill_assets.core.teacher.settings import TeacherSettings

RETRYABLE_STATUS = frozenset({408, 409, 429})
_TRANSIENT = (openai.APIConnectionError, openai.APIResponseValidationError, ValueError)
FATAL_STATUS = frozenset({401, 403, 404})


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Gate(Protocol):
    """Asked before every attempt (budget control): None means "do not send"."""

    def reserve(self, text: str) -> Any | None: ...

    def settle(self, token: Any, tokens_in: int, tokens_out: int) -> None: ...


@dataclass
class TeacherCall:
    """What one row's request(s) produced; `ok` means an answer came back (maybe not JSON)."""

    text: str = ""
    ok: bool = False
    error: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    usage_estimated: bool = False
    latency_s: float = 0.0
    attempts: int = 0
    response_model: str = ""
    finish_reason: str = ""
    skipped_budget: bool = False


@dataclass
class TeacherStats:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    timeouts: int = 0
    connection_errors: int = 0
    json_mode_fallbacks: int = 0
    thinking_flag_fallbacks: int = 0


class OpenAITeacher:
    """Use as `async with OpenAITeacher(...) as t: await t.complete(text)`."""

    def __init__(
        self,
        settings: TeacherSettings,
        *,
        system_prompt: str | None = None,
        seed: int | None = None,
        retry_after_max_s: float = 120.0,
    ) -> None:
        self.settings = settings
        self._api_key = settings.resolved_api_key() or "EMPTY"
        # What this server accepts, learned during the batch (a rejected option is dropped).
        self.json_mode = settings.json_mode
        self.send_thinking_flag = settings.send_thinking_flag
        self.retry_after_max_s = retry_after_max_s
        self.system_prompt = teacher_prompt() if system_prompt is None else system_prompt
        self.stats = TeacherStats()
        self.fatal_error = ""
        self._rng = random.Random(seed)
        self._pause_until = 0.0
        self.http_backend_used = ""
        self._client: openai.AsyncOpenAI | None = None
        self._sem: asyncio.Semaphore | None = None

    def __repr__(self) -> str:
        return f"OpenAITeacher(base_url={self.settings.base_url!r}, model={self.settings.model!r})"

    def _http_client(self) -> Any:
        """openai's aiohttp transport where installed (the `openai[aiohttp]` extra): it spends
        about a third less CPU per request than httpx, which is what bounds a batch at high
        concurrency. None: the SDK's default httpx client."""
        if self.settings.http_backend == "httpx":
            return None
        try:
            return openai.DefaultAioHttpClient(timeout=self.settings.timeout_s)
        except RuntimeError:  # aiohttp not installed
            if self.settings.http_backend == "aiohttp":
                raise
            return None

    async def __aenter__(self) -> OpenAITeacher:
        http_client = self._http_client()
        self.http_backend_used = "httpx" if http_client is None else "aiohttp"
        self._client = openai.AsyncOpenAI(
            base_url=self.settings.base_url,
            api_key=self._api_key,
            max_retries=0,
            timeout=self.settings.timeout_s,
            http_client=http_client,
        )
        self._sem = asyncio.Semaphore(self.settings.concurrency)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _redact(self, text: str) -> str:
        return redact(text, self._api_key)

    def _request_body(self, text: str, json_mode: bool, thinking_flag: bool) -> dict[str, Any]:
        """The JSON body, sent through the client's generic `post`: create()'s per-request
        TypedDict transform costs more CPU than the rest of the request at high concurrency."""
        body: dict[str, Any] = {
            "model": self.settings.model,
            "messages": [
                {"role": "system", "content": self.system_prompt},
                {"role": "user", "content": text},
            ],
            "temperature": self.settings.temperature,
        }
        if self.settings.max_tokens is not None:
            body["max_tokens"] = self.settings.max_tokens
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        if thinking_flag:
            body.update(self.settings.thinking_fields())
        return merge_body(body, self.settings.extra_body)

    def _read_response(self, data: Any, text: str, call: TeacherCall) -> None:
        """Fill `call` from a chat.completion body, read as a plain dict: building the typed
        ChatCompletion model costs more CPU than the rest of a response. A body without
        choices raises ValueError (retried: proxies answer 200 with error pages)."""
        if not isinstance(data, dict):
            body = redact_clip(str(data), self._api_key, 200)
            raise ValueError(f"response body is not a JSON object: {body!r}")
        choices = data.get("choices")
        if not isinstance(choices, list):
            detail = redact_clip(str(data.get("error", data)), self._api_key, 200)
            raise ValueError(f"response has no choices: {detail}")
        choice = choices[0] if choices and isinstance(choices[0], dict) else {}
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        content = content if isinstance(content, str) else ""
        usage = data.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
            call.tokens_in = int(usage["prompt_tokens"])
            call.tokens_out = int(usage.get("completion_tokens") or 0)
        else:
            call.usage_estimated = True
            call.tokens_in = len((self.system_prompt + text).encode("utf-8"))
            call.tokens_out = len(content.encode("utf-8"))
        call.text = strip_think(content)
        call.ok = True
        call.error = ""
        call.response_model = str(data.get("model") or "")
        call.finish_reason = str(choice.get("finish_reason") or "")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = self._rng.uniform(
            0.0, min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2**attempt)
        )
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry_after_max_s))
        return delay

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, openai.APIStatusError):
            msg = f"HTTP {exc.status_code} {type(exc).__name__}: {exc.message}"
        elif isinstance(exc, openai.APITimeoutError):
            msg = f"timeout after {self.settings.timeout_s}s"
        elif isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc.__context__
            msg = f"connection error: {type(cause).__name__ if cause else ''} {cause or exc}"
        else:
            msg = f"{type(exc).__name__}: {exc}"
        return redact_clip(" ".join(msg.split()), self._api_key, 500)

    async def complete(self, text: str, gate: Gate | None = None) -> TeacherCall:
        """Ask the teacher about one text; never raises for API faults (see TeacherCall.error)."""
        if self._client is None or self._sem is None:
            raise RuntimeError("OpenAITeacher.complete() outside `async with`")
        call = TeacherCall()
        started = time.perf_counter()
        st = _Try(self.json_mode, self.send_thinking_flag)
        while st.attempt < self.settings.max_attempts:
            if self.fatal_error:
                call.error = "not sent: " + self.fatal_error
                break
            token = gate.reserve(text) if gate is not None else None
            if gate is not None and token is None:
                call.skipped_budget = True
                call.error = "budget reached" + (
                    f" after: {st.last_error}" if st.last_error else ""
                )
                break
            wait = self._pause_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            st.attempt += 1
            call.attempts = st.attempt
            self.stats.requests += 1
            body = self._request_body(text, st.json_mode, st.thinking_flag)
            try:
                async with self._sem:
                    resp = await self._client.post("/chat/completions", body=body, cast_to=dict)
                self._read_response(resp, text, call)
            except openai.APIStatusError as exc:
                if gate is not None:
                    gate.settle(token, 0, 0)
                if await self._after_status_error(exc, st, call):
                    continue
                break
            except (
                openai.APIConnectionError,
                openai.APIResponseValidationError,
                ValueError,
            ) as exc:
                # Timeouts, dropped connections, and bodies that are not the JSON expected (a
                # proxy's HTML error page): transient more often than not.
                if gate is not None:
                    gate.settle(token, 0, 0)
                await self._after_transient_error(exc, st)
                continue
            except Exception as exc:  # one odd row must not stop the batch
                if gate is not None:
                    gate.settle(token, 0, 0)
                call.error = self._describe(exc)
                break
            # Success: remember which optional features this server takes.
            self.json_mode, self.send_thinking_flag = st.json_mode, st.thinking_flag
            if gate is not None:
                gate.settle(token, call.tokens_in, call.tokens_out)
            break
        else:
            call.error = f"failed after {st.attempt} attempts: {st.last_error}"
        call.latency_s = time.perf_counter() - started
        return call

    async def _after_status_error(
        self, exc: openai.APIStatusError, st: _Try, call: TeacherCall
    ) -> bool:
        """True: try again (after a backoff where due); False: give up on this row."""
        st.last_error = self._describe(exc)
        status = exc.status_code
        if status in (400, 422) and (st.json_mode or st.thinking_flag):
            # Optional features some servers reject: drop one, retry at once. What worked is
            # remembered for the rest of the batch.
            if st.json_mode:
                st.json_mode = False
                self.stats.json_mode_fallbacks += 1
            else:
                st.thinking_flag = False
                self.stats.thinking_flag_fallbacks += 1
            st.attempt -= 1  # a rejected option is not a failed attempt
            return True
        if status in FATAL_STATUS:
            self.fatal_error = st.last_error
            call.error = st.last_error
            return False
        if status in RETRYABLE_STATUS or status >= 500:
            retry_after = parse_retry_after(exc.response.headers)
            if status == 429:
                self.stats.rate_limited += 1
                if retry_after is not None:
                    pause = min(retry_after, self.retry_after_max_s)
                    self._pause_until = max(self._pause_until, time.monotonic() + pause)
            else:
                self.stats.server_errors += 1
            if st.attempt < self.settings.max_attempts:
                self.stats.retries += 1
                await asyncio.sleep(self._backoff(st.attempt - 1, retry_after))
            return True
        call.error = st.last_error
        return False

    async def _after_transient_error(self, exc: Exception, st: _Try) -> None:
        st.last_error = self._describe(exc)
        if isinstance(exc, openai.APITimeoutError):
            self.stats.timeouts += 1
        else:
            self.stats.connection_errors += 1
        if st.attempt < self.settings.max_attempts:
            self.stats.retries += 1
            await asyncio.sleep(self._backoff(st.attempt - 1, None))


def merge_body(body: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` over `body`; a dict in both (chat_template_kwargs, say) is merged one level."""
    out = dict(body)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


@dataclass
class _Try:
    """One row's attempts: the optional features still sent, the count, the last error."""

    json_mode: bool
    thinking_flag: bool
    attempt: int = 0
    last_error: str = ""
