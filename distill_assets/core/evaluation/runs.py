"""One model over a list of texts, as every student caller runs it (student_request)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill_assets.core.common.log import Logger
from distill_assets.core.student.predict import student_request


@dataclass
class Run:
    """Raw outputs of one model, whether each one hit the token limit, and the speed."""

    outputs: list[str]
    truncated: list[bool]
    perf: dict[str, Any] = field(default_factory=dict)

    def head(self, n: int) -> Run:
        return Run(self.outputs[:n], self.truncated[:n], self.perf)


def run_model(
    model: str | Path,
    system: str,
    texts: list[str],
    options: dict[str, Any],
    who: str,
    log: Logger,
) -> Run:
    """Greedy answers of `model` (backend options: backend, max_new_tokens, batch_size, ...)."""
    from distill_assets.core.student.inference import load_backend

    opts = dict(options)
    kind = opts.pop("backend")
    log(f"eval[{who}]: loading {kind} backend for {model}")
    backend = load_backend(kind, model, log=lambda m: log(f"eval[{who}]: {m}"), **opts)
    try:
        t0 = time.perf_counter()
        gens = backend.generate([student_request(system, t) for t in texts])
        seconds = time.perf_counter() - t0
        info = dict(getattr(backend, "info", {}))
    finally:
        backend.close()
    tokens_out = sum(g.tokens_out for g in gens)
    limit = int(opts["max_new_tokens"])
    log(
        f"eval[{who}]: {len(texts)} samples in {seconds:.1f}s "
        f"({len(texts) / max(seconds, 1e-9):.2f} samples/s, {tokens_out} tokens out)"
    )
    return Run(
        outputs=[g.text for g in gens],
        truncated=[g.tokens_out >= limit for g in gens],
        perf={
            "seconds": seconds,
            "samples_per_s": len(texts) / seconds if seconds > 0 else None,
            "tokens_per_s": tokens_out / seconds if seconds > 0 else None,
            "tokens_in": sum(g.tokens_in for g in gens),
            "tokens_out": tokens_out,
            "backend": info,
        },
    )
