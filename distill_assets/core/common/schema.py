"""The label convention shared by every layer (see DESIGN.md: "Label convention")."""

from __future__ import annotations

import json
import re

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)

FIELDS: tuple[str, ...] = ("province", "city", "district", "specific_location", "name", "phone")


def empty_label() -> dict[str, str]:
    return dict.fromkeys(FIELDS, "")


def label_to_json(label: dict[str, str]) -> str:
    """The canonical assistant answer: the six keys in FIELDS order, non-ASCII kept as is."""
    return json.dumps({k: str(label.get(k, "") or "") for k in FIELDS}, ensure_ascii=False)


def strip_think(text: str) -> str:
    """Drop <think>...</think> blocks (Qwen3 emits an empty one even with thinking off)."""
    return _THINK_BLOCK.sub("", text).strip()
