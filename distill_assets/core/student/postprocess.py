"""Division canonicalisation after the student: its province/city/district to official names.

A small student copies streets, names and phones well but cannot know that 大理市 lies in
云南省 / 大理白族自治州, and sometimes writes a short name, a wrong level or a name in the
wrong slot. The gazetteer can: among the divisions that the student's own fields and the
official division names written in the input text may denote, the one that explains most of
the text's names, then most of the student's fields, wins; omitted levels are filled and names
made official. It never looks at a teacher's label or gold. Where nothing is consistent, or two
readings tie, the fields are left as the student wrote them.

The street is then kept apart from the other copied fields (`separate_street`): a small student
that reads "…迎宾路88号 王菲 18608981234" sometimes runs the street on over the name and phone
it also wrote. A field never holds another one, so the street is cut where the student's own
name or phone starts, with the label word before it ("收件人：").
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

from distill_assets.core.common.normalize import phone_haystack
from distill_assets.core.common.schema import REGION_FIELDS
from distill_assets.core.regions.canonical import region_readings
from distill_assets.core.regions.tables import (
    city_short_forms,
    district_short_forms,
    names_at,
    province_short_forms,
)
from distill_assets.core.teacher.text_cues import STRIP, find_labels

Triple = tuple[str, str, str]

# What happened to a prediction's divisions.
KEPT = "kept"  # already official and complete
CANONICAL = "canonical"  # filled / renamed, every field the student wrote agrees with the result
RELAXED = "relaxed"  # a field the student wrote contradicted the result and was replaced
UNRESOLVED = "unresolved"  # nothing consistent, or a tie: left as the student wrote it
STREET_CUT = "+street_cut"  # appended: the street was cut before the student's name or phone

_SHORT_FORMS = (province_short_forms, city_short_forms, district_short_forms)
_MAX_TEXT_NAMES = 6  # official names taken from one text (an address names at most three)


def text_division_names(text: str) -> list[tuple[int, str]]:
    """(level, name) of each official division name written in `text`, leftmost-longest."""
    found: list[tuple[int, str]] = []
    i = 0
    while i < len(text) and len(found) < _MAX_TEXT_NAMES:
        hit = 0
        for ln, entries in names_at(text, i):
            full = sorted({e.level for e in entries if e.full})
            if full:
                found += [(level, text[i : i + ln]) for level in full]
                hit = ln
                break
        i += hit or 1
    return found


def _names_of(triple: Triple, level: int) -> set[str]:
    name = triple[level]
    return {name, *_SHORT_FORMS[level](name)} if name else set()


def _readings(parts: Iterable[tuple[int, str]]) -> list[Triple]:
    """Every official division the (level, name) parts denote together ([] when none)."""
    slots = ["", "", ""]
    for level, name in parts:
        if slots[level] and slots[level] != name:
            return []
        slots[level] = name
    return region_readings(*slots) or []


def _candidates(given: list[str], text_names: list[tuple[int, str]]) -> set[Triple]:
    """Divisions the student's fields (at their own level, or any level when misplaced) and the
    text's official names may denote."""
    out: set[Triple] = set()
    student = [(lvl, v) for lvl, v in enumerate(given) if v]
    for size in range(len(student), 0, -1):
        for keep in itertools.combinations(student, size):
            out.update(_readings(keep))
    for value in {v for _, v in student}:
        for level in range(3):
            out.update(_readings([(level, value)]))
    for size in range(min(len(text_names), 3), 0, -1):
        for combo in itertools.combinations(text_names, size):
            out.update(_readings(combo))
            for lvl, v in student:  # the text's names together with one of the student's
                out.update(_readings([*combo, (lvl, v)]))
    out.discard(("", "", ""))
    return out


def _score(triple: Triple, given: list[str], text: str, text_names: list[tuple[int, str]]):
    text_full = sum(name == triple[level] for level, name in text_names)
    student = sum(bool(v) and any(v in _names_of(triple, lvl) for lvl in range(3)) for v in given)
    in_place = sum(bool(v) and v in _names_of(triple, lvl) for lvl, v in enumerate(given))
    text_short = sum(any(n in text for n in _names_of(triple, lvl)) for lvl in range(3))
    depth = sum(bool(x) for x in triple)
    return (text_full, student, in_place, text_short, depth)


def postprocess(fields: Mapping[str, str], text: str) -> tuple[dict[str, str], str]:
    """Everything done after the student: divisions made official, then the street kept apart
    from the name and phone. The status is the divisions' (kept, canonical, …), with
    STREET_CUT appended when the street was cut."""
    out, status = canonicalize_divisions(fields, text)
    out, cut = separate_street(out)
    return out, status + STREET_CUT if cut else status


def canonicalize_divisions(fields: Mapping[str, str], text: str) -> tuple[dict[str, str], str]:
    """(fields with official divisions, what happened: kept | canonical | relaxed | unresolved).

    Only the three division fields change; the text serves to choose between readings and to
    complete the levels it names.
    """
    out = {k: str(v) for k, v in fields.items()}
    given = [str(fields.get(f, "") or "").strip() for f in REGION_FIELDS]
    text_names = text_division_names(text)
    scored = sorted(
        ((_score(t, given, text, text_names), t) for t in _candidates(given, text_names)),
        reverse=True,
    )
    if not scored or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return out, UNRESOLVED
    (_, student_hits, in_place, *_), best = scored[0]
    out.update(zip(REGION_FIELDS, best, strict=True))
    if tuple(given) == best:
        return out, KEPT
    wrote = sum(bool(v) for v in given)
    return out, CANONICAL if student_hits == wrote and in_place == wrote else RELAXED


def _cut_at(loc: str, name: str, phone: str) -> int | None:
    """Where in `loc` the name or the phone (as digits; the text may space or dash them) first
    starts, past the street's first character; None when neither is in it."""
    cuts = []
    if len(name) >= 2 and name in loc[1:]:
        cuts.append(loc.index(name, 1))
    if len(phone) >= 5:
        for i in range(1, len(loc)):
            if loc[i] in "+(0123456789" and phone_haystack(loc[i:]).startswith(phone):
                cuts.append(i)
                break
    return min(cuts) if cuts else None


def separate_street(fields: Mapping[str, str]) -> tuple[dict[str, str], bool]:
    """(fields with the street cut before the name or phone the student also wrote, whether it
    was cut). Only `specific_location` changes; it is never cut to nothing."""
    out = {k: str(v) for k, v in fields.items()}
    loc = out.get("specific_location", "")
    cut = _cut_at(loc, out.get("name", "").strip(), out.get("phone", "").strip())
    if cut is None:
        return out, False
    head = loc[:cut].rstrip(STRIP)
    while (labels := find_labels(head)) and labels[-1].end == len(head) and labels[-1].start:
        head = head[: labels[-1].start].rstrip(STRIP)
    if not head or head == out.get("name", "").strip():  # no street was written at all
        return out, False
    out["specific_location"] = head
    return out, True
