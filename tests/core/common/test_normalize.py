"""Normalisation: one meaning of "the same text" and "a phone", scalar and column-wise."""

import random

from distill_assets.core.common.normalize import (
    normalize_array,
    normalize_phone,
    normalize_phone_array,
    normalize_text,
)


def test_normalize_text_and_phone():
    assert normalize_text("\u3000电话：２３２\t\n０４  ＡＢ\u200b ") == "电话:232 04 AB"
    assert normalize_text("①号楼 ²") == "①号楼 ²"  # not full NFKC
    assert normalize_phone("+86 232-0475-3945") == "23204753945"
    assert normalize_phone("8613800138000") == "13800138000"
    assert normalize_phone("0086-13800138000") == "13800138000"
    assert normalize_phone("0871-65123456") == "087165123456"


def test_vectorised_normalisation_equals_scalar():
    rng = random.Random(7)
    pool = list("大理市人民路 25号ＡＢ１２：，\u3000\u00a0\t\n\u200b①²ﬁ㈱⼈丽娟\x1f\u2003") + [
        "e\u0301"
    ]
    values = ["".join(rng.choice(pool) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    assert normalize_array(values).to_pylist() == [normalize_text(v) for v in values]
    few = values[:40] * 200  # few distinct values: the dictionary path
    assert normalize_array(few).to_pylist() == [normalize_text(v) for v in few]
    phones = ["+86 138-0013-8000", "８６１３８００１３８０００", "(0871)6512", ""] * 300
    assert normalize_phone_array(phones).to_pylist() == [normalize_phone(v) for v in phones]
