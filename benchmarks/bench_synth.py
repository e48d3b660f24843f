"""Synthetic generation and gazetteer labeling throughput against their targets.

Targets (core/synth.py, core/gazetteer.py): 1,000,000 rows in <= 60 s; >= 2,000 texts/s labelled
on one core. Last line: `ratio=<x> <what over what>` (generation speed over its target).
"""

from __future__ import annotations

import argparse
import time

from distill_assets.core.data.synth import generate_batch
from distill_assets.core.teacher.rule_teacher import GazetteerTeacher


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--label", type=int, default=20_000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    df = generate_batch(args.rows, seed=7)
    gen_s = time.perf_counter() - t0
    gen_rate = args.rows / gen_s
    print(f"generate: {args.rows} rows in {gen_s:.1f}s ({gen_rate:,.0f} rows/s)")
    teacher = GazetteerTeacher()
    texts = df["text"].tolist()[: args.label]
    t0 = time.perf_counter()
    for t in texts:
        teacher.label(t)
    lab_rate = len(texts) / (time.perf_counter() - t0)
    print(f"label: {lab_rate:,.0f} texts/s (target 2,000); ratio to target {lab_rate / 2000:.2f}")
    print(f"ratio={gen_rate / (1_000_000 / 60):.2f} rows_per_s over target_rows_per_s")


if __name__ == "__main__":
    main()
