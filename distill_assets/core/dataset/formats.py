"""Training record formats: Alpaca and chat messages (what ms-swift and LLaMA-Factory read)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

import numpy as np
import pyarrow as pa

from distill_assets.core.common.artifacts import atomic_writer
from distill_assets.core.common.columns import LARGE_STRING, pc, scalar, strict_large
from distill_assets.core.common.prompts import student_prompt
from distill_assets.core.common.schema import FIELDS, label_to_json


def to_alpaca(text: str, label: Mapping[str, str], system: str | None = None) -> dict[str, str]:
    """One Alpaca record; the student prompt is both the instruction and the system prompt."""
    prompt = student_prompt() if system is None else system
    return {
        "instruction": prompt,
        "input": text,
        "output": label_to_json(dict(label)),
        "system": prompt,
    }


def to_messages(
    text: str, label: Mapping[str, str], system: str | None = None
) -> dict[str, list[dict[str, str]]]:
    """One chat record: system (student prompt), user (the text), assistant (the label JSON)."""
    return {
        "messages": [
            {"role": "system", "content": student_prompt() if system is None else system},
            {"role": "user", "content": text},
            {"role": "assistant", "content": label_to_json(dict(label))},
        ]
    }


_q: Callable[[str], str] = encode_basestring  # a JSON string literal, as json.dumps writes it


# ---------------------------------------------------------------------------------------------
# vectorised (pyarrow) builders: the same bytes as the functions above, for million-row sets

_CONTROL = r"[\x00-\x1f]"
_TO_ESCAPE = r'[\x00-\x1f"\\]'  # what a JSON string literal escapes (non-ASCII kept)


def _escaped(values: Any) -> tuple[pa.Array, bool]:
    """(each string's JSON literal without its quotes, whether any row changed): one scan of
    the column finds the rows to escape; the common column with none is returned as it is."""
    arr = strict_large(values)
    if not pc.any(pc.match_substring_regex(arr, _TO_ESCAPE)).as_py():
        return arr, False
    escaped = arr
    # each replace is a full pass: skip it when no row holds the character
    if pc.any(pc.match_substring(arr, "\\")).as_py():
        escaped = pc.replace_substring(escaped, "\\", "\\\\")
    if pc.any(pc.match_substring(arr, '"')).as_py():
        escaped = pc.replace_substring(escaped, '"', '\\"')
    control = pc.match_substring_regex(arr, _CONTROL)  # rare: escaped in Python
    if pc.any(control).as_py():
        idx = pa.array(np.flatnonzero(control.to_numpy(zero_copy_only=False)))
        fixed = [_q(v)[1:-1] for v in arr.take(idx).to_pylist()]
        escaped = pc.replace_with_mask(escaped, control, pa.array(fixed, type=LARGE_STRING))
    return escaped, True


def json_quote_array(values: Any) -> pa.Array:
    """Each string as a JSON string literal, exactly as `json.dumps(s, ensure_ascii=False)`."""
    return pc.binary_join_element_wise(scalar('"'), _escaped(values)[0], scalar('"'), scalar(""))


def _join(*parts: Any) -> pa.Array:
    items = [scalar(p) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*items, scalar(""))


def label_json_array(columns: Mapping[str, Any]) -> pa.Array:
    """`label_to_json` for whole columns (one per field), as a string array."""
    parts: list[Any] = []
    for i, f in enumerate(FIELDS):
        parts += [("{" if i == 0 else ", ") + _q(f) + ": ", json_quote_array(columns[f])]
    return _join(*parts, "}")


def quoted_label_json_array(columns: Mapping[str, Any]) -> pa.Array:
    """`json_quote_array(label_json_array(columns))` in one join: escaping is per character,
    so the literal of the label JSON is the escaped constant parts around each field escaped
    twice (a field with nothing to escape, the usual case, is used as it is)."""
    parts: list[Any] = []
    for i, f in enumerate(FIELDS):
        once, changed = _escaped(columns[f])
        twice = _escaped(once)[0] if changed else once
        parts += [_q(("{" if i == 0 else ", ") + _q(f) + ': "')[1:-1], twice, '\\"']
    return _join('"', *parts, '}"')


def alpaca_array(
    texts: Any, outputs: Any, *, quoted: bool = False, system: str | None = None
) -> pa.Array:
    """JSON lines (with "\\n") of `to_alpaca` records; `outputs` are label JSON strings.

    quoted=True: both are already `json_quote_array` literals (quote once, take per split).
    """
    p = _q(student_prompt() if system is None else system)
    qt, qo = (texts, outputs) if quoted else (json_quote_array(texts), json_quote_array(outputs))
    return _join(
        '{"instruction": ' + p + ', "input": ', qt, ', "output": ', qo, ', "system": ' + p + "}\n"
    )


def messages_array(
    texts: Any, outputs: Any, *, quoted: bool = False, system: str | None = None
) -> pa.Array:
    """JSON lines (with "\\n") of `to_messages` records (see `alpaca_array` for `quoted`)."""
    qt, qo = (texts, outputs) if quoted else (json_quote_array(texts), json_quote_array(outputs))
    return _join(
        '{"messages": [{"role": "system", "content": '
        + _q(student_prompt() if system is None else system)
        + "}, "
        '{"role": "user", "content": ',
        qt,
        '}, {"role": "assistant", "content": ',
        qo,
        "}]}\n",
    )


def array_bytes(arr: pa.Array) -> memoryview:
    """The concatenated UTF-8 bytes of a large_string array, without copying."""
    arr = strict_large(arr)
    n = len(arr)
    data = arr.buffers()[2]
    if not n or data is None:
        return memoryview(b"")
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)  # type: ignore[arg-type]
    return memoryview(data)[int(offsets[arr.offset]) : int(offsets[arr.offset + n])]


def write_string_array(path: str | os.PathLike[str], lines: pa.Array | Iterable[pa.Array]) -> int:
    """Write the concatenated strings of `lines` (one array, or chunks built lazily so that
    only one is in memory) atomically, straight from Arrow's buffers; returns the count."""
    chunks: Iterable[pa.Array] = [lines] if isinstance(lines, pa.Array) else lines
    n = 0
    with atomic_writer(path) as fh:
        for chunk in chunks:
            arr = strict_large(chunk)
            fh.write(array_bytes(arr))
            n += len(arr)
    return n
