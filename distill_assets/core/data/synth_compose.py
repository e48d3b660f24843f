"""Composed layouts: synthetic texts assembled from independently drawn parts.

The fixed layouts in synth.py teach a student a dozen templates; a real shop sends layouts
nobody listed (labels in any words and order, values on lines or between any separators, the
region on a line of its own, a chatty wrapper, a note at the end). Drawing each of those choices
on its own makes the student learn what a name, a phone and an address look like instead of
where a template puts them. The gold labels do not depend on the layout, only the text does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from distill_assets.core.regions.clues import area_codes_of

COMPOSED_STYLES: tuple[str, ...] = ("composed_labelled", "composed_bare", "composed_chatty")
_MODE_P = (0.5, 0.3, 0.2)

_LABELS_ZH = {
    "name": ("收件人", "收货人", "联系人", "姓名", "收件者", "接收人", "客户", "签收人", "买家"),
    "phone": ("电话", "手机", "手机号", "手机号码", "联系电话", "联系方式", "电话号码", "手机号码"),
    "address": ("地址", "收货地址", "详细地址", "收件地址", "送货地址", "配送地址", "邮寄地址"),
    "region": ("所在地区", "地区", "省市区", "收货地区", "所在区域"),
    "street": ("详细地址", "街道地址", "门牌号", "详细"),
}
_LABELS_EN = {
    "name": ("Name", "Recipient", "Consignee", "Contact", "Receiver", "NAME"),
    "phone": ("Tel", "Phone", "Mobile", "Cell", "TEL", "Phone No."),
    "address": ("Address", "Addr", "Shipping address", "Delivery Address", "ADDRESS"),
    "region": ("Region", "Area", "Province/City"),
    "street": ("Street", "Address line", "Detail"),
}
_LABELS_EMOJI = {
    "name": ("👤", "🙋", "👩", "👨"),
    "phone": ("📞", "☎️", "📱"),
    "address": ("📍", "🏠", "📦"),
    "region": ("🗺️", "📍"),
    "street": ("🏠", "🚪"),
}
_LEVEL_LABELS = (
    ("省份", "城市", "区县"),
    ("所在省", "所在市", "所在区"),
    ("Province", "City", "District"),
)
_KV_SEPS = (":", "：", "：", " ", ": ", "")
_SEG_SEPS = ("\n", "\n", " ", "，", ",", "；", "; ", " | ", "｜", "  ", "、", "/")
_REGION_SEPS = ("", "", "", " ", "-", "/", ",")
_OPENERS = (
    "亲，地址是",
    "你好，帮我寄到",
    "您好，请寄到",
    "麻烦寄到",
    "老板，发货地址：",
    "请发到",
    "帮我发到",
    "收货信息：",
    "寄到",
)
_NAME_LINKS = ("，收件人", "，收件人是", "，找", "，给", "，联系人", " ", "，", "，收货人：")
_PHONE_LINKS = ("，电话", "，手机", "，电话是", " ", "，", "，手机号：", "，联系电话")
_CLOSERS = ("", "", "，谢谢", "，谢谢！", "。辛苦了", "，麻烦尽快发货", "哦", "，到了打电话")
_NOTES = tuple(
    "备注：" + note
    for note in ("工作日送货", "周末也可以送", "放门卫室", "请放快递柜", "到了打电话")
)


@dataclass(frozen=True)
class Parts:
    """One record's values as the text will show them (the gold labels are kept elsewhere)."""

    region: tuple[str, ...]  # the division names as written, e.g. ("云南", "大理州", "大理市")
    street: str
    name: str
    phone: str  # formatted as written

    @property
    def levels(self) -> tuple[str, ...] | None:
        """(province, city, district) as written, when the text shows all three."""
        return self.region if len(self.region) == 3 else None


def landline(rng: random.Random, city: str) -> str:
    """Digits of a landline in `city` ("" when its area code is not known)."""
    codes = area_codes_of(city)
    if not codes:
        return ""
    code = rng.choice(codes)
    rest = "".join(str(rng.randint(0, 9)) for _ in range(10 - len(code)))
    return code + str(rng.randint(2, 8)) + rest


def format_landline(digits: str, rng: random.Random) -> str:
    """A landline as people write it: 0755-86013388, 0755 86013388, (0755)86013388."""
    n = 3 if digits[:2] in ("01", "02") else 4  # 010 and 02x are the three-digit codes
    code, local = digits[:n], digits[n:]
    forms = (f"{code}-{local}", f"{code}-{local}", f"{code} {local}", f"({code}){local}", digits)
    return rng.choice(forms)


def _address(p: Parts, rng: random.Random) -> str:
    sep = rng.choice(_REGION_SEPS)
    region = sep.join(p.region)
    gap = rng.choice(("", "", " ")) if not sep.strip() else sep
    return region + gap + p.street if region else p.street


def _labels(rng: random.Random) -> tuple[dict[str, tuple[str, ...]], str, str]:
    """(label pool, label-value separator, bracket kind) for one text."""
    kind = rng.random()
    if kind < 0.6:
        return _LABELS_ZH, rng.choice(_KV_SEPS), ""
    if kind < 0.8:
        return _LABELS_EN, rng.choice((": ", ":", ": ", " ")), ""
    if kind < 0.9:
        return _LABELS_ZH, "", rng.choice(("【】", "[]", "「」"))
    return _LABELS_EMOJI, rng.choice((" ", "", " ")), ""


def _labelled(p: Parts, rng: random.Random) -> str:
    pool, kv, brackets = _labels(rng)

    def lab(field: str, value: str, word: str = "") -> str:
        word = word or rng.choice(pool[field])
        if brackets:
            return f"{brackets[0]}{word}{brackets[1]}{value}"
        return f"{word}{kv}{value}"

    segs = [lab("name", p.name), lab("phone", p.phone)]
    split = rng.random()
    if p.levels and split < 0.12 and pool is not _LABELS_EMOJI:
        words = rng.choice(_LEVEL_LABELS)
        segs += [lab("region", v, w) for v, w in zip(p.levels, words, strict=True)]
        segs.append(lab("street", p.street))
    elif p.region and split < 0.45:
        region_sep = rng.choice((" ", "", " ", "/"))
        segs += [lab("region", region_sep.join(p.region)), lab("street", p.street)]
    else:
        segs.append(lab("address", _address(p, rng)))
    rng.shuffle(segs)
    sep = rng.choice(_SEG_SEPS)
    if brackets and rng.random() < 0.5:
        sep = ""
    text = sep.join(segs)
    if rng.random() < 0.12:
        text += ("\n" if "\n" in sep else " ") + rng.choice(_NOTES)
    return text


def _bare_name(name: str, rng: random.Random) -> str:
    u = rng.random()
    if u < 0.12:
        return name + rng.choice(("收", "（收）", "(收)", " 收"))
    if u < 0.18:
        return rng.choice(("找", "给", "收件人")) + name
    return name


def _bare(p: Parts, rng: random.Random) -> str:
    segs = [_bare_name(p.name, rng), p.phone]
    sep = rng.choice(_SEG_SEPS)
    if p.region and rng.random() < 0.3:  # the region and the street as two adjacent segments
        addr = rng.choice((" ", "")).join(p.region) + sep + p.street
    else:
        addr = _address(p, rng)
    segs.insert(rng.randrange(3), addr)
    if rng.random() < 0.5:
        segs[0], segs[1] = segs[1], segs[0]
    return sep.join(segs)


def _chatty(p: Parts, rng: random.Random) -> str:
    addr = _address(p, rng)
    close = rng.choice(_CLOSERS)
    phone = rng.choice(_PHONE_LINKS) + p.phone
    u = rng.random()
    if u < 0.2:
        return f"{rng.choice(('寄给', '发给', '送到'))}{addr}的{p.name}{phone}{close}"
    if u < 0.4:
        return f"{p.name}{rng.choice(('，', ' ', '，地址'))}{addr}{phone}{close}"
    head, name = rng.choice(_OPENERS), rng.choice(_NAME_LINKS) + p.name
    return (
        f"{head}{addr}{name}{phone}{close}"
        if rng.random() < 0.5
        else f"{head}{addr}{phone}{name}{close}"
    )


def compose(parts: Parts, seed: int) -> tuple[str, str]:
    """(text, style) for one record; the same (parts, seed) always gives the same text."""
    rng = random.Random(seed)
    style = rng.choices(COMPOSED_STYLES, weights=_MODE_P)[0]
    if style == "composed_labelled":
        return _labelled(parts, rng), style
    if style == "composed_bare":
        return _bare(parts, rng), style
    return _chatty(parts, rng), style


__all__ = ["COMPOSED_STYLES", "Parts", "compose", "format_landline", "landline"]
