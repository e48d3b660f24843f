"""The raw_addresses artifact: a registered dataset version written as one Parquet file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.data.dataset_versions import VersionSpec, load_spec
from distill_assets.core.data.inputs import InputError, read_text_table
from distill_assets.core.data.synth import generate_batch

RAW_FILE = "raw.parquet"


@dataclass
class RawBatch:
    frame: pd.DataFrame
    spec: VersionSpec

    @property
    def has_gold(self) -> bool:
        return any(c.startswith("gold_") for c in self.frame.columns)

    def style_counts(self) -> dict[str, int]:
        if "style" not in self.frame:
            return {}
        return {str(k): int(v) for k, v in self.frame["style"].value_counts().items()}


def read_raw(raw_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(Path(raw_dir) / RAW_FILE)


def write_raw_batch(home: Path, key: str, out_dir: Path, log: Logger = null_log) -> RawBatch:
    """The records of version `key` (synthetic, or the registered copy of a user file)."""
    spec = load_spec(home, key)
    if spec.kind == "synthetic":
        frame = generate_batch(spec.rows, seed=spec.seed)
    else:
        try:
            frame = read_text_table(Path(spec.path), log=log)
        except InputError as exc:
            raise InputError(f"input file {spec.original_path}: {exc}") from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out_dir / RAW_FILE, index=False)
    log(f"raw_addresses: {len(frame)} rows of version {key} ({spec.kind})")
    return RawBatch(frame, spec)
