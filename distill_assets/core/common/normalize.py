"""Input normalisation: the one place that says what "the same text" and "a phone" mean.

The teacher's answers, the training dataset, evaluation, `distill predict` and a served model
all go through these functions, scalar or column-wise; tests hold the two equal.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

import numpy as np
import pyarrow as pa

from distill_assets.core.common.columns import LARGE_STRING, as_mask, pc, to_arrow

_SPACES = "\u3000\u00a0\u202f\u205f\u0085\u001c\u001d\u001e\u001f" + "".join(
    chr(c) for c in range(0x2000, 0x200B)
)
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
_TRANSLATE = str.maketrans(
    {
        **{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)},  # full-width ASCII
        **dict.fromkeys(_SPACES, " "),
        **dict.fromkeys(_ZERO_WIDTH, None),
    }
)
WS_CLASS = r"[\t\n\x0b\x0c\r ]+"  # the same meaning in Python re and RE2
_WS = re.compile(WS_CLASS)
_NON_DIGIT = r"[^0-9]+"
# What may stand between a phone's digits in a text ("+86 138-1234 5678", "(0871)…"): a phone
# label is "found in the text" once these are taken out of the text (dataset grounding, and the
# student's grounded decoding).
PHONE_SEPARATORS = r"[\t\n\x0b\x0c\r \-+().]+"
_PHONE_SEPARATORS_RE = re.compile(PHONE_SEPARATORS)
# Between two numbers in one phone field ("138… / 139…", "138…或139…"): the label keeps the first.
_PHONE_LIST_SEP = r"[,，/;；、|]|\s{2,}|或"
# A country code written as such: "+86", "(+86)", "(86)" (full-width forms are folded first).
_PHONE_CC = r"^\s*(?:\+\s*86|\(\+?86\))"
_PHONE_LIST_SEP_RE = re.compile(_PHONE_LIST_SEP)
_PHONE_CC_RE = re.compile(_PHONE_CC)


def normalize_text(s: str) -> str:
    """Full-width ASCII -> half-width, odd spaces -> " ", zero-width chars dropped, NFC,
    whitespace collapsed and stripped.

    Not full NFKC: that also rewrites circled digits, superscripts, ligatures and the like,
    which can change what an address says; the full-width block is the safe subset.
    """
    return _WS.sub(" ", unicodedata.normalize("NFC", s.translate(_TRANSLATE))).strip(" ")


def phone_haystack(text: str) -> str:
    """`text` without the characters that may separate a phone's digits."""
    return _PHONE_SEPARATORS_RE.sub("", text)


def _first_number(s: str) -> str:
    parts = [p for p in _PHONE_LIST_SEP_RE.split(s) if re.search(r"\d", p)]
    return parts[0] if parts else ""


def _drop_country_code(digits: str, had_cc: bool) -> str:
    if had_cc and digits.startswith("86"):
        return digits[2:]
    if digits.startswith("0086") and len(digits) >= 13:
        return digits[4:]
    if digits.startswith("86") and len(digits) == 13:
        return digits[2:]
    return digits


def normalize_phone(s: str) -> str:
    """Digits only, the first number where a field lists several, the +86/0086 code dropped.

    "+86 232-0475-3945" -> "23204753945"; "(+86)138…" and "8613800138000" -> "13800138000";
    "0871-65123456" -> "087165123456"; "138… / 139…" -> the first; "无" -> "".
    """
    if s and s.isascii() and s.isdigit():  # the common case, which every step below leaves as is
        return _drop_country_code(s, False)
    part = normalize_text(_first_number((s or "").translate(_TRANSLATE)))
    return _drop_country_code(re.sub(_NON_DIGIT, "", part), bool(_PHONE_CC_RE.match(part)))


# ---------------------------------------------------------------------------- columns


def _ranges_re2(cps: list[int]) -> str:
    parts: list[str] = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\x{{{cps[i]:X}}}" if i == j else f"\\x{{{cps[i]:X}}}-\\x{{{cps[j]:X}}}")
        i = j + 1
    return "[" + "".join(parts) + "]"


@functools.cache
def _slow_path_re2() -> str:
    """Chars on which Arrow's NFKC differs from `normalize_text`: rows holding one take the
    Python path. Everything else (full-width ASCII, odd spaces) NFKC maps just as we do."""
    ours = set(range(0xFF01, 0xFF5F)) | {ord(c) for c in _SPACES}
    slow = [ord(c) for c in (*_ZERO_WIDTH, "\u0085", "\u001c", "\u001d", "\u001e", "\u001f")]
    for cp in range(0x30000):  # no compatibility mappings above plane 2
        if cp in ours or 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if unicodedata.normalize("NFKC", ch) != unicodedata.normalize("NFC", ch):
            slow.append(cp)
    return _ranges_re2(sorted(set(slow)))


def _one_char_each(cps: np.ndarray) -> pa.Array:
    """A string array holding each code point as a one-char string, built from its buffers."""
    data = cps.astype("<u4").tobytes().decode("utf-32-le").encode("utf-8")
    sizes = 1 + (cps >= 0x80) + (cps >= 0x800) + (cps >= 0x10000)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return pa.LargeStringArray.from_buffers(len(cps), pa.py_buffer(offsets), pa.py_buffer(data))


@functools.cache
def _odd_chars_re2() -> str:
    """Chars that NFKC may change in a string, plus the `_slow_path_re2` ones: a row holding
    none of them is NFKC already (no decomposition, no combining class, never the second half
    of a composition, no Hangul), so only rows holding one pay for the NFKC pass. Chars this
    Python does not know are odd too: Arrow's Unicode may be newer."""
    odd = {ord(c) for c in (*_ZERO_WIDTH, "\u0085", "\u001c", "\u001d", "\u001e", "\u001f")}
    odd |= {*range(0x1100, 0x1200), *range(0xA960, 0xA980), *range(0xAC00, 0xD800)}  # Hangul
    cps = np.arange(0x110000)
    cps = cps[(cps < 0xD800) | (cps > 0xDFFF)]
    chars = _one_char_each(cps)
    odd.update(cps[as_mask(pc.not_equal(pc.utf8_normalize(chars, form="NFKC"), chars))].tolist())
    for cp in cps[cps < 0x30000].tolist():  # this Python's data: nothing odd above plane 2
        ch = chr(cp)
        dec = unicodedata.decomposition(ch)
        if dec or unicodedata.combining(ch) or unicodedata.category(ch) == "Cn":
            odd.add(cp)
        if dec and not dec.startswith("<"):  # canonical: its later parts compose
            odd.update(int(h, 16) for h in dec.split()[1:])
    return _ranges_re2(sorted(odd))


def _python_where(arr: pa.Array, pattern: str, fast: pa.Array, fn: Any) -> pa.Array:
    """`fast` with the rows of `arr` that match `pattern` replaced by fn(value)."""
    slow = pc.match_substring_regex(arr, pattern)
    if not pc.any(slow).as_py():
        return fast
    idx = pa.array(np.flatnonzero(as_mask(slow)))
    fixed = [fn(t) for t in arr.take(idx).to_pylist()]
    return pc.replace_with_mask(fast, slow, pa.array(fixed, type=LARGE_STRING))


def normalize_array(values: Any) -> pa.Array:
    """`normalize_text` over a column, vectorised: Arrow NFKC except on rows where it would
    differ from `normalize_text` (those few go through Python)."""
    arr = to_arrow(values)
    if len(arr) > 4000:
        # few distinct values (regions, gold regions): normalise the dictionary only
        sample = arr.take(pa.array(np.linspace(0, len(arr) - 1, 2000, dtype=np.int64)))
        if pc.count_distinct(sample).as_py() < 500:
            enc = pc.dictionary_encode(arr)
            return _normalize(enc.dictionary).take(enc.indices)
    return _normalize(arr)


def _normalize(arr: pa.Array) -> pa.Array:
    """Arrow NFKC (Python on the `_slow_path_re2` rows), whitespace collapsed, trimmed; each
    pass over the rows that need it only (most rows are plain CJK text with single spaces)."""
    fast = _only_where(arr, _odd_chars_re2(), _nfkc)
    fast = _only_where(
        fast, _WS_TO_COLLAPSE, lambda a: pc.replace_substring_regex(a, WS_CLASS, " ")
    )
    return pc.utf8_trim(fast, characters=" ")


_WS_TO_COLLAPSE = r"[\t\n\x0b\x0c\r]|  "  # rows WS_CLASS -> " " changes


def _nfkc(arr: pa.Array) -> pa.Array:
    return _python_where(arr, _slow_path_re2(), pc.utf8_normalize(arr, form="NFKC"), normalize_text)


def _only_where(arr: pa.Array, pattern: str, fn: Any) -> pa.Array:
    """`arr` with fn applied to the rows that match the RE2 `pattern` (fn leaves the others as
    they are)."""
    hit = pc.match_substring_regex(arr, pattern)
    if not pc.any(hit).as_py():
        return arr
    if pc.all(hit).as_py():
        return fn(arr)
    return pc.replace_with_mask(arr, hit, fn(arr.filter(hit)))


@functools.cache
def _phone_list_re2() -> str:
    """Raw values that may list several numbers (over-inclusive: those take the Python path)."""
    space_like = [c for c in range(0x3001) if re.match(r"\s", chr(c))]  # none above U+3000
    space_like += [ord(c) for c in (*_SPACES, *_ZERO_WIDTH)]
    return (
        r"[,/;|\x{3001}\x{FF0C}\x{FF0F}\x{FF1B}\x{FF5C}]|"
        + _ranges_re2(sorted(set(space_like)))
        + r"{2,}|\x{6216}"  # 或
    )


def normalize_phone_array(values: Any) -> pa.Array:
    """`normalize_phone` over a column (fields that may list several numbers go through
    Python)."""
    raw = to_arrow(values)
    text = normalize_array(raw)
    had_cc = pc.match_substring_regex(text, _PHONE_CC)
    arr = pc.replace_substring_regex(text, _NON_DIGIT, "")
    n = pc.utf8_length(arr)
    starts86 = pc.starts_with(arr, "86")
    out = pc.if_else(
        pc.and_(had_cc, starts86),
        pc.utf8_slice_codeunits(arr, 2),
        pc.if_else(
            pc.and_(pc.starts_with(arr, "0086"), pc.greater_equal(n, 13)),
            pc.utf8_slice_codeunits(arr, 4),
            pc.if_else(pc.and_(starts86, pc.equal(n, 13)), pc.utf8_slice_codeunits(arr, 2), arr),
        ),
    )
    return _python_where(raw, _phone_list_re2(), out, normalize_phone)
