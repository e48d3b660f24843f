"""Offline rule teacher: the six fields from a text with the gazetteer and a few text rules.

No network, no model; deterministic. Region mentions are found leftmost-longest in the text and
resolved to one division by `regions.canonical`; phones, names and the street come from the cues
in `text_cues`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from distill_assets.core.regions.clues import postcode_spans
from distill_assets.core.regions.tables import GAZETTEER_VERSION, MUNICIPALITIES, P, name_index
from distill_assets.core.teacher.region_choice import choose_region, find_mentions
from distill_assets.core.teacher.text_cues import (
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
    looks_like_bare_name,
    looks_like_name,
)


class GazetteerTeacher:
    """A deterministic, offline teacher: labels with the gazetteer and a few text rules."""

    model_id: str = f"gazetteer/{GAZETTEER_VERSION}"

    def __init__(self) -> None:
        name_index()  # build once, up front, so the first label is not slow

    def label(self, text: str) -> dict[str, str]:
        return read_text(text)[0]

    def label_many(self, texts: Iterable[str]) -> list[dict[str, str]]:
        return [read_text(t)[0] for t in texts]

    def label_with_status(self, text: str) -> tuple[dict[str, str], str, str]:
        """(the six fields, status, detail): the status is "ok" or one of REVIEW_STATUSES
        (docs/CONVENTIONS.md), the detail says why (e.g. the candidates of an ambiguous name)."""
        return read_text(text)


_STREETLIKE = re.compile(
    r"\d+\s*(?:号|弄|栋|幢|楼|室|单元)|[\u4e00-\u9fff](?:路|街|大道|大街|巷|弄|胡同|小区|花园|广场|大厦|村|社区)"
    r"|[\u4e00-\u9fff]{2}\d+(?:-\d+){1,3}"  # an estate and building-unit-room: "书香苑5-6-2301"
)


class _Scan:
    """One text being read: which characters are taken (blocked) and where a field must end
    (stops), filled phase by phase: hard characters, label words, phone, name, region."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = n = len(text)
        self.blocked = [False] * n
        self.stops = [False] * (n + 1)  # positions where an address or a name must end
        for i in hard_positions(text):
            self.stops[i] = True
            self.blocked[i] = True
        self.status, self.detail = "ok", ""
        self.labels = find_labels(text)
        for sp in self.labels:
            self.block(sp.start, sp.end)
        for sp in self.labels:
            if sp.kind == "note":  # "备注：工作日送货" belongs to no field
                self.block(sp.start, self.run_to_stop(sp.end), stop_at_end=True)
        self.postcodes: list[str] = []
        for s, e, code in postcode_spans(text):
            self.block(s, e, stop_at_end=True)
            self.postcodes.append(code)

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
            ms = find_mentions(text, inside)
            ms = [m for m in ms if any(e.full for e in m[2]) or any(e.level == P for e in m[2])]
            if ms:
                k = ms[0][0]
        for tail in ("(收)", "（收）", "收", "哦", "呀", "啦"):
            if text[j:k].endswith(tail) and looks_like_any_name(text[j : k - len(tail)]):
                k -= len(tail)
                break
        self.block(j, k, stop_at_end=True)
        return text[j:k].strip()

    def take_region(self, phone: str) -> tuple[tuple[str, str, str], str, list[tuple[int, int]]]:
        """(province, city, district), the location after them and the address spans; sets
        `status`/`detail` (ok, ambiguous, conflict, no_region)."""
        choice = choose_region(self.text, self.blocked, phone, self.postcodes)
        if choice is None:
            self.status, self.detail = "no_region", "no division named in the text"
            span = self._address_without_region([])
            if span is None:
                return ("", "", ""), "", []
            return ("", "", ""), clean_loc(self.text[span[0] : span[1]]), [span]
        self.status, self.detail = choice.status, choice.detail
        province, city, district = choice.triple
        if province in MUNICIPALITIES and not city and choice.status == "ok":
            city = province
        spans = list(choice.spans)
        e = self.run_to_stop(choice.end)
        loc = clean_loc(self.text[choice.end : e])
        if not loc and (span := self._street_after(choice.end)):
            # "广东省,深圳市,福田区,福华三路100号": the street is the next segment.
            e, loc = span[1], clean_loc(self.text[span[0] : span[1]])
        # Only the names and the street: fields between scattered names stay free.
        spans.append((choice.end, e))
        if not loc:
            # Shop back-end blocks: the street is on a line of its own ("详细地址：人民路5号").
            span = self._address_without_region(spans, (province, city, district))
            if span is not None:
                spans.append(span)
                loc = clean_loc(self.text[span[0] : span[1]])
        return (province, city, district), loc, spans

    def _street_after(self, end: int) -> tuple[int, int] | None:
        """The segment right after the region's last name (past separators on the same line),
        when it reads like a street."""
        j = end
        while j < self.n and self.text[j] in WS + ",，;；|｜/-、":
            j += 1
        if j >= self.n or self.blocked[j]:
            return None
        e = j + 1
        while e < self.n and not self.stops[e]:
            e += 1
        return (j, e) if _STREETLIKE.search(self.text, j, e) else None

    def _skip_region_names(
        self, start: int, end: int, triple: tuple[str, str, str]
    ) -> tuple[int, int]:
        """ "详细地址：江苏省南京市鼓楼区中山路1号" restates the region: the street is the rest.
        Only names of the chosen division are skipped ("东方名城" is an estate, not 东方市)."""
        p, c, d = triple
        inside = [b or not (start <= i < end) for i, b in enumerate(self.blocked)]
        for s, e, entries in find_mentions(self.text, inside):
            if self.text[start:s].strip(WS + "-/") or not any(
                x.province == p and (x.level == P or x.city == c and x.district in ("", d))
                for x in entries
            ):
                break
            start = e
        return start, end

    def _address_without_region(
        self, used: list[tuple[int, int]], triple: tuple[str, str, str] = ("", "", "")
    ) -> tuple[int, int] | None:
        """The text after an address label that is more than the region's names, else the
        first free segment that reads like a street ("北京路88号"), outside the spans already
        `used`."""
        inside = [False] * (self.n + 1)
        for s, e in used:
            for i in range(s, e):
                inside[i] = True
        for lb in self.labels:
            if lb.kind == "addr" and not inside[lb.end]:
                s, e = self._skip_region_names(lb.end, self.run_to_stop(lb.end), triple)
                if clean_loc(self.text[s:e]):
                    return s, e
        i = 0
        while i < self.n:
            if self.blocked[i] or inside[i] or self.text[i] in WS:
                i += 1
                continue
            e = i
            while e < self.n and not self.stops[e] and not self.blocked[e] and not inside[e]:
                e += 1
            if _STREETLIKE.search(self.text, i, e):
                return i, e
            i = max(e, i + 1)
        return None


def read_text(text: str) -> tuple[dict[str, str], str, str]:
    """(the six FIELDS, status, detail) for one raw text (docs/CONVENTIONS.md: the label
    convention and the statuses)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    scan = _Scan(text)
    phone = scan.take_phone()
    name = scan.take_labelled_name()
    (province, city, district), loc, addr_spans = scan.take_region(phone)
    if not name:
        name, loc = _unlabelled_name(text, scan.blocked, addr_spans, loc, scan.labels)
    fields = {
        "province": province,
        "city": city,
        "district": district,
        "specific_location": loc,
        "name": name,
        "phone": phone,
    }
    return fields, scan.status, scan.detail


def label_text(text: str) -> dict[str, str]:
    """The six FIELDS for one raw text (status dropped: see `read_text`)."""
    return read_text(text)[0]


def _unlabelled_name(
    text: str,
    blocked: list[bool],
    addr_spans: list[tuple[int, int]],
    loc: str,
    labels: list[Span],
) -> tuple[str, str]:
    """Find a bare name outside the address; else split one off the end of the address."""
    n = len(text)
    free = list(blocked)
    for span in addr_spans:
        for i in range(*span):
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
    # Words apart by spaces, or by a dash between words ("春熙路88号-王源"; not "37-5-2219").
    parts = re.split(f"[{WS}]+|(?<=[^\\d{WS}])-(?=[^\\d{WS}])", loc)
    if len(parts) > 2 and parts[-1] == "收":  # "…607室 钟芳 收"
        loc, parts = loc[: loc.rfind("收")].rstrip(STRIP), parts[:-1]
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
    m = re.match(r"^(.*[号室楼座层栋户])的?([\u4e00-\u9fff]{2,4})$", loc) or re.match(
        r"^(.+)的([\u4e00-\u9fff·]{2,10})$", loc
    )  # "寄给人民路5号3-2-101的张三"
    if m and looks_like_name(m.group(2)):
        return m.group(2), m.group(1)
    return "", loc
