"""Arrow string columns: the representation every million-row step works in.

Columns travel as `large_string` arrays with nulls as "", so per-row Python work is limited to
what Arrow's kernels cannot do.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as _pc

pc: Any = _pc  # its kernels are generated at import time, invisible to the type checker

LARGE_STRING = pa.large_string()


def to_arrow(values: Any) -> pa.Array:
    """A large_string array with nulls as "" (pandas str columns convert without a copy)."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        arr = values
    elif isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype):
        arr = pa.array(values, from_pandas=True)
    else:
        arr = pa.array(np.asarray(values, dtype=object), type=LARGE_STRING, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return pc.fill_null(arr.cast(LARGE_STRING), "")


def strict_large(values: Any) -> pa.Array:
    """A large_string array of `values`; nulls are an error (JSON writers need every value)."""
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        values = pa.array(values, type=LARGE_STRING)
    arr = values
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(LARGE_STRING)
    if arr.null_count:
        raise ValueError("string column holds nulls; fill them before writing JSON")
    return arr


def scalar(text: str) -> pa.Scalar:
    return pa.scalar(text, type=LARGE_STRING)


def as_objects(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)


def as_mask(arr: Any) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


def dense_codes(arr: pa.Array) -> np.ndarray:
    """Dense integer codes of a string array (equal strings, equal codes)."""
    enc = pc.dictionary_encode(arr)
    return np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


_RE2_META = frozenset("\\.^$|?*+()[]{}")


def strip_pattern(arr: pa.Array, pattern: str) -> pa.Array:
    """Every match of the RE2 `pattern` removed (a plain literal, e.g. " ", by the literal
    kernel: the same result at a quarter of the regex's cost)."""
    if pattern and not _RE2_META.intersection(pattern):
        return pc.replace_substring(arr, pattern, "")
    return pc.replace_substring_regex(arr, pattern, "")


def is_str(s: Any) -> np.ndarray:
    """Per row: is the value a Python str (not null, not a number)?"""
    if isinstance(s.dtype, pd.StringDtype):
        return s.notna().to_numpy()
    return np.fromiter((isinstance(v, str) for v in s), dtype=bool, count=len(s))


def frame_sha256(df: pd.DataFrame, columns: list[str] | None = None) -> str:
    """Content hash of a frame's columns as strings (row order matters, index does not)."""
    cols = sorted(columns if columns is not None else [str(c) for c in df.columns])
    h = hashlib.sha256(json.dumps(cols).encode("utf-8"))
    for c in cols:
        s = df[c]
        arr = to_arrow(s if isinstance(s.dtype, pd.StringDtype) else s.astype(str))
        n = len(arr)
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
        data = arr.buffers()[2]
        h.update((offsets - offsets[0]).tobytes() if n else b"")
        if data is not None and n:
            h.update(memoryview(data)[int(offsets[0]) : int(offsets[-1])])
    return h.hexdigest()
