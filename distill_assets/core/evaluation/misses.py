"""Kinds of miss: what a wrong answer got wrong, in words a user can act on.

One row can miss in several ways (a wrong district and a phone slip); each kind counts the rows
that show it, so the kinds do not add up to the number of wrong rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distill_assets.core.common.privacy import mask_name, mask_phone, mask_text
from distill_assets.core.common.schema import FIELDS, REGION_FIELDS

# kind -> what it means, in the order the report lists them.
MISS_KINDS: dict[str, str] = {
    "truncated_json": "the answer hit the token limit before the JSON closed",
    "invalid_json": "the answer is not a JSON object with the six keys",
    "division_missing": "a province/city/district left empty that the label has",
    "division_wrong": "a province/city/district with another name than the label's",
    "division_unwritten": (
        "one of those divisions the text does not write in full (a short name, or none): only "
        "a student that knows the gazetteer gets it, which post-processing supplies"
    ),
    "phone_digits": "phone digits dropped, added or changed",
    "street_boundary": "specific_location cut at another place, or with words added/lost",
    "name": "the receiver's name wrong or missing",
}


def unwritten_divisions(ref: dict[str, Any], text: str) -> list[str]:
    """The label's divisions whose official name the text does not contain."""
    return [f for f in REGION_FIELDS if str(ref[f]) and str(ref[f]) not in text]


def divisions_written_share(refs: Sequence[dict[str, Any]], texts: Sequence[str]) -> float:
    """Share of rows whose text writes every labelled division in full: about the most a raw
    student that knows no geography beyond its training rows can get exactly right."""
    rows = list(zip(refs, texts, strict=True))
    return sum(not unwritten_divisions(r, t) for r, t in rows) / len(rows) if rows else 0.0


def miss_kinds(
    answer: dict[str, str] | None, ref: dict[str, Any], truncated: bool, text: str = ""
) -> list[str]:
    """The kinds of miss of one answer against its reference ([] when it is exact); `text`
    (the input) tells the divisions it does not write from those the student mis-copied."""
    if answer is None:
        return ["truncated_json" if truncated else "invalid_json"]
    kinds: list[str] = []
    missed = [f for f in REGION_FIELDS if str(answer.get(f, "")) != str(ref[f])]
    if any(str(answer.get(f, "")) == "" for f in missed):
        kinds.append("division_missing")
    if any(str(answer.get(f, "")) != "" for f in missed):
        kinds.append("division_wrong")
    if text and set(missed) & set(unwritten_divisions(ref, text)):
        kinds.append("division_unwritten")
    if str(answer.get("phone", "")) != str(ref["phone"]):
        kinds.append("phone_digits")
    if str(answer.get("specific_location", "")) != str(ref["specific_location"]):
        kinds.append("street_boundary")
    if str(answer.get("name", "")) != str(ref["name"]):
        kinds.append("name")
    return kinds


def _masked(fields: dict[str, Any] | None) -> dict[str, str] | None:
    if fields is None:
        return None
    out = {f: str(fields.get(f, "")) for f in FIELDS}
    out["name"] = mask_name(out["name"])
    out["phone"] = mask_phone(out["phone"])
    return out


def miss_summary(
    answers: Sequence[dict[str, str] | None],
    refs: Sequence[dict[str, Any]],
    texts: Sequence[str],
    truncated: Sequence[bool],
    examples: int = 3,
) -> dict[str, Any]:
    """{kind: {rows, share, examples}} over all rows; examples are masked (names, phones)."""
    n = len(answers)
    out: dict[str, Any] = {
        k: {"rows": 0, "share": 0.0, "meaning": v, "examples": []} for k, v in MISS_KINDS.items()
    }
    for answer, ref, text, cut in zip(answers, refs, texts, truncated, strict=True):
        for kind in miss_kinds(answer, ref, cut, text):
            entry = out[kind]
            entry["rows"] += 1
            if len(entry["examples"]) < examples:
                names = (str(ref["name"]), str((answer or {}).get("name", "")))
                entry["examples"].append(
                    {
                        "text": mask_text(text, names),
                        "answer": _masked(answer),
                        "label": _masked(ref),
                    }
                )
    for entry in out.values():
        entry["share"] = entry["rows"] / n if n else 0.0
    return out
