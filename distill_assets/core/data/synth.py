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
from distill_assets.core.data.synth_parts import locations, person_names
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
    locs = locations(rng, n)
    names = person_names(rng, n)
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
