import codecs
import gzip
import json

import pandas as pd
import pytest

from distill_assets.core.common.artifacts import sha256_file
from distill_assets.core.data import input_formats, inputs
from distill_assets.core.data.inputs import InputError, file_fingerprint, read_text_table

ROWS = [
    {"id": "a1", "text": "电话:23204753945:大理市人民路25号:收件者:段丽娟", "style": "colon"},
    {"id": "a2", "text": "天津市河西区友谊路1号 王伟 13800138000", "style": ""},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_reads_jsonl_with_ids_style_and_gold(tmp_path):
    rows = [dict(r, gold_name="段丽娟", extra=1) for r in ROWS]
    df = read_text_table(write_jsonl(tmp_path / "in.jsonl", rows))
    assert df["id"].tolist() == ["a1", "a2"]
    assert df["text"].tolist() == [r["text"] for r in ROWS]
    assert df["source"].tolist() == ["in.jsonl", "in.jsonl"]
    assert df["style"].tolist() == ["colon", ""]
    assert df["gold_name"].tolist() == ["段丽娟", "段丽娟"]
    assert "extra" not in df.columns
    fp = df.attrs["input"]
    assert fp["rows"] == 2 and fp["bytes"] == (tmp_path / "in.jsonl").stat().st_size
    assert fp["sha256"] == file_fingerprint(tmp_path / "in.jsonl")["sha256"]


def test_reads_csv_parquet_and_json_array_alike(tmp_path):
    frame = pd.DataFrame(ROWS)
    frame.to_csv(tmp_path / "in.csv", index=False)
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    (tmp_path / "in.json").write_text(json.dumps(ROWS, ensure_ascii=False), "utf-8")
    for name in ("in.csv", "in.parquet", "in.json"):
        df = read_text_table(tmp_path / name)
        assert df["id"].tolist() == ["a1", "a2"], name
        assert df["text"].tolist() == frame["text"].tolist(), name
        assert df["style"].tolist() == ["colon", ""], name
        assert df["source"].iloc[0] == name
        assert file_fingerprint(tmp_path / name)["rows"] == 2, name


def test_ids_made_from_file_stem_when_absent(tmp_path):
    p = tmp_path / "batch.jsonl"
    p.write_text('{"text": "a"}\n\n{"text": "b"}\n', "utf-8")
    df = read_text_table(p)
    assert df["id"].tolist() == ["batch-0000001", "batch-0000002"]
    assert df["style"].tolist() == ["", ""]


def test_csv_with_quoted_multiline_text_and_bom(tmp_path):
    p = tmp_path / "m.csv"
    p.write_bytes('\ufeffid,text\n1,"第一行\n第二行"\n2,"含,逗号"\n'.encode())
    df = read_text_table(p)
    assert df["id"].tolist() == ["1", "2"]
    assert df["text"].tolist() == ["第一行\n第二行", "含,逗号"]


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.jsonl", b"", "empty file"),
        ("blank.jsonl", b"\n  \n", "empty file"),
        ("header.csv", b"id,text\n", "empty file"),
        ("notext.jsonl", b'{"body": "x"}\n', "no `text` column"),
        ("notext.csv", b"id,body\n1,x\n", "no `text` column"),
        ("bad.jsonl", b'{"text": "a"}\n{"text": \n', r"line 2: invalid JSON"),
        ("list.jsonl", b'{"text": "a"}\n[1, 2]\n', r"line 2: expected a JSON object"),
        ("fields.csv", b"id,text\n1,a\n2,b,c\n", r"line 3: 3 fields"),
        ("num.jsonl", b'{"text": "a"}\n{"text": 12345}\n', r"line 2: `text` must be a string"),
        ("null.jsonl", b'{"text": "a"}\n{"text": null}\n', r"line 2: `text` must be a string"),
        ("blanktext.csv", b"id,text\n1,a\n2,  \n", r"line 3: empty `text`"),
        ("dup.jsonl", b'{"id": 1, "text": "a"}\n{"id": "1", "text": "b"}\n', "duplicate id"),
        ("png.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00", "binary data"),
        ("gz.csv", b"\x1f\x8b\x08\x00rest", "binary data"),
        ("nul.jsonl", b'{"text": "a"}\n\x00\x01\x02\x03\n', r"line 2: binary data"),
        ("x.xlsx", b"PK\x03\x04rest", "unsupported file type"),
        ("x.parquet.gz", b"\x1f\x8b\x08\x00rest", "unsupported file type"),
        ("bad.csv.gz", b"\x1f\x8b\x08\x00rest", "not readable gzip"),
    ],
)
def test_bad_inputs_name_file_and_row(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputError, match=match) as exc:
        read_text_table(p)
    assert str(p) in str(exc.value)


def test_duplicate_id_names_both_lines(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"id": "x", "text": "a"}\n{"id": "y", "text": "b"}\n{"id": "x", "text": "c"}\n')
    with pytest.raises(InputError, match=r"line 3: duplicate id 'x' \(first at line 1\)"):
        read_text_table(p)


# Issue 14: real files just work. Excel in China writes GBK/GB18030 CSV and UTF-16 "Unicode
# text"; the encoding is detected (charset-normalizer) and recorded.
CN_TEXTS = [
    "大理市人民路25号 段丽娟 23204753945",
    "收货人：张三，北京市朝阳区建国路1号 13800001111",
]


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_gbk_csv_is_detected_and_read(tmp_path, encoding):
    p = tmp_path / "gbk.csv"
    body = "id,text\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(CN_TEXTS))
    p.write_bytes(body.encode(encoding))
    df = read_text_table(p)
    assert df["text"].tolist() == CN_TEXTS
    assert df.attrs["input"]["encoding"] == "gb18030"  # GBK read by its superset
    assert df.attrs["input"]["sha256"] == sha256_file(p)


def test_short_gbk_csv_is_not_taken_for_korean(tmp_path):
    p = tmp_path / "short.csv"
    p.write_bytes("id,text\n1,大理市人民路25号 段丽娟\n".encode("gbk"))
    assert read_text_table(p)["text"].tolist() == ["大理市人民路25号 段丽娟"]


def test_excel_unicode_text_utf16_with_bom(tmp_path):
    p = tmp_path / "excel.txt"  # Excel's "Unicode text": UTF-16 LE, BOM, tab-separated
    body = "id\ttext\r\n" + "".join(f"{i}\t{t}\r\n" for i, t in enumerate(CN_TEXTS))
    p.write_bytes(codecs.BOM_UTF16_LE + body.encode("utf-16-le"))
    df = read_text_table(p)
    assert df["id"].tolist() == ["0", "1"] and df["text"].tolist() == CN_TEXTS
    assert df.attrs["input"]["encoding"] == "utf-16"
    u16 = tmp_path / "u16.jsonl"
    u16.write_bytes('{"text": "天津市河西区友谊路35号"}\n'.encode("utf-16"))
    assert read_text_table(u16)["text"].tolist() == ["天津市河西区友谊路35号"]


def test_txt_one_text_per_line(tmp_path):
    p = tmp_path / "texts.txt"
    p.write_text(CN_TEXTS[0] + "\n\n" + CN_TEXTS[1] + "\r\n", encoding="utf-8")
    df = read_text_table(p)
    assert df["text"].tolist() == CN_TEXTS
    assert df["id"].tolist() == ["texts-0000001", "texts-0000002"]
    assert df.attrs["input"]["encoding"] == "utf-8"


@pytest.mark.parametrize("name", ["in.jsonl.gz", "in.csv.gz", "in.txt.gz"])
def test_gzip_compressed_inputs(tmp_path, name):
    p = tmp_path / name
    if name.startswith("in.jsonl"):
        body = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in CN_TEXTS)
    elif name.startswith("in.csv"):
        body = "text\n" + "".join(f'"{t}"\n' for t in CN_TEXTS)
    else:
        body = "\n".join(CN_TEXTS)
    p.write_bytes(gzip.compress(body.encode("gb18030" if "csv" in name else "utf-8")))
    df = read_text_table(p)
    assert df["text"].tolist() == CN_TEXTS
    assert df.attrs["input"]["compression"] == "gzip"
    assert df.attrs["input"]["encoding"] == ("gb18030" if "csv" in name else "utf-8")


def test_parquet_null_and_number_text(tmp_path):
    p = tmp_path / "n.parquet"
    pd.DataFrame({"text": ["a", None, "c"]}).to_parquet(p)
    with pytest.raises(InputError, match=r"row 2: `text` must be a string, got null"):
        read_text_table(p)
    q = tmp_path / "i.parquet"
    pd.DataFrame({"text": [1, 2]}).to_parquet(q)
    with pytest.raises(InputError, match=r"row 1: `text` must be a string, got int"):
        read_text_table(q)


def test_empty_text_can_be_dropped_and_counted(tmp_path):
    p = tmp_path / "e.jsonl"
    p.write_text('{"text": "a"}\n{"text": null}\n{"text": " "}\n{"text": "d"}\n')
    logs: list[str] = []
    df = read_text_table(p, empty_text="drop", log=logs.append)
    assert df["text"].tolist() == ["a", "d"]
    assert df["id"].tolist() == ["e-0000001", "e-0000004"]  # ids keep the input row
    assert df.attrs["input"]["dropped_empty_text"] == 2
    assert any("dropped 2" in m for m in logs)


def test_50mb_line_is_rejected_without_reading_it_whole(tmp_path, monkeypatch):
    p = tmp_path / "big.jsonl"
    with open(p, "wb") as fh:
        fh.write(b'{"text": "ok"}\n{"text": "')
        fh.write(b"x" * (50 * 1024 * 1024))
        fh.write(b'"}\n')
    reads: list[int] = []
    real = input_formats.iter_lines

    def spy(path, fh, max_line_bytes, hasher):
        reads.append(max_line_bytes)
        return real(path, fh, max_line_bytes, hasher)

    monkeypatch.setattr(input_formats, "iter_lines", spy)
    with pytest.raises(InputError, match=r"big.jsonl line 2: line longer than"):
        read_text_table(p)
    assert reads and reads[0] < 1024 * 1024  # bounded read size, far below 50 MB


def test_text_over_char_limit(tmp_path):
    p = tmp_path / "long.csv"
    p.write_text("text\nshort\n" + "长" * 50 + "\n", "utf-8")
    with pytest.raises(InputError, match=r"line 3: `text` has 50 chars, over the limit of 20"):
        read_text_table(p, max_text_chars=20)
    assert len(read_text_table(p, max_text_chars=50)) == 2


def test_file_changed_while_read(tmp_path, monkeypatch):
    p = write_jsonl(tmp_path / "live.jsonl", ROWS)
    real = inputs.read_jsonl

    def appending(path, fh, max_line_bytes, hasher):
        out = real(path, fh, max_line_bytes, hasher)
        with open(path, "a", encoding="utf-8") as w:  # a writer still appending
            w.write('{"id": "a3", "text": "late"}\n')
        return out

    monkeypatch.setattr(inputs, "read_jsonl", appending)
    with pytest.raises(InputError, match="changed while being read"):
        read_text_table(p)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_text_table(tmp_path / "nope.csv")


def test_compressed_gbk_file_registers_and_reads_as_a_version(tmp_path):
    """A dataset version keeps `.csv.gz` whole, so raw_addresses reads what was registered."""
    from distill_assets.core.data.dataset_versions import register_file
    from distill_assets.core.data.raw_batch import write_raw_batch

    src = tmp_path / "orders.csv.gz"
    body = "text\n" + "".join(f'"{t}"\n' for t in CN_TEXTS)
    src.write_bytes(gzip.compress(body.encode("gb18030")))
    spec = register_file(tmp_path / "home", src)
    assert spec.path.endswith(".csv.gz")
    batch = write_raw_batch(tmp_path / "home", spec.key, tmp_path / "raw")
    assert batch.frame["text"].tolist() == CN_TEXTS
