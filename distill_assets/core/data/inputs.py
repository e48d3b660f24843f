"""Reading user text tables (jsonl/json, csv, txt, parquet; jsonl/csv/txt also gzip-compressed
as `.gz`; UTF-8, GBK/GB18030, Big5 or UTF-16) into the `raw_addresses` frame.

Bad input fails loudly with an `InputError` that names the file and the row (data/input_formats.py
parses). Policy for rows whose `text` is null or empty after stripping: an error by default
(`empty_text="error"`); with `empty_text="drop"` they are dropped and counted in
`df.attrs["input"]["dropped_empty_text"]`.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow.parquet as pq

from distill_assets.core.common.artifacts import sha256_file
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.common.schema import FIELDS, GOLD_COLUMNS
from distill_assets.core.data.input_formats import (
    CSV_SUFFIXES,
    JSON_SUFFIXES,
    PARQUET_SUFFIXES,
    TXT_SUFFIXES,
    InputError,
    NotUtf8Error,
    decode_text,
    has_utf16_bom,
    read_csv,
    read_jsonl,
    read_parquet,
    read_txt,
    records_to_columns,
    sniff_binary,
    where,
)

_TEXT_SUFFIXES = JSON_SUFFIXES + CSV_SUFFIXES + TXT_SUFFIXES


def _parser(suffix: str) -> Any:
    """The line parser of a text format (looked up per call: tests wrap them)."""
    if suffix in CSV_SUFFIXES:
        return read_csv
    return read_txt if suffix in TXT_SUFFIXES else read_jsonl


DEFAULT_MAX_TEXT_CHARS = 100_000
# Bytes kept of a line beyond which it is rejected unread: a JSON-escaped char takes at most 6
# bytes (\uXXXX), plus room for the other fields of the record.
_LINE_OVERHEAD_BYTES = 64 * 1024


def _stat_key(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _str_column(
    path: Path, name: str, values: list[Any], rows: list[int], unit: str, *, allow_null: bool
) -> list[str]:
    out: list[str] = []
    for v, r in zip(values, rows, strict=True):
        if isinstance(v, str):
            out.append(v)
        elif v is None and allow_null:
            out.append("")
        elif isinstance(v, bool) or not isinstance(v, int | float | str):
            raise InputError(
                f"{where(path, r, unit)}: `{name}` must be a string, got {type(v).__name__}"
            )
        else:
            out.append(str(v))
    return out


def input_suffix(path: str | os.PathLike[str]) -> str:
    """The suffix a readable input file ends with (".csv", ".csv.gz", ...), "" for any other."""
    name = Path(path).name.lower()
    gz = name.endswith(".gz")
    suffix = Path(name[:-3]).suffix if gz else Path(name).suffix
    if gz:
        return suffix + ".gz" if suffix in _TEXT_SUFFIXES else ""
    return suffix if suffix in _TEXT_SUFFIXES + PARQUET_SUFFIXES else ""


def input_kind(path: Path) -> tuple[str, bool]:
    """(format suffix, gzip-compressed) of a file name: "in.csv.gz" -> (".csv", True)."""
    name = path.name.lower()
    gz = name.endswith(".gz")
    suffix = Path(name[:-3]).suffix if gz else path.suffix.lower()
    if suffix not in _TEXT_SUFFIXES + PARQUET_SUFFIXES or (gz and suffix in PARQUET_SUFFIXES):
        raise InputError(
            f"{path}: unsupported file type {suffix or name!r} (use .jsonl, .json, .csv, .txt, "
            f"their .gz, or .parquet)"
        )
    return suffix, gz


def read_text_table(
    path: str | os.PathLike[str],
    *,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    empty_text: Literal["error", "drop"] = "error",
    log: Logger = null_log,
) -> pd.DataFrame:
    """Read a jsonl/json/csv/txt/parquet file with a `text` column into
    id/text/source/style(+gold_*). `df.attrs["input"]` holds the file's fingerprint (sha256,
    bytes, rows), its encoding and compression, and counts."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix, gz = input_kind(path)
    before = _stat_key(path)
    if before[0] == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    max_line_bytes = max_text_chars * 6 + _LINE_OVERHEAD_BYTES
    unit, encoding = "line", "utf-8"
    if suffix in PARQUET_SUFFIXES:
        digest, encoding = sha256_file(path), ""
        cols, unit = read_parquet(path)
    else:
        parse = _parser(suffix)
        records, rows, unit, encoding, digest = _read_text_file(path, gz, parse, max_line_bytes)
        cols = records_to_columns(path, records, rows, unit)
        del records
    _check_unchanged(path, before)
    frame = _build_frame(path, cols, unit, max_text_chars, empty_text, log)
    frame.attrs["input"] = {
        "path": str(path),
        "sha256": digest,
        "bytes": before[0],
        "encoding": encoding,
        "compression": "gzip" if gz else "",
        "rows": int(len(cols["__row__"])),
        "kept_rows": int(len(frame)),
        "dropped_empty_text": int(len(cols["__row__"]) - len(frame)),
    }
    how = f", {encoding}" if encoding not in ("", "utf-8") else ""
    log(f"read {len(frame)} rows from {path.name} (sha256 {digest[:12]}{how})")
    return frame


def _read_text_file(path: Path, gz: bool, parse: Any, max_line_bytes: int):  # noqa: ANN202
    """(records, rows, unit, encoding, sha256 of the file): UTF-8 streamed line by line; a
    compressed or non-UTF-8 file decoded whole (charset-normalizer picks the encoding)."""
    with open(path, "rb") as fh:
        head = fh.peek(64)[:64]
        if not gz and not has_utf16_bom(head):
            sniff_binary(path, head)
            hasher = hashlib.sha256()
            try:
                return (*parse(path, fh, max_line_bytes, hasher), "utf-8", hasher.hexdigest())
            except NotUtf8Error:
                pass  # not UTF-8 after all: detect the encoding of the whole file below
    if gz:
        try:
            with gzip.open(path, "rb") as zf:
                data = zf.read()
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: not readable gzip data ({exc})") from None
        if not has_utf16_bom(data[:4]):
            sniff_binary(path, data[:64])
    else:
        data = path.read_bytes()
    text, encoding = decode_text(path, data)
    utf8 = io.BufferedReader(io.BytesIO(text.encode("utf-8")))
    records, rows, unit = parse(path, utf8, max_line_bytes, hashlib.sha256())
    return records, rows, unit, encoding, sha256_file(path)


def _check_unchanged(path: Path, before: tuple[int, int, int]) -> None:
    try:
        after = _stat_key(path)
    except FileNotFoundError:
        raise InputError(f"{path}: file removed while being read") from None
    if after != before:
        raise InputError(
            f"{path}: file changed while being read (size/mtime {before[:2]} -> {after[:2]}); "
            f"read it again once the writer has finished"
        )


def _build_frame(
    path: Path,
    cols: dict[str, list[Any]],
    unit: str,
    max_text_chars: int,
    empty_text: str,
    log: Logger,
) -> pd.DataFrame:
    rows: list[int] = cols["__row__"]
    if not rows:
        raise InputError(f"{path}: empty file (no rows)")
    texts: list[Any] = cols["text"]
    bad_type = [(r, v) for r, v in zip(rows, texts, strict=True) if not isinstance(v, str)]
    keep = [True] * len(rows)
    for r, v in bad_type:
        if v is None and empty_text == "drop":
            continue
        what = "null" if v is None else type(v).__name__
        raise InputError(f"{where(path, r, unit)}: `text` must be a string, got {what}")
    for i, (r, v) in enumerate(zip(rows, texts, strict=True)):
        if not isinstance(v, str) or not v.strip():
            if empty_text == "drop":
                keep[i] = False
                continue
            raise InputError(f"{where(path, r, unit)}: empty `text`")
        if len(v) > max_text_chars:
            raise InputError(
                f"{where(path, r, unit)}: `text` has {len(v)} chars, over the limit of "
                f"{max_text_chars} (max_text_chars)"
            )
    if "id" in cols:
        ids = _str_column(path, "id", cols["id"], rows, unit, allow_null=False)
        ids = [i.strip() for i in ids]
        for r, i in zip(rows, ids, strict=True):
            if not i:
                raise InputError(f"{where(path, r, unit)}: empty `id`")
    else:
        ids = [f"{path.stem}-{r:07d}" for r in range(1, len(rows) + 1)]
    seen: dict[str, int] = {}
    for r, i in zip(rows, ids, strict=True):
        if i in seen:
            raise InputError(
                f"{where(path, r, unit)}: duplicate id {i!r} (first at {unit} {seen[i]})"
            )
        seen[i] = r
    data: dict[str, list[Any]] = {
        "id": ids,
        "text": [t if isinstance(t, str) else "" for t in texts],
        "source": [path.name] * len(rows),
        "style": _str_column(path, "style", cols["style"], rows, unit, allow_null=True)
        if "style" in cols
        else [""] * len(rows),
    }
    for f, g in zip(FIELDS, GOLD_COLUMNS, strict=True):
        source = g if g in cols else f  # a plain field name is a label too
        if source in cols:
            data[g] = _str_column(path, source, cols[source], rows, unit, allow_null=True)
    frame = pd.DataFrame(data)
    frame = frame.astype(dict.fromkeys(frame.columns, "str"))
    if not all(keep):
        dropped = keep.count(False)
        log(f"{path.name}: dropped {dropped} rows with empty text")
        frame = frame.loc[keep].reset_index(drop=True)
        if frame.empty:
            raise InputError(f"{path}: no rows with non-empty `text`")
    return frame


def file_fingerprint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """sha256, size and row count of an input file, without validating its rows."""
    path = Path(path)
    suffix = path.suffix.lower()
    digest = sha256_file(path)
    size = path.stat().st_size
    if suffix in PARQUET_SUFFIXES:
        rows = pq.ParquetFile(path).metadata.num_rows
    elif suffix in CSV_SUFFIXES:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            rows = max(sum(1 for rec in csv.reader(fh) if any(c.strip() for c in rec)) - 1, 0)
    else:
        with open(path, "rb") as fh:
            if fh.read(64).lstrip().startswith(b"["):  # a JSON array, not JSON lines
                fh.seek(0)
                doc = json.loads(fh.read().decode("utf-8", errors="replace"))
                rows = len(doc) if isinstance(doc, list) else 1
            else:
                fh.seek(0)
                rows = sum(1 for line in fh if line.strip())
    return {"sha256": digest, "bytes": size, "rows": int(rows)}


__all__ = [
    "DEFAULT_MAX_TEXT_CHARS",
    "InputError",
    "file_fingerprint",
    "input_suffix",
    "read_text_table",
]
