"""`distill add-benchmark NAME --from FILE`: a frozen gold file every eval_report scores too."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from distill_assets.cli.console import err, home, out


def cmd_add_benchmark(args: argparse.Namespace) -> int:
    from distill_assets.core.data.benchmarks import add_benchmark

    try:
        meta = add_benchmark(home(), args.name, Path(args.source))
    except (ValueError, OSError) as exc:
        err(f"add-benchmark: {exc}")
        return 1
    out(f"benchmark={meta['name']} rows={meta['rows']} sha256={meta['sha256'][:12]}")
    return 0


def register(sub: Any) -> None:
    ab = sub.add_parser(
        "add-benchmark",
        help="register a labelled file (text + the six fields) scored by every eval_report",
    )
    ab.add_argument("name")
    ab.add_argument("--from", dest="source", required=True, help="jsonl/json/csv/parquet")
    ab.set_defaults(func=cmd_add_benchmark)
