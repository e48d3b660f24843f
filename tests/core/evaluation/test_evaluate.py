"""Scoring on toy data, prediction parsing, and evaluate() end to end on a tiny dataset folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from distill_assets.core.common.prompts import student_prompt, teacher_prompt
from distill_assets.core.common.schema import FIELDS, label_to_json
from distill_assets.core.evaluation.evaluate import EvalParams, evaluate
from distill_assets.core.evaluation.score import recount, score
from distill_assets.core.student import inference
from distill_assets.core.student.inference import Generation
from distill_assets.core.teacher.answers import parse_prediction
from tests.conftest import DALI_LABEL as REF
from tests.conftest import DALI_TEXT as TEXT

# ---------------------------------------------------------------- parse_prediction


@pytest.mark.parametrize(
    "text",
    [
        label_to_json(REF),
        "  \n" + label_to_json(REF) + "\n\n",
        "```json\n" + label_to_json(REF) + "\n```",
        "<think>\n分析一下 {\n</think>\n\n" + label_to_json(REF),
        json.dumps({**REF, "extra": "x"}, ensure_ascii=False),
    ],
)
def test_parse_prediction_accepts(text: str) -> None:
    parsed = parse_prediction(text)
    assert parsed is not None
    assert {k: parsed[k] for k in FIELDS} == REF


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "答案: " + label_to_json(REF),
        label_to_json(REF) + " 以上",
        json.dumps({k: REF[k] for k in FIELDS[:-1]}, ensure_ascii=False),  # missing phone
        "[" + label_to_json(REF) + "]",
        '{"province": "云南省"',
    ],
)
def test_parse_prediction_rejects(text: str) -> None:
    assert parse_prediction(text) is None


# ---------------------------------------------------------------- score


def test_score_toy_data() -> None:
    other = {**REF, "name": "段丽", "phone": "1"}
    preds = [
        label_to_json(REF),  # exact
        "  " + label_to_json(REF) + "\n",  # exact, whitespace tolerated
        label_to_json(other),  # valid, two fields wrong
        json.dumps({k: REF[k] for k in FIELDS if k != "city"}, ensure_ascii=False),  # missing key
        "{invalid",  # invalid JSON
    ]
    refs = [REF] * 5
    s = score(preds, refs, groups=["a", "a", "b", "b", "b"])
    assert s["n"] == 5
    assert s["valid_json_rate"] == pytest.approx(3 / 5)
    assert s["exact_match"] == pytest.approx(2 / 5)
    assert s["field_accuracy"]["province"] == pytest.approx(3 / 5)
    assert s["field_accuracy"]["name"] == pytest.approx(2 / 5)
    assert s["field_accuracy"]["phone"] == pytest.approx(2 / 5)
    assert s["by_group"] == {"a": {"n": 2, "exact_match": 1.0}, "b": {"n": 3, "exact_match": 0.0}}


def test_score_compares_with_str_only() -> None:
    pred = json.dumps({**REF, "phone": 23204753945}, ensure_ascii=False)  # int == "2320..."
    assert score([pred], [REF])["exact_match"] == 1.0
    spaced = json.dumps({**REF, "name": " 段丽娟"}, ensure_ascii=False)  # no strip
    assert score([spaced], [REF])["exact_match"] == 0.0
    assert "by_group" not in score([pred], [REF])


def test_score_errors_are_loud() -> None:
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        score(["{}", "{}"], [REF])
    with pytest.raises(ValueError, match="no predictions"):
        score([], [])
    with pytest.raises(KeyError, match="reference row 0"):
        score(["{}"], [{"province": "x"}])


# ---------------------------------------------------------------- evaluate


def _dataset(root: Path, n_test: int = 4) -> Path:
    rows = []
    phones = ["23204753945", "13800138000", "15912345678", "18688886666", "17700001111"]
    styles = ["colon", "plain"]
    for i in range(n_test + 2):
        phone = phones[i % len(phones)]
        label = {**REF, "phone": phone}
        row = {
            "id": f"r{i}",
            "text": TEXT.replace("23204753945", phone),
            "style": styles[i % 2],
            **label,
            **{f"gold_{k}": v for k, v in label.items()},
            "split": "test" if i < n_test else "train",
        }
        if i == 1:  # the teacher got one wrong vs gold
            row["gold_name"] = "段丽"
        rows.append(row)
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(root / "dataset.parquet")
    return root


class FakeBackend:
    """Answers like a perfect tuned student (short prompt) and a chatty base (detailed prompt)."""

    kind = "fake"
    info = {"kind": "fake"}

    def __init__(self, labels: dict[str, dict[str, str]]) -> None:
        self.labels = labels

    def generate(self, requests):
        out = []
        for system, user in requests:
            label = self.labels[user]
            if system == student_prompt():
                text = label_to_json(label)
            elif system == teacher_prompt():
                chatty = label["phone"] == "23204753945"
                text = (
                    "好的: " + label_to_json(label)
                    if chatty
                    else (label_to_json({**label, "name": ""}))
                )
            else:
                raise AssertionError("unexpected prompt")
            out.append(Generation(text, 10, 5))
        return out

    def close(self) -> None:
        pass


def test_evaluate_scores_and_writes_everything(tmp_path: Path, monkeypatch) -> None:
    ds = _dataset(tmp_path / "ds")
    df = pd.read_parquet(ds / "dataset.parquet")
    labels: dict[str, dict[str, str]] = {
        str(r["text"]): {k: str(r[k]) for k in FIELDS} for _, r in df.iterrows()
    }
    monkeypatch.setattr(inference, "load_backend", lambda *a, **k: FakeBackend(labels))
    logs: list[str] = []
    res = evaluate(
        "base", "tuned", ds, tmp_path / "out", EvalParams(promotion_threshold=0.9), logs.append
    )
    m = res.metrics
    assert m["n"] == 4
    assert m["tuned"]["exact_match"] == 1.0
    assert m["base"]["exact_match"] == 0.0
    assert m["base"]["valid_json_rate"] == 0.75  # the "好的: {...}" answer is not valid
    assert m["base"]["field_accuracy"]["name"] == 0.0
    assert m["base"]["field_accuracy"]["phone"] == 0.75
    assert m["gold"]["teacher"]["exact_match"] == 0.75
    assert m["gold"]["tuned"]["exact_match"] == 0.75
    assert m["promotion_gate"]["passed"] is True
    assert m["tuned"]["by_group"] == {
        "colon": {"n": 2, "exact_match": 1.0},
        "plain": {"n": 2, "exact_match": 1.0},
    }
    assert m["lineage"]["dataset_parquet_sha256"]
    assert any("tuned exact=1.000" in line for line in logs)
    on_disk = json.loads((tmp_path / "out" / "metrics.json").read_text("utf-8"))
    assert on_disk["tuned"]["exact_match"] == 1.0
    for who in ("base", "tuned"):
        again = recount(tmp_path / "out" / f"predictions_{who}.jsonl", view=m["judged"])
        assert again == {k: m[who][k] for k in again}


def test_evaluate_rejects_a_folder_without_test_rows(tmp_path: Path) -> None:
    ds = _dataset(tmp_path / "ds", n_test=0)
    with pytest.raises(ValueError, match="no rows with split == 'test'"):
        evaluate("b", "t", ds, tmp_path / "out", EvalParams())
    with pytest.raises(FileNotFoundError, match="dataset.parquet"):
        evaluate("b", "t", tmp_path / "nowhere", tmp_path / "out", EvalParams())


def test_evaluate_end_to_end_on_the_tiny_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ds = _dataset(tmp_path / "ds", n_test=3)
        out = tmp_path / "eval"
        res = evaluate(
            tiny_model_dir,
            tiny_model_dir,
            ds,
            out,
            EvalParams(max_new_tokens=26, batch_size=4, json_constrained=True, limit=3),
        )
    finally:
        torch.set_num_threads(old)
    names = {p.name for p in out.iterdir()}
    assert names == {
        "predictions_base.jsonl",
        "predictions_tuned.jsonl",
        "metrics.json",
        "report.md",
        "report.html",
        "field_accuracy.png",
    }
    assert (out / "field_accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = json.loads((out / "metrics.json").read_text("utf-8"))
    assert m == json.loads(json.dumps(res.metrics))
    assert m["n"] == 3
    # Constrained decoding: always valid JSON, even from random weights.
    assert m["base"]["valid_json_rate"] == 1.0 and m["tuned"]["valid_json_rate"] == 1.0
    assert m["base"]["samples_per_s"] > 0 and m["tuned"]["tokens_out"] > 0
    for who in ("base", "tuned"):
        rows = [json.loads(x) for x in (out / f"predictions_{who}.jsonl").read_text().splitlines()]
        assert [r["id"] for r in rows] == ["r0", "r1", "r2"]
        assert {"id", "text", "prediction", "parsed", "reference", "correct"} <= set(rows[0])
        again = recount(out / f"predictions_{who}.jsonl", view=m["judged"])
        assert again == {k: m[who][k] for k in again}
    report = (out / "report.md").read_text("utf-8")
    assert res.report_md == report
    # The worst errors show the texts with phones and names masked.
    assert "232****3945" in report and "23204753945" not in report
    assert "段**" in report and "段丽娟" not in report
    html = (out / "report.html").read_text("utf-8")
    assert "232****3945" in html and "23204753945" not in html


# ---------------------------------------------------------------- views, like with like


SHORT = {**REF, "province": "", "city": "大理"}  # what a small student writes: short, partial


class ScriptedBackend:
    """The tuned student's answer per text is scripted; the base answers like a perfect one."""

    kind = "fake"
    info = {"kind": "fake"}

    def __init__(self, answers: dict[str, str], labels: dict[str, dict[str, str]]) -> None:
        self.answers, self.labels = answers, labels
        self.requests: list[tuple[str, str]] = []

    def generate(self, requests):
        self.requests += list(requests)
        out = []
        for system, user in requests:
            if system == teacher_prompt():
                out.append(Generation(label_to_json(self.labels[user]), 10, 5))
            else:
                out.append(Generation(self.answers[user], 10, 5))
        return out

    def close(self) -> None:
        pass


def _labels_by_text(ds: Path) -> dict[str, dict[str, str]]:
    df = pd.read_parquet(ds / "dataset.parquet")
    return {str(r["text"]): {k: str(r[k]) for k in FIELDS} for _, r in df.iterrows()}


def test_raw_and_canonicalised_side_by_side(tmp_path: Path, monkeypatch) -> None:
    ds = _dataset(tmp_path / "ds")
    labels = _labels_by_text(ds)
    answers = {t: label_to_json({**SHORT, "phone": lab["phone"]}) for t, lab in labels.items()}
    backend = ScriptedBackend(answers, labels)
    monkeypatch.setattr(inference, "load_backend", lambda *a, **k: backend)
    m = evaluate("b", "t", ds, tmp_path / "out", EvalParams(promotion_threshold=0.5)).metrics
    assert m["judged"] == "canonical"
    assert m["tuned_raw"]["exact_match"] == 0.0
    assert m["tuned"]["exact_match"] == m["tuned_canonical"]["exact_match"] == 1.0
    assert m["tuned_raw"]["field_accuracy"]["city"] == 0.0
    assert m["divisions"] == {"canonical": 4}
    assert m["misses_raw"]["division_missing"]["rows"] == 4
    assert m["misses"]["division_missing"]["rows"] == 0
    assert "judged canonical" in m["promotion_gate"]["reason"]
    report = (tmp_path / "out" / "report.md").read_text("utf-8")
    assert "| exact match | 100.0% | 100.0% | 0.0% | 100.0% |" in report
    rows = [json.loads(x) for x in (tmp_path / "out" / "predictions_tuned.jsonl").open()]
    assert rows[0]["parsed"]["city"] == "大理" and rows[0]["canonical"]["city"] == "大理白族自治州"
    # Switched off: the raw answers are judged, and the gate says so.
    off = EvalParams(promotion_threshold=0.5, canonicalize=False)
    m = evaluate("b", "t", ds, tmp_path / "off", off).metrics
    assert m["judged"] == "raw" and m["tuned"]["exact_match"] == 0.0
    assert "judged raw" in m["promotion_gate"]["reason"] and not m["promotion_gate"]["passed"]


def test_base_and_tuned_compared_on_the_same_rows(tmp_path: Path, monkeypatch) -> None:
    ds = _dataset(tmp_path / "ds")
    labels = _labels_by_text(ds)
    texts = list(labels)[:4]
    # The tuned student misses the first test row only; the base is perfect on rows 1-2.
    answers = {t: label_to_json(labels[t]) for t in labels}
    answers[texts[0]] = "{broken"
    monkeypatch.setattr(inference, "load_backend", lambda *a, **k: ScriptedBackend(answers, labels))
    params = EvalParams(base_limit=2, promotion_threshold=0.5)
    m = evaluate("b", "t", ds, tmp_path / "out", params).metrics
    assert m["base"]["n"] == 2 and m["base"]["exact_match"] == 1.0
    assert m["tuned"]["n"] == 4 and m["tuned"]["exact_match"] == 0.75
    assert m["tuned_on_base_rows"]["n"] == 2 and m["tuned_on_base_rows"]["exact_match"] == 0.5
    assert m["promotion_gate"]["passed"] is False
    assert "on the same 2 rows" in m["promotion_gate"]["reason"]
    assert m["misses"]["invalid_json"]["rows"] == 1


def test_every_caller_normalises_the_input_text(tmp_path: Path, monkeypatch) -> None:
    """eval and `distill predict` send the student the same normalised text."""
    from distill_assets.core.common.normalize import normalize_text
    from distill_assets.core.student import predict

    ds = _dataset(tmp_path / "ds")
    labels = _labels_by_text(ds)
    answers = {t: label_to_json(labels[t]) for t in labels}
    backend = ScriptedBackend(answers, labels)
    monkeypatch.setattr(inference, "load_backend", lambda *a, **k: backend)
    monkeypatch.setattr(predict, "load_backend", lambda *a, **k: backend)
    evaluate("b", "t", ds, tmp_path / "out", EvalParams(tuned_prompt="student"))
    eval_users = [u for s, u in backend.requests if s == student_prompt()]
    messy = [t.replace("25", "２５").replace(" ", "\u3000 ") for t in eval_users]
    assert messy != eval_users and [normalize_text(t) for t in messy] == eval_users
    src = tmp_path / "messy.jsonl"
    pd.DataFrame({"text": messy}).to_json(src, orient="records", lines=True, force_ascii=False)
    backend.requests.clear()
    predict.predict_file(Path("m"), src, tmp_path / "pred.jsonl", prompt="student_system")
    assert [u for _, u in backend.requests] == eval_users
    tuned = [json.loads(x) for x in (tmp_path / "out" / "predictions_tuned.jsonl").open()]
    pred = [json.loads(x) for x in (tmp_path / "pred.jsonl").open()]
    assert [{f: r[f] for f in FIELDS} for r in pred] == [r["canonical"] for r in tuned]


def test_eval_and_predict_decode_alike(tmp_path: Path, monkeypatch) -> None:
    """The demo profile's grounded decoding reaches every backend eval loads, and `distill
    predict --grounded` asks for the same; the report says how the models decoded."""
    from distill_assets.core.common.profiles import get_profile
    from distill_assets.core.student import predict
    from distill_assets.defs.configs import EvalConfig

    ds = _dataset(tmp_path / "ds")
    labels = _labels_by_text(ds)
    answers = {t: label_to_json(labels[t]) for t in labels}
    seen: list[dict] = []

    def load(kind, model, **options):
        seen.append(options)
        return ScriptedBackend(answers, labels)

    monkeypatch.setattr(inference, "load_backend", load)
    monkeypatch.setattr(predict, "load_backend", load)
    params = EvalConfig().params(get_profile("demo"))
    assert params.grounded and params.json_constrained
    assert not EvalConfig().params(get_profile("gpu")).grounded  # vLLM: not available there
    res = evaluate("b", "t", ds, tmp_path / "out", params)
    assert seen and all(o["grounded"] and o["json_constrained"] for o in seen)
    assert "Decoding: grounded" in res.report_md
    src = tmp_path / "in.jsonl"
    pd.DataFrame({"text": list(labels)[:2]}).to_json(src, orient="records", lines=True)
    seen.clear()
    predict.predict_file(Path("m"), src, tmp_path / "p.jsonl", grounded=True)
    assert seen[0]["grounded"] is True
    # A promoted model carries its eval's decoding; predict uses it unless told otherwise.
    model = tmp_path / "promoted"
    model.mkdir()
    predict.write_model_decoding(model, res.metrics["params"])
    seen.clear()
    summary = predict.predict_file(model, src, tmp_path / "p.jsonl")
    assert seen[0]["grounded"] and seen[0]["json_constrained"] and summary["decoding"]["grounded"]
    seen.clear()
    predict.predict_file(model, src, tmp_path / "p.jsonl", json_constrained=False, grounded=False)
    assert not seen[0]["grounded"] and not seen[0]["json_constrained"]
    seen.clear()
    predict.predict_file(Path("m"), src, tmp_path / "p.jsonl")  # nothing recorded: free
    assert not seen[0]["grounded"] and not seen[0]["json_constrained"]


def test_benchmark_predictions_are_written_for_error_analysis(tmp_path: Path, monkeypatch) -> None:
    """Each benchmark's rows go to predictions_bench_<name>.jsonl, judged against its gold."""
    from distill_assets.core.data.benchmarks import Benchmark

    ds = _dataset(tmp_path / "ds")
    labels = _labels_by_text(ds)
    answers = {t: label_to_json(lab) for t, lab in labels.items()}
    monkeypatch.setattr(inference, "load_backend", lambda *a, **k: ScriptedBackend(answers, labels))
    texts = list(labels)[:3]
    frame = pd.DataFrame({"id": ["g0", "g1", "g2"], "text": texts, "style": "shop"})
    for f in FIELDS:
        frame[f"gold_{f}"] = [labels[t][f] for t in texts]
    frame.loc[2, "gold_name"] = "另一人"  # the student (= the teacher) is wrong on this one
    bench = Benchmark("shop", frame, "sha")
    m = evaluate("b", "t", ds, tmp_path / "out", EvalParams(), benchmarks=[bench]).metrics
    assert m["benchmarks"]["shop"]["tuned"]["exact_match"] == pytest.approx(2 / 3)
    path = tmp_path / "out" / "predictions_bench_shop.jsonl"
    rows = [json.loads(x) for x in path.read_text("utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["g0", "g1", "g2"]
    assert [r["correct"] for r in rows] == [True, True, False]
    assert rows[2]["wrong_fields"] == ["name"] and rows[2]["reference"]["name"] == "另一人"
