"""Kinds of miss named per answer, counted per kind, with masked examples."""

from __future__ import annotations

from distill_assets.core.evaluation.misses import MISS_KINDS, miss_kinds, miss_summary
from tests.conftest import DALI_LABEL as REF
from tests.conftest import DALI_TEXT as TEXT


def test_each_kind_of_miss_is_named() -> None:
    assert miss_kinds(dict(REF), REF, truncated=False) == []
    assert miss_kinds(None, REF, truncated=True) == ["truncated_json"]
    assert miss_kinds(None, REF, truncated=False) == ["invalid_json"]
    assert miss_kinds({**REF, "province": ""}, REF, False) == ["division_missing"]
    assert miss_kinds({**REF, "city": "大理市"}, REF, False) == ["division_wrong"]
    assert miss_kinds({**REF, "phone": "2320475394"}, REF, False) == ["phone_digits"]
    assert miss_kinds({**REF, "specific_location": "人民路"}, REF, False) == ["street_boundary"]
    assert miss_kinds({**REF, "name": "段丽"}, REF, False) == ["name"]
    both = miss_kinds({**REF, "province": "段丽娟", "name": ""}, REF, False)
    assert both == ["division_wrong", "name"]


def test_summary_counts_rows_and_masks_examples() -> None:
    answers = [dict(REF), {**REF, "name": "段丽"}, None, {**REF, "name": "", "phone": "1"}]
    out = miss_summary(answers, [REF] * 4, [TEXT] * 4, [False, False, False, False], examples=1)
    assert list(out) == list(MISS_KINDS)
    assert out["name"]["rows"] == 2 and out["name"]["share"] == 0.5
    assert out["invalid_json"]["rows"] == 1 and out["phone_digits"]["rows"] == 1
    assert out["division_wrong"]["rows"] == 0 and out["division_wrong"]["examples"] == []
    example = out["name"]["examples"]
    assert len(example) == 1
    assert "23204753945" not in example[0]["text"] and "段丽娟" not in example[0]["text"]
    assert example[0]["label"]["phone"] == "232****3945"
    assert example[0]["answer"]["name"] == "段*"
