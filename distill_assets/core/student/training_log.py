"""What a training run reports: progress lines, the loss log, loss curves, peak memory."""

from __future__ import annotations

import resource
import time
from typing import Any

from distill_assets.core.common.log import Logger


def progress_callback(log: Logger, trainer_ref: list[Any], t0: float) -> Any:
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[override]
            if not logs:
                return
            tr = trainer_ref[0]
            tok_s = tr.token_counter / max(time.perf_counter() - t0, 1e-9)
            parts = [f"step {state.global_step}/{state.max_steps}"]
            for key in ("loss", "eval_loss", "learning_rate", "epoch"):
                if key in logs:
                    parts.append(f"{key}={logs[key]:.4g}")
            parts.append(f"tokens/s={tok_s:.0f}")
            log("train: " + " ".join(parts))

    return Progress()


def peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def loss_rows(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per logged step: step, loss, eval_loss, lr, epoch (None where not logged)."""
    by_step: dict[int, dict[str, Any]] = {}
    for entry in log_history:
        step = int(entry.get("step", 0))
        if "loss" not in entry and "eval_loss" not in entry:
            continue
        row = by_step.setdefault(
            step, {"step": step, "loss": None, "eval_loss": None, "lr": None, "epoch": None}
        )
        if "loss" in entry:
            row["loss"] = float(entry["loss"])
            row["lr"] = float(entry.get("learning_rate", 0.0))
        if "eval_loss" in entry:
            row["eval_loss"] = float(entry["eval_loss"])
        if "epoch" in entry:
            row["epoch"] = float(entry["epoch"])
    return [by_step[s] for s in sorted(by_step)]


def plot_curve(rows: list[dict[str, Any]], key: str, title: str) -> bytes:
    """A PNG of `key` against step (Agg canvas: no display, no pyplot global state)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pts = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o" if len(pts) < 30 else None)
    ax.set_xlabel("step")
    ax.set_ylabel(key)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
