"""Decoding labels as JSON with transformers: token bytes, a brace tracker that stops a row once
its object closes, and an optional constraint that forces the six-key skeleton.

The constraint writes the same layout as training (`label_to_json`: `{"province": "…", …}` with
", " and ": " separators), so a constrained answer is byte for byte a trained answer. Grounded,
it also lets the copied fields (street, name, phone) hold only a span of the row's input text:
a small student that has never seen a name cannot then write one it remembers instead.
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from typing import Any

from distill_assets.core.common.normalize import phone_haystack
from distill_assets.core.common.schema import COPIED_FIELDS, FIELDS

# The schema vLLM's structured outputs enforce: exactly the six string fields.
LABEL_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {f: {"type": "string"} for f in FIELDS},
    "required": list(FIELDS),
    "additionalProperties": False,
}


def json_end(text: str) -> int | None:
    """Index just past the first complete top-level JSON object in `text` (braces outside
    strings balanced), or None while it is still open."""
    tracker = BraceTracker()
    for i, ch in enumerate(text):
        if tracker.feed(ch.encode("utf-8")):
            return i + 1
    return None


# ---------------------------------------------------------------- token bytes


def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2's reversible byte <-> printable-unicode map, used by byte-level BPE vocabularies.
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


def _added_ids(tokenizer: Any) -> set[int]:
    ids = set(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    ids |= set(getattr(tokenizer, "all_special_ids", []) or [])
    return ids


def token_bytes_table(tokenizer: Any) -> list[bytes]:
    """The bytes each token id stands for (b"" for added/special tokens).

    Byte-level BPE tokens are mapped back exactly; other vocabularies fall back to decoding
    each id alone (multi-byte characters split across tokens then read as U+FFFD, which is
    harmless for the ASCII structure tracked here).
    """
    n = len(tokenizer)
    added = _added_ids(tokenizer)
    pieces = tokenizer.convert_ids_to_tokens(list(range(n)))
    decoder = {c: b for b, c in _bytes_to_unicode().items()}
    table: list[bytes] = []
    byte_level = True
    for i, piece in enumerate(pieces):
        if i in added or piece is None:
            table.append(b"")
            continue
        try:
            table.append(bytes(decoder[c] for c in piece))
        except KeyError:
            byte_level = False
            break
    if byte_level:
        return table
    return [
        b"" if i in added else tokenizer.decode([i], skip_special_tokens=False).encode("utf-8")
        for i in range(n)
    ]


class BraceTracker:
    """Brace balance outside JSON strings; done once the first top-level object closes."""

    __slots__ = ("depth", "in_str", "esc", "started", "done")

    def __init__(self) -> None:
        self.depth = 0
        self.in_str = self.esc = self.started = self.done = False

    def feed(self, data: bytes) -> bool:
        for c in data:
            if self.done:
                break
            if self.in_str:
                if self.esc:
                    self.esc = False
                elif c == 0x5C:  # backslash
                    self.esc = True
                elif c == 0x22:
                    self.in_str = False
            elif c == 0x22:
                if self.started:
                    self.in_str = True
            elif c == 0x7B:
                self.depth += 1
                self.started = True
            elif c == 0x7D and self.started:
                self.depth -= 1
                if self.depth == 0:
                    self.done = True
        return self.done


def _stopping_classes() -> tuple[type, type]:
    from transformers import LogitsProcessor, StoppingCriteria

    return StoppingCriteria, LogitsProcessor


# ---------------------------------------------------------------- JSON skeleton constraint


class Skeleton:
    """Vocabulary tables for forcing `{"province": "…", …, "phone": "…"}` token by token.

    The output is a fixed sequence of literals (the keys and punctuation) with free string
    content between them; content tokens may not hold a quote, a backslash or a control byte,
    so every string stays well formed without escapes.
    """

    def __init__(self, tokenizer: Any, token_bytes: list[bytes], vocab_size: int) -> None:
        import torch

        keys = [json.dumps(f) for f in FIELDS]
        self.literals: list[bytes] = [("{" + keys[0] + ': "').encode()]
        self.literals += [(f'", {k}: "').encode() for k in keys[1:]]
        self.literals.append(b'"}')
        self.by_bytes: dict[bytes, int] = {}
        self.content_by_bytes: dict[bytes, int] = {}  # the first content token of each spelling
        content = torch.zeros(vocab_size, dtype=torch.bool)
        for i, b in enumerate(token_bytes):
            if not b:
                continue
            self.by_bytes.setdefault(b, i)
            if b'"' not in b and b"\\" not in b and min(b) >= 0x20:
                content[i] = True
                self.content_by_bytes.setdefault(b, i)
        self.content_mask = content
        self.max_len = max((len(b) for b in self.by_bytes), default=1)

    def prefix_ids(self, rest: bytes) -> list[int]:
        """Tokens whose bytes are a non-empty prefix of `rest`."""
        out = []
        for j in range(1, min(len(rest), self.max_len) + 1):
            i = self.by_bytes.get(rest[:j])
            if i is not None:
                out.append(i)
        if not out:
            raise ValueError(f"no token spells a prefix of {rest[:12]!r}: cannot constrain")
        return out

    @lru_cache(maxsize=4096)  # noqa: B019 - one skeleton per backend, lives as long as it
    def finish_cost(self, rest: bytes) -> int:
        """Steps to spell `rest` taking the longest matching token each time."""
        n = 0
        while rest:
            rest = rest[len(self.by_bytes_longest(rest)[1]) :]
            n += 1
        return n

    def by_bytes_longest(self, rest: bytes) -> tuple[int, bytes]:
        for j in range(min(len(rest), self.max_len), 0, -1):
            i = self.by_bytes.get(rest[:j])
            if i is not None:
                return i, rest[:j]
        raise ValueError(f"no token spells a prefix of {rest[:12]!r}: cannot constrain")

    def tail(self, k: int) -> bytes:
        """Literals k.. with empty contents: the shortest way to close from literal k."""
        return b"".join(self.literals[k:])

    def state(self, out: bytes) -> tuple[str, int, int]:
        """("literal", k, offset) | ("content", k, start of the content) | ("done", 0, 0) for
        generated bytes."""
        pos = 0
        for k, lit in enumerate(self.literals):
            rest = out[pos:]
            if len(rest) < len(lit):
                if not lit.startswith(rest):
                    raise AssertionError(f"constrained output left the skeleton: {out!r}")
                return "literal", k, len(rest)
            if not rest.startswith(lit):
                raise AssertionError(f"constrained output left the skeleton: {out!r}")
            pos += len(lit)
            if k == len(self.literals) - 1:
                return "done", 0, 0
            q = out.find(b'"', pos)
            if q < 0:
                return "content", k, pos
            pos = q
        raise AssertionError("unreachable")


def division_starts(text: str) -> set[int]:
    """Byte offsets in `text` where an official division name (大理市, 云南省) or a province's
    short name (云南, 新疆) starts."""
    from distill_assets.core.regions.tables import P, names_at

    offsets = _byte_offsets(text)
    return {
        offsets[i]
        for i in range(len(text))
        if any(
            ln >= 2 and any(e.full or e.level == P for e in entries)
            for ln, entries in names_at(text, i)
        )
    }


def _byte_offsets(text: str) -> list[int]:
    """The UTF-8 byte offset of each character of `text` (and of its end): grounding works on
    bytes, the gazetteer scans on characters."""
    offsets = [0]
    for ch in text:
        offsets.append(offsets[-1] + len(ch.encode("utf-8")))
    return offsets


def street_starts(text: str) -> set[int]:
    """Byte offsets in `text` where a street may start: the text's start, after a separator,
    or right after a division name (official or short) or a label word; never at an official
    division name or a label word. A street stops short of a name it would break into
    ("霍城县和平南路": not at 平) and is never the district ("…仁布县锦绣大街": not at 仁布县) or a
    label ("「门牌号」人民路…"). Every teacher label of the demo's data and the unseen_styles gold
    starts at one of these (tests/core/student/test_json_decoding.py)."""
    from distill_assets.core.regions.tables import names_at
    from distill_assets.core.teacher.text_cues import find_labels

    barred: set[int] = set()
    after = {0}
    for i in range(len(text)):
        for ln, entries in names_at(text, i):
            if any(e.full for e in entries):
                barred.add(i)
            after.add(i + ln)
        if i and unicodedata.category(text[i - 1])[0] not in "LN":  # after a space, "：", "，"
            after.add(i)
    for label in find_labels(text):
        barred.add(label.start)
        after.add(label.end)
    offsets = _byte_offsets(text)
    return {offsets[i] for i in after - barred if i < len(text)}


class Grounding:
    """Per row, what each copied field may hold: a span of the input text (the phone: of the text
    without its separators), as bytes. `allowed(k, content)` lists the tokens that extend the
    field's content and stay inside some span."""

    def __init__(self, skeleton: Skeleton, text: str) -> None:
        self.skeleton = skeleton
        plain = text.encode("utf-8")
        # Where a name may not start: at an official division name or a province's short name
        # ("苏州市…", "新疆…"): a person is never called after the region the text names.
        self.name_field = FIELDS.index("name")
        self.not_name_starts = division_starts(text)
        self.street_field = FIELDS.index("specific_location")
        self.street_starts = street_starts(text) or None  # None: no rule (nowhere to start)
        self.haystacks: dict[int, bytes] = {
            FIELDS.index(f): phone_haystack(text).encode("utf-8") if f == "phone" else plain
            for f in COPIED_FIELDS
        }
        self._steps: dict[tuple[int, int], list[tuple[int, int]]] = {}

    def copies(self, k: int) -> bool:
        return k in self.haystacks

    def _from(self, k: int, end: int) -> list[tuple[int, int]]:
        """(token, new end) for each content token spelling haystack[end:end+j]."""
        key = (k, end)
        if key not in self._steps:
            hay, sk = self.haystacks[k], self.skeleton
            out = []
            for j in range(1, min(len(hay) - end, sk.max_len) + 1):
                i = sk.content_by_bytes.get(hay[end : end + j])
                if i is not None:
                    out.append((i, end + j))
            self._steps[key] = out
        return self._steps[key]

    def _may_start(self, k: int, at: int) -> bool:
        if k == self.name_field:
            return at not in self.not_name_starts
        if k == self.street_field and self.street_starts is not None:
            return at in self.street_starts
        return True

    def allowed(self, k: int, content: bytes) -> list[int]:
        hay = self.haystacks[k]
        ends: list[int] = []
        if not content:  # a span starts on a character, not inside one's UTF-8 bytes
            ends = [i for i, c in enumerate(hay) if not 0x80 <= c <= 0xBF and self._may_start(k, i)]
        else:
            at = hay.find(content)
            while at >= 0:
                if self._may_start(k, at):
                    ends.append(at + len(content))
                at = hay.find(content, at + 1)
        return sorted({t for e in ends for t, _ in self._from(k, e)})

    @staticmethod
    def can_close(content: bytes) -> bool:
        """Whole characters only: UTF-8 is self-synchronising, so a span that decodes also
        starts and ends on character boundaries of the text."""
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True


def make_constraint(
    skeleton: Skeleton,
    token_bytes: list[bytes],
    prompt_width: int,
    max_new_tokens: int,
    stop_ids: list[int],
    groundings: list[Grounding] | None = None,
) -> Any:
    import torch

    _, base = _stopping_classes()

    class JsonSkeletonProcessor(base):  # type: ignore[misc, valid-type]
        def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
            gen = input_ids[:, prompt_width:]
            left = max_new_tokens - gen.shape[1]
            out = torch.full_like(scores, float("-inf"))
            stop_set = set(stop_ids)
            content = skeleton.content_mask[: scores.shape[1]].to(scores.device)
            for r in range(gen.shape[0]):
                ids = gen[r].tolist()
                if any(t in stop_set for t in ids):
                    out[r] = scores[r]  # finished: generate pads this row anyway
                    continue
                made = b"".join(token_bytes[t] for t in ids)
                kind, k, off = skeleton.state(made)
                if kind == "done":
                    out[r, stop_ids[0]] = 0.0
                    continue
                if kind == "literal":
                    rest = skeleton.literals[k][off:] + skeleton.tail(k + 1)
                    if left <= skeleton.finish_cost(rest):
                        out[r, skeleton.by_bytes_longest(rest)[0]] = 0.0
                        continue
                    allowed = skeleton.prefix_ids(skeleton.literals[k][off:])
                    out[r, allowed] = scores[r, allowed]
                    continue
                rest = skeleton.tail(k + 1)
                closers = skeleton.prefix_ids(skeleton.literals[k + 1])
                if left <= skeleton.finish_cost(rest):
                    out[r, skeleton.by_bytes_longest(rest)[0]] = 0.0
                    continue
                grounding = groundings[r] if groundings is not None else None
                if grounding is not None and grounding.copies(k):
                    spans = grounding.allowed(k, made[off:])
                    out[r, spans] = scores[r, spans]
                    if spans and not grounding.can_close(made[off:]):
                        continue  # inside a character: finish it first
                else:
                    out[r] = torch.where(content, scores[r], out[r])
                out[r, closers] = scores[r, closers]
            return out

    return JsonSkeletonProcessor()


def make_json_stop(token_bytes: list[bytes], prompt_width: int, batch: int) -> Any:
    import torch

    base, _ = _stopping_classes()

    class JsonObjectStop(base):  # type: ignore[misc, valid-type]
        """Per row: done once the first JSON object of the answer is closed."""

        def __init__(self) -> None:
            self.trackers = [BraceTracker() for _ in range(batch)]
            self.done_at: list[int | None] = [None] * batch
            self.seen = prompt_width

        def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> Any:
            cur = input_ids.shape[1]
            new = input_ids[:, self.seen : cur].tolist()
            for r, toks in enumerate(new):
                if self.done_at[r] is not None:
                    continue
                for j, t in enumerate(toks):
                    if self.trackers[r].feed(token_bytes[t]):
                        self.done_at[r] = self.seen - prompt_width + j + 1
                        break
            self.seen = cur
            flags = [d is not None for d in self.done_at]
            return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)

    return JsonObjectStop()
