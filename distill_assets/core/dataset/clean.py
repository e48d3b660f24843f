"""Teacher labels -> the training dataset: validate, normalise, ground, de-duplicate, split.

Every dropped row is counted under exactly one reason (the first rule it fails, in the order of
DROP_REASONS). The split is by connected groups of near-duplicates (dataset/split.py), so no
near-duplicate crosses train/val/test.

The dataset's `text` is the *normalised* text (common/normalize.py); whatever runs the student
on new text applies the same normalisation first.

Columns travel as Arrow string arrays: the per-row Python work is limited to the grounding
substring tests and the split hash, so a million rows clean in well under a minute.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from distill_assets.core.common.columns import (
    LARGE_STRING,
    as_mask,
    as_objects,
    dense_codes,
    is_str,
    pc,
    strip_pattern,
    to_arrow,
)
from distill_assets.core.common.compare import gold_agreement, normalize_field
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.common.normalize import normalize_array, normalize_text
from distill_assets.core.common.prompts import student_prompt
from distill_assets.core.common.schema import FIELDS, GOLD_COLUMNS, REGION_FIELDS, USABLE_STATUSES
from distill_assets.core.dataset.folder import dataset_lineage, json_safe, write_dataset_folder
from distill_assets.core.dataset.split import (
    SPLITS,
    LeakError,
    assert_no_leak,
    assign_splits,
    pin_codes,
)

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
# What cleaning and the dataset's lineage read of teacher_labels (not raw responses, errors).
LABEL_INPUT_COLUMNS: tuple[str, ...] = (
    "id", "text", "status", *FIELDS, "teacher_model", "prompt_hash",
)  # fmt: skip
_PHONE_SEPARATORS = r"[\t\n\x0b\x0c\r \-+().]+"

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


@dataclass
class _Rows:
    """The joined frame, its normalised columns, and each row's drop reason ("" = kept)."""

    df: pd.DataFrame
    text: pa.Array
    text_nospace: pa.Array
    cols: dict[str, pa.Array]
    gold: dict[str, pa.Array] | None
    reason: np.ndarray
    vs_gold: dict[str, Any] | None


def build_training_dataset(
    raw: pd.DataFrame,
    labels: pd.DataFrame,
    out_dir: str | Path,
    params: CleaningParams | None = None,
    log: Logger = null_log,
    *,
    canonicalize: Canonicalizer | None = None,
    previous_splits: pa.Table | None = None,
) -> DatasetResult:
    """Clean `labels` (joined to `raw` on id) into the training_dataset folder at `out_dir`.

    `canonicalize` defaults to `regions.canonical.canonicalize_region`; tests may pass a stub.
    `previous_splits` (key, split) keeps rows where earlier datasets put them (split.pin_codes).
    """
    params = params or CleaningParams()
    gazetteer_version = "custom"
    if canonicalize is None:
        canonicalize, gazetteer_version = _default_canonicalizer()
    _validate_inputs(raw, labels, params)
    log(f"cleaning {len(raw)} raw rows against {len(labels)} labels")
    rows = _clean_rows(raw, labels, params, canonicalize, log)
    sel = pa.array(np.flatnonzero(rows.reason == ""))
    table = _kept_table(rows, sel)
    key_text = rows.text_nospace.take(sel)
    split = assign_splits(
        key_text,
        table.column("name"),
        table.column("phone"),
        test_size=params.test_size,
        max_test_fraction=params.max_test_fraction,
        val_fraction=params.val_fraction,
        salt=params.split_salt,
        log=log,
        pinned=pin_codes(key_text, previous_splits),
    )
    table = table.append_column("split", split)
    try:
        assert_no_leak(table, key_text)
    except LeakError as exc:
        raise DatasetError(str(exc)) from exc
    split_np = as_objects(split)
    result = _summarise(Path(out_dir), raw, labels, rows, sel, split_np, params, gazetteer_version)
    for r, n in result.drop_reasons.items():
        log(f"dropped {n} rows: {r}")
    system = student_prompt(params.student_prompt)
    write_dataset_folder(table, split_np, result, system, params.card_examples, log)
    c = result.counts
    log(
        f"dataset {out_dir}: kept {c['kept']}/{c['input']} "
        f"(train {c['train']}, val {c['val']}, test {c['test']})"
    )
    return result


def _validate_inputs(raw: pd.DataFrame, labels: pd.DataFrame, params: CleaningParams) -> None:
    _require_columns(raw, ["id", "text"], "raw")
    _require_columns(labels, ["id", "status", *FIELDS], "labels")
    _require_unique_ids(raw, "raw")
    _require_unique_ids(labels, "labels")
    bad_req = [f for f in params.required_fields if f not in FIELDS]
    if bad_req:
        raise DatasetError(f"required_fields {bad_req} are not label fields {FIELDS}")


def _clean_rows(
    raw: pd.DataFrame,
    labels: pd.DataFrame,
    params: CleaningParams,
    canonicalize: Canonicalizer,
    log: Logger,
) -> _Rows:
    """Every rule in DROP_REASONS order; a row keeps the reason of the first rule it fails."""
    has_gold = all(g in raw.columns for g in GOLD_COLUMNS)
    df, reason = _join(raw, labels, has_gold, log)
    text = normalize_array(df["text"])
    reason[(reason == "") & as_mask(pc.equal(text, ""))] = "empty_text"
    cols = _normalise_labels(df, reason)
    gold = _normalise_fields({f: df[f"gold_{f}"] for f in FIELDS}) if has_gold else None
    vs_gold: dict[str, Any] | None = None
    if gold is not None:  # the teacher's answers as given (normalised, before canonical regions)
        answered = df["status"].isin(sorted(USABLE_STATUSES)).to_numpy()
        vs_gold = {
            "answered": gold_agreement(cols, gold, answered),
            "all_input_rows": gold_agreement(cols, gold, answered, len(raw)),
        }
    _canonical_regions(cols, reason, canonicalize)
    text_nospace = strip_pattern(text, " ")
    _ground(text, text_nospace, cols, reason, params)
    idx = np.flatnonzero(reason == "")
    if len(idx):
        codes = dense_codes(text.take(pa.array(idx)))
        first = np.zeros(len(idx), dtype=bool)
        first[np.unique(codes, return_index=True)[1]] = True
        reason[idx[~first]] = "duplicate_text"
    return _Rows(df, text, text_nospace, cols, gold, reason, vs_gold)


def _kept_table(rows: _Rows, sel: pa.Array) -> pa.Table:
    gold = rows.gold
    return pa.table(
        {
            "id": to_arrow(rows.df["id"]).take(sel),
            "text": rows.text.take(sel),
            "source": to_arrow(rows.df["source"]).take(sel),
            "style": to_arrow(rows.df["style"]).take(sel),
            **{f: rows.cols[f].take(sel) for f in FIELDS},
            **({f"gold_{f}": gold[f].take(sel) for f in FIELDS} if gold is not None else {}),
        }
    )


def _summarise(
    out_dir: Path,
    raw: pd.DataFrame,
    labels: pd.DataFrame,
    rows: _Rows,
    sel: pa.Array,
    split: np.ndarray,
    params: CleaningParams,
    gazetteer_version: str,
) -> DatasetResult:
    n_input = len(raw)
    drop_reasons = {r: int((rows.reason == r).sum()) for r in DROP_REASONS}
    drop_reasons = {r: n for r, n in drop_reasons.items() if n}
    counts = {"input": n_input, "kept": len(sel), "dropped": n_input - len(sel)}
    counts |= {s: int((split == s).sum()) for s in SPLITS}
    if counts["train"] < params.min_train_rows:
        raise DatasetError(
            f"only {counts['train']} training rows after cleaning "
            f"(min_train_rows={params.min_train_rows}); drop reasons: {drop_reasons}"
        )
    kept = {f: rows.cols[f].take(sel) for f in FIELDS}
    vs_gold = rows.vs_gold
    if vs_gold is not None and rows.gold is not None:
        vs_gold["kept"] = gold_agreement(kept, {f: rows.gold[f].take(sel) for f in FIELDS})
    coverage = {
        f: round(1 - as_mask(pc.equal(kept[f], "")).mean(), 6) if len(sel) else 0.0 for f in FIELDS
    }
    return DatasetResult(
        out_dir=out_dir,
        counts=counts,
        drop_reasons=drop_reasons,
        drop_rate=round(counts["dropped"] / n_input, 6) if n_input else 0.0,
        teacher_vs_gold=vs_gold,
        field_coverage={f: float(v) for f, v in coverage.items()},
        params=json_safe(asdict(params)),
        lineage=dataset_lineage(raw, labels, gazetteer_version, params.student_prompt),
    )


def _require_columns(df: pd.DataFrame, cols: tuple[str, ...] | list[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DatasetError(f"{what} frame lacks columns {missing} (has {list(df.columns)})")


def _require_unique_ids(df: pd.DataFrame, what: str) -> None:
    dup = df["id"].duplicated(keep=False).to_numpy()
    if dup.any():
        examples = df["id"].to_numpy(dtype=object)[dup][:5].tolist()
        raise DatasetError(f"{what} frame has {int(dup.sum())} rows with duplicate ids: {examples}")


def _default_canonicalizer() -> tuple[Canonicalizer, str]:
    from distill_assets.core.regions.canonical import canonicalize_region
    from distill_assets.core.regions.tables import GAZETTEER_VERSION

    return canonicalize_region, GAZETTEER_VERSION


def _join(
    raw: pd.DataFrame, labels: pd.DataFrame, has_gold: bool, log: Logger
) -> tuple[pd.DataFrame, np.ndarray]:
    cols = ["id", "text", *(c for c in ("source", "style") if c in raw.columns)]
    cols += list(GOLD_COLUMNS) if has_gold else []
    # pandas 3 copies on write: a column selection shares the input's buffers until written
    left: pd.DataFrame = raw.loc[:, cols]
    left["id"] = left["id"].astype(str)
    for c in ("source", "style"):
        if c not in left.columns:
            left[c] = ""
        left[c] = left[c].fillna("").astype(str)
    lab_cols = ["id", "status", *FIELDS] + (["text"] if "text" in labels.columns else [])
    right: pd.DataFrame = labels.loc[:, lab_cols]
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
    reason[(reason == "") & ~df["status"].isin(sorted(USABLE_STATUSES)).to_numpy()] = (
        "teacher_failed"
    )
    df = df.drop(columns=["_merge"]).reset_index(drop=True)
    return df, reason


def _normalise_labels(df: pd.DataFrame, reason: np.ndarray) -> dict[str, pa.Array]:
    """Schema check (six strings) and normalisation; invalid rows get "" in every field."""
    valid = np.ones(len(df), dtype=bool)
    for f in FIELDS:
        valid &= is_str(df[f])
    reason[(reason == "") & ~valid] = "invalid_schema"
    cols = {
        f: df[f] if valid.all() else np.where(valid, df[f].to_numpy(dtype=object), "")
        for f in FIELDS
    }
    return _normalise_fields(cols)


def _normalise_fields(cols: dict[str, Any]) -> dict[str, pa.Array]:
    """normalize_field over each column, two columns at a time: Arrow's kernels release the
    GIL, so the second core works too."""
    with ThreadPoolExecutor(2) as pool:
        done = {f: pool.submit(normalize_field, f, col) for f, col in cols.items()}
        return {f: fut.result() for f, fut in done.items()}


def _canonical_regions(
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
            haystack = as_objects(strip_pattern(text.take(sel), _PHONE_SEPARATORS))
        check = np.flatnonzero(live & ~as_mask(pc.equal(needle, "")))
        if not len(check):
            continue
        found = map(operator.contains, haystack[check], as_objects(needle.take(pa.array(check))))
        missing = check[~np.fromiter(found, dtype=bool, count=len(check))]
        reason[idx[missing]] = why
        live[missing] = False


def build_from_artifacts(
    raw_dir: Path, labels_dir: Path, out_dir: Path, params: CleaningParams, log: Logger = null_log
) -> DatasetResult:
    """`build_training_dataset` from the raw_addresses and teacher_labels folders."""
    from distill_assets.core.data.raw_batch import read_raw
    from distill_assets.core.teacher.label_batch import read_labels

    labels = read_labels(labels_dir, LABEL_INPUT_COLUMNS)
    return build_training_dataset(read_raw(raw_dir), labels, out_dir, params, log)
