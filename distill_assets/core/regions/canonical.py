"""Canonical division names: (province, city, district) as written -> official full names.

Used by every stage: the rule teacher resolves the mentions it finds, the dataset canonicalises
the teacher's answer, the student's output is canonicalised after generation.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from distill_assets.core.regions.tables import MUNICIPALITIES, C, D, Entry, P, data_order, lookup

# Preferred reading of a few district names shared by several cities (as cpca's default map).
_PREFERRED_CITY = {
    "南关区": "长春市",
    "南山区": "深圳市",
    "宝山区": "上海市",
    "普陀区": "上海市",
    "朝阳区": "北京市",
    "河东区": "天津市",
    "白云区": "广州市",
    "西湖区": "杭州市",
    "铁西区": "沈阳市",
    "鼓楼区": "南京市",
    "和平区": "天津市",
    "城关区": "拉萨市",
    "新华区": "石家庄市",
    "长安区": "西安市",
    "通州区": "北京市",
    "江北区": "重庆市",
}


def _merge(entries: Sequence[Entry]) -> tuple[str, str, str] | None:
    """The division all `entries` agree on, or None when they contradict each other."""
    p = c = d = ""
    for e in entries:
        for have, new in ((p, e.province), (c, e.city), (d, e.district)):
            if new and have and new != have:
                return None
        p = p or e.province
        c = c or e.city
        d = d or e.district
    return p, c, d


def _rank(triple: tuple[str, str, str]) -> tuple[int, int, int]:
    """Tie-break between equally supported readings: deeper, preferred city, data order."""
    p, c, d = triple
    depth = 2 if d else (1 if c else 0)
    preferred = 0 if (d and _PREFERRED_CITY.get(d) == c) or p in MUNICIPALITIES else 1
    return (-depth, preferred, data_order(triple))


def resolve_mentions(options: Sequence[Sequence[Entry]]) -> tuple[str, str, str] | None:
    """Best consistent reading of a sequence of mentions (levels strictly increasing)."""
    found: dict[tuple[str, str, str], None] = {}
    for combo in itertools.product(*options):
        if any(a.level >= b.level for a, b in itertools.pairwise(combo)):
            continue
        merged = _merge(combo)
        if merged is not None:
            found[merged] = None
    if not found:
        return None
    return min(found, key=_rank)


def region_readings(province: str, city: str, district: str) -> list[tuple[str, str, str]] | None:
    """Every official (province, city, district) the parts may denote together, in data order;
    None when a non-empty part is not a known name at its level. ("", "", "") -> [("", "", "")].
    Municipalities repeat the province as city."""
    parts = [
        (P, (province or "").strip()),
        (C, (city or "").strip()),
        (D, (district or "").strip()),
    ]
    options: list[list[Entry]] = []
    for level, name in parts:
        if not name:
            continue
        entries = [e for e in lookup(name) if e.level == level]
        if not entries:
            return None
        options.append(entries)
    if not options:
        return [("", "", "")]
    found: dict[tuple[str, str, str], None] = {}
    for combo in itertools.product(*options):
        merged = _merge(combo)
        if merged is not None:
            p, c, d = merged
            found[(p, p if p in MUNICIPALITIES and not c else c, d)] = None
    return sorted(found, key=data_order)


def canonicalize_region(province: str, city: str, district: str) -> tuple[str, str, str] | None:
    """Official full names for a possibly short or partial triple, inferring omitted levels.

    None when the parts contradict each other, a non-empty part is not a known name at its
    level, or the reading is ambiguous (e.g. a bare "朝阳区"). ("", "", "") stays ("", "", "").
    Municipalities repeat the province as city: ("天津", "", "河西区") -> 天津市/天津市/河西区.
    """
    found = region_readings(province, city, district)
    return found[0] if found is not None and len(found) == 1 else None
