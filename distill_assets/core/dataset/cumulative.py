"""A dataset that grows with the data: this version's rows and every earlier version's, as one
training_dataset (config `include_previous: true`).

- Rows are read from each version's raw_addresses and teacher_labels artifacts, in version
  order (earliest first), with ids qualified as `<version>/<id>` (two batches may both have a
  row "1").
- Cleaning de-duplicates on the normalised text as for one version; the first occurrence is
  kept, so a text seen in an earlier version stays that version's row.
- The test split stays fixed once drawn: every earlier version's training_dataset that exists
  is read back, and a row (by text without spaces) once in test stays in test, once in
  val or train never moves into test (split.pin_codes).
- `included_versions` names every version used with the data versions of what was read, so the
  lineage manifest lists them and `distill audit` re-verifies them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from distill_assets.core.common.columns import strip_pattern, to_arrow
from distill_assets.core.common.lineage import LineageError, asset_dir, read_manifest
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.common.schema import GOLD_COLUMNS
from distill_assets.core.data.raw_batch import read_raw
from distill_assets.core.dataset.clean import (
    LABEL_INPUT_COLUMNS,
    CleaningParams,
    DatasetError,
    DatasetResult,
    build_training_dataset,
)
from distill_assets.core.dataset.grounding import Canonicalizer
from distill_assets.core.teacher.label_batch import read_labels

INPUT_ASSETS: tuple[str, ...] = ("raw_addresses", "teacher_labels")
DATASET_ASSET = "training_dataset"


@dataclass
class CumulativeInputs:
    """The rows of several versions as one raw and one labels frame, and where they came from."""

    raw: pd.DataFrame
    labels: pd.DataFrame
    previous_splits: pa.Table | None
    included_versions: list[dict[str, Any]] = field(default_factory=list)


def qualify_ids(frame: pd.DataFrame, version: str) -> pd.DataFrame:
    out = frame.copy()
    out["id"] = version + "/" + out["id"].astype(str)
    return out


def _data_version(root: Path, version: str, asset: str) -> str:
    try:
        return str(read_manifest(asset_dir(root, version, asset))["data_version"])
    except LineageError as exc:
        raise DatasetError(
            f"include_previous: version {version!r} has no {asset} artifact ({exc}); "
            f"materialise {asset} for {version} first, or set include_previous false"
        ) from exc


def earlier_splits(root: Path, version: str) -> tuple[pa.Table | None, str | None]:
    """(key, split) of the training_dataset of `version`, if one was built; its data version."""
    folder = asset_dir(root, version, DATASET_ASSET)
    if not (folder / "dataset.parquet").exists():
        return None, None
    dv = _data_version(root, version, DATASET_ASSET)
    table = pq.read_table(folder / "dataset.parquet", columns=["text", "split"])
    key = strip_pattern(to_arrow(table.column("text")), " ")
    return pa.table({"key": key, "split": to_arrow(table.column("split"))}), dv


def gather_versions(
    root: Path, earlier: Sequence[str], current: str, log: Logger = null_log
) -> CumulativeInputs:
    """Raw and labels of `earlier` (in order) then `current`; the earlier datasets' splits."""
    order = [v for v in dict.fromkeys(earlier) if v != current] + [current]
    raws, labels, splits = [], [], []
    included: list[dict[str, Any]] = []
    for v in order:
        entry: dict[str, Any] = {"version": v}
        for asset in INPUT_ASSETS:
            entry[asset] = _data_version(root, v, asset)
        raw = qualify_ids(read_raw(asset_dir(root, v, "raw_addresses")), v)
        raws.append(raw)
        lab = read_labels(asset_dir(root, v, "teacher_labels"), LABEL_INPUT_COLUMNS)
        labels.append(qualify_ids(lab, v))
        entry["rows"] = len(raw)
        if v != current:
            table, dv = earlier_splits(root, v)
            if table is not None:
                splits.append(table)
                entry[DATASET_ASSET] = dv
            included.append(entry)
        log(f"include_previous: version {v}: {len(raw)} rows")
    # Gold columns only when every version has them (a user file has none).
    keep_gold = all(all(g in r.columns for g in GOLD_COLUMNS) for r in raws)
    if not keep_gold:
        raws = [r.drop(columns=[g for g in GOLD_COLUMNS if g in r.columns]) for r in raws]
    previous = pa.concat_tables(splits) if splits else None
    return CumulativeInputs(
        raw=pd.concat(raws, ignore_index=True),
        labels=pd.concat(labels, ignore_index=True),
        previous_splits=previous,
        included_versions=included,
    )


def build_with_previous(
    root: Path,
    earlier: Sequence[str],
    current: str,
    out_dir: Path,
    params: CleaningParams,
    log: Logger = null_log,
    *,
    canonicalize: Canonicalizer | None = None,
) -> tuple[DatasetResult, list[dict[str, Any]]]:
    """The training_dataset of `current` over it and every earlier version; the versions used
    (earlier ones, with the data versions read) for the lineage manifest."""
    inputs = gather_versions(Path(root), earlier, current, log)
    pinned = len(inputs.previous_splits) if inputs.previous_splits is not None else 0
    log(
        f"include_previous: {len(inputs.included_versions)} earlier versions, "
        f"{len(inputs.raw)} rows in all, {pinned} rows of earlier splits to keep in place"
    )
    result = build_training_dataset(
        inputs.raw,
        inputs.labels,
        out_dir,
        params,
        log,
        canonicalize=canonicalize,
        previous_splits=inputs.previous_splits,
    )
    return result, inputs.included_versions
