"""The OpenAI-compatible teacher against a local fake server: one test per fault."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator

import pandas as pd
import pytest

from distill_assets.core.common.privacy import redact
from distill_assets.core.teacher.answers import strip_think
from distill_assets.core.teacher.labeling import label_frame
from distill_assets.core.teacher.ledger import LabelingError
from distill_assets.core.teacher.openai_client import parse_retry_after
from distill_assets.core.teacher.settings import TeacherSettings
from tests.fake_openai import FakeOpenAI, api_settings, stub_label

KEY = "sk-test-SECRET-9f8e7d6c5b4a"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as srv:
        yield srv


@pytest.fixture(params=["aiohttp", "httpx"])
def backend(request: pytest.FixtureRequest) -> str:
    """Transport faults look different through aiohttp and httpx: test both."""
    if request.param == "aiohttp":
        pytest.importorskip("aiohttp")
    return request.param


def settings(srv: FakeOpenAI, **kw) -> TeacherSettings:
    return api_settings(srv, KEY, **kw)


def frame(n: int, start: int = 0) -> pd.DataFrame:
    texts = [f"电话:1380013{i:04d}:大理市人民路{i}号 收件人:李娜" for i in range(start, start + n)]
    return pd.DataFrame({"id": [f"r{i}" for i in range(start, start + n)], "text": texts})


def test_clean_batch_keeps_order_fields_usage_and_sends_thinking_off(fake: FakeOpenAI):
    df = frame(12)
    res = label_frame(df, settings(fake))
    out = res.frame
    assert out["id"].tolist() == df["id"].tolist()
    assert set(out["status"]) == {"ok"}
    assert out.iloc[3]["phone"] == stub_label(df.iloc[3]["text"])["phone"]
    assert min(out["tokens_in"]) > 0 and min(out["tokens_out"]) > 0
    assert res.ledger["requests"] == 12 and res.ledger["tokens_in"] == sum(out["tokens_in"])
    body = fake.bodies[0]
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["temperature"] == 0.0 and body["max_tokens"] == 256
    assert body["messages"][0]["role"] == "system" and body["messages"][1]["content"] in set(
        df["text"]
    )
    assert fake.auth_headers[0] == f"Bearer {KEY}"


def test_thinking_flag_can_be_left_out(fake: FakeOpenAI):
    label_frame(frame(1), settings(fake, send_thinking_flag=False))
    assert "chat_template_kwargs" not in fake.bodies[0]


def test_429_honours_retry_after(fake: FakeOpenAI, backend: str):
    fake.retry_after = "0.4"
    fake.fail_next("429")
    t0 = time.perf_counter()
    res = label_frame(frame(1), settings(fake, backoff_base_s=0.001, http_backend=backend))
    assert time.perf_counter() - t0 >= 0.4
    assert res.frame["status"].tolist() == ["ok"]
    assert fake.requests == 2 and res.ledger["rate_limited"] == 1 and res.ledger["retries"] == 1


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    got = parse_retry_after({"retry-after": date}, now=now)
    assert got is not None and 28.0 <= got <= 31.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


@pytest.mark.parametrize("faults", [("500",), ("503", "500"), ("drop",), ("bad_body",)])
def test_server_errors_and_dropped_connections_are_retried(fake: FakeOpenAI, faults, backend):
    fake.fail_next(*faults)
    res = label_frame(frame(1), settings(fake, http_backend=backend))
    assert res.ledger["http_backend"] == backend
    assert res.frame["status"].tolist() == ["ok"]
    assert fake.requests == len(faults) + 1


def test_timeout_is_retried(fake: FakeOpenAI, backend: str):
    fake.timeout_sleep_s = 1.0
    fake.fail_next("timeout")
    res = label_frame(frame(1), settings(fake, timeout_s=0.3, http_backend=backend))
    assert res.frame["status"].tolist() == ["ok"]
    assert res.ledger["timeouts"] == 1 and fake.requests == 2


def test_row_that_keeps_failing_is_an_error_and_the_batch_goes_on(fake: FakeOpenAI):
    df = frame(3)
    fake.text_faults[df.iloc[1]["text"]] = "500"
    res = label_frame(df, settings(fake, max_attempts=3))
    assert res.frame["status"].tolist() == ["ok", "error", "ok"]
    assert "HTTP 500" in res.frame.iloc[1]["error"] and "3 attempts" in res.frame.iloc[1]["error"]
    assert fake.requests == 2 + 3
    assert res.ledger["errors"] == 1 and res.ledger["failure_rate"] == pytest.approx(1 / 3)


def test_json_mode_falls_back_once_when_rejected(fake: FakeOpenAI):
    fake.reject_response_format = True
    res = label_frame(frame(5), settings(fake, json_mode=True, concurrency=1))
    assert set(res.frame["status"]) == {"ok"}
    assert fake.requests == 6  # one rejected request, then none with response_format
    assert sum("response_format" in b for b in fake.bodies) == 1
    assert res.ledger["json_mode_effective"] is False


def test_json_mode_is_sent_when_accepted(fake: FakeOpenAI):
    res = label_frame(frame(2), settings(fake, json_mode=True))
    assert all(b["response_format"] == {"type": "json_object"} for b in fake.bodies)
    assert res.ledger["json_mode_effective"] is True


FAULTS = ["ok", "think", "fence", "malformed", "refuse", "number"]


def test_answer_faults_become_statuses(fake: FakeOpenAI):
    df = frame(6)
    for text, fault in zip(df["text"], FAULTS, strict=True):
        fake.text_faults[text] = fault
    res = label_frame(df, settings(fake))
    got = res.frame["status"].tolist()
    # The teacher strips <think> itself: the row is clean.
    assert got == ["ok", "ok", "repaired", "invalid_json", "refused", "repaired"]
    assert "<think>" not in res.frame.iloc[1]["raw_response"]
    assert res.frame.iloc[5]["phone"] == stub_label(df.iloc[5]["text"])["phone"]
    assert res.frame.iloc[3]["province"] == "" and res.frame.iloc[3]["raw_response"]
    assert res.ledger["failed"] == 2


def test_bad_key_stops_the_batch_and_is_redacted(fake: FakeOpenAI):
    fake.fail_next("401")  # the fake echoes the key in its error body, as some providers do
    with pytest.raises(LabelingError) as info:
        label_frame(frame(5), settings(fake, concurrency=1, max_failure_rate=0.5))
    assert fake.requests == 1
    result = info.value.result
    assert result is not None and set(result.frame["status"]) == {"error"}
    assert "HTTP 401" in str(info.value)
    assert KEY not in str(info.value)
    assert not any(KEY in e for e in result.frame["error"])
    assert KEY not in repr(result.ledger)


def test_redact_and_strip_think():
    assert redact(f"bad key {KEY}!", KEY) == "bad key ***!"
    assert redact("text", "") == "text"
    assert strip_think("<think>\n\n</think>\n\n{}") == "{}"


@pytest.mark.parametrize(
    ("provider", "want"),
    [
        ("dashscope", {"enable_thinking": False}),
        ("siliconflow", {"enable_thinking": False}),
        ("vllm", {"chat_template_kwargs": {"enable_thinking": False}}),
        ("llamacpp", {"chat_template_kwargs": {"enable_thinking": False}}),
        ("openai", {}),
    ],
)
def test_each_provider_gets_thinking_off_where_it_reads_it(fake: FakeOpenAI, provider, want):
    label_frame(frame(1), settings(fake, provider=provider))
    body = fake.bodies[0]
    extras = {k: v for k, v in body.items() if k in ("enable_thinking", "chat_template_kwargs")}
    assert extras == want


@pytest.mark.parametrize(
    ("url", "provider"),
    [
        ("https://dashscope.aliyuncs.com/compatible-mode/v1", "dashscope"),
        ("https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "dashscope"),
        ("https://api.siliconflow.cn/v1", "siliconflow"),
        ("https://api.openai.com/v1", "openai"),
        ("http://10.0.0.5:8000/v1", "vllm"),
        ("https://notdashscope.aliyuncs.com.evil.example/v1", "vllm"),
    ],
)
def test_provider_auto_reads_the_host(url: str, provider: str):
    assert TeacherSettings(kind="openai", base_url=url, model="m").resolved_provider() == provider


def test_gpu_profile_default_teacher_sends_top_level_thinking_off():
    from distill_assets.core.common.profiles import get_profile

    p = get_profile("gpu")
    s = TeacherSettings(kind="openai", base_url=p.teacher_base_url, model=p.teacher_model)
    assert s.thinking_fields() == {"enable_thinking": False}


def test_extra_body_is_sent_and_merged_over_the_preset(fake: FakeOpenAI):
    extra = {"top_k": 1, "chat_template_kwargs": {"custom": "x"}, "enable_thinking": False}
    s = settings(fake, provider="vllm", extra_body=extra)
    label_frame(frame(1), s)
    body = fake.bodies[0]
    assert body["top_k"] == 1 and body["enable_thinking"] is False
    assert body["chat_template_kwargs"] == {"enable_thinking": False, "custom": "x"}
    assert s.generation_params()["extra_body"] == extra  # part of the cache key
    assert "extra_body" not in settings(fake).generation_params()


def test_unknown_provider_is_refused():
    with pytest.raises(ValueError, match="provider"):
        TeacherSettings(provider="dashscop")
