"""parse_teacher_answer: what is accepted as is, what is repaired, what is rejected."""

from __future__ import annotations

import json

import pytest

from distill_assets.core.common.normalize import normalize_phone
from distill_assets.core.common.schema import FIELDS, label_to_json
from distill_assets.core.teacher.answers import parse_teacher_answer
from tests.conftest import DALI_LABEL as LABEL

CLEAN = label_to_json(LABEL)


def test_clean_json_is_ok():
    fields, status, error = parse_teacher_answer("  " + CLEAN + "\n")
    assert (fields, status, error) == (LABEL, "ok", "")


@pytest.mark.parametrize(
    ("raw", "note"),
    [
        ("```json\n" + CLEAN + "\n```", "fences"),
        ("好的，结果如下：\n" + CLEAN + "\n以上。", "text around JSON"),
        ('<think>\n先找电话。{"x": 1}\n</think>\n\n' + CLEAN, "think block"),
        ("</think>\n" + CLEAN, "think block"),
    ],
)
def test_wrapped_json_is_repaired(raw: str, note: str):
    fields, status, error = parse_teacher_answer(raw)
    assert status == "repaired"
    assert fields == LABEL
    assert note in error


def test_number_null_extra_keys_and_key_case_are_repaired():
    obj = {**LABEL, "phone": 23204753945, "name": None, "confidence": 0.9}
    obj["Province"] = obj.pop("province")
    fields, status, error = parse_teacher_answer(json.dumps(obj, ensure_ascii=False))
    assert status == "repaired"
    assert fields == {**LABEL, "name": ""}
    assert "dropped keys confidence" in error
    assert "phone type" in error


def test_phone_is_normalised_to_digits():
    fields, status, _ = parse_teacher_answer(
        json.dumps({**LABEL, "phone": "+86 232-0475-3945"}, ensure_ascii=False)
    )
    assert status == "repaired"
    assert fields is not None and fields["phone"] == "23204753945"
    assert normalize_phone("0086 138 0013 8000") == "13800138000"
    assert normalize_phone("(+86)13800138000") == "13800138000"
    assert normalize_phone("13800138000 / 13900139000") == "13800138000"
    assert normalize_phone("无") == ""
    # A number that only starts with 86 keeps its digits.
    assert normalize_phone("8612345") == "8612345"


def test_missing_keys_rule():
    two_missing = {k: v for k, v in LABEL.items() if k not in ("name", "phone")}
    fields, status, error = parse_teacher_answer(json.dumps(two_missing, ensure_ascii=False))
    assert status == "repaired" and "missing name,phone" in error
    assert fields == {**LABEL, "name": "", "phone": ""}

    three_missing = {k: LABEL[k] for k in ("province", "city", "district")}
    fields, status, error = parse_teacher_answer(json.dumps(three_missing, ensure_ascii=False))
    assert (fields, status) == (None, "invalid_json")
    assert "missing keys specific_location,name,phone" in error


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        CLEAN[: len(CLEAN) // 2],
        "province: 云南省",
        "[" + CLEAN + ", " + json.dumps({**LABEL, "name": "李娜"}, ensure_ascii=False) + "]",
        '{"answer": "云南省"}',
        json.dumps({**LABEL, "phone": True}),
        json.dumps({**LABEL, "city": ["大理"]}, ensure_ascii=False),
        json.dumps({**LABEL, "phone": 1.5}),
        "<think>\n" + CLEAN,  # unterminated thinking: no answer yet
    ],
)
def test_unrecoverable_answers_are_invalid(raw: str):
    fields, status, error = parse_teacher_answer(raw)
    assert fields is None
    assert status == "invalid_json"
    assert error


@pytest.mark.parametrize(
    "raw",
    [
        "抱歉，我无法处理这个请求。",
        "对不起，这涉及个人隐私，不能提供。",
        "I can't help with that.",
        "I'm sorry, but I cannot assist with this request.",
    ],
)
def test_refusals(raw: str):
    fields, status, error = parse_teacher_answer(raw)
    assert (fields, status) == (None, "refused")
    assert error.startswith("teacher refused")


def test_one_label_in_a_list_or_repeated_is_repaired():
    for raw in ("[" + CLEAN + "]", CLEAN + "\n```json\n" + CLEAN + "\n```"):
        fields, status, _ = parse_teacher_answer(raw)
        assert (fields, status) == (LABEL, "repaired")


def test_json_wins_over_polite_words():
    fields, status, _ = parse_teacher_answer("抱歉久等，结果：" + CLEAN)
    assert status == "repaired" and fields == LABEL


def test_every_usable_answer_has_the_six_string_keys():
    for raw in (CLEAN, "```json\n" + CLEAN + "```", json.dumps({"province": 1, "city": 2,
                "district": 3, "specific_location": 4})):  # fmt: skip
        fields, status, _ = parse_teacher_answer(raw)
        assert status in ("ok", "repaired")
        assert fields is not None and tuple(fields) == FIELDS
        assert all(isinstance(v, str) for v in fields.values())
