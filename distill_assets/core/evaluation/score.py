"""Scoring student answers: the seeds' metric (valid JSON with the six keys; exact match needs
every key equal, compared with str(), no other normalisation)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distill_assets.core.common.schema import FIELDS
from distill_assets.core.teacher.answers import parse_prediction


def field_hits(parsed: dict[str, Any] | None, ref: dict[str, Any]) -> dict[str, bool]:
    if parsed is None:
        return dict.fromkeys(FIELDS, False)
    return {f: str(parsed[f]) == str(ref[f]) for f in FIELDS}


def score(
    predictions: Sequence[str],
    references: Sequence[dict[str, Any]],
    groups: Sequence[str] | None = None,
) -> dict[str, Any]:
    """n, valid_json_rate, exact_match, field_accuracy and (with groups) by_group exact match.

    Rates are over all n rows: an invalid prediction counts as wrong on every field.
    """
    n = len(predictions)
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
    for i, (pred, ref) in enumerate(zip(predictions, references, strict=True)):
        parsed = parse_prediction(pred)
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

    def rate(k: int) -> float:
        return k / n if n else 0.0

    out: dict[str, Any] = {
        "n": n,
        "valid_json_rate": rate(valid),
        "exact_match": rate(exact),
        "field_accuracy": {f: rate(field_ok[f]) for f in FIELDS},
    }
    if groups is not None:
        out["by_group"] = {
            g: {"n": v["n"], "exact_match": v["exact"] / v["n"]}
            for g, v in sorted(by_group.items())
        }
    return out


def recount(predictions_jsonl: str | Path) -> dict[str, Any]:
    """Recompute the scores of a predictions file written by evaluate() from its raw texts."""
    path = Path(predictions_jsonl)
    preds: list[str] = []
    refs: list[dict[str, Any]] = []
    groups: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                preds.append(row["prediction"])
                refs.append(row["reference"])
                groups.append(row.get("style", ""))
            except (json.JSONDecodeError, KeyError) as e:
                raise ValueError(f"{path}:{lineno}: not a prediction row ({e})") from e
    return score(preds, refs, groups)
