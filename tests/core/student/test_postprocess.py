"""Division canonicalisation after the student: from its own fields (and the text to choose)."""

import pytest

from distill_assets.core.student.postprocess import (
    STREET_CUT,
    canonicalize_divisions,
    postprocess,
    separate_street,
)


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


def street(loc: str, name: str = "王菲", phone: str = "18608981234") -> dict[str, str]:
    return {**fields("", "", ""), "specific_location": loc, "name": name, "phone": phone}


@pytest.mark.parametrize(
    ("loc", "name", "phone", "want"),
    [
        ("迎宾路88号 王菲 18608981234", "王菲", "18608981234", "迎宾路88号"),
        # the phone as the text writes it, and a label word before the name
        ("长江西路130号 0551-65121234", "", "055165121234", "长江西路130号"),
        (
            "思明南路422号 厦门大学 收件人：林志玲",
            "林志玲",
            "18959201234",
            "思明南路422号 厦门大学",
        ),
        ("中山路1号 倪妮 138 0510 1234", "倪妮", "13805101234", "中山路1号"),
    ],
)
def test_the_street_is_cut_before_the_students_own_name_or_phone(loc, name, phone, want):
    out, cut = separate_street(street(loc, name, phone))
    assert cut and out["specific_location"] == want
    assert out["name"] == name and out["phone"] == phone


@pytest.mark.parametrize(
    "loc",
    [
        "人民路25号 大理古城国际酒店 3号楼",  # holds neither
        "王菲 18608981234",  # no street was written: nothing to keep
        "王菲路8号",  # the name where the street starts is the street's own
    ],
)
def test_a_street_without_the_name_or_phone_after_it_is_kept(loc):
    out, cut = separate_street(street(loc))
    assert not cut and out["specific_location"] == loc


def test_postprocess_reports_the_cut_beside_the_divisions():
    out, status = postprocess(street("迎宾路88号 王菲 18608981234"), "海南省三亚市吉阳区迎宾路88号")
    assert status == "canonical" + STREET_CUT
    assert out["specific_location"] == "迎宾路88号" and out["province"] == "海南省"
