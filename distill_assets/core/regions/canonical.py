"""Canonical division names: (province, city, district) as written -> official full names.

Used by every stage: the rule teacher resolves the mentions it finds, the dataset canonicalises
the teacher's answer, the student's output is canonicalised after generation.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from distill_assets.core.regions.tables import MUNICIPALITIES, C, D, Entry, P, data_order, lookup


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


def _refines(a: tuple[str, str, str], b: tuple[str, str, str]) -> bool:
    """True when `a` names everything `b` names and more (a deeper reading of the same place)."""
    return a != b and all(not y or x == y for x, y in zip(a, b, strict=True))


def mention_readings(options: Sequence[Sequence[Entry]]) -> list[tuple[str, str, str]]:
    """Every consistent reading of a sequence of mentions (levels strictly increasing), in
    data order; [] when the mentions contradict each other.

    Readings that use more official full names win over short forms; a reading that another
    one refines is dropped ("吉林" province vs 吉林市). More than one left means ambiguous: no
    preference table decides, the caller reports the candidates.
    """
    found: dict[tuple[str, str, str], int] = {}
    for combo in itertools.product(*options):
        if any(a.level >= b.level for a, b in itertools.pairwise(combo)):
            continue
        merged = _merge(combo)
        if merged is not None:
            n_full = sum(e.full for e in combo)
            found[merged] = max(found.get(merged, -1), n_full)
    if not found:
        return []
    top = max(found.values())
    best = [t for t, n in found.items() if n == top]
    kept = [t for t in best if not any(_refines(o, t) for o in best)]
    return sorted(kept, key=data_order)


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
