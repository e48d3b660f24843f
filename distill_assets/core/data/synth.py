"""Synthetic logistics texts with gold labels, for demos, tests and the student's training data.

Real districts from the gazetteer across the 31 mainland provinces, invented streets, buildings,
names and (fake) phones, rendered in many messy text styles. The style column is
"<layout>" or "<layout>+<address form>" (e.g. "seed_colon+district_only"); layouts are STYLES
(fixed templates) and COMPOSED_STYLES (drawn part by part), address forms ADDRESS_FORMS.
Same (n, seed) -> identical frame.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from distill_assets.core.common.schema import FIELDS
from distill_assets.core.data.synth_compose import (
    COMPOSED_STYLES,
    Parts,
    compose,
    format_landline,
    landline,
)
from distill_assets.core.regions.canonical import canonicalize_region
from distill_assets.core.regions.tables import (
    MUNICIPALITIES,
    NON_MAINLAND,
    city_short_forms,
    division_rows,
    lookup,
    province_short_forms,
)

STYLES: tuple[str, ...] = (
    "seed_colon",  # 电话:…:大理市…:收件者:…
    "seed_comma_mobile",  # …, 接收人…, MOBILE:…
    "kv_lines",  # 收件人：…\n电话：…\n地址：…
    "kv_inline",  # 收货人: … | 手机: … | 地址: …
    "english_labels",  # Name: … Tel: … Address: …
    "one_line_spaces",  # 段丽娟 23204753945 云南省大理市…
    "multi_line",  # name\nphone\naddress (no labels)
    "chatty",  # 你好，麻烦寄到…，收件人是…，电话…，谢谢！
    "phone_first",  # 138-1234-5678，段丽娟，云南省…
    "plus86",  # 地址…；收件人…；电话 +86 138 1234 5678
    "emoji",  # 📍… 👤… 📞…
    "name_shou",  # …，段丽娟收，…
    "shop_backend",  # 收货人：…\n手机号码：…\n所在地区：云南省 大理白族自治州 大理市\n详细地址：…
)
ADDRESS_FORMS: tuple[str, ...] = (
    "full",  # 省 市 区 (municipalities: 北京市朝阳区)
    "short_province",  # 云南大理州大理市 / 广西 南宁 青秀区
    "no_province",  # 大理白族自治州大理市
    "no_city",  # 云南省大理市
    "district_only",  # 大理市
)
_FORM_P = (0.35, 0.15, 0.12, 0.10, 0.28)
# Share of texts in composed layouts (synth_compose.py), the rest spread over STYLES.
COMPOSED_SHARE = 0.45

_ROAD_STEMS = (
    "人民 解放 建设 和平 新华 胜利 文化 青年 光明 东风 红旗 工业 幸福 友谊 团结 民主 长江 黄河 "
    "朝晖 迎宾 滨江 滨河 环城 体育 学府 科技 创业 金融 世纪 振兴 复兴 兴业 富强 沿江 望江 湖滨 "
    "花园 桃园 枫林 松柏 梧桐 银杏 丁香 海棠 玉兰 紫荆 龙华 凤凰 金桥 银河 星光 明珠 育才 春晖 "
    "建国 前进 劳动 跃进 延安 井冈山 中华 新民 永安 太平 安康 宝龙 天府 锦绣 华夏 长征 园林"
).split()
_ROAD_SUFFIX = "路 路 路 街 大街 大道 东路 西路 南路 北路 中路 巷 一路 二路 三路 街道".split()
_ESTATES = (
    "阳光花园 锦绣家园 翠苑小区 金色港湾 世纪新城 御景湾 华府天地 碧水蓝天小区 幸福里小区 "
    "滨江花园 书香苑 东方名城 紫薇花园 怡景苑 丽都花园 馨园小区 绿地城 星河湾 和谐家园 "
    "金地格林小城 万家丽小区 龙湖天街 恒大名都 融创壹号院 保利香槟国际 城南新村 工人新村 "
    "教师公寓 电力小区 铁路新村 水岸名邸 福星苑 盛世华庭 香格里拉花园"
).split()
_TOWERS = (
    "国际大厦 金融中心 科技园 创业大厦 商务中心 写字楼 广场 国贸中心 财富中心 产业园 "
    "国际酒店 大酒店 宾馆 医院 实验学校 中学 职业技术学院 购物中心 农贸市场 物流园"
).split()
_BRANDS = (
    "万达 华润 保利 中海 银泰 绿地 金茂 华联 新世纪 鑫源 宏达 恒通 远洋 建工 龙腾 国信 "
    "天虹 鼎盛 东盛 嘉禾"
).split()
_GIVEN = (
    "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀 霞 平 刚 桂 英 华 玉 萍 红 "
    "鹏 辉 健 俊 帅 凯 浩 宇 轩 泽 睿 博 文 欣 怡 婷 雪 琳 晨 阳 思 佳 嘉 子 梓 涵 "
    "诗 雨 梦 可 心 一 晓 志 建 国 海 春 秋 冬 兰 凤 莉 倩 颖 琴 云 飞 鑫 宏 斌 亮 波 "
    "慧 瑶 璐 薇 蕾 晶 丹 晴 悦 妍 彤 露 琪 然 豪 翔 昊 毅 峰 诚 德 荣 福 贵 成 龙 "
    "振 永 光 天 安 立 新 宁 远 和 瑞 祥 奇 伦 铭 逸 航 晗 昕 宸 钰 苗 茜 菲 婉 "
    "淑 惠 珍 爱 莹 蓉 洁 燕 彬 刚 坤 松 柏 楠 杨 桐 卫 东 方 齐 乐 斯"
).split()
_SURNAME_TOP = (
    "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋 唐 许 韩 冯 "
    "邓 曹 彭 曾 肖 田 董 袁 潘 于 蒋 蔡 余 杜 叶 程 苏 魏 吕 丁 任 沈 姚 卢 姜 崔 钟 谭 "
    "陆 汪 范 金 石 廖 贾 夏 韦 付 方 白 邹 孟 熊 秦 邱 江 尹 薛 闫 段 雷 侯 龙 史 陶 黎 "
    "贺 顾 毛 郝 龚 邵 万 钱 严 覃 武 戴 莫 孔 向 汤"
).split()
_SURNAME_COMPOUND = (
    "欧阳 慕容 司马 诸葛 上官 皇甫 尉迟 公孙 令狐 夏侯 长孙 宇文 司徒 端木 南宫 独孤 西门 轩辕"
).split()
_MINORITY_NAMES = (
    "阿卜杜拉·买买提 古丽娜尔·艾力 热依拉·吐尔逊 艾尔肯·阿不都 努尔兰·哈力克 "
    "扎西·多吉 央金·卓玛 阿依古丽·热合曼"
).split()
_CHATTY_OPEN = (
    "你好，麻烦寄到",
    "您好，请帮我寄到",
    "麻烦发到",
    "帮忙寄到",
    "寄到",
    "老板，发货地址：",
)
_CHATTY_CLOSE = ("，谢谢！", "，谢谢", "。辛苦了", "，麻烦尽快发货，谢谢！", "")


@dataclass(frozen=True)
class _Pools:
    rows: tuple[tuple[str, str, str], ...]  # county-level divisions, mainland only
    by_province: tuple[np.ndarray, ...]  # row indices per province
    ok_no_province: np.ndarray  # bool per row: city + district resolves uniquely
    ok_no_city: np.ndarray
    ok_district_only: np.ndarray


def _county_level(d: str) -> bool:
    return bool(d) and not d.endswith(("镇", "街道", "乡"))


def _unique_reading(text_name: str, want: tuple[str, str, str]) -> bool:
    """True when the bare name has exactly one reading in the gazetteer, and it is `want`."""
    entries = lookup(text_name)
    return len(entries) == 1 and (entries[0].province, entries[0].city, entries[0].district) == want


@cache
def _pools() -> _Pools:
    rows = tuple(
        r
        for r in division_rows(current_only=True)
        if r[0] not in NON_MAINLAND and _county_level(r[2])
    )
    provinces = sorted({r[0] for r in rows})
    if len(provinces) != 31:
        raise RuntimeError(f"expected 31 mainland provinces in the gazetteer, got {len(provinces)}")
    by_p = tuple(np.array([i for i, r in enumerate(rows) if r[0] == p]) for p in provinces)
    ok_np = np.array([canonicalize_region("", c, d) == (p, c, d) for p, c, d in rows])
    ok_nc = np.array([canonicalize_region(p, "", d) == (p, c, d) for p, c, d in rows])
    ok_do = np.array([_unique_reading(d, (p, c, d)) for p, c, d in rows])
    return _Pools(rows, by_p, ok_np, ok_nc, ok_do)


def _pick(rng: np.random.Generator, seq, size: int) -> np.ndarray:
    return np.asarray(seq, dtype=object)[rng.integers(0, len(seq), size)]


def _region_parts(
    p: str, c: str, d: str, form: str, u: float, ok: tuple[bool, bool, bool]
) -> tuple[tuple[str, ...], str]:
    """(the division names as written, the form actually used) for one row."""
    ok_np, ok_nc, ok_do = ok
    if form == "district_only" and not ok_do:
        form = "no_city" if ok_nc else "full"
    if form == "no_city" and not ok_nc:
        form = "full"
    if form == "no_province" and not ok_np:
        form = "full"
    muni = p in MUNICIPALITIES
    if form == "full":
        return ((p, d) if muni else (p, c, d)), form
    if form == "short_province":
        ps = province_short_forms(p)[0]
        if muni:
            return (ps, d), form
        cs = city_short_forms(c)
        return (ps, cs[-1] if cs and u < 0.6 else c, d), form
    if form == "no_province":
        return ((p + d,) if muni else (c, d)), form
    if form == "no_city":
        return (p, d), form
    return (d,), form


def _phone_digits(rng: np.random.Generator, n: int) -> np.ndarray:
    heads = np.array(["13", "15", "18", "17", "19", "14", "16", "2", "3", "5", "8"], dtype=object)
    h = heads[rng.choice(len(heads), n, p=[0.2, 0.15, 0.2, 0.08, 0.07, 0.03, 0.02] + [0.0625] * 4)]
    body = rng.integers(0, 10**10, n, dtype=np.int64)
    return np.array([(a + f"{b:010d}")[:11] for a, b in zip(h, body, strict=True)], dtype=object)


def _fmt_phone(d: str, kind: int) -> str:
    if kind == 1:
        return f"{d[:3]}-{d[3:7]}-{d[7:]}"
    if kind == 2:
        return f"{d[:3]} {d[3:7]} {d[7:]}"
    if kind == 3:
        return f"+86 {d[:3]} {d[3:7]} {d[7:]}"
    if kind == 4:
        return f"+86-{d[:3]}-{d[3:7]}-{d[7:]}"
    if kind == 5:
        return f"+86{d}"
    return d


# Share of open-vocabulary parts (a given-name character, a road stem, an estate or brand
# name) drawn from every character of the gazetteer's place names instead of the short lists
# above: with lists alone a small student learns to recall the lists, not to copy the text,
# and writes a listed name for a name it has never seen.
_OPEN_SHARE = 0.5
_OPEN_SUFFIX_TAIL = "省市区县州盟旗镇乡"  # a division level: a stem ending so reads as a region
_NOT_OPEN = set("省市区县州盟旗镇乡村街道路号楼栋室单元层收件货人电话手机址地自治族")
# Not in a person's name either: characters that end an address part (站, 园, 厂…), or glue a
# label to its value (收件人是…).
_NOT_IN_NAMES = set("座店厦园苑城院弄里门所部处司场馆站厂队组铺舍是为叫")
_ESTATE_SUFFIX = "花园 小区 家园 苑 新村 公寓 名苑 华庭 雅居 山庄 新城 嘉园".split()
_ROAD_SUFFIX_WIDE = (*_ROAD_SUFFIX, "步行街", "中一路", "东二路", "西三路", "大街", "横街")
_GIVEN_ONLY_SHARE = 0.03  # a name with no Han surname (次仁, 其木格): two to three open chars


@cache
def _open_chars(for_names: bool = False) -> np.ndarray:
    """The characters of the gazetteer's division names, less the level suffixes and words that
    would read as a label, a level or a street part: about 1,300 real characters in sorted
    order (the same for every run)."""
    chars: set[str] = set()
    for row in division_rows(current_only=True):
        for name in row:
            chars.update(name.rstrip(_OPEN_SUFFIX_TAIL))
    drop = _NOT_OPEN | _NOT_IN_NAMES if for_names else _NOT_OPEN
    keep = sorted(ch for ch in chars if "\u4e00" <= ch <= "\u9fff" and ch not in drop)
    return np.array(keep, dtype=object)


def _open_words(
    rng: np.random.Generator, n: int, lengths: tuple[int, ...], for_names: bool = False
) -> np.ndarray:
    """n words of open characters (length drawn from `lengths`) that are not a division name."""
    chars = _open_chars(for_names)
    sizes = _pick(rng, lengths, n)
    draws = rng.integers(0, len(chars), (n, max(lengths) + 2))
    out = np.empty(n, dtype=object)
    for i in range(n):
        row = list(chars[draws[i]])
        k = int(sizes[i])
        word = "".join(row[:k])
        if lookup(word):  # a region name inside a street or person would be another task
            word = "".join(row[2 : 2 + k])
        out[i] = word
    return out


def _mix(rng: np.random.Generator, listed: np.ndarray, wide: np.ndarray) -> np.ndarray:
    """Per row: the listed value, or with _OPEN_SHARE the open-vocabulary one."""
    return np.where(rng.random(len(listed)) < _OPEN_SHARE, wide, listed)


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    kind = rng.random(n)
    sur = _pick(rng, _SURNAME_TOP, n)
    comp = _pick(rng, _SURNAME_COMPOUND, n)
    g1 = _mix(rng, _pick(rng, _GIVEN, n), _open_words(rng, n, (1,), for_names=True))
    g2 = _mix(rng, _pick(rng, _GIVEN, n), _open_words(rng, n, (1,), for_names=True))
    two = rng.random(n) < 0.7
    minority = _pick(rng, _MINORITY_NAMES, n)
    given_only = _open_words(rng, n, (2, 3), for_names=True)
    out = np.empty(n, dtype=object)
    for i in range(n):
        if kind[i] < 0.015:
            out[i] = minority[i]
        elif kind[i] < 0.015 + _GIVEN_ONLY_SHARE:
            out[i] = given_only[i]
        elif kind[i] < 0.10:
            out[i] = comp[i] + g1[i] + (g2[i] if two[i] else "")
        else:
            out[i] = sur[i] + g1[i] + (g2[i] if two[i] else "")
    return out


def _locations(rng: np.random.Generator, n: int) -> np.ndarray:
    stem = _mix(rng, _pick(rng, _ROAD_STEMS, n), _open_words(rng, n, (2, 2, 2, 1, 3)))
    suffix = _pick(rng, _ROAD_SUFFIX_WIDE, n)
    road = stem + suffix
    num = rng.integers(1, 999, n)
    kind = rng.integers(0, 6, n)
    wide_estate = _open_words(rng, n, (2,)) + _pick(rng, _ESTATE_SUFFIX, n)
    estate = _mix(rng, _pick(rng, _ESTATES, n), wide_estate)
    brand = _mix(rng, _pick(rng, _BRANDS, n), _open_words(rng, n, (2,)))
    tower = brand + _pick(rng, _TOWERS, n)
    bld = rng.integers(1, 40, n)
    unit = rng.integers(1, 7, n)
    floor = rng.integers(1, 33, n)
    room = rng.integers(1, 20, n)
    space = rng.random(n) < 0.3
    out = np.empty(n, dtype=object)
    for i in range(n):
        sp = " " if space[i] else ""
        base = f"{road[i]}{num[i]}号"
        k = kind[i]
        if k == 0:
            out[i] = f"{base}{sp}{estate[i]}{bld[i]}栋{unit[i]}单元{floor[i]}{room[i]:02d}室"
        elif k == 1:
            out[i] = f"{base}{sp}{estate[i]}{sp}{bld[i]}号楼{floor[i]}{room[i]:02d}"
        elif k == 2:
            out[i] = f"{base}{sp}{tower[i]}{sp}{floor[i]}楼"
        elif k == 3:
            out[i] = f"{base}{sp}{tower[i]}{sp}{bld[i]}号楼"
        elif k == 4:
            out[i] = f"{estate[i]}{bld[i]}-{unit[i]}-{floor[i]}{room[i]:02d}"
        else:
            out[i] = base
    return out


def _render(layout: str, addr: str, name: str, phone: str, v: int, region: str = "") -> str:
    """One text in a given layout; `v` (0..5) varies separators and label words. `region` is
    the division part of `addr` (shop back-ends put it on a line of its own)."""
    if layout == "shop_backend":
        street = addr[len(region) :].strip() if region and addr.startswith(region) else addr
        head = [f"收货人：{name}", f"手机号码：{phone}"]
        if v % 3 == 2:  # English back-end labels
            head = [f"Recipient: {name}", f"Phone: {phone}"]
            return "\n".join([*head, f"Region: {region}", f"Address: {street}"])
        tail = [f"所在地区：{region}", f"详细地址：{street}"]
        return "\n".join([*tail, *head] if v % 2 else [*head, *tail])
    if layout == "seed_colon":
        lab = ("收件者", "收件人", "收货人")[v % 3]
        return f"电话:{phone}:{addr}:{lab}:{name}"
    if layout == "seed_comma_mobile":
        return (
            f"{addr}, 接收人{name}, MOBILE:{phone}"
            if v % 2
            else f"{addr}，接收人{name}，MOBILE：{phone}"
        )
    if layout == "kv_lines":
        nl, pl, al = [
            ("收件人", "电话", "地址"),
            ("收货人", "手机号码", "收货地址"),
            ("联系人", "联系电话", "详细地址"),
            ("姓名", "手机", "地址"),
        ][v % 4]
        colon = "：" if v % 2 else ":"
        lines = [f"{nl}{colon}{name}", f"{pl}{colon}{phone}", f"{al}{colon}{addr}"]
        if v >= 4:
            lines = [lines[2], lines[0], lines[1]]
        return "\n".join(lines)
    if layout == "kv_inline":
        sep = (" | ", "；", "; ", "，")[v % 4]
        return f"收货人: {name}{sep}手机: {phone}{sep}地址: {addr}"
    if layout == "english_labels":
        nl, tl = [("Name", "Tel"), ("NAME", "TEL"), ("name", "phone"), ("Name", "Mobile")][v % 4]
        sep = "\n" if v >= 4 else " "
        return f"{nl}: {name}{sep}{tl}: {phone}{sep}Address: {addr}"
    if layout == "one_line_spaces":
        return f"{name} {phone} {addr}" if v % 2 else f"{addr} {name} {phone}"
    if layout == "multi_line":
        return f"{name}\n{phone}\n{addr}" if v % 2 else f"{addr}\n{name}\n{phone}"
    if layout == "chatty":
        op = _CHATTY_OPEN[v % len(_CHATTY_OPEN)]
        cl = _CHATTY_CLOSE[v % len(_CHATTY_CLOSE)]
        return f"{op}{addr}，收件人是{name}，电话{phone}{cl}"
    if layout == "phone_first":
        return f"{phone}，{name}，{addr}" if v % 2 else f"{phone} {name} {addr}"
    if layout == "plus86":
        return f"地址：{addr}；收件人：{name}；电话 {phone}"
    if layout == "emoji":
        return f"📍{addr} 👤{name} 📞{phone}" if v % 2 else f"🏠 {addr}\n☎️ {phone}\n{name}"
    if layout == "name_shou":
        return f"{addr}，{name}收，{phone}" if v % 2 else f"{name}收 {phone} {addr}"
    raise ValueError(f"unknown layout {layout!r}")


def _composed(
    region: tuple[str, ...], loc: str, name: str, digits: str, city: str, seed: int
) -> tuple[str, str, str]:
    """(text, layout, phone digits) of one composed text (synth_compose.py)."""
    rng = random.Random(int(seed))
    phone = _fmt_phone(digits, _phone_kind("composed", rng.random()))
    if rng.random() < 0.1 and (fixed := landline(rng, city)):
        digits, phone = fixed, format_landline(fixed, rng)
    text, layout = compose(Parts(region, loc, name, phone), rng.randrange(2**31))
    return text, layout, digits


def _phone_kind(layout: str, r: float) -> int:
    if layout == "plus86":
        return 3 + int(r * 3)  # +86 forms
    if layout == "phone_first":
        return int(r * 3)  # plain, dashes, spaces
    return 0 if r < 0.75 else 1 + int((r - 0.75) * 20)  # mostly plain, some of every form


def _generate(n: int, rng: np.random.Generator, id_offset: int, seed: int) -> pd.DataFrame:
    pools = _pools()
    prov = rng.integers(0, len(pools.by_province), n)
    pick_u = rng.random(n)
    row_idx = np.array(
        [
            pools.by_province[p][int(u * len(pools.by_province[p]))]
            for p, u in zip(prov, pick_u, strict=True)
        ]
    )
    form_idx = rng.choice(len(ADDRESS_FORMS), n, p=_FORM_P)
    layout_idx = rng.integers(0, len(STYLES), n)
    var = rng.integers(0, 6, n)
    sep_u = rng.random(n)
    ph_u = rng.random(n)
    locs = _locations(rng, n)
    names = _names(rng, n)
    phones = _phone_digits(rng, n)
    # Drawn last, so the rows in fixed layouts are the ones a batch without composed texts had.
    comp_u = rng.random(n)
    comp_seed = rng.integers(0, 2**31, n)
    texts, styles = np.empty(n, dtype=object), np.empty(n, dtype=object)
    gp, gc, gd = (np.empty(n, dtype=object) for _ in range(3))
    for i in range(n):
        ri = row_idx[i]
        p, c, d = pools.rows[ri]
        ok = (
            bool(pools.ok_no_province[ri]),
            bool(pools.ok_no_city[ri]),
            bool(pools.ok_district_only[ri]),
        )
        parts, form = _region_parts(p, c, d, ADDRESS_FORMS[form_idx[i]], sep_u[i], ok)
        loc = locs[i]
        if comp_u[i] < COMPOSED_SHARE:
            texts[i], layout, phones[i] = _composed(
                parts, loc, names[i], phones[i], c, comp_seed[i]
            )
        else:
            layout = STYLES[layout_idx[i]]
            region = (" " if sep_u[i] < 0.15 else "").join(parts)
            addr = region + (" " if sep_u[i] < 0.15 else "") + loc
            phone = _fmt_phone(phones[i], _phone_kind(layout, ph_u[i]))
            texts[i] = _render(layout, addr, names[i], phone, int(var[i]), region)
        styles[i] = layout if form == "full" else f"{layout}+{form}"
        gp[i], gc[i], gd[i] = p, c, d
    ids = [f"syn-{seed}-{id_offset + i:07d}" for i in range(n)]
    frame = {
        "id": ids,
        "text": texts,
        "source": "synthetic",
        "style": styles,
        "gold_province": gp,
        "gold_city": gc,
        "gold_district": gd,
        "gold_specific_location": locs,
        "gold_name": names,
        "gold_phone": phones,
    }
    return pd.DataFrame(frame)


GOLD_COLUMNS: tuple[str, ...] = tuple(f"gold_{f}" for f in FIELDS)
COLUMNS: tuple[str, ...] = ("id", "text", "source", "style", *GOLD_COLUMNS)


def generate_batch(n: int, seed: int = 0) -> pd.DataFrame:
    """`n` synthetic records (raw_addresses columns); same (n, seed) -> same frame; no repeats."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = np.random.default_rng([seed, 0x5EED])
    df = _generate(n, rng, 0, seed)
    # Rare exact repeats are replaced by fresh draws from a derived stream (still deterministic).
    round_ = 1
    while n and (dup := df["text"].duplicated()).any():
        k = int(dup.sum())
        fresh = _generate(k, np.random.default_rng([seed, 0x5EED, round_]), 0, seed)
        fresh.index = df.index[dup]
        fresh["id"] = df.loc[dup, "id"]
        df.loc[dup] = fresh
        round_ += 1
        if round_ > 50:
            raise RuntimeError("could not remove duplicate texts from the synthetic batch")
    df = df.reset_index(drop=True)
    for col in COLUMNS:
        if col != "id":
            df[col] = df[col].astype(str)
    return df.reindex(columns=list(COLUMNS))


__all__ = [
    "ADDRESS_FORMS",
    "COLUMNS",
    "COMPOSED_SHARE",
    "COMPOSED_STYLES",
    "GOLD_COLUMNS",
    "STYLES",
    "generate_batch",
]
