"""Benchmark figures across dataset versions: the latest models on the same frozen benchmark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _row(version: str, metrics: dict[str, Any], name: str) -> dict[str, Any] | None:
    b = (metrics.get("benchmarks") or {}).get(name)
    if not b:
        return None
    return {
        "version": version,
        "evaluated_at": metrics.get("evaluated_at", ""),
        "n": b["n"],
        "exact_match": b["tuned"]["exact_match"],
        "raw_exact_match": b["tuned_raw"]["exact_match"],
        "benchmark_sha256": b["sha256"],
    }


def benchmark_history(
    artifacts_root: Path,
    name: str,
    current: tuple[str, dict[str, Any]] | None = None,
    latest: int = 10,
) -> list[dict[str, Any]]:
    """The latest `latest` eval reports that scored benchmark `name`, oldest first; `current`
    (version, metrics) is the report being built, which replaces that version's old one."""
    rows: list[dict[str, Any]] = []
    for path in Path(artifacts_root).glob("*/eval_report/metrics.json"):
        version = path.parent.parent.name
        if current is not None and version == current[0]:
            continue
        try:
            row = _row(version, json.loads(path.read_text("utf-8")), name)
        except (OSError, json.JSONDecodeError, KeyError):
            continue  # an unreadable old report does not stop this one; audit reports it
        if row is not None:
            rows.append(row)
    if current is not None:
        row = _row(current[0], current[1], name)
        if row is not None:
            rows.append(row)
    rows.sort(key=lambda r: (r["evaluated_at"], r["version"]))
    return rows[-latest:]
