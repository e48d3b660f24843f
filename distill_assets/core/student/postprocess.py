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
name (unless it is a piece of the street's own word) or phone starts, with the label word
before it ("收件人："), or where a labelled postcode or a label word of the text starts in
it. A street the student wrote one slot early, in the district (`street_from_district`), is
moved back first.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from distill_assets.core.common.normalize import normalize_phone, phone_haystack
from distill_assets.core.common.schema import REGION_FIELDS
from distill_assets.core.regions.canonical import region_readings
from distill_assets.core.regions.clues import area_code_cities, postcode_province, postcode_spans
from distill_assets.core.regions.tables import (
    NON_MAINLAND,
    city_short_forms,
    district_short_forms,
    lookup,
    names_at,
    names_non_mainland,
    province_short_forms,
)
from distill_assets.core.teacher.text_cues import (
    RECEIVED_TAILS,
    STRIP,
    WS,
    Span,
    clean_chunk,
    clean_loc,
    find_labels,
    find_phones,
    hard_positions,
    is_cjk,
    looks_like_any_name,
    looks_like_name,
    strip_filler_head,
)

Triple = tuple[str, str, str]

# What happened to a prediction's divisions.
KEPT = "kept"  # already official and complete
CANONICAL = "canonical"  # filled / renamed, every field the student wrote agrees with the result
RELAXED = "relaxed"  # a field the student wrote contradicted the result and was replaced
UNRESOLVED = "unresolved"  # nothing consistent, or a tie: left as the student wrote it
STREET_CUT = "+street_cut"  # appended: the street was cut before the student's name or phone
STREET_WORDS = "+street_words"  # appended: the street made whole words of its segment (below)
NAME_FROM_TEXT = "+name_from_text"  # appended: a name-like word of the text replaced a non-name
STREET_FROM_DISTRICT = "+street_from_district"  # appended: the district slot held the street

_SHORT_FORMS = (province_short_forms, city_short_forms, district_short_forms)
_MAX_TEXT_NAMES = 6  # official names taken from one text (an address names at most three)


def text_division_names(text: str) -> list[tuple[int, str]]:
    """(level, name) of each official division name written in `text`, leftmost-longest over
    every division name, short ones too: "河南信阳新县" is 信阳 + 新县, not …阳新县."""
    found: list[tuple[int, str]] = []
    i = 0
    while i < len(text) and len(found) < _MAX_TEXT_NAMES:
        ln, entries = next(iter(names_at(text, i)), (0, ()))
        full = sorted({e.level for e in entries if e.full})
        found += [(level, text[i : i + ln]) for level in full]
        i += ln or 1
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


def _score(
    triple: Triple, given: list[str], text: str, text_names: list[tuple[int, str]], clues: _Clues
):
    text_full = sum(name == triple[level] for level, name in text_names)
    clue = (triple[1] in clues.cities) + (triple[0] in clues.provinces)
    student = sum(bool(v) and any(v in _names_of(triple, lvl) for lvl in range(3)) for v in given)
    in_place = sum(bool(v) and v in _names_of(triple, lvl) for lvl, v in enumerate(given))
    text_short = sum(any(n in text for n in _names_of(triple, lvl)) for lvl in range(3))
    depth = sum(bool(x) for x in triple)
    return (text_full, clue, student, in_place, text_short, depth)


@dataclass(frozen=True)
class _Clues:
    """What else in the text tells the division (as the rule teacher reads it): the city of
    the phone's landline area code, the province of a labelled postcode. They choose between
    divisions of one name ("鼓楼区… 025-…" is Nanjing's), after the official names written."""

    cities: frozenset[str]
    provinces: frozenset[str]


def _clues(text: str, phone: str) -> _Clues:
    provinces = {postcode_province(code) for _s, _e, code in postcode_spans(text)}
    return _Clues(area_code_cities(normalize_phone(phone)), frozenset(provinces - {""}))


def postprocess(fields: Mapping[str, str], text: str) -> tuple[dict[str, str], str]:
    """Everything done after the student: divisions made official, then the street kept apart
    from the name and phone. The status is the divisions' (kept, canonical, …), with
    STREET_CUT, STREET_WORDS and NAME_FROM_TEXT appended for what the street and name mends
    did."""
    out, status = canonicalize_divisions(fields, text)
    out, moved = street_from_district(out, fields, text)
    out, cut = separate_street(out, text)
    out, mended = mend_street_and_name(out, text)
    tags = (STREET_FROM_DISTRICT if moved else "") + (STREET_CUT if cut else "")
    return out, status + tags + "".join(mended)


def canonicalize_divisions(fields: Mapping[str, str], text: str) -> tuple[dict[str, str], str]:
    """(fields with official divisions, what happened: kept | canonical | relaxed | unresolved).

    Only the three division fields change; the text serves to choose between readings and to
    complete the levels it names.
    """
    out = {k: str(v) for k, v in fields.items()}
    given = [str(fields.get(f, "") or "").strip() for f in REGION_FIELDS]
    text_names = text_division_names(text)
    candidates = _candidates(given, text_names)
    if not names_non_mainland(text):  # as the teacher: Taiwan's 中山区 only when it says 台湾
        candidates = {t for t in candidates if t[0] not in NON_MAINLAND} or candidates
    clues = _clues(text, str(fields.get("phone", "") or ""))
    scored = sorted(
        ((_score(t, given, text, text_names, clues), t) for t in candidates), reverse=True
    )
    if not scored or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return out, UNRESOLVED
    (_, _, student_hits, in_place, *_), best = scored[0]
    out.update(zip(REGION_FIELDS, best, strict=True))
    if tuple(given) == best:
        return out, KEPT
    wrote = sum(bool(v) for v in given)
    return out, CANONICAL if student_hits == wrote and in_place == wrote else RELAXED


def street_from_district(
    fields: Mapping[str, str], raw: Mapping[str, str], text: str
) -> tuple[dict[str, str], bool]:
    """(fields with the street taken from the student's district slot, whether it was).

    A student shifted by one slot writes "宣慰大道10号 玉香 138…" as the district and the name
    and phone as the street. The raw district is the street when it is no division, carries a
    number, is a span of the text, and the student's street starts inside or after it; a street
    that overlaps it joins it."""
    out = {k: str(v) for k, v in fields.items()}
    d = str(raw.get("district", "") or "").strip()
    loc = out.get("specific_location", "").strip()
    i = text.find(d) if d and any(c.isdigit() for c in d) and not lookup(d) else -1
    j = text.find(loc) if loc else -1
    if i < 0 or (loc and j < i):
        return out, False
    end = max(i + len(d), j + len(loc)) if 0 <= j <= i + len(d) else i + len(d)
    out["specific_location"] = text[i:end]
    return out, True


def _cut_at(loc: str, name: str, phone: str, more: Iterable[int] = ()) -> int | None:
    """Where in `loc` the name or the phone (as digits; the text may space or dash them) first
    starts, past the street's first character, or the first of `more`; None when none is in
    it."""
    cuts = [i for i in more if i > 0]
    if len(name) >= 2 and name in loc[1:]:
        cuts.append(loc.index(name, 1))
    if len(phone) >= 5:
        for i in range(1, len(loc)):
            if loc[i] in "+(0123456789" and phone_haystack(loc[i:]).startswith(phone):
                cuts.append(i)
                break
    return min(cuts) if cuts else None


def _piece_of_a_word(name: str, loc: str, text: str) -> bool:
    """The student's "name" is no name that could end the street: it holds a digit ("镇1号"),
    or the text does not write it as a name and in the street it runs on into a word ("旗大"
    of 红旗大道; "…25号段丽娟 138…" and "段丽娟收" are names)."""
    if any(c.isdigit() for c in name):
        return True
    if _written_as_name(name, text, {lb.end for lb in find_labels(text)}):
        return False
    at = loc.find(name, 1)
    after = loc[at + len(name) :] if at > 0 else ""
    return bool(after) and is_cjk(after[0]) and not after.startswith(RECEIVED_TAILS)


def separate_street(
    fields: Mapping[str, str], text: str | None = None
) -> tuple[dict[str, str], bool]:
    """(fields with the street cut before the name or phone the student also wrote, whether it
    was cut). Given the text, a name that is a piece of the street's own word cuts nothing
    (`_piece_of_a_word`: "旗大" of 红旗大道), and a labelled postcode or a label word that
    starts a word of the street cuts it too. Only `specific_location` changes; it is never cut
    to nothing."""
    out = {k: str(v) for k, v in fields.items()}
    loc, name = out.get("specific_location", ""), out.get("name", "").strip()
    more: list[int] = []
    if text is not None:
        if name and _piece_of_a_word(name, loc, text):
            name = ""
        more = [a for a, _b, _code in postcode_spans(loc)]
        more += [lb.start for lb in find_labels(loc) if lb.start and loc[lb.start - 1] in WS]
    cut = _cut_at(loc, name, out.get("phone", "").strip(), more)
    if cut is None:
        return out, False
    head = loc[:cut].rstrip(STRIP)
    while (labels := find_labels(head)) and labels[-1].end == len(head) and labels[-1].start:
        head = head[: labels[-1].start].rstrip(STRIP)
    if not head or head == out.get("name", "").strip():  # no street was written at all
        return out, False
    out["specific_location"] = head
    return out, True


# ------------------------------------------------------------------ street and name words


def _segment_end(text: str, start: int, labels: list[Span]) -> int:
    """Where the address segment from `start` ends: a hard separator (",", "|", a newline), a
    label word or a phone number; spaces do not end it ("人民路5号 厦门大学 张三 138…")."""
    ends = [i for i in hard_positions(text) if i >= start][:1]
    ends += [lb.start for lb in labels if lb.start >= start][:1]
    ends += [s for s, _e, _d in find_phones(text) if s >= start][:1]
    ends += [s for s, _e, _code in postcode_spans(text) if s >= start][:1]
    return min(ends, default=len(text))


def _words(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each space-separated word of text[start:end]."""
    return [(start + m.start(), start + m.end()) for m in re.finditer(f"[^{WS}]+", text[start:end])]


def _written_as_name(name: str, text: str, label_ends: set[int]) -> bool:
    """`name` looks like a person's name and the text writes it as a word of its own: not a
    piece of a longer word ("藏日" of 西藏日喀则市); a label word, a filler such as 找 or a 收
    may touch it ("收件人孙丽", "找周杰", "次仁收")."""
    if not looks_like_any_name(name):
        return False
    for m in re.finditer(re.escape(name), text):
        a, b = m.start(), m.end()
        while a and text[a - 1].isalpha():
            a -= 1
        while b < len(text) and text[b].isalpha():
            b += 1
        head_ok = (
            a == m.start()
            or m.start() in label_ends
            or text[m.start() - 1] == "的"  # "…3011室的覃渌杰"
            or clean_chunk(text[a : m.end()]) == name
        )
        if head_ok and (b == m.end() or clean_chunk(text[m.start() : b]) == name):
            return True
    return False


def _text_name(text: str, street: tuple[int, int] | None, label_ends: set[int]) -> str:
    """The first piece of the text between separators (outside the street) that, less a
    leading label word, is written as a name."""
    cuts = sorted(
        {-1, len(text), *hard_positions(text), *(i for i, c in enumerate(text) if c in WS)}
    )
    for a, b in itertools.pairwise(cuts):
        a += 1
        if a >= b or (street is not None and a < street[1] and street[0] < b):
            continue
        piece = text[a:b]
        labels = find_labels(piece)
        if labels and labels[0].start == 0:
            piece = piece[labels[0].end :]
        cand = clean_chunk(piece)
        if cand and _written_as_name(cand, text, label_ends):
            return cand
    return ""


def mend_street_and_name(fields: Mapping[str, str], text: str) -> tuple[dict[str, str], list[str]]:
    """(fields with the street made whole words of its segment, what changed: STREET_WORDS,
    NAME_FROM_TEXT).

    A small student reading "…新华路324号 宗镶花园 30号楼503 独孤建 138…" stops the street at
    a space and takes the estate for the name, or runs the street on over the name and then
    writes a piece of the text as one ("苏区"). The street is the segment's words up to a
    hard separator, label or phone, less a last word that is a name; that word becomes the name
    when the student's name is not one the text writes as a name, else the first such word of
    the text does. A street not copied from the text, and an empty name, are left as they are."""
    out = {k: str(v) for k, v in fields.items()}
    loc, name = out.get("specific_location", "").strip(), out.get("name", "").strip()
    mended: list[str] = []
    at = text.find(loc) if loc else -1
    labels = find_labels(text)
    label_ends = {lb.end for lb in labels}
    # "找周杰": a filler word before a surname is no part of the name ("交离班" may be one)
    bare = strip_filler_head(name)
    if (
        bare != name
        and looks_like_name(bare)
        and not looks_like_name(name)
        and _written_as_name(bare, text, label_ends)
    ):
        out["name"], name = bare, bare
        mended.append(NAME_FROM_TEXT)
    # An empty name is the student's answer ("no name"), not a slip to mend.
    name_ok = not name or _written_as_name(name, text, label_ends)
    street: tuple[int, int] | None = None
    last = ""
    end = at + len(loc)
    seg_end = _segment_end(text, end, labels) if at >= 0 else end
    # Only whole words are added: a street that stops inside a word ("…3114的林英功") stays.
    # (`loc` is stripped, so its first word starts at `at`.)
    if at >= 0 and (end == len(text) or text[end] in WS or seg_end == end):
        words = _words(text, at, max(seg_end, end))
        own = sum(w0 < end for w0, _ in words)
        # A division name after the street is no part of it ("…28楼 沈阳": a line of its own).
        words = next(
            (words[:k] for k in range(own, len(words)) if lookup(text[slice(*words[k])])), words
        )
        tail = words[-1:] if len(words) > 2 and text[slice(*words[-1])] in RECEIVED_TAILS else []
        named = words[: len(words) - len(tail)]
        last = clean_chunk(text[slice(*named[-1])])
        if len(named) > 1 and looks_like_any_name(last) and (not name_ok or last == name):
            words = named[:-1]  # "…812室 尹建怡 收": the name, and its 收, are no street
        else:
            last = ""
        street = (at, words[-1][1])
        new_loc = clean_loc(text[at : words[-1][1]])
        if new_loc and new_loc != loc:
            out["specific_location"] = new_loc
            mended.append(STREET_WORDS)
    if not name_ok:
        found = last if last and last != name else _text_name(text, street, label_ends)
        if found and found != name:
            out["name"] = found
            mended.append(NAME_FROM_TEXT)
    return out, mended
