"""Scoring student answers: the seeds' metric (valid JSON with the six keys; exact match needs
every key equal, compared with str(), no other normalisation).

A student's answer is read in two views (`read_views`): `raw`, the fields as the student wrote
them, and `canonical`, after division canonicalisation (core/student/postprocess.py) exactly as
`distill predict` and a served model's client read it. Which one is judged is the eval's choice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distill_assets.core.common.schema import FIELDS
from distill_assets.core.student.predict import read_answer_views

Answer = dict[str, str] | None  # the six fields, None when the answer is not valid JSON

RAW = "raw"
CANONICAL = "canonical"


@dataclass
class Views:
    """One model's answers read both ways, and what canonicalisation did to each row."""

    raw: list[Answer]
    canonical: list[Answer]
    divisions: list[str]

    def view(self, name: str) -> list[Answer]:
        if name not in (RAW, CANONICAL):
            raise ValueError(f"unknown view {name!r}: expected {RAW!r} or {CANONICAL!r}")
        return self.raw if name == RAW else self.canonical

    def head(self, n: int) -> Views:
        return Views(self.raw[:n], self.canonical[:n], self.divisions[:n])


def read_views(outputs: Sequence[str], texts: Sequence[str]) -> Views:
    """Both readings of each output, through the one reader every student caller uses."""
    raw: list[Answer] = []
    canonical: list[Answer] = []
    divisions: list[str] = []
    for output, text in zip(outputs, texts, strict=True):
        as_written, official, what = read_answer_views(output, text)
        raw.append(as_written)
        canonical.append(official)
        divisions.append(what)
    return Views(raw, canonical, divisions)


def field_hits(parsed: dict[str, Any] | None, ref: dict[str, Any]) -> dict[str, bool]:
    if parsed is None:
        return dict.fromkeys(FIELDS, False)
    return {f: str(parsed.get(f, "")) == str(ref[f]) for f in FIELDS}


def is_exact(parsed: dict[str, Any] | None, ref: dict[str, Any]) -> bool:
    return parsed is not None and all(field_hits(parsed, ref).values())


def score_answers(
    answers: Sequence[Answer],
    references: Sequence[dict[str, Any]],
    groups: Sequence[str] | None = None,
) -> dict[str, Any]:
    """n, valid_json_rate, exact_match, field_accuracy and (with groups) by_group exact match.

    Rates are over all n rows: an invalid answer counts as wrong on every field.
    """
    n = len(answers)
    if n == 0:
        raise ValueError("score: no predictions to score")
    if len(references) != n:
        raise ValueError(f"score: {n} predictions but {len(references)} references")
    if groups is not None and len(groups) != n:
        raise ValueError(f"score: {n} predictions but {len(groups)} groups")
    for i, ref in enumerate(references):
        missing = [f for f in FIELDS if f not in ref]
        if missing:
            raise KeyError(f"score: reference row {i} lacks {missing}")
    valid = exact = 0
    field_ok = dict.fromkeys(FIELDS, 0)
    by_group: dict[str, dict[str, int]] = {}
    for i, (parsed, ref) in enumerate(zip(answers, references, strict=True)):
        hits = field_hits(parsed, ref)
        ok = parsed is not None and all(hits.values())
        valid += parsed is not None
        exact += ok
        for f in FIELDS:
            field_ok[f] += hits[f]
        if groups is not None:
            g = by_group.setdefault(str(groups[i]), {"n": 0, "exact": 0})
            g["n"] += 1
            g["exact"] += ok
    out: dict[str, Any] = {
        "n": n,
        "valid_json_rate": valid / n,
        "exact_match": exact / n,
        "field_accuracy": {f: field_ok[f] / n for f in FIELDS},
    }
    if groups is not None:
        out["by_group"] = {
            g: {"n": v["n"], "exact_match": v["exact"] / v["n"]}
            for g, v in sorted(by_group.items())
        }
    return out


def score(
    predictions: Sequence[str],
    references: Sequence[dict[str, Any]],
    groups: Sequence[str] | None = None,
    texts: Sequence[str] | None = None,
    view: str = RAW,
) -> dict[str, Any]:
    """Scores of raw model outputs in one view (`canonical` needs the input texts)."""
    if view == CANONICAL and texts is None:
        raise ValueError("score: the canonical view needs the input texts")
    views = read_views(predictions, texts if texts is not None else [""] * len(predictions))
    return score_answers(views.view(view), references, groups)


def recount(predictions_jsonl: str | Path, view: str = RAW) -> dict[str, Any]:
    """Recompute the scores of a predictions file written by evaluate() from its raw outputs."""
    path = Path(predictions_jsonl)
    preds: list[str] = []
    refs: list[dict[str, Any]] = []
    groups: list[str] = []
    texts: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                preds.append(row["prediction"])
                refs.append(row["reference"])
                groups.append(row.get("style", ""))
                texts.append(row["text"])
            except (json.JSONDecodeError, KeyError) as e:
                raise ValueError(f"{path}:{lineno}: not a prediction row ({e})") from e
    return score(preds, refs, groups, texts, view)
