"""Model output -> the six label fields: the one parser for teacher answers and student predictions.

`parse_teacher_answer` repairs what is safe to repair (a teacher's label is worth keeping);
`parse_prediction` is the seeds' strict metric for a student (JSON with the six keys, nothing
else around it but whitespace, one think block and one ```json fence). Both strip think blocks and
fences with the same helpers.

Teacher statuses:
- "ok": the answer (after trimming outer whitespace) is one JSON object with exactly the six
  keys, all strings, phone already digits only.
- "repaired": a label could be recovered without guessing content. Safe repairs are: a
  <think>...</think> block, ```json fences or other text around the object, key case
  ("Phone" -> "phone"), extra keys (dropped), null -> "", integral numbers -> their digits
  (phone 23204753945 as a number), a phone normalised to digits (+86, spaces, dashes dropped),
  and missing keys filled with "" under the rule below.
- "invalid_json": no JSON object with label keys can be recovered, or a value cannot be a
  string safely (bool, list, object, non-integral number), or too many keys are missing.
- "refused": no JSON object and the text reads as a refusal ("抱歉，我无法…", "I can't help").

Missing-keys rule: at most MAX_MISSING_KEYS (2) of the six keys may be absent, and they are then
filled with "". Models omit a key for absent information (no name in the text), which "" means by
convention; an object missing three or more keys is more likely a different schema or a
truncated answer, and filling it would invent empty labels, so it is rejected.
"""

from __future__ import annotations

import json
import re
from typing import Any

from distill_assets.core.common.normalize import normalize_phone
from distill_assets.core.common.schema import FIELDS

MAX_MISSING_KEYS = 2

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)
_WHOLE_FENCE = re.compile(r"^```(?:json)?\s*\n?(.*?)\n?```$", re.DOTALL | re.IGNORECASE)
_REFUSAL = re.compile(
    r"抱歉|对不起|很遗憾|无法(?:提供|处理|完成|协助|帮助|回答|提取)|不能(?:提供|处理|协助|帮助|回答)"
    r"|我不能|我无法|"
    r"\bI(?:'m| am)? (?:sorry|unable|not able)|\bI (?:can(?:no|')t|won't|will not)\b"
    r"|\bas an AI\b|\bcannot (?:help|assist|comply)\b",
    re.IGNORECASE,
)


def strip_think(text: str) -> str:
    """The answer without <think>...</think> blocks (Qwen3 emits an empty one with thinking
    off). An answer whose opening tag the chat template ate keeps what follows `</think>`; an
    unterminated block is still thinking, so what follows `<think>` is dropped."""
    return _strip_think(text)[0].strip()


def _strip_think(text: str) -> tuple[str, bool]:
    out = _THINK_BLOCK.sub("", text)
    if _THINK_CLOSE.search(out):
        out = _THINK_CLOSE.split(out)[-1]
    elif _THINK_OPEN.search(out):
        out = _THINK_OPEN.split(out)[0]
    return out, out != text


def unfence(text: str) -> str:
    """The inside of a whole-answer ```json fence, else `text` unchanged (both stripped)."""
    s = text.strip()
    m = _WHOLE_FENCE.match(s)
    return m.group(1).strip() if m else s


class _Ambiguous(ValueError):
    """Several different label objects: which one the teacher meant is a guess."""


def _label_keys(obj: dict[str, Any]) -> int:
    return sum(1 for k in obj if isinstance(k, str) and k.strip().lower() in FIELDS)


def _find_object(text: str) -> tuple[dict[str, Any] | None, bool]:
    """The label object in `text`, and whether anything around it had to be cut away."""
    stripped = text.strip()
    try:
        whole = json.loads(stripped)
    except (json.JSONDecodeError, RecursionError):
        whole = None
    if isinstance(whole, dict) and _label_keys(whole):
        return whole, False
    candidates = [m.group(1) for m in _FENCE.finditer(stripped)] + [stripped]
    decoder = json.JSONDecoder()
    for cand in candidates:
        found: list[dict[str, Any]] = []
        pos = 0
        while (start := cand.find("{", pos)) >= 0:
            try:
                obj, end = decoder.raw_decode(cand, start)
            except (json.JSONDecodeError, RecursionError):
                pos = start + 1
                continue
            if isinstance(obj, dict) and _label_keys(obj):
                if found and obj != found[0]:
                    raise _Ambiguous(f"{len(found) + 1} different label objects in the answer")
                found.append(obj)
                pos = end
            else:
                pos = start + 1
        if found:
            return found[0], True
    return None, False


def _to_str(key: str, value: Any) -> tuple[str | None, bool, str]:
    """(string value, changed, error) for one field."""
    if value is None:
        return "", True, ""
    if isinstance(value, bool):
        return None, False, f"field {key!r} is a boolean"
    if isinstance(value, int):
        return str(value), True, ""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value)), True, ""
        return None, False, f"field {key!r} is a non-integral number"
    if isinstance(value, str):
        return value.strip(), False, ""
    return None, False, f"field {key!r} is a {type(value).__name__}, not a string"


def parse_teacher_answer(raw: str) -> tuple[dict[str, str] | None, str, str]:
    """(fields, status, error): fields has the six keys for "ok"/"repaired", else None.

    For "repaired" the error text lists what was repaired, so that a reviewer can see why.
    """
    if raw is None or not str(raw).strip():
        return None, "invalid_json", "empty answer"
    text, had_think = _strip_think(str(raw))
    repairs: list[str] = ["think block"] if had_think else []
    try:
        obj, cut = _find_object(text)
    except _Ambiguous as exc:
        return None, "invalid_json", f"{exc}: " + _excerpt(text)
    if obj is None:
        if _REFUSAL.search(text):
            return None, "refused", "teacher refused: " + _excerpt(text)
        return None, "invalid_json", "no JSON object with label keys: " + _excerpt(text)
    if cut:
        repairs.append("fences" if "```" in text else "text around JSON")

    by_key: dict[str, Any] = {}
    extra: list[str] = []
    for k, v in obj.items():
        norm = k.strip().lower() if isinstance(k, str) else k
        if norm in FIELDS and norm not in by_key:
            if norm != k:
                repairs.append(f"key {k!r}")
            by_key[norm] = v
        else:
            extra.append(str(k))
    if extra:
        repairs.append("dropped keys " + ",".join(sorted(extra)))
    missing = [k for k in FIELDS if k not in by_key]
    if len(missing) > MAX_MISSING_KEYS:
        return None, "invalid_json", f"missing keys {','.join(missing)}: " + _excerpt(text)
    if missing:
        repairs.append("missing " + ",".join(missing))

    fields: dict[str, str] = {}
    for key in FIELDS:
        value, changed, err = _to_str(key, by_key.get(key, ""))
        if value is None:
            return None, "invalid_json", err
        if changed:
            repairs.append(f"{key} type")
        if key == "phone":
            digits = normalize_phone(value)
            if digits != value:
                repairs.append("phone digits")
            value = digits
        fields[key] = value
    if repairs:
        return fields, "repaired", "repaired: " + "; ".join(dict.fromkeys(repairs))
    return fields, "ok", ""


def _excerpt(text: str, n: int = 120) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= n else one_line[:n] + "…"


def parse_prediction(text: str) -> dict[str, Any] | None:
    """The JSON object in a student's answer, or None when it is not one with the six keys.

    Tolerated around the object: whitespace, think blocks, one ```json fence. Extra keys are
    allowed (they do not count); anything else around the object makes it invalid.
    """
    try:
        obj = json.loads(unfence(strip_think(text)))
    except (json.JSONDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or any(k not in obj for k in FIELDS):
        return None
    return obj
