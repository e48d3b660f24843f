"""Resume after a kill mid-save: a torn last checkpoint is detected and the one before used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distill_assets.core.student.checkpoints import (
    RUN_KEY_FILE,
    checkpoint_problem,
    prepare_checkpoints,
)


def _checkpoint(root: Path, step: int) -> Path:
    """A folder laid out as the Trainer saves one (adapter, optimizer, RNG, state last)."""
    import torch
    from safetensors.torch import save_file

    d = root / f"checkpoint-{step}"
    d.mkdir(parents=True)
    save_file(
        {"lora_A": torch.randn(64, 8), "lora_B": torch.randn(8, 64)},
        d / "adapter_model.safetensors",
    )
    torch.save({"state": {0: {"exp_avg": torch.randn(256)}}}, d / "optimizer.pt")
    torch.save({"python": [1, 2, 3]}, d / "rng_state.pth")
    (d / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return d


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _tear_state_missing(d: Path) -> None:
    (d / "trainer_state.json").unlink()


def _tear_state_half(d: Path) -> None:
    _truncate(d / "trainer_state.json")


def _tear_weights(d: Path) -> None:
    _truncate(d / "adapter_model.safetensors")


def _tear_optimizer(d: Path) -> None:
    _truncate(d / "optimizer.pt")


def _tear_rng(d: Path) -> None:
    _truncate(d / "rng_state.pth")


@pytest.fixture
def ckpt_dir(tmp_path: Path) -> Path:
    root = tmp_path / "checkpoints"
    _checkpoint(root, 3)
    _checkpoint(root, 6)
    (root / RUN_KEY_FILE).write_text(json.dumps({"run_key": "k"}))
    return root


def test_whole_checkpoints_resume_from_the_last(ckpt_dir: Path) -> None:
    assert checkpoint_problem(ckpt_dir / "checkpoint-6") == ""
    assert prepare_checkpoints(ckpt_dir, "k", True, print) == str(ckpt_dir / "checkpoint-6")


@pytest.mark.parametrize(
    "tear", [_tear_state_missing, _tear_state_half, _tear_weights, _tear_optimizer, _tear_rng]
)
def test_torn_last_checkpoint_gives_way_to_the_one_before(ckpt_dir: Path, tear) -> None:
    tear(ckpt_dir / "checkpoint-6")
    assert checkpoint_problem(ckpt_dir / "checkpoint-6")
    lines: list[str] = []
    assert prepare_checkpoints(ckpt_dir, "k", True, lines.append) == str(ckpt_dir / "checkpoint-3")
    assert not (ckpt_dir / "checkpoint-6").exists()  # the Trainer would otherwise rotate it in
    assert any("checkpoint-6 is torn" in line for line in lines)


def test_state_of_another_step_is_torn(ckpt_dir: Path) -> None:
    (ckpt_dir / "checkpoint-6" / "trainer_state.json").write_text('{"global_step": 3}')
    assert "step 3" in checkpoint_problem(ckpt_dir / "checkpoint-6")


def test_all_torn_starts_afresh(ckpt_dir: Path) -> None:
    _tear_weights(ckpt_dir / "checkpoint-6")
    _tear_state_missing(ckpt_dir / "checkpoint-3")
    assert prepare_checkpoints(ckpt_dir, "k", True, lambda _: None) is None


def test_other_key_discards_everything(ckpt_dir: Path) -> None:
    assert prepare_checkpoints(ckpt_dir, "other", True, lambda _: None) is None
    assert not list(ckpt_dir.glob("checkpoint-*"))
