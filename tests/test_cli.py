"""`distill` commands: the stable last lines other tools parse, and their exit codes."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from distill_assets.cli import main
from distill_assets.core.common.lineage import ASSET_CHAIN, write_manifest
from distill_assets.core.common.schema import FIELDS
from tests.conftest import DALI_LABEL, DALI_TEXT

TEXTS = [
    "电话:23204753945:大理市人民路25号 大理古城国际酒店 3号楼:收件者:段丽娟",
    "天津市河西区珠江道21号金泰大厦3层 , 接收人慕容修远 , MOBILE:22323185576",
    "收货人：欧阳娜娜，手机号码：+86 139-1234-5678，广西南宁市青秀区民族大道88号",
]
LABEL_LINE = re.compile(r"^labelled (\d+): ok=(\d+) failed=(\d+) cached=(\d+) requests=(\d+)$")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _write(path, fmt: str) -> None:
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(len(TEXTS))], "text": TEXTS})
    if fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_label_gazetteer_every_format(home, tmp_path, capsys, fmt):
    src = tmp_path / f"in.{fmt}"
    _write(src, fmt)
    out = tmp_path / "out.jsonl"
    assert main(["label", "--teacher", "gazetteer", "--input", str(src), "--output", str(out)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    m = LABEL_LINE.match(last)
    assert m, last
    assert int(m.group(1)) == 3 and int(m.group(2)) == 3 and int(m.group(3)) == 0
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["r0", "r1", "r2"]
    assert all(set(FIELDS) <= set(r) and r["status"] == "ok" for r in rows)
    assert rows[0]["city"] == "大理白族自治州" and rows[0]["phone"] == "23204753945"
    assert rows[1]["name"] == "慕容修远" and rows[1]["city"] == "天津市"
    assert rows[2]["phone"] == "13912345678" and rows[2]["province"] == "广西壮族自治区"


def test_label_bad_input_exits_nonzero(home, tmp_path, capsys):
    src = tmp_path / "bad.csv"
    src.write_text("id,body\n1,x\n", encoding="utf-8")
    rc = main(["label", "--input", str(src), "--output", str(tmp_path / "o.jsonl")])
    assert rc == 1
    assert "bad.csv" in capsys.readouterr().err


def _fake_chain(root, version):
    upstream: dict[str, str] = {}
    for asset in ASSET_CHAIN:
        folder = root / version / asset
        folder.mkdir(parents=True)
        (folder / "data.txt").write_text(f"{asset} content", encoding="utf-8")
        manifest = write_manifest(
            folder, asset=asset, version=version, code_version="v1", upstream=upstream
        )
        upstream = {asset: manifest["data_version"]}


def test_audit_ok_then_altered_then_missing(home, capsys):
    _fake_chain(home / "artifacts", "v1")
    assert main(["audit", "v1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == "audit: version=v1 ok=true problems=0"
    assert [line.split(":")[0] for line in out[:-1]] == list(ASSET_CHAIN)

    target = home / "artifacts" / "v1" / "lora_adapter" / "data.txt"
    target.write_text("tampered", encoding="utf-8")
    assert main(["audit", "v1"]) == 1
    out = capsys.readouterr().out
    assert "altered file" in out and str(target) in out

    target.unlink()
    assert main(["audit", "v1"]) == 1
    assert "missing file" in capsys.readouterr().out


def test_audit_unknown_version_fails(home, capsys):
    assert main(["audit", "nope"]) == 1
    assert "missing manifest" in capsys.readouterr().out


def test_predict_writes_one_row_per_input(home, tmp_path, tiny_model_dir, capsys):
    src = tmp_path / "in.jsonl"
    _write(src, "jsonl")
    out = tmp_path / "pred.jsonl"
    args = ["predict", "--model", str(tiny_model_dir), "--input", str(src), "--output", str(out)]
    assert main([*args, "--max-new-tokens", "8"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.match(r"^predicted 3: valid_json=\d+ samples_per_s=[\d.]+ decoding=free out", last)
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["r0", "r1", "r2"]
    assert all(set(FIELDS) <= set(r) and "output" in r for r in rows)


def test_add_version_synthetic_registers_a_partition(home, capsys):
    import dagster as dg

    assert main(["add-version", "batch", "--synthetic", "50"]) == 0
    assert capsys.readouterr().out.strip() == "version=batch kind=synthetic"
    instance = dg.DagsterInstance.get()
    assert "batch" in instance.get_dynamic_partitions("dataset_version")


def test_add_benchmark_registers_a_gold_file(home, tmp_path, capsys):
    src = tmp_path / "gold.jsonl"
    row = {"text": DALI_TEXT, **DALI_LABEL}
    pd.DataFrame([row]).to_json(src, orient="records", lines=True, force_ascii=False)
    assert main(["add-benchmark", "shop", "--from", str(src)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.match(r"^benchmark=shop rows=1 sha256=[0-9a-f]{12}$", last), last
    assert (home / "benchmarks" / "shop" / "benchmark.parquet").is_file()
    unlabelled = tmp_path / "texts.jsonl"
    pd.DataFrame({"text": TEXTS}).to_json(unlabelled, orient="records", lines=True)
    assert main(["add-benchmark", "other", "--from", str(unlabelled)]) == 1
    assert "six fields" in capsys.readouterr().err


# ------------------------------------------------------------------ issue 14: one teacher


def test_label_options_are_the_teacher_settings_fields(home, tmp_path):
    """Every TeacherSettings field the asset can set has an option, with the same default."""
    from distill_assets.cli import build_parser
    from distill_assets.cli.label import teacher_settings
    from distill_assets.core.teacher.settings import TeacherSettings

    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Answer with JSON only.", encoding="utf-8")
    base = ["label", "--teacher", "openai", "--base-url", "http://x/v1", "--model", "m"]
    base += ["--input", "i.jsonl", "--output", "o.jsonl"]
    plain = teacher_settings(build_parser().parse_args(base))
    defaults = TeacherSettings()
    for name in ("max_tokens", "json_mode", "currency", "max_failure_rate", "temperature"):
        assert getattr(plain, name) == getattr(defaults, name), name
    args = build_parser().parse_args(
        [*base, "--no-json-mode", "--temperature", "0.3", "--max-tokens", "99",
         "--max-failure-rate", "0.5", "--budget-tokens", "1000", "--budget-cost", "2.5",
         "--prompt-file", str(prompt)]
    )  # fmt: skip
    s = teacher_settings(args)
    assert (s.json_mode, s.temperature, s.max_tokens) == (False, 0.3, 99)
    assert (s.max_failure_rate, s.budget_tokens, s.budget_cost) == (0.5, 1000, 2.5)
    assert s.system_prompt() == "Answer with JSON only."
    assert s.identity()["prompt_hash"] != plain.identity()["prompt_hash"]
    # the teacher kind, like base URL and model, is the profile's unless given (as the asset's)
    io = ["label", "--input", "i.jsonl", "--output", "o.jsonl"]
    assert teacher_settings(build_parser().parse_args([*io, "--profile", "test"])).kind == (
        "gazetteer"
    )
    gpu = teacher_settings(build_parser().parse_args([*io, "--profile", "gpu"]))
    assert gpu.kind == "openai" and gpu.base_url.startswith("https://")


def test_label_then_asset_pays_nothing_twice(home, tmp_path, capsys, monkeypatch):
    """The CLI and the teacher_labels asset build the same settings: the same cache key."""
    from distill_assets.core.data.dataset_versions import register_file
    from distill_assets.defs.assets import raw_addresses, teacher_labels
    from tests.defs.conftest import Env
    from tests.fake_openai import FakeOpenAI

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-one-config")
    src = tmp_path / "in.jsonl"
    _write(src, "jsonl")
    with FakeOpenAI() as fake:
        args = ["label", "--teacher", "openai", "--base-url", fake.base_url]
        args += ["--model", "fake-teacher", "--input", str(src), "--output", str(tmp_path / "o")]
        assert main(args) == 0
        last = capsys.readouterr().out.strip().splitlines()[-1]
        assert LABEL_LINE.match(last) and last.endswith(f"requests={len(TEXTS)}"), last
        asked = fake.requests
        assert asked == len(TEXTS)

        from distill_assets.defs.resources import TeacherResource

        env = Env(home)
        key = env.add(register_file(home, src, name="same-rows").key)
        teacher = TeacherResource(kind="openai", base_url=fake.base_url, model="fake-teacher")
        result = dg_materialize(env, [raw_addresses, teacher_labels], key, teacher)
        assert result.success
        assert fake.requests == asked  # zero new requests: every answer came from the cache
        labels = pd.read_parquet(env.asset_dir(key, "teacher_labels") / "labels.parquet")
        assert bool(labels["cached"].all()) and len(labels) == len(TEXTS)


def dg_materialize(env, assets, key, teacher):
    import dagster as dg

    from distill_assets.defs.resources import DistillSettings

    return dg.materialize(
        assets,
        partition_key=key,
        instance=env.instance,
        resources={"settings": DistillSettings(profile="test", home=str(env.home)),
                   "teacher": teacher},
    )  # fmt: skip


def test_label_past_the_failure_threshold_writes_every_row(home, tmp_path, capsys, monkeypatch):
    """17 of 20 answers not JSON (a small local model): exit 1, but the output has every row."""
    from tests.fake_openai import FakeOpenAI

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-threshold")
    texts = [f"天津市河西区友谊路{i}号 王明{i} 139{i:08d}" for i in range(20)]
    src = tmp_path / "in.jsonl"
    pd.DataFrame({"text": texts}).to_json(src, orient="records", lines=True, force_ascii=False)
    out = tmp_path / "out.jsonl"
    with FakeOpenAI() as fake:
        for t in texts[:17]:
            fake.text_faults[t] = ["malformed"] * 10
        args = ["label", "--teacher", "openai", "--base-url", fake.base_url, "--model", "m"]
        args += ["--input", str(src), "--output", str(out), "--max-attempts", "1"]
        assert main(args) == 1
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    m = LABEL_LINE.match(lines[-1])
    assert m and m.group(1) == "20" and m.group(3) == "17", lines[-1]
    assert lines[-2] == "statuses: ok=3 invalid_json=17"
    assert "failure rate" in captured.err
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(rows) == 20
    assert [r["status"] for r in rows].count("invalid_json") == 17


def test_label_reports_every_status(home, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    texts = [*TEXTS, "市中区经十路1号 张三 13800001111", "北京路88号 赵六 13600004444"]
    pd.DataFrame({"text": texts}).to_json(src, orient="records", lines=True, force_ascii=False)
    out = tmp_path / "out.jsonl"
    assert main(["label", "--input", str(src), "--output", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2] == "statuses: ok=3 ambiguous=1 no_region=1"
    assert LABEL_LINE.match(lines[-1]) and lines[-1].startswith("labelled 5: ok=3 ")
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert rows[3]["status"] == "ambiguous" and "济南市" in rows[3]["error"]
    assert rows[4]["specific_location"] == "北京路88号"


def test_label_refuses_to_overwrite_its_input(home, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    _write(src, "jsonl")
    before = src.read_bytes()
    assert main(["label", "--input", str(src), "--output", str(src)]) == 1
    assert "is the input" in capsys.readouterr().err
    assert src.read_bytes() == before
    link = tmp_path / "same.jsonl"
    link.symlink_to(src)
    assert main(["label", "--input", str(src), "--output", str(link)]) == 1
    assert src.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("excel.csv", lambda: ("id,text\n" + "".join(
            f'r{i},"{t}"\n' for i, t in enumerate(TEXTS))).encode("gbk")),
        ("lines.txt", lambda: "\n".join(TEXTS).encode("utf-8")),
        ("excel_unicode.txt", lambda: "\ufeffid\ttext\r\n".encode("utf-16-le") + "".join(
            f"r{i}\t{t}\r\n" for i, t in enumerate(TEXTS)).encode("utf-16-le")),
    ],
)  # fmt: skip
def test_label_reads_real_files(home, tmp_path, capsys, name, encode):
    from distill_assets.core.teacher.label_files import label_file
    from distill_assets.core.teacher.settings import TeacherSettings

    src = tmp_path / name
    src.write_bytes(encode())
    out = tmp_path / "out.jsonl"
    assert main(["label", "--input", str(src), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(rows) == 3 and rows[0]["name"] == "段丽娟" and rows[1]["name"] == "慕容修远"
    summary = label_file(src, tmp_path / "again.jsonl", TeacherSettings(kind="gazetteer"))
    want = {"excel.csv": "gb18030", "lines.txt": "utf-8", "excel_unicode.txt": "utf-16"}[name]
    assert summary["input_encoding"] == want


def test_add_version_from_a_bad_file_registers_nothing(home, tmp_path, capsys):
    """The file is read with the raw_addresses reader at registration: a bad row is an error
    naming the file and the row, exit 2, no version and no partition."""
    src = tmp_path / "batch.jsonl"
    src.write_text(
        json.dumps({"id": "a", "text": TEXTS[0]}, ensure_ascii=False) + "\n"
        '{"id": "b", "text": "   "}\n',
        encoding="utf-8",
    )
    assert main(["add-version", "batch", "--from", str(src)]) == 2
    err = capsys.readouterr().err
    assert "batch.jsonl line 2" in err and "nothing registered" in err
    assert not (home / "versions").exists() or not list((home / "versions").glob("*.json"))

    _write(src, "jsonl")
    assert main(["add-version", "batch", "--from", str(src)]) == 0
    assert capsys.readouterr().out.strip().startswith("version=batch-")


def test_predict_decoding_flags():
    """auto (the model's recorded decoding) unless a flag says otherwise; one flag at a time."""
    from distill_assets.cli import build_parser
    from distill_assets.cli.predict import DECODINGS

    base = ["predict", "--model", "m", "--input", "i", "--output", "o"]
    parse = build_parser().parse_args
    assert DECODINGS[parse(base).decoding] == (None, None)
    assert DECODINGS[parse([*base, "--grounded"]).decoding] == (True, True)
    assert DECODINGS[parse([*base, "--json-constrained"]).decoding] == (True, False)
    assert DECODINGS[parse([*base, "--decoding", "free"]).decoding] == (False, False)
    with pytest.raises(SystemExit):
        parse([*base, "--grounded", "--decoding", "free"])


def test_promote_rollback_and_audit_production(home, capsys):
    from tests.production_chain import fake_version

    assert main(["audit", "--production"]) == 1
    assert capsys.readouterr().out.strip().endswith("ok=false problems=1")
    fake_version(home, "v1")
    fake_version(home, "v2", tuned=0.9)
    fake_version(home, "bad", passed=False)
    assert main(["promote", "bad"]) == 1
    assert "promotion gate" in capsys.readouterr().err
    assert main(["promote", "v1"]) == 0
    assert main(["promote", "v2", "--reason", "better"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.match(r"^production: version=v2 action=promote tuned_exact=0\.900 previous=v1 ", last)

    assert main(["audit", "--production"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "audit: production version=v2 ok=true problems=0"
    assert [line.split(":")[0] for line in lines[1:-1]] == list(ASSET_CHAIN)
    assert '"file_sha256": "v2-sha"' in lines[1] and '"prompt_hash": "abc123def456"' in lines[2]
    assert '"tuned_exact_match": 0.9' in lines[6]

    assert main(["promote", "--rollback", "--reason", "v2 misbehaves"]) == 0
    assert "version=v1 action=rollback" in capsys.readouterr().out
    import dagster as dg

    events = dg.DagsterInstance.get().fetch_materializations(
        dg.AssetKey("production_model"), limit=10
    )
    assert len(events.records) == 3


def test_serve_prints_the_vllm_command_for_the_production_model(home, tiny_model_dir, capsys):
    assert main(["serve", "--print"]) == 2
    assert "no model in production" in capsys.readouterr().err
    args = ["serve", "--model", str(tiny_model_dir), "--port", "8011", "--print"]
    assert main([*args, "--", "--max-model-len", "1024"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"serve: vllm serve {tiny_model_dir.resolve()} ")
    assert "--served-model-name distill-student" in last and "--port 8011" in last
    assert "--max-model-len 1024" in last and "enable_thinking" in last
