"""Offline rule teacher: the six fields from a text with the gazetteer and a few text rules.

No network, no model; deterministic. Region mentions are found leftmost-longest in the text and
resolved to one division by `regions.canonical`; phones, names and the street come from the cues
in `text_cues`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from distill_assets.core.regions.canonical import resolve_mentions
from distill_assets.core.regions.tables import (
    GAZETTEER_VERSION,
    MUNICIPALITIES,
    D,
    Entry,
    P,
    name_index,
)
from distill_assets.core.teacher.text_cues import (
    ADMIN_SUFFIX,
    PLACE_WORDS,
    STREET_AFTER,
    STRIP,
    WS,
    Span,
    clean_chunk,
    clean_loc,
    find_labels,
    find_phones,
    is_cjk,
    is_hard,
    looks_like_bare_name,
    looks_like_name,
)


def _mentions(text: str, blocked: list[bool]) -> list[tuple[int, int, tuple[Entry, ...]]]:
    """Leftmost-longest region mentions outside blocked spans."""
    names, lengths = name_index()
    out: list[tuple[int, int, tuple[Entry, ...]]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if blocked[i] or not is_cjk(ch) or ch not in lengths:
            i += 1
            continue
        hit = None
        for ln in lengths[ch]:
            j = i + ln
            if j > n or any(blocked[i:j]):
                continue
            key = text[i:j]
            entries = names.get(key)
            if entries is None:
                continue
            if (
                not any(e.full for e in entries)
                and not key.endswith(ADMIN_SUFFIX)
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


def _chains(
    text: str, mentions: list[tuple[int, int, tuple[Entry, ...]]]
) -> list[tuple[int, int, list[tuple[int, int, tuple[Entry, ...]]]]]:
    runs: list[list[tuple[int, int, tuple[Entry, ...]]]] = []
    for m in mentions:
        if runs:
            prev = runs[-1][-1]
            gap = text[prev[1] : m[0]]
            if len(gap) <= 3 and all(ch in WS + "-/" for ch in gap):
                runs[-1].append(m)
                continue
        runs.append([m])
    return [(r[0][0], r[-1][1], r) for r in runs]


def _best_region(text: str, mentions: list[tuple[int, int, tuple[Entry, ...]]]):
    """(province, city, district, start, end) of the best-supported region chain, or None."""
    best = None
    best_key = None
    for _s, _e, run in _chains(text, mentions):
        # Any contiguous part of a run may be the address ("宏伟 北京市平谷区": a name first).
        for a in range(len(run)):
            for b in range(len(run), a, -1):
                sub = run[a:b]
                triple = resolve_mentions([m[2] for m in sub])
                if triple is None:
                    continue
                n_full = sum(any(e.full for e in m[2]) for m in sub)
                depth = sum(1 for x in triple if x)
                key = (b - a, n_full, depth, -sub[0][0])
                if best_key is None or key > best_key:
                    best_key = key
                    best = (*triple, sub[0][0], sub[-1][1])
                break
    return best


class GazetteerTeacher:
    """A deterministic, offline teacher: labels with the gazetteer and a few text rules."""

    model_id: str = f"gazetteer/{GAZETTEER_VERSION}"

    def __init__(self) -> None:
        name_index()  # build once, up front, so the first label is not slow

    def label(self, text: str) -> dict[str, str]:
        return label_text(text)

    def label_many(self, texts: Iterable[str]) -> list[dict[str, str]]:
        return [label_text(t) for t in texts]

    def label_with_status(self, text: str) -> tuple[dict[str, str], str, str]:
        """(the six fields, status, detail): the status is "ok" or one of REVIEW_STATUSES
        (docs/CONVENTIONS.md), the detail says why (e.g. the candidates of an ambiguous name)."""
        return label_text(text), "ok", ""


class _Scan:
    """One text being read: which characters are taken (blocked) and where a field must end
    (stops), filled phase by phase: hard characters, label words, phone, name, region."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = n = len(text)
        self.blocked = [False] * n
        self.stops = [False] * (n + 1)  # positions where an address or a name must end
        for i, ch in enumerate(text):
            if is_hard(ch):
                self.stops[i] = True
                self.blocked[i] = True
        self.labels = find_labels(text)
        for sp in self.labels:
            self.block(sp.start, sp.end)

    def block(self, start: int, end: int, stop_at_end: bool = False) -> None:
        for i in range(start, end):
            self.blocked[i] = True
        self.stops[start] = True
        if stop_at_end:
            self.stops[end] = True

    def run_to_stop(self, start: int) -> int:
        e = start
        while e < self.n and not self.stops[e]:
            e += 1
        return e

    def take_phone(self) -> str:
        """The phone right after a phone label, else the first plausible run of digits."""
        text, phones = self.text, find_phones(self.text)
        phone = ""
        for s, _e, digits in phones:
            if any(
                lb.kind == "phone" and 0 <= s - lb.end <= 2 and not text[lb.end : s].strip(STRIP)
                for lb in self.labels
            ):
                phone = digits
                break
        else:
            if phones:
                phone = next((p for p in phones if len(p[2]) == 11), phones[0])[2]
        for s, e, _d in phones:
            self.block(s, e)
        return phone

    def _labelled_name_span(self) -> tuple[int, int] | None:
        """A run of CJK/'·' right after a name label (or an English name run)."""
        text, n = self.text, self.n
        for lb in self.labels:
            if lb.kind != "name":
                continue
            j = lb.end
            while j < n and text[j] in WS:
                j += 1
            k = j
            while k < n and not self.blocked[k] and (is_cjk(text[k]) or text[k] in "·•"):
                k += 1
            if k == j:
                m = re.match(r"[A-Za-z][A-Za-z .'\-]{0,40}[A-Za-z]", text[j:])
                if m and not self.blocked[j]:
                    k = j + m.end()
            if k > j:
                return j, k
        return None

    def take_labelled_name(self) -> str:
        span = self._labelled_name_span()
        if span is None:
            return ""
        text, (j, k) = self.text, span
        if k - j > 4 and "·" not in text[j:k]:
            # "收件人段丽娟云南省…": the name ends where a region name starts.
            inside = [b or not (j + 2 <= i < k) for i, b in enumerate(self.blocked)]
            ms = _mentions(text, inside)
            ms = [m for m in ms if any(e.full for e in m[2]) or any(e.level == P for e in m[2])]
            if ms:
                k = ms[0][0]
        for tail in ("(收)", "（收）", "收"):
            if text[j:k].endswith(tail) and looks_like_name(text[j : k - len(tail)]):
                k -= len(tail)
                break
        self.block(j, k, stop_at_end=True)
        return text[j:k].strip()

    def take_region(self) -> tuple[tuple[str, str, str], str, tuple[int, int] | None]:
        """(province, city, district), the location after them, and the address span."""
        region = _best_region(self.text, _mentions(self.text, self.blocked))
        if region is not None:
            province, city, district, r_start, r_end = region
            if province in MUNICIPALITIES and not city:
                city = province
            e = self.run_to_stop(r_end)
            return (province, city, district), clean_loc(self.text[r_end:e]), (r_start, e)
        # No region name at all: the address is what follows an address label.
        for lb in self.labels:
            if lb.kind == "addr":
                e = self.run_to_stop(lb.end)
                return ("", "", ""), clean_loc(self.text[lb.end : e]), (lb.start, e)
        return ("", "", ""), "", None


def label_text(text: str) -> dict[str, str]:
    """The six FIELDS for one raw text (docs/CONVENTIONS.md: the label convention)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    scan = _Scan(text)
    phone = scan.take_phone()
    name = scan.take_labelled_name()
    (province, city, district), loc, addr_span = scan.take_region()
    if not name:
        name, loc = _unlabelled_name(text, scan.blocked, addr_span, loc, scan.labels)
    return {
        "province": province,
        "city": city,
        "district": district,
        "specific_location": loc,
        "name": name,
        "phone": phone,
    }


def _unlabelled_name(
    text: str,
    blocked: list[bool],
    addr_span: tuple[int, int] | None,
    loc: str,
    labels: list[Span],
) -> tuple[str, str]:
    """Find a bare name outside the address; else split one off the end of the address."""
    n = len(text)
    free = list(blocked)
    if addr_span is not None:
        for i in range(*addr_span):
            free[i] = True
    chunks: list[str] = []
    cur: list[str] = []
    for i in range(n):
        if free[i] or text[i] in WS:
            if cur:
                chunks.append("".join(cur))
                cur = []
        else:
            cur.append(text[i])
    if cur:
        chunks.append("".join(cur))
    cleaned = [clean_chunk(raw) for raw in chunks]
    parts = re.split(f"[{WS}]+", loc)
    tail = clean_chunk(parts[-1]) if len(parts) > 1 else ""
    cut = loc[: loc.rfind(parts[-1])].rstrip(STRIP) if tail else loc
    # Surname-led names first; then any bare word (泽仁卓玛, 其其格 have no Han surname).
    for looks in (looks_like_name, looks_like_bare_name):
        for c in cleaned:
            if looks(c):
                return c, loc
        # "人民路25号 段丽娟": a name at the end of the address segment.
        if tail and looks(tail):
            return tail, cut
    m = re.match(r"^(.*[号室楼座层栋户])([\u4e00-\u9fff]{2,4})$", loc)
    if m and looks_like_name(m.group(2)):
        return m.group(2), m.group(1)
    return "", loc
