"""`distill label` on a file: a user's file in, one JSON line per row out (id, six fields,
status, error), whatever happened to the batch."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import atomic_write_text, sha256_file
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.common.schema import ALL_STATUSES, FIELDS
from distill_assets.core.data.inputs import read_text_table
from distill_assets.core.teacher.labeling import label_frame
from distill_assets.core.teacher.ledger import LabelingError
from distill_assets.core.teacher.settings import TeacherSettings


class LabelFileError(LabelingError):
    """Past the failure threshold: the output holds every row with its status all the same;
    `summary` is what `label_file` returns otherwise (its lines included)."""

    def __init__(self, message: str, summary: dict[str, Any], failure: LabelingError) -> None:
        super().__init__(message, failure.result)
        self.summary = summary


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def status_line(statuses: Counter[str]) -> str:
    """`statuses: ok=<n> repaired=<n> ...`: every status that occurred, in a fixed order."""
    order = sorted(ALL_STATUSES | set(statuses), key=lambda s: (s not in ("ok", "repaired"), s))
    return "statuses: " + " ".join(f"{s}={statuses[s]}" for s in order if statuses[s])


def label_file(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    settings: TeacherSettings,
    log: Logger = null_log,
) -> dict[str, Any]:
    """Label a jsonl/csv/txt/parquet file into JSONL (id, six fields, status, error per row).

    The output is written even past the failure threshold, so that what was paid for is in the
    user's hands; LabelFileError (a LabelingError) is raised after it. An output path equal to
    the input is refused before anything is read (it would replace the texts by labels).
    """
    src, dst = Path(input_path), Path(output_path)
    if _same_file(src, dst):
        raise ValueError(f"--output {dst} is the input file: choose another path")
    df = read_text_table(src, log=log)
    failure: LabelingError | None = None
    try:
        result = label_frame(df, settings, log)
    except LabelingError as exc:
        if exc.result is None:
            raise
        failure, result = exc, exc.result
    lines = []
    for rec in result.frame.to_dict(orient="records"):
        out = {"id": rec["id"], **{k: rec[k] for k in FIELDS}}
        out.update(status=rec["status"], error=rec["error"])
        lines.append(json.dumps(out, ensure_ascii=False))
    out_path = atomic_write_text(dst, "\n".join(lines) + ("\n" if lines else ""))
    led = result.ledger
    usable = led["ok"] + led["repaired"]
    statuses = Counter(str(s) for s in result.frame["status"].tolist())
    last = (
        f"labelled {led['rows']}: ok={usable} failed={led['failed']} "
        f"cached={led['cached']} requests={led['requests']}"
    )
    summary = {
        **led,
        "usable": usable,
        "statuses": dict(statuses),
        "input_encoding": df.attrs.get("input", {}).get("encoding", ""),
        "output": str(out_path),
        "output_sha256": sha256_file(out_path),
        "lines": [status_line(statuses), last],
        "line": last,
    }
    if failure is not None:
        msg = f"{failure} (every row is in {out_path} with its status)"
        raise LabelFileError(msg, summary, failure)
    return summary
