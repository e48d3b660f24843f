import json

import pyarrow as pa

from distill_assets.core.common.artifacts import read_jsonl, write_jsonl
from distill_assets.core.common.prompts import student_prompt
from distill_assets.core.common.schema import FIELDS, label_to_json
from distill_assets.core.dataset.formats import (
    alpaca_array,
    json_quote_array,
    label_json_array,
    messages_array,
    to_alpaca,
    to_messages,
    write_string_array,
)
from tests.conftest import DALI_LABEL as LABEL
from tests.conftest import DALI_TEXT as TEXT

TRICKY = ['a"b', "c\\d", '\\"', "中\n文", "\x01x", "", " \\n ", "\u2028"]


def test_to_alpaca_fields():
    rec = to_alpaca(TEXT, LABEL)
    assert set(rec) == {"instruction", "input", "output", "system"}
    assert rec["instruction"] == rec["system"] == student_prompt()
    assert rec["input"] == TEXT
    assert json.loads(rec["output"]) == LABEL
    assert list(json.loads(rec["output"])) == list(FIELDS)


def test_to_messages_roles_and_content():
    rec = to_messages(TEXT, LABEL)
    msgs = rec["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant"]
    assert msgs[0]["content"] == student_prompt()
    assert msgs[1]["content"] == TEXT
    assert msgs[2]["content"] == label_to_json(LABEL)


def test_write_jsonl_round_trip(tmp_path):
    records = [to_alpaca(TEXT, LABEL), to_messages("第二条", LABEL)]
    path = tmp_path / "sub" / "x.jsonl"
    assert write_jsonl(path, records) == 2
    raw = path.read_text("utf-8")
    assert "段丽娟" in raw  # non-ASCII kept, not \u-escaped
    assert raw.count("\n") == 2
    assert read_jsonl(path) == records
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_json_quote_array_matches_json_dumps():
    got = json_quote_array(TRICKY).to_pylist()
    assert got == [json.dumps(s, ensure_ascii=False) for s in TRICKY]


def test_vectorised_builders_match_record_functions(tmp_path):
    labels = [dict(LABEL), {f: TRICKY[i % len(TRICKY)] for i, f in enumerate(FIELDS)}]
    texts = [TEXT, 'he said "hi"\\ \x02']
    cols = {f: [lab[f] for lab in labels] for f in FIELDS}
    outs = label_json_array(cols)
    assert outs.to_pylist() == [label_to_json(lab) for lab in labels]
    alp = alpaca_array(texts, outs).to_pylist()
    msg = messages_array(texts, outs).to_pylist()
    for i, (t, lab) in enumerate(zip(texts, labels, strict=True)):
        assert alp[i] == json.dumps(to_alpaca(t, lab), ensure_ascii=False) + "\n"
        assert msg[i] == json.dumps(to_messages(t, lab), ensure_ascii=False) + "\n"
    # writing a slice writes exactly that slice's lines
    arr = pa.array(alp, type=pa.large_string())[1:]
    path = tmp_path / "a.jsonl"
    assert write_string_array(path, arr) == 1
    assert read_jsonl(path) == [to_alpaca(texts[1], labels[1])]
    assert write_string_array(tmp_path / "empty.jsonl", arr[:0]) == 0
    assert (tmp_path / "empty.jsonl").read_bytes() == b""
