"""Division canonicalisation after the student: from its own fields (and the text to choose)."""

import pytest

from distill_assets.core.student.postprocess import canonicalize_divisions


def fields(p: str, c: str, d: str) -> dict[str, str]:
    return {
        "province": p,
        "city": c,
        "district": d,
        "specific_location": "人民路25号",
        "name": "段丽娟",
        "phone": "23204753945",
    }


@pytest.mark.parametrize(
    ("given", "text", "want", "status"),
    [
        (
            ("", "", "大理市"),
            "大理市人民路25号",
            ("云南省", "大理白族自治州", "大理市"),
            "canonical",
        ),
        (("云南", "大理", "大理市"), "", ("云南省", "大理白族自治州", "大理市"), "canonical"),
        (("北京", "", "朝阳区"), "", ("北京市", "北京市", "朝阳区"), "canonical"),
        (("段丽娟", "", "大理市"), "", ("云南省", "大理白族自治州", "大理市"), "relaxed"),
        (("", "", "鼓楼区"), "福州鼓楼区中山路1号", ("福建省", "福州市", "鼓楼区"), "canonical"),
        (
            ("云南省", "大理白族自治州", "大理市"),
            "",
            ("云南省", "大理白族自治州", "大理市"),
            "kept",
        ),
    ],
)
def test_divisions_become_official(given, text, want, status):
    out, what = canonicalize_divisions(fields(*given), text)
    assert (out["province"], out["city"], out["district"]) == want
    assert what == status
    assert out["specific_location"] == "人民路25号" and out["name"] == "段丽娟"


def test_what_cannot_be_settled_is_left_as_written():
    out, what = canonicalize_divisions(fields("", "", "鼓楼区"), "鼓楼区中山路1号")
    assert what == "unresolved" and out == fields("", "", "鼓楼区")
    out, what = canonicalize_divisions(fields("火星", "", ""), "")
    assert what == "unresolved" and out["province"] == "火星"
