"""Markdown tables: the one writer for reports, data cards and metadata previews."""

from __future__ import annotations

from collections.abc import Sequence


def md_cell(value: object, width: int | None = None) -> str:
    """A value safe inside a table cell: pipes escaped, newlines folded, optionally cut."""
    s = str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")
    return s if width is None or len(s) <= width else s[:width]


def md_table(
    head: Sequence[str],
    rows: Sequence[Sequence[object]],
    align: Sequence[str] | None = None,
    width: int | None = None,
) -> str:
    """A GitHub-style table; `align` per column is "l" or "r" (default left)."""
    rule = {"l": "---", "r": "---:"}
    lines = ["| " + " | ".join(md_cell(h) for h in head) + " |"]
    lines.append("|" + "|".join(rule[a] for a in (align or "l" * len(head))) + "|")
    lines += ["| " + " | ".join(md_cell(c, width) for c in r) + " |" for r in rows]
    return "\n".join(lines)
