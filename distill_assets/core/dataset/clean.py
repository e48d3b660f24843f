"""Teacher labels -> the training dataset: validate, normalise, ground, de-duplicate, split.

Every dropped row is counted under exactly one reason (the first rule it fails, in the order of
DROP_REASONS). Rows the teacher could not settle (REVIEW_STATUSES: ambiguous, conflict,
no_region) are dropped under their status and written to the review file beside the dataset
(review.parquet and review.csv) with the teacher's partial answer and its candidates.
The split is by connected groups of near-duplicates (dataset/split.py), so no near-duplicate
crosses train/val/test.

The dataset's `text` is the *normalised* text (common/normalize.py); whatever runs the student
on new text applies the same normalisation first.

Columns travel as Arrow string arrays: the per-row Python work is limited to the grounding
substring tests and the split hash, so a million rows clean in well under a minute.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from distill_assets.core.common.columns import (
    as_mask,
    as_objects,
    dense_codes,
    pc,
    strip_pattern,
    to_arrow,
)
from distill_assets.core.common.compare import gold_agreement
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.common.normalize import normalize_array, normalize_text
from distill_assets.core.common.prompts import student_prompt
from distill_assets.core.common.schema import (
    FIELDS,
    GOLD_COLUMNS,
    REVIEW_STATUSES,
    USABLE_STATUSES,
)
from distill_assets.core.dataset.folder import (
    dataset_lineage,
    json_safe,
    review_frame,
    write_dataset_folder,
)
from distill_assets.core.dataset.grounding import (
    Canonicalizer,
    canonical_regions,
    default_canonicalizer,
    ground,
    normalise_fields,
    normalise_labels,
)
from distill_assets.core.dataset.split import (
    SPLITS,
    LeakError,
    assert_no_leak,
    assign_splits,
    pin_codes,
)

DROP_REASONS: tuple[str, ...] = (
    "missing_label",
    "ambiguous",  # the review statuses, each its own reason (review file)
    "conflict",
    "no_region",
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
# What cleaning and the dataset's lineage read of teacher_labels (not raw responses); `error`
# carries the candidates of the rows that go to the review file.
LABEL_INPUT_COLUMNS: tuple[str, ...] = (
    "id", "text", "status", "error", *FIELDS, "teacher_model", "prompt_hash",
)  # fmt: skip


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
    review_counts: dict[str, int] = field(default_factory=dict)  # status -> rows in the review file

    def manifest(self) -> dict[str, Any]:
        """The JSON-safe summary written to manifest.json (also usable as Dagster metadata)."""
        return {
            "asset": "training_dataset",
            "counts": self.counts,
            "drop_reasons": self.drop_reasons,
            "review": {"rows": sum(self.review_counts.values()), "statuses": self.review_counts},
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
        canonicalize, gazetteer_version = default_canonicalizer()
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
    review = review_frame(rows.df, rows.reason)
    result.review_counts = {str(k): int(v) for k, v in review["status"].value_counts().items()}
    write_dataset_folder(table, split_np, result, system, params.card_examples, log, review=review)
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
    cols = normalise_labels(df, reason)
    gold = normalise_fields({f: df[f"gold_{f}"] for f in FIELDS}) if has_gold else None
    vs_gold: dict[str, Any] | None = None
    if gold is not None:  # the teacher's answers as given (normalised, before canonical regions)
        answered = df["status"].isin(sorted(USABLE_STATUSES)).to_numpy()
        vs_gold = {
            "answered": gold_agreement(cols, gold, answered),
            "all_input_rows": gold_agreement(cols, gold, answered, len(raw)),
        }
    canonical_regions(cols, reason, canonicalize)
    text_nospace = strip_pattern(text, " ")
    ground(text, text_nospace, cols, reason, params.required_fields)
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
    lab_cols += ["error"] if "error" in labels.columns else []
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
    status = df["status"].to_numpy(dtype=object)
    for st in sorted(REVIEW_STATUSES):
        reason[(reason == "") & (status == st)] = st
    reason[(reason == "") & ~df["status"].isin(sorted(USABLE_STATUSES)).to_numpy()] = (
        "teacher_failed"
    )
    df = df.drop(columns=["_merge"]).reset_index(drop=True)
    return df, reason


def build_from_artifacts(
    raw_dir: Path, labels_dir: Path, out_dir: Path, params: CleaningParams, log: Logger = null_log
) -> DatasetResult:
    """`build_training_dataset` from the raw_addresses and teacher_labels folders."""
    from distill_assets.core.data.raw_batch import read_raw
    from distill_assets.core.teacher.label_batch import read_labels

    labels = read_labels(labels_dir, LABEL_INPUT_COLUMNS)
    return build_training_dataset(read_raw(raw_dir), labels, out_dir, params, log)
