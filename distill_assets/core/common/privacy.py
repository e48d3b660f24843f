"""Masking of personal data in previews, reports and metadata (on by default)."""

from __future__ import annotations

import re

_DIGIT_RUN = re.compile(r"\d[\d\s-]{5,}\d")


def mask_phone(phone: str) -> str:
    """23204753945 -> 232****3945; short numbers keep only their last two digits."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) >= 7:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * max(len(digits) - 2, 0) + digits[-2:] if digits else ""


def mask_name(name: str) -> str:
    """段丽娟 -> 段**; the first character stays so that a reader can still tell rows apart."""
    name = (name or "").strip()
    return name[:1] + "*" * (len(name) - 1) if name else ""


def mask_text(text: str, names: list[str] | tuple[str, ...] = ()) -> str:
    """Mask digit runs that look like phone numbers, and the given names, inside free text."""
    out = _DIGIT_RUN.sub(lambda m: mask_phone(m.group(0)), text or "")
    for n in names:
        if n:
            out = out.replace(n, mask_name(n))
    return out
