"""Leakage-free train/val/test split: near-duplicates (same text without spaces, or the same
name+phone) form one group, and whole groups go to one split in the order of a salted hash.

Once drawn, a split depends on content only: the same rows with the same salt give the same
split on any machine.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
from pandas.core.util.hashing import hash_array

from distill_assets.core.common.columns import (
    LARGE_STRING,
    as_mask,
    as_objects,
    dense_codes,
    pc,
    strip_pattern,
    to_arrow,
)
from distill_assets.core.common.log import Logger
from distill_assets.core.common.normalize import normalize_array

SPLITS: tuple[str, ...] = ("train", "val", "test")
# The order a pinned group takes when its rows had several splits: test first, never train.
SPLIT_ORDER: tuple[str, ...] = ("test", "val", "train")


class LeakError(ValueError):
    """A key (text, name+phone) found in two splits."""


def _person_key(name: pa.Array, phone: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """name+phone, valid where a phone is known (a bare common name links strangers)."""
    key = pc.binary_join_element_wise(name, phone, pa.scalar("\x1f", type=LARGE_STRING))
    return key, ~as_mask(pc.equal(phone, ""))


def _components(key_codes: list[np.ndarray]) -> np.ndarray:
    """Connected components of rows linked by any shared key (min-label propagation)."""
    n = len(key_codes[0]) if key_codes else 0
    label = np.arange(n)
    while True:
        prev = label
        for codes in key_codes:
            m = codes >= 0
            if not m.any():
                continue
            mins = np.full(int(codes.max()) + 1, n, dtype=np.int64)
            np.minimum.at(mins, codes[m], label[m])
            label = label.copy()
            label[m] = np.minimum(label[m], mins[codes[m]])
        label = label[label]  # pointer jumping: labels are row indices of the same component
        if np.array_equal(label, prev):
            return label


def _row_hashes(key_text: pa.Array, salt: str) -> np.ndarray:
    """A salted 64-bit SipHash of each key (pandas' hash_array: stable across runs)."""
    hash_key = hashlib.sha256(salt.encode("utf-8")).hexdigest()[:16]
    return hash_array(as_objects(key_text), hash_key=hash_key, categorize=False)


def pin_codes(key_text: pa.Array, previous: pa.Table | None) -> np.ndarray | None:
    """Per row, the split its key (text without spaces) had in an earlier dataset, as an index
    into SPLIT_ORDER (test 0, val 1, train 2), or -1. A key found in several earlier splits takes
    the first of that order: a row once in test never moves to train.

    `previous` has columns `key` and `split` (earlier_splits in dataset/cumulative.py).
    """
    if previous is None or not len(previous) or not len(key_text):
        return None
    split_at = pc.index_in(to_arrow(previous.column("split")), pa.array(list(SPLIT_ORDER)))
    if split_at.null_count:
        raise ValueError(f"earlier split column holds values other than {SPLIT_ORDER}")
    code = np.asarray(split_at.to_numpy(), dtype=np.int64)
    keys = to_arrow(previous.column("key"))
    dictionary = pc.unique(keys)
    best = np.full(len(dictionary), len(SPLIT_ORDER), dtype=np.int64)
    np.minimum.at(best, np.asarray(pc.index_in(keys, dictionary).to_numpy()), code)
    at = pc.index_in(key_text, dictionary)
    found = np.asarray(pc.is_valid(at).to_numpy(zero_copy_only=False), dtype=bool)
    out = np.full(len(key_text), -1, dtype=np.int64)
    out[found] = best[np.asarray(pc.drop_null(at).to_numpy())]
    return out


def assign_splits(
    key_text: pa.Array,
    name: pa.Array,
    phone: pa.Array,
    *,
    test_size: int,
    max_test_fraction: float,
    val_fraction: float,
    salt: str,
    log: Logger,
    pinned: np.ndarray | None = None,
) -> pa.Array:
    """Whole groups, in the order of a salted hash of their members' texts: test, val, train.

    A group's hash is the smallest hash of its rows' texts, so it depends on content only.
    `pinned` (pin_codes) keeps groups where an earlier dataset put them: a group with a row
    once in test stays test, else one once in val stays val, else train; the other groups fill
    what is left of the test and val quotas in hash order.
    """
    n = len(key_text)
    if n == 0:
        return pa.array([], type=LARGE_STRING)
    person, has_person = _person_key(to_arrow(name), to_arrow(phone))
    comp = _components([dense_codes(key_text), np.where(has_person, dense_codes(person), -1)])
    row_h = _row_hashes(key_text, salt)
    group_h = np.full(n, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(group_h, comp, row_h)
    comp_ids = np.unique(comp)  # component labels are row indices
    sizes = np.bincount(comp, minlength=n)[comp_ids]
    order = np.lexsort((comp_ids, group_h[comp_ids]))
    sizes, comp_ids = sizes[order], comp_ids[order]
    test_n = min(test_size, int(max_test_fraction * n))
    val_n = int(round(val_fraction * n))
    if n >= 3:
        test_n = max(test_n, 1) if test_size > 0 else 0
        val_n = max(val_n, 1) if val_fraction > 0 else 0
    free = len(SPLIT_ORDER)
    group_pin = np.full(n, free, dtype=np.int64)
    if pinned is not None:
        np.minimum.at(group_pin, comp, np.where(pinned >= 0, pinned, free))
    pin = group_pin[comp_ids]
    open_ = pin == free
    test_n -= int(sizes[pin == 0].sum())
    val_n -= int(sizes[pin == 1].sum())
    open_sizes = np.where(open_, sizes, 0)
    start = np.cumsum(open_sizes) - open_sizes
    is_test = open_ & (start < test_n)
    in_test = int(sizes[is_test].sum())
    which = np.where(is_test, 0, np.where(open_ & (start < in_test + val_n), 1, 2))
    which = np.where(open_, which, pin)
    comp_split = np.empty(n, dtype=np.int64)
    comp_split[comp_ids] = which
    names = pa.array(list(SPLIT_ORDER), type=LARGE_STRING)
    pinned_rows = int(sizes[~open_].sum())
    log(
        f"split {n} rows in {len(sizes)} groups (largest group {int(sizes.max())} rows"
        + (f", {pinned_rows} rows kept where an earlier dataset put them)" if pinned_rows else ")")
    )
    return names.take(pa.array(comp_split[comp]))


def find_leaks(table: pa.Table, key_text: pa.Array | None = None) -> list[str]:
    """Keys (text without spaces, name+phone) found in more than one split."""
    problems: list[str] = []
    text_key: pa.Array = (
        key_text
        if key_text is not None
        else strip_pattern(normalize_array(table.column("text")), " ")
    )
    person, has_person = _person_key(
        to_arrow(table.column("name")), to_arrow(table.column("phone"))
    )
    split = dense_codes(to_arrow(table.column("split")))
    checks: list[tuple[str, pa.Array, np.ndarray]] = [
        ("text", text_key, np.ones(len(text_key), dtype=bool)),
        ("name+phone", person, has_person),
    ]
    for what, key, valid in checks:
        codes = dense_codes(key)[valid]
        if not len(codes):
            continue
        lo = np.full(int(codes.max()) + 1, np.iinfo(np.int64).max, dtype=np.int64)
        hi = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
        np.minimum.at(lo, codes, split[valid])
        np.maximum.at(hi, codes, split[valid])
        bad_codes = np.flatnonzero((hi >= 0) & (lo != hi))
        if len(bad_codes):
            rows = np.flatnonzero(valid)[np.isin(codes, bad_codes[:3])]
            ex = sorted(
                {str(k).replace("\x1f", " / ") for k in key.take(pa.array(rows)).to_pylist()}
            )
            problems.append(f"{len(bad_codes)} {what} keys in more than one split, e.g. {ex}")
    return problems


def assert_no_leak(table: pa.Table, key_text: pa.Array) -> None:
    problems = find_leaks(table, key_text)
    if problems:
        raise LeakError("split leak: " + "; ".join(problems))
