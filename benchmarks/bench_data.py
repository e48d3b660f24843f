"""Cleaning throughput and memory: build_training_dataset on N synthetic labelled rows.

Labels are the synthetic gold (status ok; no LLM), with ~2% perturbed so that the drop rules
fire (teacher failures, wrong regions, invented names, duplicate texts). The data is generated
in a child process and handed over as Parquet, so the peak RSS measured here is the cleaning's.
Target: >= 20,000 rows/s; peak memory within a few copies of the input frames.
Last line: `ratio=<x> peak_rss_increase over input frame size`.

    python benchmarks/bench_data.py [--n 1000000]      (or BENCH_DATA_N=100000)
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable before `pip install -e`

TARGET_ROWS_PER_S = 20_000


def make_inputs(n: int, seed: int, out: Path) -> None:
    """Write raw.parquet and labels.parquet (gold as labels, a few perturbed) into `out`."""
    import numpy as np

    from distill_assets.core.common.schema import FIELDS
    from distill_assets.core.data.synth import generate_batch

    raw = generate_batch(n, seed=seed)
    labels = raw[["id", "text"]].copy()
    for f in FIELDS:
        labels[f] = raw[f"gold_{f}"].astype(object)
    labels["status"] = "ok"
    labels["error"] = ""
    rng = np.random.default_rng(seed)
    k = max(n // 200, 1)  # 0.5% per perturbation
    picks = rng.permutation(n)[: 4 * k]
    failed, region, name, dup = np.split(picks, [k, 2 * k, 3 * k])
    labels.loc[failed, "status"] = "invalid_json"
    labels.loc[region, "district"] = "不存在区"
    labels.loc[name, "name"] = "查无此人"
    src = rng.integers(0, n, size=len(dup))
    texts = raw["text"].to_numpy(dtype=object).copy()
    cols = {f: labels[f].to_numpy(dtype=object).copy() for f in FIELDS}
    raw.loc[dup, "text"] = texts[src]
    labels.loc[dup, "text"] = texts[src]
    for f in FIELDS:
        labels.loc[dup, f] = cols[f][src]
    raw.to_parquet(out / "raw.parquet", index=False)
    labels.to_parquet(out / "labels.parquet", index=False)


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=int(os.environ.get("BENCH_DATA_N", "1000000")))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--make-inputs", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_inputs:
        make_inputs(args.n, args.seed, args.make_inputs)
        return

    import pandas as pd

    from distill_assets.core.dataset.clean import CleaningParams, build_training_dataset

    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp_s:
        tmp = Path(tmp_s)
        t0 = time.perf_counter()
        cmd = [sys.executable, __file__, "--n", str(args.n), "--seed", str(args.seed)]
        subprocess.run([*cmd, "--make-inputs", str(tmp)], check=True)
        print(f"generated {args.n} rows in {time.perf_counter() - t0:.1f}s (child process)")
        raw = pd.read_parquet(tmp / "raw.parquet")
        labels = pd.read_parquet(tmp / "labels.parquet")
        input_bytes = int(raw.memory_usage(deep=True).sum() + labels.memory_usage(deep=True).sum())
        # warm imports (gazetteer tables) outside the timed region
        from distill_assets.core.regions.canonical import canonicalize_region

        canonicalize_region("", "", "大理市")
        base = rss_bytes()
        cpu0, t0 = time.process_time(), time.perf_counter()
        result = build_training_dataset(raw, labels, tmp / "dataset", CleaningParams())
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        out_bytes = sum(p.stat().st_size for p in (tmp / "dataset").iterdir())

    n = args.n
    print(f"counts {result.counts}")
    print(f"drop reasons {result.drop_reasons} (rate {result.drop_rate:.2%})")
    print(f"output {out_bytes / 2**20:.0f} MiB in {len(result.files) + 1} files")
    print(
        f"clean {n} rows: wall {wall:.1f}s ({n / wall:,.0f} rows/s), "
        f"cpu {cpu:.1f}s ({n / cpu:,.0f} rows per cpu-second)"
    )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    print(f"ratio={n / wall / TARGET_ROWS_PER_S:.2f} rows_per_s over target {TARGET_ROWS_PER_S}")
    print(
        f"input frames {input_bytes / 2**20:.0f} MiB, rss before {base / 2**20:.0f} MiB, "
        f"peak rss {peak / 2**20:.0f} MiB"
    )
    print(f"ratio={(peak - base) / input_bytes:.2f} peak_rss_increase over input frame size")


if __name__ == "__main__":
    main()
