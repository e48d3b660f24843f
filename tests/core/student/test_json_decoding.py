"""Where grounded decoding lets a street start (core/student/json_decoding.py `street_starts`)."""

from __future__ import annotations

import json

import pytest

from distill_assets.core.common.normalize import normalize_text
from distill_assets.core.data.benchmarks import unseen_styles_file
from distill_assets.core.data.synth import generate_batch
from distill_assets.core.student.json_decoding import street_starts


def _char_starts(text: str) -> set[int]:
    """street_starts as character offsets."""
    by_byte = street_starts(text)
    return {i for i in range(len(text)) if len(text[:i].encode("utf-8")) in by_byte}


def _label_street_starts(text: str, street: str) -> bool:
    text = normalize_text(text)
    starts = _char_starts(text)
    return any(text.startswith(street, i) for i in starts)


@pytest.mark.parametrize(
    ("text", "good", "bad"),
    [
        # not inside a word: 和平南路 starts at 和, after the county, not at 平
        ("新疆伊犁哈萨克自治州霍城县和平南路116号紫薇花园", "和平南路", "平南路"),
        # not at the district: the street is what follows it
        ("157-4884-1478,龚容含,西藏自治区日喀则市仁布县锦绣大街471号", "锦绣大街", "仁布县"),
        # not at a label word, but right after it
        ("「收货地区」湖南/长沙市/开福区「门牌号」人民路916号 桥酒国际酒店", "人民路", "门牌号"),
        ("姓名:段作龟 手机:13603943255 地址:河南省驿城区恭茅路877号", "恭茅路", "手机"),
        # after a short division name, and after a space
        ("内蒙古 包头 石拐区 红旗街903号牧君购物中心31楼", "红旗街", "石拐区"),
    ],
)
def test_a_street_starts_after_the_divisions_and_labels(text: str, good: str, bad: str) -> None:
    starts = _char_starts(text)
    assert text.index(good) in starts
    assert text.index(bad) not in starts


def test_every_label_street_starts_where_the_rule_allows() -> None:
    """The rule never bars a street a teacher label or the gold writes (else grounded decoding
    could not write it)."""
    rows = [
        json.loads(line) for line in unseen_styles_file().read_text("utf-8").splitlines() if line
    ]
    gold = [(r["text"], r["label"]["specific_location"]) for r in rows]
    synth = generate_batch(1500, seed=11)
    pairs = [*gold, *zip(synth["text"], synth["gold_specific_location"], strict=True)]
    missed = [(t, s) for t, s in pairs if s and not _label_street_starts(t, s)]
    assert not missed, missed[:5]
    assert len(pairs) > 1500
