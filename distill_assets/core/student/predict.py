"""`distill predict`: run a student model over a file of texts."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import atomic_write_text
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.common.prompts import student_prompt, teacher_prompt
from distill_assets.core.common.schema import FIELDS
from distill_assets.core.data.inputs import read_text_table
from distill_assets.core.student.inference import load_backend
from distill_assets.core.student.merging import SYSTEM_PROMPT_FILE
from distill_assets.core.teacher.answers import parse_prediction


def model_system_prompt(model: Path, prompt: str = "auto") -> str:
    """ "auto": the prompt saved with the model, else the seeds' student prompt."""
    if prompt == "teacher":
        return teacher_prompt()
    if prompt == "auto":
        saved = Path(model) / SYSTEM_PROMPT_FILE
        return saved.read_text("utf-8") if saved.exists() else student_prompt()
    return student_prompt(prompt)


def predict_file(
    model: Path,
    input_path: Path,
    output_path: Path,
    *,
    backend: str = "transformers",
    prompt: str = "auto",
    batch_size: int = 16,
    max_new_tokens: int = 256,
    log: Logger = null_log,
) -> dict[str, Any]:
    """One JSON object per input row: id, the six fields ("" when invalid), valid, raw output."""
    frame = read_text_table(input_path)
    system = model_system_prompt(model, prompt)
    runner = load_backend(
        backend, model, max_new_tokens=max_new_tokens, batch_size=batch_size, log=log
    )
    started = time.perf_counter()
    try:
        generations = runner.generate([(system, t) for t in frame["text"].tolist()])
    finally:
        runner.close()
    wall = time.perf_counter() - started
    lines: list[str] = []
    valid = 0
    for row_id, gen in zip(frame["id"].tolist(), generations, strict=True):
        parsed = parse_prediction(gen.text)
        valid += parsed is not None
        fields = {f: str((parsed or {}).get(f, "")) for f in FIELDS}
        lines.append(
            json.dumps(
                {"id": row_id, **fields, "valid_json": parsed is not None, "output": gen.text},
                ensure_ascii=False,
            )
        )
    atomic_write_text(output_path, "".join(line + "\n" for line in lines))
    return {
        "rows": len(lines),
        "valid_json": valid,
        "samples_per_s": len(lines) / wall if wall > 0 else 0.0,
        "wall_s": wall,
    }
