"""The label convention shared by every layer (see DESIGN.md: "Label convention")."""

from __future__ import annotations

import json

FIELDS: tuple[str, ...] = ("province", "city", "district", "specific_location", "name", "phone")


def empty_label() -> dict[str, str]:
    return dict.fromkeys(FIELDS, "")


def label_to_json(label: dict[str, str]) -> str:
    """The canonical assistant answer: the six keys in FIELDS order, non-ASCII kept as is."""
    return json.dumps({k: str(label.get(k, "") or "") for k in FIELDS}, ensure_ascii=False)
