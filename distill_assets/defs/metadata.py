"""Metadata helpers: masked previews and images embedded in Markdown."""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd

from distill_assets.core.common.privacy import mask_name, mask_phone, mask_text


def image_md(path: str | Path | None, alt: str) -> str:
    """A PNG inlined as a data URI, so the UI shows it without serving files."""
    if not path or not Path(path).exists():
        return f"_{alt}: no image_"
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"![{alt}](data:image/png;base64,{data})"


def mask_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Names and phones masked in every column that holds them, and inside the raw text."""
    out = frame.copy()
    name_cols = [c for c in out.columns if c in ("name", "gold_name")]
    phone_cols = [c for c in out.columns if c in ("phone", "gold_phone")]
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


def preview_md(
    frame: pd.DataFrame, rows: int, *, unmask: bool = False, drop: tuple[str, ...] = ()
) -> str:
    head = frame.drop(columns=[c for c in drop if c in frame.columns]).head(rows)
    if not unmask:
        head = mask_frame(head)
    head = head.astype(str).map(lambda s: s.replace("|", "\\|").replace("\n", " ")[:80])
    cols = list(head.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r) + " |" for r in head.values.tolist()]
    return "\n".join(lines)
