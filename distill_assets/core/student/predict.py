"""`distill predict`: run a student model over a file of texts."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import atomic_write_json, atomic_write_text
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.common.normalize import normalize_text
from distill_assets.core.common.prompts import student_prompt, teacher_prompt
from distill_assets.core.common.schema import FIELDS
from distill_assets.core.data.inputs import read_text_table
from distill_assets.core.student.inference import load_backend
from distill_assets.core.student.merging import SYSTEM_PROMPT_FILE
from distill_assets.core.student.postprocess import postprocess
from distill_assets.core.teacher.answers import parse_prediction

# Beside a promoted model: the decoding its eval measured, so `distill predict` gives by default
# what the report's figures describe (written by core/evaluation/production.py's promote).
DECODING_FILE = "decoding.json"
# The decoding options and their defaults when nothing is recorded: free decoding, canonicalised.
DECODING_DEFAULTS: dict[str, bool] = {
    "json_constrained": False,
    "grounded": False,
    "canonicalize": True,
}


def decoding_of(params: Mapping[str, Any]) -> dict[str, bool]:
    """The decoding options an eval ran with (its metrics.json "params")."""
    return {k: bool(params.get(k, default)) for k, default in DECODING_DEFAULTS.items()}


def write_model_decoding(model: Path, decoding: Mapping[str, Any]) -> None:
    atomic_write_json(Path(model) / DECODING_FILE, decoding_of(decoding))


def model_decoding(
    model: Path, backend: str = "transformers", log: Logger = null_log, **chosen: bool | None
) -> dict[str, bool]:
    """The options a caller chose, the rest as recorded with the model (DECODING_FILE), else
    DECODING_DEFAULTS. Grounding is a transformers-only processor: on vLLM a recorded grounded
    decoding becomes the JSON skeleton alone, and the log says so."""
    saved_path = Path(model) / DECODING_FILE
    saved = json.loads(saved_path.read_text("utf-8")) if saved_path.exists() else {}
    decoding = decoding_of(saved)
    decoding.update({k: bool(v) for k, v in chosen.items() if v is not None})
    if saved:
        log(f"predict: decoding as recorded with the model ({saved_path}): {decoding}")
    if backend == "vllm" and decoding["grounded"] and chosen.get("grounded") is None:
        decoding["grounded"] = False
        log("predict: grounded decoding is transformers-only; vLLM forces the JSON skeleton only")
    return decoding


def model_system_prompt(model: Path, prompt: str = "auto") -> str:
    """ "auto": the prompt saved with the model, else the seeds' student prompt."""
    if prompt == "teacher":
        return teacher_prompt()
    if prompt == "auto":
        saved = Path(model) / SYSTEM_PROMPT_FILE
        return saved.read_text("utf-8") if saved.exists() else student_prompt()
    return student_prompt(prompt)


def student_request(system: str, text: str) -> tuple[str, str]:
    """The (system, user) turn a student gets for a raw text: the text normalised exactly as the
    training data was (core/common/normalize.py). Every caller of a student uses this: eval,
    `distill predict` and any client of a served model."""
    return system, normalize_text(text)


def read_answer_views(
    output: str, text: str
) -> tuple[dict[str, str] | None, dict[str, str] | None, str]:
    """(the six fields as written, post-processed: official divisions and the street apart from
    the name and phone, what post-processing did) for one student answer, parsed once;
    (None, None, "invalid") when it is not valid JSON."""
    parsed = parse_prediction(output)
    if parsed is None:
        return None, None, "invalid"
    raw = {f: str(parsed.get(f, "")) for f in FIELDS}
    canonical, status = postprocess(raw, normalize_text(text))
    return raw, canonical, status


def read_answer(
    output: str, text: str, canonicalize: bool = True
) -> tuple[dict[str, str], bool, str]:
    """(the six fields, valid JSON?, what canonicalisation did) for one student answer.

    Invalid answers give six "" fields; with `canonicalize`, divisions are made official from
    the student's own fields (core/student/postprocess.py), else status "off".
    """
    if canonicalize:
        _, fields, status = read_answer_views(output, text)
        return fields or dict.fromkeys(FIELDS, ""), fields is not None, status
    parsed = parse_prediction(output)
    if parsed is None:
        return dict.fromkeys(FIELDS, ""), False, "invalid"
    return {f: str(parsed.get(f, "")) for f in FIELDS}, True, "off"


def predict_file(
    model: Path,
    input_path: Path,
    output_path: Path,
    *,
    backend: str = "transformers",
    prompt: str = "auto",
    batch_size: int = 16,
    max_new_tokens: int = 256,
    canonicalize: bool | None = None,
    json_constrained: bool | None = None,
    grounded: bool | None = None,
    log: Logger = null_log,
) -> dict[str, Any]:
    """One JSON object per input row: id, the six fields ("" when invalid), valid_json,
    divisions (what canonicalisation did) and the raw output. Options left None decode as the
    model's eval did (`model_decoding`)."""
    frame = read_text_table(input_path)
    system = model_system_prompt(model, prompt)
    texts = frame["text"].tolist()
    decoding = model_decoding(
        model,
        backend,
        log,
        canonicalize=canonicalize,
        json_constrained=json_constrained,
        grounded=grounded,
    )
    runner = load_backend(
        backend,
        model,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        json_constrained=decoding["json_constrained"],
        grounded=decoding["grounded"],
        log=log,
    )
    started = time.perf_counter()
    try:
        generations = runner.generate([student_request(system, t) for t in texts])
    finally:
        runner.close()
    wall = time.perf_counter() - started
    lines: list[str] = []
    valid = 0
    for row_id, text, gen in zip(frame["id"].tolist(), texts, generations, strict=True):
        fields, ok, divisions = read_answer(gen.text, text, decoding["canonicalize"])
        valid += ok
        row = {"id": row_id, **fields, "valid_json": ok, "divisions": divisions, "output": gen.text}
        lines.append(json.dumps(row, ensure_ascii=False))
    atomic_write_text(output_path, "".join(line + "\n" for line in lines))
    return {
        "rows": len(lines),
        "valid_json": valid,
        "samples_per_s": len(lines) / wall if wall > 0 else 0.0,
        "wall_s": wall,
        "decoding": decoding,
    }
