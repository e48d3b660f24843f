"""The offline rule teacher on every core: chunks of the batch labelled in a process pool.

The rule teacher is a pure function of the text, so each chunk is labelled by the very same
code as one process (`labeling.label_with_rules`) and the chunks are put back in input order:
the labels are those of one process, row for row. Only `latency_s` (per row, as measured in
its worker) and the ledger's wall time differ.

The pool starts with `forkserver` (Linux) or `spawn`, never `fork`: the caller may be a Dagster
step or a process that imported torch, whose threads and locks a fork would copy half-held.
Small batches, or one usable core, stay in this process: starting workers costs more there.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pandas as pd

from distill_assets.core.common.log import Logger, null_log
from distill_assets.core.teacher.labeling import _check_frame, label_frame, label_with_rules
from distill_assets.core.teacher.ledger import (
    LabelResult,
    Progress,
    build_ledger,
    check_failure_rate,
)
from distill_assets.core.teacher.settings import TeacherSettings

WORKERS_ENV = "DISTILL_TEACHER_WORKERS"
CHUNK_ROWS = 10_000  # ~2-3 s of work per chunk: progress stays live, pickling stays small
MIN_POOL_ROWS = 20_000  # below this one process is faster than starting workers
PRELOAD_MODULE = "distill_assets.core.teacher.rule_pool_preload"


def default_workers() -> int:
    """DISTILL_TEACHER_WORKERS, else the cores this process may run on."""
    env = os.environ.get(WORKERS_ENV, "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"{WORKERS_ENV} must be a positive integer, got {env!r}")
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _start_method() -> str:
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _label_chunk(ids: list[str], texts: list[str], settings: TeacherSettings) -> pd.DataFrame:
    """One chunk, in a worker, by the one-process code path."""
    return label_with_rules(ids, texts, settings, null_log).frame


def _warm(settings: TeacherSettings) -> int:
    """Load the gazetteer in a worker (its first text pays for it) before timing starts."""
    _label_chunk(["warm"], ["北京市朝阳区建国路1号 张三 13800000000"], settings)
    return os.getpid()


class RulePool:
    """A pool of rule-teacher workers; `label(df)` as label_frame would, on every core.

    Use as a context manager; `warm()` starts every worker and loads its gazetteer, so a
    benchmark can time the labelling alone.
    """

    def __init__(
        self,
        settings: TeacherSettings,
        workers: int | None = None,
        chunk_rows: int = CHUNK_ROWS,
        min_rows: int = MIN_POOL_ROWS,
    ) -> None:
        self.settings = settings
        self.workers = workers if workers is not None else default_workers()
        self.chunk_rows = max(1, chunk_rows)
        self.min_rows = min_rows
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> RulePool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context(_start_method())
            if ctx.get_start_method() == "forkserver":  # effective until the server starts
                ctx.set_forkserver_preload([PRELOAD_MODULE])
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
        return self._pool

    def warm(self) -> None:
        """Start every worker now (each loads its gazetteer); the first chunks then run at
        full speed. A pool that cannot start is left to `label` to fall back from."""
        if self.workers > 1:
            pool = self._executor()
            try:
                for f in [pool.submit(_warm, self.settings) for _ in range(self.workers)]:
                    f.result()
            except BrokenProcessPool:
                pass

    def uses_pool(self, rows: int) -> bool:
        return self.workers > 1 and rows >= self.min_rows and rows > self.chunk_rows

    def label(self, df: pd.DataFrame, log: Logger = null_log) -> LabelResult:
        """Every row of `df` (`id`, `text`), in input order; LabelingError past the failure
        rate, as label_frame."""
        if self.settings.effective_kind != "gazetteer":
            raise ValueError("RulePool labels with the gazetteer teacher only")
        if not self.uses_pool(len(df)):
            return label_frame(df, self.settings, log)
        self.settings.check()
        ids, texts = _check_frame(df)
        started = time.perf_counter()
        progress = Progress(len(texts), log, self.settings.progress_every_s, "gazetteer")
        log(
            f"gazetteer: {len(texts)} rows in chunks of {self.chunk_rows} on {self.workers} "
            f"worker processes ({_start_method()})"
        )
        frames: list[pd.DataFrame] = []
        try:
            for frame in self._ordered(ids, texts):
                frames.append(frame)
                for status, n in frame["status"].value_counts().items():
                    progress.add(str(status), int(n))
                progress.maybe_log()
        except BrokenProcessPool as exc:
            # A worker could not start (e.g. a __main__ without the `if __name__ ==
            # "__main__"` guard) or was killed: the same labels, in this process.
            log(f"gazetteer: worker pool failed ({exc}); labelling in one process")
            return label_frame(df, self.settings, log)
        frame = pd.concat(frames, ignore_index=True)
        wall_s = time.perf_counter() - started
        ledger = build_ledger(frame, self.settings, self.settings.identity(), wall_s)
        result = LabelResult(frame, ledger)
        log(progress.line())
        check_failure_rate(result, self.settings, "")
        return result

    def _ordered(self, ids: list[str], texts: list[str]) -> Iterator[pd.DataFrame]:
        """Chunk results in input order, at most 2 chunks per worker in flight (memory stays
        at a few chunks, whatever the batch size)."""
        pool = self._executor()
        bounds = iter(range(0, len(texts), self.chunk_rows))
        pending: deque[Future[Any]] = deque()

        def submit_next() -> None:
            lo = next(bounds, None)
            if lo is not None:
                hi = lo + self.chunk_rows
                pending.append(pool.submit(_label_chunk, ids[lo:hi], texts[lo:hi], self.settings))

        for _ in range(2 * self.workers):
            submit_next()
        while pending:
            frame = pending.popleft().result()
            submit_next()
            yield frame


def label_rules_parallel(
    df: pd.DataFrame, settings: TeacherSettings, log: Logger = null_log, **pool_kw: Any
) -> LabelResult:
    """The gazetteer teacher over `df` on every core (one process for small batches)."""
    with RulePool(settings, **pool_kw) as pool:
        return pool.label(df, log)
