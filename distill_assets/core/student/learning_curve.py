"""The learning curve: exact match of the model in training vs the training examples it has
seen, on a few validation rows, measured at evenly spaced steps (LoraParams.curve_rows/points).

It answers "would more data help?" without training several models: a curve still rising at the
last point says yes. Answers are read as `distill predict` reads them (raw and canonicalised).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import atomic_write_json
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.common.schema import FIELDS
from distill_assets.core.student.predict import read_answer_views, student_request
from distill_assets.core.student.training_data import read_messages
from distill_assets.core.teacher.answers import parse_prediction

CURVE_FILE = "learning_curve.json"


def curve_rows(dataset_dir: Path, n: int) -> tuple[str, list[str], list[dict[str, str]]]:
    """(system prompt, texts, labels) of the first `n` validation examples, as trained on; the
    test split stays unseen."""
    rows = read_messages(Path(dataset_dir) / "val.messages.jsonl")[:n]
    labels = [parse_prediction(answer) for _, _, answer in rows]
    keep = [(r, lab) for r, lab in zip(rows, labels, strict=True) if lab is not None]
    system = keep[0][0][0] if keep else ""
    texts = [r[1] for r, _ in keep]
    return system, texts, [{f: str(lab[f]) for f in FIELDS} for _, lab in keep]


def exact_rates(outputs: list[str], texts: list[str], labels: list[dict[str, str]]) -> tuple:
    """(canonicalised exact match, raw exact match) of raw outputs against labels."""
    canon_hits = raw_hits = 0
    for out, text, label in zip(outputs, texts, labels, strict=True):
        raw, canonical, _ = read_answer_views(out, text)
        raw_hits += raw == label
        canon_hits += canonical == label
    n = max(len(outputs), 1)
    return canon_hits / n, raw_hits / n


def curve_steps(total_steps: int, points: int) -> list[int]:
    """`points` evenly spaced optimizer steps ending at the last one."""
    if total_steps < 1 or points < 1:
        return []
    return sorted({max(1, round(total_steps * k / points)) for k in range(1, points + 1)})


def make_curve_callback(
    tokenizer: Any,
    dataset_dir: Path,
    rows: int,
    points: int,
    examples_per_step: int,
    max_new_tokens: int,
    log: Logger = null_log,
) -> Any:
    """A TrainerCallback that measures the curve during training; `.curve` holds the points."""
    from transformers import TrainerCallback

    from distill_assets.core.student.inference import TransformersBackend

    system, texts, labels = curve_rows(dataset_dir, rows)

    class CurveCallback(TrainerCallback):
        curve: list[dict[str, Any]] = []
        steps: list[int] = []

        def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[override]
            self.curve, self.steps = [], curve_steps(int(state.max_steps), points)

        def on_step_end(self, args, state, control, model=None, **kwargs):  # type: ignore[override]
            if not texts or model is None or state.global_step not in self.steps:
                return
            side = tokenizer.padding_side
            backend = TransformersBackend(
                "", max_new_tokens=max_new_tokens, batch_size=16, model=model, tokenizer=tokenizer
            )
            try:
                gens = backend.generate([student_request(system, t) for t in texts])
            finally:
                tokenizer.padding_side = side
                model.train()
            canon, raw = exact_rates([g.text for g in gens], texts, labels)
            point = {
                "step": int(state.global_step),
                "examples": int(state.global_step) * examples_per_step,
                "n": len(texts),
                "exact_match": canon,
                "raw_exact_match": raw,
            }
            self.curve.append(point)
            log(f"learning curve: {point}")

    return CurveCallback()


def write_learning_curve(out_dir: Path, curve: list[dict[str, Any]]) -> Path:
    path = Path(out_dir) / CURVE_FILE
    atomic_write_json(path, curve)
    return path


def read_learning_curve(adapter_dir: Path) -> list[dict[str, Any]]:
    """The points the adapter's training measured ([] when its profile did not ask)."""
    path = Path(adapter_dir) / CURVE_FILE
    return json.loads(path.read_text("utf-8")) if path.is_file() else []
