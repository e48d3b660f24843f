"""Secrets never leave the process: redaction before any cut, credentials in URLs masked."""

from __future__ import annotations

import json

from distill_assets.core.common.privacy import mask_url, redact, redact_clip

KEY = "sk-live-0123456789abcdef"


def test_redact_before_clip_leaves_no_part_of_the_key() -> None:
    text = "x" * 490 + f" key {KEY} echoed by the server"
    clipped = redact_clip(text, KEY, 500)
    assert len(clipped) <= 500
    for n in range(4, len(KEY) + 1):
        assert KEY[:n] not in clipped, n
    # the order it replaces: cut first, and a prefix of the key survives
    assert KEY[:4] in redact(text[:500], KEY)


def test_urls_with_credentials_are_masked_inside_free_text() -> None:
    msg = "connection error: ConnectError http://bob:pa55w0rd@10.0.0.1:8000/v1?api_key=sk-q&x=1"
    out = redact(msg, None)
    assert "pa55w0rd" not in out and "bob" not in out and "sk-q" not in out
    assert "***@10.0.0.1:8000/v1" in out and "x=1" in out
    assert mask_url("https://TOKEN123@host/v1") == "https://***@host/v1"


def test_base_url_with_credentials_is_masked_in_ledger_metadata_and_errors(tmp_path) -> None:
    """A base URL that carries a password: masked in lineage (ledger, identity) and metadata
    (safe_dict), in the logs and in the error of every row (aiohttp refuses such a URL next to
    the key's Authorization header: the rows fail, and say so without the password)."""
    import pandas as pd

    from distill_assets.core.teacher.labeling import label_frame
    from tests.fake_openai import FakeOpenAI, api_settings

    password = "pa55-w0rd-in-url"
    with FakeOpenAI() as fake:
        url = fake.base_url.replace("http://", f"http://user:{password}@")
        s = api_settings(fake, KEY, base_url=url, cache_dir=str(tmp_path / "cache"))
        text = "天津市河西区友谊路1号 王伟 13800138000"
        df = pd.DataFrame({"id": ["a", "b"], "text": [text, text + " "]})
        fake.text_faults[df["text"].iloc[0]] = ["500"] * 10
        logs: list[str] = []
        res = label_frame(df, s, logs.append)
    assert set(res.frame["status"]) == {"error"}
    haystacks = [
        json.dumps(res.ledger, ensure_ascii=False, default=str),
        json.dumps(s.safe_dict(), ensure_ascii=False, default=str),
        json.dumps(s.identity(), ensure_ascii=False, default=str),
        res.frame.to_json(force_ascii=False),
        "\n".join(logs),
    ]
    for h in haystacks:
        assert password not in h and KEY not in h
    assert "***@127.0.0.1" in res.ledger["base_url"]
    q = api_settings(fake, KEY, base_url="https://proxy.example/v1?api_key=sk-in-query&region=cn")
    assert "sk-in-query" not in json.dumps(q.safe_dict()) + json.dumps(q.identity())
    assert "region=cn" in q.safe_dict()["base_url"]
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert password.encode() not in f.read_bytes(), f
