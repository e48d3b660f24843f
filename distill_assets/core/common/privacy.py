"""Masking of personal data and secrets in previews, reports, logs and metadata.

Personal data (names, phones) is masked by default wherever a human reads it; secrets (API
keys, credentials in a URL) never leave the process unmasked.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd

from distill_assets.core.common.markdown import md_table

_DIGIT_RUN = re.compile(r"\d[\d\s-]{5,}\d")
_SECRET_PARAMS = re.compile(r"key|token|secret|password|passwd|auth|sig", re.IGNORECASE)
NAME_COLUMNS = ("name", "gold_name")
PHONE_COLUMNS = ("phone", "gold_phone")


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
    for n in sorted((n for n in names if n), key=len, reverse=True):
        out = out.replace(n, mask_name(n))
    return out


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")


def redact(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` replaced by "***" (short secrets are left), and
    every URL in it masked as `mask_url` does (credentials, secret-looking query values).

    Redact before cutting a text short (`redact_clip`): a cut can leave a prefix of the key
    that no longer matches it.
    """
    if not text:
        return text
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    if "://" in text:
        text = _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), text)
    return text


def redact_clip(text: str, secret: str | None, limit: int) -> str:
    """`redact`, then at most `limit` characters: the order that leaves no part of a key."""
    return redact(text, secret)[:limit]


def mask_url(url: str) -> str:
    """A URL fit for lineage and metadata: user:password@ and secret-looking query values masked.

    https://u:p@host/v1?api_key=sk-1&x=2 -> https://***@host/v1?api_key=***&x=2
    """
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        masked = [(k, "***" if _SECRET_PARAMS.search(k) else v) for k, v in pairs]
        query = urlencode(masked, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Names and phones masked in every column that holds them, and inside the raw text."""
    out = frame.copy()
    name_cols = [c for c in out.columns if c in NAME_COLUMNS]
    phone_cols = [c for c in out.columns if c in PHONE_COLUMNS]
    names_per_row = out[name_cols].astype(str).values.tolist() if name_cols else [[]] * len(out)
    if "text" in out:
        out["text"] = [
            mask_text(t, n) for t, n in zip(out["text"].astype(str), names_per_row, strict=True)
        ]
    for c in name_cols:
        out[c] = out[c].astype(str).map(mask_name)
    for c in phone_cols:
        out[c] = out[c].astype(str).map(mask_phone)
    return out


def preview_markdown(
    frame: pd.DataFrame, rows: int, *, unmask: bool = False, drop: tuple[str, ...] = ()
) -> str:
    """The first `rows` rows as a Markdown table, names and phones masked unless `unmask`."""
    head = frame.drop(columns=[c for c in drop if c in frame.columns]).head(rows)
    if not unmask:
        head = mask_frame(head)
    return md_table([str(c) for c in head.columns], head.astype(str).values.tolist(), width=80)
