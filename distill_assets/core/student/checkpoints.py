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


def checkpoint_problem(ckpt: Path) -> str:
    """Why `ckpt` (checkpoint-N) cannot be resumed, or "" when it is whole.

    The Trainer writes a checkpoint file by file (weights, optimizer, scheduler, RNG states,
    trainer_state.json last), so a kill mid-save leaves a folder that looks like a checkpoint.
    Whole means: trainer_state.json parses and names step N, weights exist, and every weights,
    optimizer or RNG file reads to its end.
    """
    import zipfile

    from safetensors import safe_open

    step = int(ckpt.name.rsplit("-", 1)[-1])
    try:
        state = json.loads((ckpt / "trainer_state.json").read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return f"trainer_state.json unreadable ({type(exc).__name__})"
    if state.get("global_step") != step:
        return f"trainer_state.json is for step {state.get('global_step')}, not {step}"
    weights = sorted(ckpt.glob("*.safetensors"))
    if not weights:
        return "no weights (*.safetensors)"
    for w in weights:
        try:
            with safe_open(str(w), framework="pt") as fh:
                for name in fh.keys():  # noqa: SIM118
                    fh.get_tensor(name)
        except Exception as exc:  # safetensors raises its own error types for a torn file
            return f"{w.name} unreadable ({type(exc).__name__}: {str(exc)[:80]})"
    for f in sorted([*ckpt.glob("*.pt"), *ckpt.glob("*.pth")]):
        try:
            with zipfile.ZipFile(f) as zf:
                bad = zf.testzip()
        except (OSError, zipfile.BadZipFile) as exc:
            return f"{f.name} unreadable ({type(exc).__name__})"
        if bad is not None:
            return f"{f.name}: {bad} corrupt"
    return ""


def last_whole_checkpoint(ckpt_dir: Path, log: Logger) -> str | None:
    """The newest checkpoint that is whole; torn ones newer than it are removed."""
    found = [
        (int(p.name.rsplit("-", 1)[-1]), p)
        for p in ckpt_dir.glob("checkpoint-*")
        if p.is_dir() and p.name.rsplit("-", 1)[-1].isdigit()
    ]
    for _, ckpt in sorted(found, reverse=True):
        problem = checkpoint_problem(ckpt)
        if not problem:
            return str(ckpt)
        log(f"train: {ckpt.name} is torn ({problem}): removed, trying the one before")
        shutil.rmtree(ckpt)
    return None


def prepare_checkpoints(ckpt_dir: Path, key: str, resume: bool, log: Logger) -> str | None:
    """The checkpoint to resume from (None: start afresh); stale checkpoints are removed, and
    a torn last one (a kill mid-save) gives way to the one before it."""
    resume_from = None
    if ckpt_dir.is_dir():
        key_file = ckpt_dir / RUN_KEY_FILE
        old_key = json.loads(key_file.read_text())["run_key"] if key_file.is_file() else None
        if resume and old_key == key:
            resume_from = last_whole_checkpoint(ckpt_dir, log)
        else:
            if any(ckpt_dir.glob("checkpoint-*")):
                log(f"train: discarding checkpoints in {ckpt_dir} (resume={resume}, key changed)")
            shutil.rmtree(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(ckpt_dir / RUN_KEY_FILE, {"run_key": key})
    return resume_from
