"""`distill predict`: run a student model over a file of texts."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import atomic_write_text
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.common.normalize import normalize_text
from distill_assets.core.common.prompts import student_prompt, teacher_prompt
from distill_assets.core.common.schema import FIELDS
from distill_assets.core.data.inputs import read_text_table
from distill_assets.core.student.inference import load_backend
from distill_assets.core.student.merging import SYSTEM_PROMPT_FILE
from distill_assets.core.student.postprocess import postprocess
from distill_assets.core.teacher.answers import parse_prediction


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
    canonicalize: bool = True,
    json_constrained: bool = False,
    grounded: bool = False,
    log: Logger = null_log,
) -> dict[str, Any]:
    """One JSON object per input row: id, the six fields ("" when invalid), valid_json,
    divisions (what canonicalisation did) and the raw output."""
    frame = read_text_table(input_path)
    system = model_system_prompt(model, prompt)
    texts = frame["text"].tolist()
    runner = load_backend(
        backend,
        model,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        json_constrained=json_constrained,
        grounded=grounded,
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
        fields, ok, divisions = read_answer(gen.text, text, canonicalize)
        valid += ok
        row = {"id": row_id, **fields, "valid_json": ok, "divisions": divisions, "output": gen.text}
        lines.append(json.dumps(row, ensure_ascii=False))
    atomic_write_text(output_path, "".join(line + "\n" for line in lines))
    return {
        "rows": len(lines),
        "valid_json": valid,
        "samples_per_s": len(lines) / wall if wall > 0 else 0.0,
        "wall_s": wall,
    }
