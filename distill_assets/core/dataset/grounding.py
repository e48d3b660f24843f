"""Row rules of the dataset over Arrow columns: labels normalised, divisions made official once
per distinct triple, required fields present and every copied field found in the text. Each
rule writes its drop reason into `reason` (the first rule a row fails wins; dataset/clean.py)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from distill_assets.core.common.columns import (
    LARGE_STRING,
    as_mask,
    as_objects,
    is_str,
    pc,
    strip_pattern,
)
from distill_assets.core.common.compare import normalize_field
from distill_assets.core.common.normalize import PHONE_SEPARATORS
from distill_assets.core.common.schema import FIELDS, REGION_FIELDS

Canonicalizer = Callable[[str, str, str], "tuple[str, str, str] | None"]


def default_canonicalizer() -> tuple[Canonicalizer, str]:
    from distill_assets.core.regions.canonical import canonicalize_region
    from distill_assets.core.regions.tables import GAZETTEER_VERSION

    return canonicalize_region, GAZETTEER_VERSION


def normalise_labels(df: pd.DataFrame, reason: np.ndarray) -> dict[str, pa.Array]:
    """Schema check (six strings) and normalisation; invalid rows get "" in every field."""
    valid = np.ones(len(df), dtype=bool)
    for f in FIELDS:
        valid &= is_str(df[f])
    reason[(reason == "") & ~valid] = "invalid_schema"
    cols = {
        f: df[f] if valid.all() else np.where(valid, df[f].to_numpy(dtype=object), "")
        for f in FIELDS
    }
    return normalise_fields(cols)


def normalise_fields(cols: dict[str, Any]) -> dict[str, pa.Array]:
    """normalize_field over each column, two columns at a time: Arrow's kernels release the
    GIL, so the second core works too."""
    with ThreadPoolExecutor(2) as pool:
        done = {f: pool.submit(normalize_field, f, col) for f, col in cols.items()}
        return {f: fut.result() for f, fut in done.items()}


def canonical_regions(
    cols: dict[str, pa.Array], reason: np.ndarray, canonicalize: Canonicalizer
) -> None:
    """Replace province/city/district by official names, once per distinct triple."""
    live = np.flatnonzero(reason == "")
    if not len(live):
        return
    sel = pa.array(live)
    triple = pc.binary_join_element_wise(
        *(cols[f].take(sel) for f in REGION_FIELDS), pa.scalar("\x1f", type=LARGE_STRING)
    )
    enc = pc.dictionary_encode(triple)
    codes = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    results: list[tuple[str, str, str] | None] = []
    for key in enc.dictionary.to_pylist():
        p, c, d = key.split("\x1f")
        got = ("", "", "") if not (p or c or d) else canonicalize(p, c, d)
        results.append(None if got is None else (str(got[0]), str(got[1]), str(got[2])))
    bad = np.array([r is None for r in results], dtype=bool)
    reason[live[bad[codes]]] = "region_inconsistent"
    row_codes = pa.array(codes)
    for j, f in enumerate(REGION_FIELDS):
        table = pa.array([r[j] if r is not None else "" for r in results], type=LARGE_STRING)
        mask = np.zeros(len(reason), dtype=bool)
        mask[live] = True
        cols[f] = pc.replace_with_mask(cols[f], pa.array(mask), table.take(row_codes))


def ground(
    text: pa.Array,
    text_nospace: pa.Array,
    cols: dict[str, pa.Array],
    reason: np.ndarray,
    required_fields: tuple[str, ...] | list[str],
) -> None:
    """Required fields non-empty; phone, name and location found in the text."""
    empty = np.zeros(len(reason), dtype=bool)
    for f in required_fields:
        empty |= as_mask(pc.equal(cols[f], ""))
    reason[(reason == "") & empty] = "empty_required_field"
    idx = np.flatnonzero(reason == "")
    if not len(idx):
        return
    sel = pa.array(idx)
    # Rows whose field is empty need no test; the others are tested with `in` over object
    # arrays (map: no Python frame per row), each text converted once.
    tns = as_objects(text_nospace.take(sel))
    fields = (
        ("phone_not_in_text", cols["phone"], None),
        ("name_not_in_text", strip_pattern(cols["name"].take(sel), " "), tns),
        ("location_not_in_text", strip_pattern(cols["specific_location"].take(sel), " "), tns),
    )
    live = np.ones(len(idx), dtype=bool)  # not yet dropped by an earlier field's test
    for why, needle, haystack in fields:
        if haystack is None:  # the phone, against the text without its separators
            needle = needle.take(sel)
            haystack = as_objects(strip_pattern(text.take(sel), PHONE_SEPARATORS))
        check = np.flatnonzero(live & ~as_mask(pc.equal(needle, "")))
        if not len(check):
            continue
        found = map(operator.contains, haystack[check], as_objects(needle.take(pa.array(check))))
        missing = check[~np.fromiter(found, dtype=bool, count=len(check))]
        reason[idx[missing]] = why
        live[missing] = False
