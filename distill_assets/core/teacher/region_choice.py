"""Which division a text names, or why it cannot be told: the rule teacher's region phase.

Region mentions are found leftmost-longest; adjacent mentions form a chain; the best-supported
part of a chain is read with `regions.canonical.mention_readings`. Every clue in the text then
narrows the readings (another division mention, a landline area code, a labelled postcode);
what is left decides the status: one reading is `ok`, several are `ambiguous` (candidates in
the detail), divisions that contradict each other are a `conflict`. Nothing is guessed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from distill_assets.core.regions.canonical import mention_readings
from distill_assets.core.regions.clues import area_code_cities, postcode_province
from distill_assets.core.regions.tables import (
    NON_MAINLAND,
    C,
    D,
    Entry,
    P,
    name_index,
    names_non_mainland,
)
from distill_assets.core.teacher.text_cues import (
    ADMIN_SUFFIX,
    PLACE_WORDS,
    STREET_AFTER,
    WS,
    is_cjk,
)

Mention = tuple[int, int, tuple[Entry, ...]]
Triple = tuple[str, str, str]


@dataclass
class RegionChoice:
    """The fields to write, the status ("ok", "ambiguous", "conflict") and why; `start`/`end`
    span the mentions of the address (the location starts at `end`)."""

    triple: Triple
    status: str
    detail: str
    start: int
    end: int
    spans: list[tuple[int, int]]


@functools.cache
def _mention_start() -> re.Pattern[str]:
    """The CJK characters a division name starts with: `find_mentions` jumps from one to the
    next in C instead of testing every character of the text."""
    _names, lengths = name_index()
    return re.compile("[" + re.escape("".join(sorted(ch for ch in lengths if is_cjk(ch)))) + "]")


def find_mentions(text: str, blocked: list[bool]) -> list[Mention]:
    """Leftmost-longest region mentions outside blocked spans."""
    names, lengths = name_index()
    start_re = _mention_start()
    out: list[Mention] = []
    i, n = 0, len(text)
    free_to = -1  # a name must end before the next blocked char, the first one past i
    while i < n:
        found = start_re.search(text, i)
        if found is None:
            break
        i = found.start()
        if blocked[i]:
            i += 1
            continue
        ch = text[i]
        if free_to < i:
            try:
                free_to = blocked.index(True, i)
            except ValueError:
                free_to = n
        hit = None
        for ln in lengths[ch]:
            j = i + ln
            if j > n or j > free_to:
                continue
            key = text[i:j]
            entries = names.get(key)
            if entries is None:
                continue
            if (
                not any(e.full for e in entries)
                and not (key.endswith(ADMIN_SUFFIX) and len(key) >= 3)  # 红旗路 is no 红旗区
                and (text.startswith(PLACE_WORDS, j) or STREET_AFTER.match(text, j))
            ):
                continue
            if key.endswith("市") and j - i >= 3:
                # "济南市中区" is 济南 + 市中区: the city's 市 opens one of its own districts.
                for ln2 in lengths.get("市", ()):
                    if j - 1 + ln2 <= n and not any(blocked[j - 1 : j - 1 + ln2]):
                        inner = names.get(text[j - 1 : j - 1 + ln2], ())
                        if any(
                            e.level == D and e.full and any(e.city == c.city for c in entries)
                            for e in inner
                        ):
                            j -= 1
                            entries = names.get(text[i:j], entries)
                            break
            hit = (i, j, entries)
            break
        if hit is None:
            i += 1
            continue
        out.append(hit)
        i = hit[1]
    return out


def _runs(text: str, mentions: list[Mention]) -> list[list[Mention]]:
    """Mentions separated only by spaces, '-' or '/' form one run ("广西 南宁 青秀区")."""
    runs: list[list[Mention]] = []
    for m in mentions:
        if runs:
            gap = text[runs[-1][-1][1] : m[0]]
            if len(gap) <= 3 and all(ch in WS + "-/" for ch in gap):
                runs[-1].append(m)
                continue
        runs.append([m])
    return runs


def _by_level(ms: list[Mention]) -> list[Mention]:
    return sorted(ms, key=lambda m: (min(e.level for e in m[2]), m[0]))


@dataclass(frozen=True)
class _Reads:
    """The readings of one chain of mentions, with and without Taiwan, Hong Kong and Macau."""

    every: tuple[Triple, ...]
    mainland: tuple[Triple, ...]
    names_outside: bool  # a mention is one of their provinces or cities


@functools.lru_cache(maxsize=1 << 16)
def _mention_readings(options: tuple[tuple[Entry, ...], ...]) -> _Reads:
    """`mention_readings`, once per distinct chain of mentions: the same few thousand division
    names recur across a batch, and the product over their readings is the costly part."""
    every = tuple(mention_readings(options))
    return _Reads(
        every,
        tuple(r for r in every if r[0] not in NON_MAINLAND),
        any(e.level in (P, C) and e.province in NON_MAINLAND for o in options for e in o),
    )


def _readings(sub: list[Mention], text_names_outside: bool) -> tuple[Triple, ...]:
    """Readings of `sub`; Taiwan, Hong Kong and Macau only when the text names them."""
    found = _mention_readings(tuple(m[2] for m in sub))
    return found.every if text_names_outside or found.names_outside else found.mainland


def _is_strong(m: Mention) -> bool:
    """An official full name or a province: not a word that only looks like a region."""
    return any(e.full or e.level == P for e in m[2])


def _is_full(m: Mention) -> bool:
    return any(e.full for e in m[2])


@functools.lru_cache(maxsize=1 << 16)
def _depth(readings: tuple[Triple, ...]) -> int:
    return max(sum(1 for x in r if x) for r in readings)


Key = tuple[int, int, int, int, int]


def _key(n: int, n_strong: int, n_full: int, readings: tuple[Triple, ...], start: int) -> Key:
    """More mentions, then provinces and full names, then depth ("香港九龙" is Hong Kong,
    not the county 九龙县 of Sichuan)."""
    return (n, n_strong, n_full, _depth(readings), -start)


@dataclass
class _Sub:
    sub: list[Mention]
    readings: tuple[Triple, ...]
    conflict: list[Mention]  # the strong mentions of the run, when they contradict each other
    key: Key

    @classmethod
    def of(cls, sub: list[Mention], readings: tuple[Triple, ...], conflict: list[Mention]) -> _Sub:
        n_strong = sum(_is_strong(m) for m in sub)
        n_full = sum(_is_full(m) for m in sub)
        return cls(sub, readings, conflict, _key(len(sub), n_strong, n_full, readings, sub[0][0]))


def _best_of_run(run: list[Mention], outside: bool) -> _Sub | None:
    strong = [_is_strong(m) for m in run]
    full = [_is_full(m) for m in run]
    strong_ms = [m for m, s in zip(run, strong, strict=True) if s]
    conflict = (
        strong_ms if len(strong_ms) >= 2 and not _readings(_by_level(strong_ms), outside) else []
    )
    # Any contiguous part of a run may be the address ("宏伟 北京市平谷区": a name first).
    best: _Sub | None = None
    for a in range(len(run)):
        for b in range(len(run), a, -1):
            readings = _readings(run[a:b], outside)
            if readings:
                key = _key(b - a, sum(strong[a:b]), sum(full[a:b]), readings, run[a][0])
                if best is None or key > best.key:
                    best = _Sub(run[a:b], readings, conflict, key)
                break
    return best


def _merge_lines(best: _Sub, others: list[_Sub], outside: bool) -> _Sub:
    """Divisions split over lines ("所在地区：辽宁省 大连市" / "详细地址：中山区…") read together;
    only a line with an official full name joins (a name such as 马龙 is a district too)."""
    for other in others:
        if not any(_is_full(m) for m in other.sub):
            continue
        merged = _by_level(best.sub + other.sub)
        readings = _readings(merged, outside)
        if readings and (
            _depth(readings) > _depth(best.readings) or len(readings) < len(best.readings)
        ):
            best = _Sub.of(merged, readings, best.conflict or other.conflict)
    return best


def _narrow(readings: Sequence[Triple], keep) -> Sequence[Triple]:  # noqa: ANN001 - a predicate
    narrowed = [r for r in readings if keep(r)]
    return narrowed or readings


def _apply_clues(
    text: str, best: _Sub, mentions: list[Mention], phone: str, postcodes: list[str]
) -> Sequence[Triple]:
    """Narrow the readings with every other clue; a clue that would leave none is ignored."""
    readings = best.readings
    used = {m[0] for m in best.sub}
    others = [m for m in mentions if m[0] not in used and _is_strong(m)]
    provinces = {e.province for m in others for e in m[2] if e.level == P}
    cities = {e.city for m in others for e in m[2] if e.level == C}
    if provinces or cities:
        readings = _narrow(readings, lambda r: r[0] in provinces or r[1] in cities)
    area = area_code_cities(phone)
    if area:
        readings = _narrow(readings, lambda r: r[1] in area)
    for code in postcodes:
        province = postcode_province(code)
        if province:
            readings = _narrow(readings, lambda r, p=province: r[0] == p)
    return readings


def _contradicting(
    best: _Sub, mentions: list[Mention], readings: Sequence[Triple]
) -> list[Mention]:
    """The address and a province or city named elsewhere in the text that no reading of the
    address fits ("上海市黄浦区… 北京市东城区…": two places, so no answer is safe)."""
    used = {m[0] for m in best.sub}
    for m in mentions:
        if m[0] in used or not any(e.level in (P, C) and (e.full or e.level == P) for e in m[2]):
            continue
        if all(_level_in(m, r) < 0 for r in readings):
            return [best.sub[0], m]
    return []


def _level_in(m: Mention, reading: Triple) -> int:
    """The level a mention has in a reading ("海南" is the province in 海南省/东方市)."""
    p, c, d = reading
    fits = [
        e.level for e in m[2] if e.province == p and e.city in ("", c) and e.district in ("", d)
    ]
    return max(fits, default=-1)


def _fmt(readings: Sequence[Triple]) -> str:
    return "; ".join("/".join(x for x in r if x) for r in readings)


def choose_region(
    text: str, blocked: list[bool], phone: str = "", postcodes: list[str] | None = None
) -> RegionChoice | None:
    """The division of the address in `text`, or None when the text names no division."""
    mentions = find_mentions(text, blocked)
    outside = names_non_mainland(text)
    subs = [s for run in _runs(text, mentions) if (s := _best_of_run(run, outside)) is not None]
    if not subs:
        return None
    first = max(subs, key=lambda s: s.key)
    best = _merge_lines(first, [s for s in subs if s is not first], outside)
    readings = _apply_clues(text, best, mentions, phone, postcodes or [])
    last = max(best.sub, key=lambda m: (_level_in(m, readings[0]), m[0]))
    spans = [(m[0], m[1]) for m in best.sub]
    start = min(s for s, _ in spans)
    conflict = best.conflict or _contradicting(best, mentions, readings)
    if conflict:
        names = " vs ".join(text[m[0] : m[1]] for m in conflict)
        return RegionChoice(("", "", ""), "conflict", f"conflict: {names}", start, last[1], spans)
    if len(readings) > 1:
        p, c, d = (
            col[0] if all(x == col[0] for x in col) else "" for col in zip(*readings, strict=True)
        )
        detail = f"ambiguous {text[last[0] : last[1]]}: candidates {_fmt(readings)}"
        return RegionChoice((p, c, d), "ambiguous", detail, start, last[1], spans)
    return RegionChoice(readings[0], "ok", "", start, last[1], spans)
