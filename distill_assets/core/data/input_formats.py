"""Parsing user files line by line (jsonl/json, csv, txt) or by Arrow (parquet): every bad row
is an `InputError` naming the file and the row (1-based physical line for jsonl/csv/txt, 1-based
row for parquet and JSON arrays).

Text files are UTF-8 on the fast path; a file that is not (Excel in China writes GBK/GB18030
CSV, its "Unicode text" is UTF-16 with a BOM) is decoded whole with the encoding that
charset-normalizer detects, and the encoding is recorded."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from distill_assets.core.common.schema import FIELDS, GOLD_COLUMNS

JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
CSV_SUFFIXES = (".csv", ".tsv")
TXT_SUFFIXES = (".txt",)
PARQUET_SUFFIXES = (".parquet", ".pq")
# Where a text table made by a person in China comes from: UTF-8, GBK/GB18030 (Excel's CSV),
# Big5, UTF-16/32 (Excel's "Unicode text"). Detection is restricted to these because on short
# texts charset-normalizer otherwise prefers cp949 or big5hkscs for GBK bytes.
_CANDIDATE_ENCODINGS = ["utf_8", "gb18030", "big5", "utf_16", "utf_32"]
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


def wanted_columns(names: Any) -> list[str]:
    """The columns read from a user file: id, text, style and the labels, as `gold_<field>` or
    under the plain field name (a labelled file, e.g. `distill label` output or a benchmark)."""
    have = set(names)
    return [k for k in ("id", "text", "style", *GOLD_COLUMNS, *FIELDS) if k in have]


class NotUtf8Error(InputError):
    """A line that is not UTF-8: the caller decodes the whole file with a detected encoding."""


def where(path: Path, row: int | None = None, unit: str = "line") -> str:
    return f"{path}" if row is None else f"{path} {unit} {row}"


def guess_encoding(sample: bytes) -> str:
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


def sniff_binary(path: Path, head: bytes) -> None:
    """Reject files that are plainly not text before parsing them line by line."""
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise InputError(f"{path}: binary data ({what}), expected UTF-8 text")


def has_utf16_bom(head: bytes) -> bool:
    return head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def decode_text(path: Path, data: bytes) -> tuple[str, str]:
    """(text, encoding) of a whole text file: a BOM first, then UTF-8, then what
    charset-normalizer detects among the encodings Chinese text tables come in."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if has_utf16_bom(data):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=_CANDIDATE_ENCODINGS).best()
    if best is None or best.encoding == "utf_8":
        raise InputError(
            f"{path}: not UTF-8, and no encoding of {', '.join(_CANDIDATE_ENCODINGS)} reads it "
            f"(it looks like {guess_encoding(data[:4096])}); re-save the file as UTF-8"
        )
    # GBK and GB2312 are subsets of GB18030: decoding with the superset loses nothing.
    encoding = "gb18030" if best.encoding in ("gbk", "gb2312", "gb18030") else best.encoding
    return data.decode(encoding), encoding


def iter_lines(
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
                f"{where(path, lineno)}: line longer than {max_line_bytes} bytes "
                f"(limit derived from max_text_chars); not read further"
            )
        if b"\x00" in raw:
            raise InputError(f"{where(path, lineno)}: binary data (NUL bytes), expected text")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            enc = guess_encoding(raw)
            raise NotUtf8Error(
                f"{where(path, lineno)}: not valid UTF-8 (byte {exc.start}); "
                f"it looks like {enc}. Re-save the file as UTF-8."
            ) from None
        if lineno == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield lineno, text


def read_jsonl(
    path: Path, fh: io.BufferedReader, max_line_bytes: int, hasher: Any
) -> tuple[list[dict[str, Any]], list[int], str]:
    records: list[dict[str, Any]] = []
    rows: list[int] = []
    lines = iter_lines(path, fh, max_line_bytes, hasher)
    first = True
    for lineno, line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if first and stripped.startswith("["):
            # A JSON array file: the whole document is one value.
            rest = "".join(t for _, t in lines)
            return read_json_array(path, line + rest)
        first = False
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where(path, lineno)}: invalid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise InputError(
                f"{where(path, lineno)}: expected a JSON object per line, got {type(obj).__name__}"
            )
        records.append(obj)
        rows.append(lineno)
    return records, rows, "line"


def read_json_array(path: Path, doc: str) -> tuple[list[dict[str, Any]], list[int], str]:
    try:
        items = json.loads(doc)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} line {exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(items, list):
        raise InputError(f"{path}: expected a JSON array of objects")
    for i, obj in enumerate(items, 1):
        if not isinstance(obj, dict):
            raise InputError(f"{where(path, i, 'item')}: expected an object")
    return items, list(range(1, len(items) + 1)), "item"


def read_txt(
    path: Path, fh: io.BufferedReader, max_line_bytes: int, hasher: Any
) -> tuple[list[dict[str, Any]], list[int], str]:
    """One text per line (blank lines skipped). A first line that is a header naming `text`
    makes it a tab-separated table instead (Excel's "Unicode text" export)."""
    first = fh.peek(max_line_bytes).split(b"\n", 1)[0].decode("utf-8", "replace")
    header = [h.strip().lstrip("\ufeff") for h in first.split("\t")]
    if "text" in header:
        return read_csv(path, fh, max_line_bytes, hasher, delimiter="\t")
    records: list[dict[str, Any]] = []
    rows: list[int] = []
    for lineno, line in iter_lines(path, fh, max_line_bytes, hasher):
        text = _LINE_END.sub("", line)
        if text.strip():
            records.append({"text": text})
            rows.append(lineno)
    return records, rows, "line"


_LINE_END = re.compile(r"[\r\n]+$")


def read_csv(
    path: Path, fh: io.BufferedReader, max_line_bytes: int, hasher: Any, delimiter: str = ""
) -> tuple[list[dict[str, Any]], list[int], str]:
    csv.field_size_limit(max(max_line_bytes, 131072))
    lines = iter_lines(path, fh, max_line_bytes, hasher)
    if not delimiter:
        delimiter = "\t" if path.name.lower().removesuffix(".gz").endswith(".tsv") else ","
    reader = csv.reader((t for _, t in lines), strict=True, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return [], [], "line"
    except csv.Error as exc:
        raise InputError(f"{where(path, reader.line_num)}: bad CSV ({exc})") from None
    header = [h.strip() for h in header]
    records: list[dict[str, Any]] = []
    rows: list[int] = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(f"{where(path, reader.line_num)}: bad CSV ({exc})") from None
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if len(cells) != len(header):
            raise InputError(
                f"{where(path, reader.line_num)}: {len(cells)} fields, header has {len(header)}"
            )
        records.append(dict(zip(header, cells, strict=True)))
        rows.append(reader.line_num)
    return records, rows, "line"


def records_to_columns(
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
    wanted = wanted_columns(keys)
    return {k: [r.get(k) for r in records] for k in wanted} | {"__row__": rows}


def read_parquet(path: Path) -> tuple[dict[str, list[Any]], str]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    names = pf.schema_arrow.names
    if "text" not in names:
        raise InputError(f"{path}: no `text` column (columns: {', '.join(names) or 'none'})")
    wanted = wanted_columns(names)
    table = pf.read(columns=wanted)
    cols = {k: table.column(k).to_pylist() for k in wanted}
    cols["__row__"] = list(range(1, table.num_rows + 1))
    return cols, "row"
