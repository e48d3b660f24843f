"""Reading user text tables (jsonl/json, csv, parquet) into the `raw_addresses` frame.

Bad input fails loudly with an `InputError` that names the file and the row (1-based physical
line for jsonl/csv, 1-based row for parquet and JSON arrays). Policy for rows whose `text` is
null or empty after stripping: an error by default (`empty_text="error"`); with
`empty_text="drop"` they are dropped and counted in `df.attrs["input"]["dropped_empty_text"]`.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from distill_assets.core.common.artifacts import sha256_file
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.common.schema import FIELDS

DEFAULT_MAX_TEXT_CHARS = 100_000
GOLD_COLUMNS: tuple[str, ...] = tuple(f"gold_{f}" for f in FIELDS)
JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")
# Bytes kept of a line beyond which it is rejected unread: a JSON-escaped char takes at most 6
# bytes (\uXXXX), plus room for the other fields of the record.
_LINE_OVERHEAD_BYTES = 64 * 1024
_BINARY_MAGIC = {
    b"PK\x03\x04": "a zip archive (xlsx/docx/zip)",
    b"\x1f\x8b": "gzip-compressed data",
    b"PAR1": "a Parquet file",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"SQLite format 3": "an SQLite database",
}


class InputError(ValueError):
    """A user input file that cannot be read as a text table; the message names file and row."""


def _where(path: Path, row: int | None = None, unit: str = "line") -> str:
    return f"{path}" if row is None else f"{path} {unit} {row}"


def _stat_key(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _guess_encoding(sample: bytes) -> str:
    """A short human hint for a non-UTF-8 byte string ("GBK/GB18030", "UTF-16", ...)."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16"
    for enc, label in (("gb18030", "GBK/GB18030"), ("big5", "Big5")):
        try:
            decoded = sample.decode(enc)
        except UnicodeDecodeError:
            continue
        if any("\u4e00" <= ch <= "\u9fff" for ch in decoded):
            return label
    return "an unknown non-UTF-8 encoding (e.g. Latin-1)"


def _sniff_binary(path: Path, head: bytes) -> None:
    """Reject files that are plainly not text before parsing them line by line."""
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise InputError(f"{path}: binary data ({what}), expected UTF-8 text")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"{path}: encoded as UTF-16, expected UTF-8; re-save it as UTF-8")


def _iter_lines(
    path: Path, fh: io.BufferedReader, max_line_bytes: int, hasher: Any
) -> Iterator[tuple[int, str]]:
    """Physical lines as (1-based number, text), each checked for size, NUL bytes and UTF-8.

    A line longer than `max_line_bytes` is rejected after reading only that many bytes of it.
    """
    lineno = 0
    while True:
        raw = fh.readline(max_line_bytes + 1)
        if not raw:
            return
        lineno += 1
        hasher.update(raw)
        if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
            raise InputError(
                f"{_where(path, lineno)}: line longer than {max_line_bytes} bytes "
                f"(limit derived from max_text_chars); not read further"
            )
        if b"\x00" in raw:
            raise InputError(f"{_where(path, lineno)}: binary data (NUL bytes), expected text")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            enc = _guess_encoding(raw)
            raise InputError(
                f"{_where(path, lineno)}: not valid UTF-8 (byte {exc.start}); "
                f"it looks like {enc}. Re-save the file as UTF-8."
            ) from None
        if lineno == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield lineno, text


def _read_jsonl(
    path: Path, fh: io.BufferedReader, max_line_bytes: int, hasher: Any
) -> tuple[list[dict[str, Any]], list[int], str]:
    records: list[dict[str, Any]] = []
    rows: list[int] = []
    lines = _iter_lines(path, fh, max_line_bytes, hasher)
    first = True
    for lineno, line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if first and stripped.startswith("["):
            # A JSON array file: the whole document is one value.
            rest = "".join(t for _, t in lines)
            return _read_json_array(path, line + rest)
        first = False
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InputError(f"{_where(path, lineno)}: invalid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise InputError(
                f"{_where(path, lineno)}: expected a JSON object per line, got {type(obj).__name__}"
            )
        records.append(obj)
        rows.append(lineno)
    return records, rows, "line"


def _read_json_array(path: Path, doc: str) -> tuple[list[dict[str, Any]], list[int], str]:
    try:
        items = json.loads(doc)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} line {exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(items, list):
        raise InputError(f"{path}: expected a JSON array of objects")
    for i, obj in enumerate(items, 1):
        if not isinstance(obj, dict):
            raise InputError(f"{_where(path, i, 'item')}: expected an object")
    return items, list(range(1, len(items) + 1)), "item"


def _read_csv(
    path: Path, fh: io.BufferedReader, max_line_bytes: int, hasher: Any
) -> tuple[list[dict[str, Any]], list[int], str]:
    csv.field_size_limit(max(max_line_bytes, 131072))
    lines = _iter_lines(path, fh, max_line_bytes, hasher)
    reader = csv.reader((t for _, t in lines), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return [], [], "line"
    except csv.Error as exc:
        raise InputError(f"{_where(path, reader.line_num)}: bad CSV ({exc})") from None
    header = [h.strip() for h in header]
    records: list[dict[str, Any]] = []
    rows: list[int] = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(f"{_where(path, reader.line_num)}: bad CSV ({exc})") from None
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if len(cells) != len(header):
            raise InputError(
                f"{_where(path, reader.line_num)}: {len(cells)} fields, header has {len(header)}"
            )
        records.append(dict(zip(header, cells, strict=True)))
        rows.append(reader.line_num)
    return records, rows, "line"


def _records_to_columns(
    path: Path, records: list[dict[str, Any]], rows: list[int], unit: str
) -> dict[str, list[Any]]:
    if not records:
        raise InputError(f"{path}: empty file (no rows)")
    keys: dict[str, None] = {}
    for r in records:
        for k in r:
            keys.setdefault(k, None)
    if "text" not in keys:
        raise InputError(
            f"{path}: no `text` column (columns: {', '.join(map(str, keys)) or 'none'})"
        )
    wanted = [k for k in ("id", "text", "style", *GOLD_COLUMNS) if k in keys]
    return {k: [r.get(k) for r in records] for k in wanted} | {"__row__": rows}


def _read_parquet(path: Path) -> tuple[dict[str, list[Any]], str]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    names = pf.schema_arrow.names
    if "text" not in names:
        raise InputError(f"{path}: no `text` column (columns: {', '.join(names) or 'none'})")
    wanted = [k for k in ("id", "text", "style", *GOLD_COLUMNS) if k in names]
    table = pf.read(columns=wanted)
    cols = {k: table.column(k).to_pylist() for k in wanted}
    cols["__row__"] = list(range(1, table.num_rows + 1))
    return cols, "row"


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
                f"{_where(path, r, unit)}: `{name}` must be a string, got {type(v).__name__}"
            )
        else:
            out.append(str(v))
    return out


def read_text_table(
    path: str | os.PathLike[str],
    *,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    empty_text: Literal["error", "drop"] = "error",
    log: Logger = null_log,
) -> pd.DataFrame:
    """Read a jsonl/json/csv/parquet file with a `text` column into id/text/source/style(+gold_*).

    `df.attrs["input"]` holds the file's fingerprint (sha256, bytes, rows) and counts.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in JSON_SUFFIXES + CSV_SUFFIXES + PARQUET_SUFFIXES:
        raise InputError(
            f"{path}: unsupported file type {suffix!r} (use .jsonl, .json, .csv or .parquet)"
        )
    before = _stat_key(path)
    if before[0] == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    max_line_bytes = max_text_chars * 6 + _LINE_OVERHEAD_BYTES
    hasher = hashlib.sha256()
    unit = "line"
    if suffix in PARQUET_SUFFIXES:
        digest = sha256_file(path)
        cols, unit = _read_parquet(path)
    else:
        with open(path, "rb") as fh:
            _sniff_binary(path, fh.peek(64)[:64])
            if suffix in CSV_SUFFIXES:
                records, rows, unit = _read_csv(path, fh, max_line_bytes, hasher)
            else:
                records, rows, unit = _read_jsonl(path, fh, max_line_bytes, hasher)
        cols = _records_to_columns(path, records, rows, unit)
        del records
        digest = hasher.hexdigest()
    _check_unchanged(path, before)
    frame = _build_frame(path, cols, unit, max_text_chars, empty_text, log)
    frame.attrs["input"] = {
        "path": str(path),
        "sha256": digest,
        "bytes": before[0],
        "rows": int(len(cols["__row__"])),
        "kept_rows": int(len(frame)),
        "dropped_empty_text": int(len(cols["__row__"]) - len(frame)),
    }
    log(f"read {len(frame)} rows from {path.name} (sha256 {digest[:12]})")
    return frame


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
        raise InputError(f"{_where(path, r, unit)}: `text` must be a string, got {what}")
    for i, (r, v) in enumerate(zip(rows, texts, strict=True)):
        if not isinstance(v, str) or not v.strip():
            if empty_text == "drop":
                keep[i] = False
                continue
            raise InputError(f"{_where(path, r, unit)}: empty `text`")
        if len(v) > max_text_chars:
            raise InputError(
                f"{_where(path, r, unit)}: `text` has {len(v)} chars, over the limit of "
                f"{max_text_chars} (max_text_chars)"
            )
    if "id" in cols:
        ids = _str_column(path, "id", cols["id"], rows, unit, allow_null=False)
        ids = [i.strip() for i in ids]
        for r, i in zip(rows, ids, strict=True):
            if not i:
                raise InputError(f"{_where(path, r, unit)}: empty `id`")
    else:
        ids = [f"{path.stem}-{r:07d}" for r in range(1, len(rows) + 1)]
    seen: dict[str, int] = {}
    for r, i in zip(rows, ids, strict=True):
        if i in seen:
            raise InputError(
                f"{_where(path, r, unit)}: duplicate id {i!r} (first at {unit} {seen[i]})"
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
    for g in GOLD_COLUMNS:
        if g in cols:
            data[g] = _str_column(path, g, cols[g], rows, unit, allow_null=True)
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
    "read_text_table",
]
