"""Registering a file as a version reads it with the raw_addresses reader first: a bad file is
a clear error naming the file (and the row) and registers nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from distill_assets.core.data.dataset_versions import (
    InvalidInputFile,
    list_specs,
    register_file,
    versions_dir,
)

GOOD_ROW = {"text": "电话:23204753945:大理市人民路25号:收件者:段丽娟"}


def _jsonl(path: Path, *rows: dict) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, what the message must say besides the file name)."""
    (tmp / "empty.jsonl").write_bytes(b"")
    (tmp / "binary.csv").write_bytes(b"PK\x03\x04\x00\x00binary zip data")
    (tmp / "notext.csv").write_text("id,body\n1,hello\n", "utf-8")
    (tmp / "broken.parquet").write_bytes(b"PAR1 this is not really parquet")
    # GBK/UTF-16 are read (charset-normalizer); Latin-1 is none of the encodings a table comes in.
    (tmp / "latin1.csv").write_bytes("id,text\n1,café\n2,naïve résumé\n".encode("latin-1"))
    _jsonl(tmp / "row3.jsonl", GOOD_ROW, GOOD_ROW | {"id": "b"}, {"id": "c", "text": ""})
    return {
        "empty": (tmp / "empty.jsonl", "empty"),
        "binary": (tmp / "binary.csv", "binary"),
        "no text column": (tmp / "notext.csv", "text"),
        "broken parquet": (tmp / "broken.parquet", "parquet"),
        "wrong encoding": (tmp / "latin1.csv", "utf-8"),
        "bad row": (tmp / "row3.jsonl", "line 3"),
    }


@pytest.mark.parametrize(
    "case",
    ["empty", "binary", "no text column", "broken parquet", "wrong encoding", "bad row"],
)
def test_a_bad_file_is_refused_and_registers_nothing(tmp_path: Path, case: str):
    home = tmp_path / "home"
    path, says = _bad_files(tmp_path)[case]
    with pytest.raises(InvalidInputFile) as info:
        register_file(home, path, name="batch")
    message = str(info.value)
    assert path.name in message, message
    assert says.lower() in message.lower(), message
    assert list_specs(home) == []
    files = versions_dir(home) / "files"
    assert not files.exists() or not any(files.iterdir())


def test_a_good_file_is_registered_once(tmp_path: Path):
    home = tmp_path / "home"
    src = _jsonl(tmp_path / "ok.jsonl", GOOD_ROW)
    spec = register_file(home, src, name="batch")
    assert spec.key.startswith("batch-") and Path(spec.path).read_bytes() == src.read_bytes()
    assert register_file(home, src, name="batch") == spec
    frame = pd.DataFrame([GOOD_ROW])
    frame.to_parquet(tmp_path / "ok.parquet", index=False)
    assert register_file(home, tmp_path / "ok.parquet").kind == "file"
    assert len(list_specs(home)) == 2


def test_validation_can_be_left_to_raw_addresses(tmp_path: Path):
    """validate=False registers as before (what raw_addresses then refuses is its own test)."""
    (tmp_path / "notext.csv").write_text("id,body\n1,hello\n", "utf-8")
    spec = register_file(tmp_path / "home", tmp_path / "notext.csv", validate=False)
    assert [s.key for s in list_specs(tmp_path / "home")] == [spec.key]
