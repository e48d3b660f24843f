"""Division canonicalisation after the student: its province/city/district to official names.

A small student copies streets, names and phones well but cannot know that 大理市 lies in
云南省 / 大理白族自治州, and sometimes writes a short name or a wrong level. The gazetteer can:
from the student's own three fields (and, to choose between readings, the division names
written in the input text) it fills the omitted levels and corrects the names. It never looks at
a teacher's label or gold. Fields it cannot settle are left as the student wrote them.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from distill_assets.core.common.schema import REGION_FIELDS
from distill_assets.core.regions.canonical import region_readings
from distill_assets.core.regions.tables import (
    city_short_forms,
    district_short_forms,
    province_short_forms,
)

Triple = tuple[str, str, str]

# What happened to a prediction's divisions.
KEPT = "kept"  # already official and complete
CANONICAL = "canonical"  # filled / renamed from the student's own fields
RELAXED = "relaxed"  # one or two of the student's fields contradicted the rest and were replaced
UNRESOLVED = "unresolved"  # nothing consistent: left as the student wrote it


def _mentioned(triple: Triple, text: str) -> int:
    """How many levels of `triple` the text names (full or short form)."""
    p, c, d = triple
    hits = 0
    for name, shorts in (
        (p, province_short_forms),
        (c, city_short_forms),
        (d, district_short_forms),
    ):
        if name and (name in text or any(s in text for s in shorts(name))):
            hits += 1
    return hits


def _choose(readings: list[Triple], text: str) -> Triple | None:
    """The one reading, or the one the text supports best; None when the text cannot choose."""
    if len(readings) == 1:
        return readings[0]
    scored = sorted(((_mentioned(r, text), r) for r in readings), reverse=True)
    if scored and scored[0][0] > 0 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
        return scored[0][1]
    return None


def canonicalize_divisions(fields: Mapping[str, str], text: str) -> tuple[dict[str, str], str]:
    """(fields with official divisions, what happened: kept | canonical | relaxed | unresolved).

    The largest subset of the student's non-empty division fields that names one division
    (directly, or with the text's help to choose) wins; the other fields are replaced by it.
    """
    out = {k: str(v) for k, v in fields.items()}
    given = [str(fields.get(f, "") or "").strip() for f in REGION_FIELDS]
    present = [i for i, v in enumerate(given) if v]
    for size in range(len(present), 0, -1):
        for keep in itertools.combinations(present, size):
            parts = [given[i] if i in keep else "" for i in range(3)]
            readings = region_readings(*parts)
            chosen = _choose(readings, text) if readings else None
            if chosen is None:
                continue
            status = KEPT if tuple(given) == chosen else CANONICAL
            if size < len(present):
                status = RELAXED
            out.update(zip(REGION_FIELDS, chosen, strict=True))
            return out, status
    return out, UNRESOLVED
