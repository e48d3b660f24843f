"""label_frame / label_file: cache, crash resume, budget, failure rate, redaction, gazetteer."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from distill_assets.core.common.artifacts import sha256_text
from distill_assets.core.common.prompts import teacher_prompt
from distill_assets.core.teacher.cache import CACHE_FILE, cache_key
from distill_assets.core.teacher.label_files import label_file
from distill_assets.core.teacher.labeling import label_frame
from distill_assets.core.teacher.ledger import LABEL_COLUMNS, LabelingError
from distill_assets.core.teacher.settings import TeacherSettings
from tests.fake_openai import FakeOpenAI, api_settings

ROOT = Path(__file__).resolve().parents[3]
KEY = "sk-live-TOPSECRET-0123456789abcdef"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as srv:
        yield srv


def settings(srv: FakeOpenAI, cache_dir: Path | None, **kw) -> TeacherSettings:
    cache = str(cache_dir) if cache_dir else None
    return api_settings(
        srv, KEY, **({"concurrency": 8, "max_attempts": 3, "cache_dir": cache} | kw)
    )


def frame(n: int, start: int = 0) -> pd.DataFrame:
    texts = [f"电话:1390013{i:04d}:杭州市西湖区文三路{i}号 张伟" for i in range(start, start + n)]
    return pd.DataFrame({"id": [f"r{i}" for i in range(start, start + n)], "text": texts})


def test_frame_has_the_contract_columns(fake: FakeOpenAI):
    res = label_frame(frame(3), settings(fake, None))
    assert tuple(res.frame.columns) == LABEL_COLUMNS
    assert res.frame["tokens_in"].dtype == "int64" and res.frame["cached"].dtype == bool
    for key in ("rows", "ok", "repaired", "failed", "cached", "requests", "tokens_in",
                "tokens_out", "cost", "currency", "wall_s", "stopped_by_budget", "failure_rate",
                "teacher_model", "prompt_hash", "base_url"):  # fmt: skip
        assert key in res.ledger
    assert res.ledger["prompt_hash"] == res.frame["prompt_hash"].iloc[0] != ""


def test_rerun_and_overlapping_batch_pay_nothing_for_answered_rows(fake: FakeOpenAI, tmp_path):
    s = settings(fake, tmp_path / "cache", price_in_per_mtok=1.0, price_out_per_mtok=2.0)
    first = label_frame(frame(10), s)
    assert first.ledger["requests"] == 10 and first.ledger["cost"] > 0
    again = label_frame(frame(10), s)
    assert again.ledger["requests"] == 0 and fake.requests == 10
    assert all(again.frame["cached"].tolist()) and again.ledger["cost"] == 0
    cols = ["id", "province", "specific_location", "phone", "status"]
    for c in cols:
        assert first.frame[c].tolist() == again.frame[c].tolist(), c
    overlap = label_frame(frame(10, start=5), s)  # rows 5..14: 5 old, 5 new
    assert overlap.ledger["requests"] == 5 and overlap.ledger["cached"] == 5


def test_cache_key_covers_model_params_and_prompt(fake: FakeOpenAI, tmp_path):
    cache = tmp_path / "cache"
    label_frame(frame(2), settings(fake, cache))
    label_frame(frame(2), settings(fake, cache, model="other-teacher"))
    label_frame(frame(2), settings(fake, cache, temperature=0.7))
    assert fake.requests == 6
    k1 = cache_key("http://x/v1/", "m", "p", {"t": 0}, "a")
    assert k1 == cache_key("http://x/v1", "m", "p", {"t": 0}, "a")
    assert k1 != cache_key("http://x/v1", "m", "p2", {"t": 0}, "a")


def test_failures_are_not_cached_and_duplicates_are_asked_once(fake: FakeOpenAI, tmp_path):
    df = frame(4)
    df = pd.concat([df, df.iloc[[0]].assign(id="dup")], ignore_index=True)
    fake.text_faults[df.iloc[1]["text"]] = ["malformed"]
    fake.text_faults[df.iloc[2]["text"]] = ["500", "500", "500"]
    s = settings(fake, tmp_path / "cache")
    res = label_frame(df, s)
    assert res.frame["status"].tolist() == ["ok", "invalid_json", "error", "ok", "ok"]
    assert fake.requests == 1 + 1 + 3 + 1  # the duplicate row costs nothing
    assert res.frame.iloc[4]["phone"] == res.frame.iloc[0]["phone"]
    again = label_frame(df, s)
    assert again.ledger["requests"] == 2  # only the two failed rows are asked again
    assert set(again.frame["status"]) == {"ok"}


_CHILD = r"""
import sys
import pandas as pd
from distill_assets.core.teacher.settings import TeacherSettings
from distill_assets.core.teacher.labeling import label_frame
texts = [l for l in open(sys.argv[3], encoding="utf-8").read().split("\n") if l]
df = pd.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
s = TeacherSettings(kind="openai", base_url=sys.argv[1], model="fake-teacher", api_key="k",
                    cache_dir=sys.argv[2], concurrency=4, max_failure_rate=1.0)
label_frame(df, s)
print("finished")
"""


def _cached_keys(cache_dir: Path) -> set[str]:
    path = cache_dir / CACHE_FILE
    if not path.exists():
        return set()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return {k for (k,) in conn.execute("SELECT key FROM answers")}
    except sqlite3.OperationalError:  # table not created yet
        return set()
    finally:
        conn.close()


def test_resume_after_sigkill_loses_nothing_and_repays_nothing(tmp_path):
    n = 80
    texts = [t for t in frame(n)["text"]]
    (tmp_path / "texts.txt").write_text("\n".join(texts), "utf-8")
    cache = tmp_path / "cache"
    system_sha = sha256_text(teacher_prompt())
    with FakeOpenAI(latency_s=0.1) as srv:
        params = settings(srv, cache).generation_params()
        key_of = {cache_key(srv.base_url, "fake-teacher", system_sha, params, t): t for t in texts}
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, srv.base_url, str(cache), str(tmp_path / "texts.txt")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while len(_cached_keys(cache)) < 12:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "child made no progress"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL
        before = {key_of[k] for k in _cached_keys(cache)}
        assert 12 <= len(before) < n, "the kill must land mid-batch"
        sent_before = srv.requests

        res = label_frame(frame(n), settings(srv, cache, concurrency=8))
        asked_again = srv.texts[sent_before:]
    assert not set(asked_again) & before, "a row answered before the kill was paid twice"
    assert len(asked_again) == n - len(before)
    assert set(res.frame["status"]) == {"ok"} and len(res.frame) == n
    assert res.ledger["cached"] == len(before)


def test_budget_stops_before_it_is_exceeded(fake: FakeOpenAI, tmp_path):
    s0 = settings(fake, None, concurrency=2)
    probe = label_frame(frame(1), s0)
    per_row = int(probe.frame["tokens_in"].iloc[0] + probe.frame["tokens_out"].iloc[0])
    budget = per_row * 12
    s = settings(fake, tmp_path / "cache", concurrency=2, budget_tokens=budget, max_tokens=128)
    res = label_frame(frame(30), s)
    led = res.ledger
    assert led["stopped_by_budget"] is True
    assert led["tokens_in"] + led["tokens_out"] <= budget
    statuses = res.frame["status"].tolist()
    assert statuses.count("ok") >= 3 and statuses.count("skipped_budget") >= 10
    assert set(statuses) == {"ok", "skipped_budget"}
    # Rows are sent in input order: the skipped ones are the tail.
    first_skip = statuses.index("skipped_budget")
    assert set(statuses[first_skip:]) == {"skipped_budget"}
    assert led["failure_rate"] == 0.0
    # A rerun with room pays only for what was skipped.
    sent = fake.requests
    more = label_frame(frame(30), settings(fake, tmp_path / "cache", max_tokens=128))
    assert fake.requests - sent == statuses.count("skipped_budget")
    assert set(more.frame["status"]) == {"ok"}


def test_money_budget(fake: FakeOpenAI):
    s = settings(fake, None, price_in_per_mtok=100.0, price_out_per_mtok=400.0, budget_cost=1.0)
    res = label_frame(frame(40), s)
    assert res.ledger["stopped_by_budget"] and 0 < res.ledger["cost"] <= 1.0
    assert "skipped_budget" in set(res.frame["status"])
    with pytest.raises(ValueError, match="price"):
        label_frame(frame(1), settings(fake, None, budget_cost=1.0))


def test_failure_rate_threshold_raises_after_caching_the_rest(fake: FakeOpenAI, tmp_path):
    df = frame(10)
    for t in df["text"].iloc[:3]:
        fake.text_faults[t] = "refuse"
    s = settings(fake, tmp_path / "cache", max_failure_rate=0.2)
    with pytest.raises(LabelingError, match=r"failure rate 0\.300 > max_failure_rate 0\.200"):
        label_frame(df, s)
    fake.text_faults.clear()
    sent = fake.requests
    res = label_frame(df, s)  # within the threshold now; the 7 good rows came from the cache
    assert fake.requests - sent == 3 and res.ledger["cached"] == 7


def test_api_key_never_leaves_the_process(fake: FakeOpenAI, tmp_path):
    logs: list[str] = []
    df = frame(6)
    fake.text_faults[df.iloc[0]["text"]] = ["500", "500", "500"]
    inp = tmp_path / "in.jsonl"
    inp.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in df.to_dict("records")))
    out = tmp_path / "out.jsonl"
    s = settings(fake, tmp_path / "cache", progress_every_s=0.0, max_failure_rate=0.5)
    summary = label_file(inp, out, s, logs.append)
    fake.fail_next("401")  # echoes the key back in the error body
    with pytest.raises(LabelingError) as info:
        label_frame(frame(3, start=50), s.model_copy(update={"concurrency": 1}), logs.append)
    assert fake.auth_headers[-1] == f"Bearer {KEY}"  # the key was really used
    assert KEY not in repr(s)
    haystacks = [
        "\n".join(logs),
        json.dumps(summary, ensure_ascii=False, default=str),
        str(info.value),
        info.value.result.frame.to_json(force_ascii=False) if info.value.result else "",
        json.dumps(info.value.result.ledger if info.value.result else {}, default=str),
    ]
    assert any("HTTP 401" in h for h in haystacks)  # the error itself is reported
    for h in haystacks:
        assert KEY not in h
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f


def test_label_file_writes_one_object_per_row(fake: FakeOpenAI, tmp_path):
    df = frame(4)
    inp = tmp_path / "in.csv"
    df[["text"]].to_csv(inp, index=False)
    out = tmp_path / "out.jsonl"
    summary = label_file(inp, out, settings(fake, None))
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    assert {"id", "province", "city", "district", "specific_location", "name", "phone"} <= set(
        rows[0]
    )
    assert summary["line"] == "labelled 4: ok=4 failed=0 cached=0 requests=4"


def test_progress_is_logged(tmp_path):
    logs: list[str] = []
    with FakeOpenAI(latency_s=0.05) as srv:
        label_frame(
            frame(16), settings(srv, None, concurrency=2, progress_every_s=0.1), logs.append
        )
    assert any("rows/s" in line and "/16 rows" in line for line in logs)


def test_gazetteer_kind():
    pytest.importorskip("cpca")
    from distill_assets.core.teacher.rule_teacher import GazetteerTeacher

    texts = [
        "电话:23204753945:大理市人民路25号 大理古城国际酒店 3号楼:收件者:段丽娟",
        "天津市河西区珠江道21号金泰大厦3层 , 接收人慕容修远 , MOBILE:22323185576",
    ]
    df = pd.DataFrame({"id": ["a", "b"], "text": texts})
    res = label_frame(df, TeacherSettings(kind="gazetteer"))
    out = res.frame
    assert tuple(out.columns) == LABEL_COLUMNS
    assert out["status"].tolist() == ["ok", "ok"]
    assert out.iloc[0][["province", "city", "district", "name", "phone"]].tolist() == [
        "云南省", "大理白族自治州", "大理市", "段丽娟", "23204753945"
    ]  # fmt: skip
    assert out.iloc[1]["city"] == "天津市"
    assert set(out["tokens_in"]) == {0} and set(out["prompt_hash"]) == {"gazetteer"}
    model_id = GazetteerTeacher().model_id
    assert set(out["teacher_model"]) == {model_id}
    assert res.ledger["requests"] == 0 and res.ledger["teacher_model"] == model_id
    ident = TeacherSettings(kind="gazetteer").identity()
    assert ident["teacher_model"] == model_id and ident["prompt_hash"] == "gazetteer"


def test_teacher_identity_changes_with_what_shapes_labels():
    a = TeacherSettings(kind="openai", base_url="http://h/v1", model="m", api_key=KEY)
    b = TeacherSettings(kind="openai", base_url="http://h/v1", model="m", temperature=0.5)
    c = TeacherSettings(kind="openai", base_url="http://h/v1", model="m", concurrency=1)
    assert a.identity()["code_version"] != b.identity()["code_version"]
    assert a.identity() == c.identity()  # speed settings do not change labels
    assert KEY not in json.dumps(a.identity())


def test_empty_frame_and_safe_dict(fake: FakeOpenAI):
    s = settings(fake, None)
    res = label_frame(pd.DataFrame({"id": [], "text": []}), s)
    assert tuple(res.frame.columns) == LABEL_COLUMNS and len(res.frame) == 0
    assert res.ledger["rows"] == 0 and fake.requests == 0
    safe = s.safe_dict()
    assert "api_key" not in safe and safe["api_key_set"] is True and safe["model"] == "fake-teacher"


def test_bad_input_fails_loudly():
    s = TeacherSettings(kind="openai", base_url="http://127.0.0.1:9/v1", model="m")
    with pytest.raises(ValueError, match="lacks column"):
        label_frame(pd.DataFrame({"text": ["a"]}), s)
    with pytest.raises(ValueError, match="row 1 .*id='b'"):
        label_frame(pd.DataFrame({"id": ["a", "b"], "text": ["x", None]}), s)
    with pytest.raises(ValueError, match="kind"):
        TeacherSettings(kind="gpt")


def test_review_statuses_are_answers_not_failures():
    """The teacher_labels failure check counts failed calls over attempted rows, as the
    ledger does: rows the rule teacher flags for review do not fail the batch."""
    from distill_assets.core.evaluation.gates import labels_failure_rate
    from distill_assets.core.teacher.ledger import failure_rate

    texts = ["天津市河西区友谊路35号 王建华 13920456789"] * 2
    texts += ["市中区经十路1号 张三 13800001111", "北京路88号 赵六 13600004444"]
    df = pd.DataFrame({"id": [f"r{i}" for i in range(4)], "text": texts})
    res = label_frame(df, TeacherSettings(kind="gazetteer"))
    assert res.frame["status"].tolist() == ["ok", "ok", "ambiguous", "no_region"]
    assert failure_rate(res.frame) == 0.0 == res.ledger["failure_rate"]
    assert labels_failure_rate(res.frame, 0.05).passed
    failed = pd.DataFrame({"status": ["ok", "invalid_json", "skipped_budget", "ambiguous"]})
    assert failure_rate(failed) == pytest.approx(1 / 3)


# --------------------------------------------------------------------------- rule teacher pool


def _synthetic_texts(n: int) -> pd.DataFrame:
    from distill_assets.core.data.synth import generate_batch

    return generate_batch(n, seed=13).loc[:, ["id", "text"]]


def test_rule_pool_gives_the_labels_of_one_process_in_input_order():
    from distill_assets.core.teacher.rule_pool import RulePool

    df = _synthetic_texts(300)
    df.loc[7, "text"] = ""  # an odd row keeps its place and its status
    gaz = TeacherSettings(kind="gazetteer", max_failure_rate=1.0)
    one = label_frame(df, gaz).frame
    lines: list[str] = []
    with RulePool(gaz, workers=2, chunk_rows=40, min_rows=0) as pool:
        assert pool.uses_pool(len(df))
        many = pool.label(df, lines.append)
    assert any("worker processes" in line for line in lines)  # it did run in the pool
    assert list(many.frame.columns) == list(one.columns)
    cols = [c for c in LABEL_COLUMNS if c != "latency_s"]
    pd.testing.assert_frame_equal(many.frame.loc[:, cols], one.loc[:, cols])
    ok = int((one["status"].to_numpy() == "ok").sum())
    assert many.ledger["rows"] == 300 and many.ledger["ok"] == ok


def test_rule_pool_stays_in_one_process_for_small_batches(monkeypatch: pytest.MonkeyPatch):
    from distill_assets.core.teacher import rule_pool

    gaz = TeacherSettings(kind="gazetteer")
    assert not rule_pool.RulePool(gaz, workers=2).uses_pool(500)  # below MIN_POOL_ROWS
    assert not rule_pool.RulePool(gaz, workers=1, min_rows=0, chunk_rows=10).uses_pool(500)
    monkeypatch.setenv(rule_pool.WORKERS_ENV, "3")
    assert rule_pool.default_workers() == 3
    monkeypatch.setenv(rule_pool.WORKERS_ENV, "zero")
    with pytest.raises(ValueError, match=rule_pool.WORKERS_ENV):
        rule_pool.default_workers()
