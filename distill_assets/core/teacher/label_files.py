"""`distill label`: a user's file in, one JSON line per row out (id, the six fields, status)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from distill_assets.core.common.artifacts import atomic_write_text, sha256_file
from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.common.schema import FIELDS
from distill_assets.core.data.inputs import read_text_table
from distill_assets.core.teacher.labeling import label_frame
from distill_assets.core.teacher.ledger import LabelingError
from distill_assets.core.teacher.settings import TeacherSettings


def label_file(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    settings: TeacherSettings,
    log: Logger = null_log,
) -> dict[str, Any]:
    """Label a jsonl/csv/parquet file into JSONL (id, six fields, status, error per row).

    The output is written even when the failure rate raises LabelingError, so that the
    failures can be inspected; the error is raised after it.
    """
    df = read_text_table(Path(input_path), log=log)
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
    out_path = atomic_write_text(output_path, "\n".join(lines) + ("\n" if lines else ""))
    led = result.ledger
    usable = led["ok"] + led["repaired"]
    summary = {
        **led,
        "usable": usable,
        "output": str(out_path),
        "output_sha256": sha256_file(out_path),
        "line": (
            f"labelled {led['rows']}: ok={usable} failed={led['failed']} "
            f"cached={led['cached']} requests={led['requests']}"
        ),
    }
    if failure is not None:
        raise failure
    return summary
