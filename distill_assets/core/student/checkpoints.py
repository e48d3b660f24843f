"""Resumable training: checkpoints are resumed only by a run with the same base, data and
parameters; anything else starts afresh."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from distill_assets.core.common.artifacts import atomic_write_json, sha256_text
from distill_assets.core.common.log import Logger
from distill_assets.core.student.training_params import LoraParams

RUN_KEY_FILE = "run_key.json"


def run_key(base_model: str, dataset_hash: str, params: LoraParams) -> str:
    """Checkpoints are only resumed by a run with the same base, data and parameters."""
    return sha256_text(
        json.dumps(
            {"base": base_model, "data": dataset_hash, "params": asdict(params)}, sort_keys=True
        )
    )[:16]


def prepare_checkpoints(ckpt_dir: Path, key: str, resume: bool, log: Logger) -> str | None:
    """The checkpoint to resume from (None: start afresh); stale checkpoints are removed."""
    from transformers.trainer_utils import get_last_checkpoint

    resume_from = None
    if ckpt_dir.is_dir():
        key_file = ckpt_dir / RUN_KEY_FILE
        old_key = json.loads(key_file.read_text())["run_key"] if key_file.is_file() else None
        last = get_last_checkpoint(str(ckpt_dir))
        if resume and last and old_key == key:
            resume_from = last
        else:
            if last:
                log(f"train: discarding checkpoints in {ckpt_dir} (resume={resume}, key changed)")
            shutil.rmtree(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(ckpt_dir / RUN_KEY_FILE, {"run_key": key})
    return resume_from
