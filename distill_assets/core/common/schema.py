"""The label convention and the label statuses shared by every layer (docs/CONVENTIONS.md)."""

from __future__ import annotations

import json

FIELDS: tuple[str, ...] = ("province", "city", "district", "specific_location", "name", "phone")
REGION_FIELDS: tuple[str, str, str] = ("province", "city", "district")
# Fields copied from the text (a phone after its separators are taken out): the dataset drops a
# label whose copy is not in its text, and grounded decoding lets the student write nothing else.
COPIED_FIELDS: tuple[str, str, str] = ("specific_location", "name", "phone")
GOLD_COLUMNS: tuple[str, ...] = tuple(f"gold_{f}" for f in FIELDS)

# Label statuses. Only usable rows train the student; the review statuses are written to a
# review file for a person (or the LLM teacher) to settle; failures are counted.
USABLE_STATUSES = frozenset({"ok", "repaired"})
REVIEW_STATUSES = frozenset({"ambiguous", "conflict", "no_region"})
FAILED_STATUSES = frozenset({"invalid_json", "refused", "error"})
SKIPPED_STATUSES = frozenset({"skipped_budget"})
ALL_STATUSES = USABLE_STATUSES | REVIEW_STATUSES | FAILED_STATUSES | SKIPPED_STATUSES


def empty_label() -> dict[str, str]:
    return dict.fromkeys(FIELDS, "")


def label_to_json(label: dict[str, str]) -> str:
    """The canonical assistant answer: the six keys in FIELDS order, non-ASCII kept as is."""
    return json.dumps({k: str(label.get(k, "") or "") for k in FIELDS}, ensure_ascii=False)
