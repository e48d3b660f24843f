"""Kinds of miss named per answer, counted per kind, with masked examples."""

from __future__ import annotations

from distill_assets.core.evaluation.misses import (
    MISS_KINDS,
    divisions_written_share,
    miss_kinds,
    miss_summary,
    unwritten_divisions,
)
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


def test_a_division_the_text_does_not_write_is_named_as_such() -> None:
    short = "电话:23204753945:大理人民路25号:收件者:段丽娟"  # no 云南省, no 大理白族自治州
    assert unwritten_divisions(REF, short) == ["province", "city", "district"]
    assert unwritten_divisions(REF, TEXT) == ["province", "city"]
    missed = {**REF, "city": "大理市"}
    assert miss_kinds(missed, REF, False, short) == ["division_wrong", "division_unwritten"]
    # the district is written in full: a wrong one there is a copy slip, not missing knowledge
    written = "云南省大理白族自治州大理市人民路25号 段丽娟 23204753945"
    assert miss_kinds({**REF, "district": "大理"}, REF, False, written) == ["division_wrong"]
    assert miss_kinds(dict(REF), REF, False, short) == []


def test_share_of_rows_that_write_every_labelled_division() -> None:
    written = "云南省大理白族自治州大理市人民路25号 段丽娟 23204753945"
    assert divisions_written_share([REF, REF], [written, TEXT]) == 0.5
    assert divisions_written_share([], []) == 0.0
    summary = miss_summary([{**REF, "province": ""}], [REF], [TEXT], [False])
    assert summary["division_unwritten"]["rows"] == 1
