"""`distill demo` and `distill add-version`: versions in, the whole graph run for them."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from distill_assets.cli.console import err, home, out


def materialize_version(key: str, profile: str | None, log_level: str = "INFO") -> bool:
    """Run the whole graph for one version in this process, recorded in $DAGSTER_HOME."""
    import dagster as dg

    from distill_assets.defs.assets import ALL_ASSETS
    from distill_assets.defs.partitions import dataset_version
    from distill_assets.defs.resources import build_settings, build_teacher

    instance = dg.DagsterInstance.get()
    instance.add_dynamic_partitions(dataset_version.name or "dataset_version", [key])
    result = dg.materialize(
        ALL_ASSETS,
        partition_key=key,
        instance=instance,
        resources={"settings": build_settings(profile), "teacher": build_teacher()},
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        raise_on_error=False,
        tags={"trigger": "cli"},
    )
    return result.success


def cmd_demo(args: argparse.Namespace) -> int:
    from distill_assets.core.common.home import artifacts_dir
    from distill_assets.core.common.lineage import asset_dir
    from distill_assets.core.common.profiles import get_profile
    from distill_assets.core.data.dataset_versions import register_synthetic

    root = home()
    profile = get_profile(args.profile)
    rows = args.rows or profile.synthetic_rows
    spec = register_synthetic(
        root, rows, seed=args.seed, name=f"{profile.name}-{rows}-s{args.seed}"
    )
    err(f"demo: profile={profile.name} version={spec.key} rows={rows} home={root}")
    if profile.unseen_styles_benchmark:
        from distill_assets.core.data.benchmarks import add_unseen_styles

        bench = add_unseen_styles(root)
        err(f"demo: benchmark {bench['name']}: {bench['rows']} hand-written rows in unseen styles")
    started = time.time()
    ok = materialize_version(spec.key, profile.name)
    report_dir = asset_dir(artifacts_dir(root), spec.key, "eval_report")
    metrics_path = report_dir / "metrics.json"
    if not ok or not metrics_path.exists():
        err(f"demo: the run failed after {time.time() - started:.0f}s; see `make dev` for logs")
        return 1
    metrics: dict[str, Any] = json.loads(metrics_path.read_text("utf-8"))
    err(f"demo: finished in {time.time() - started:.0f}s")
    out(
        f"demo: version={spec.key} base_exact={metrics['base']['exact_match']:.3f} "
        f"tuned_exact={metrics['tuned']['exact_match']:.3f} "
        f"tuned_raw_exact={metrics['tuned_raw']['exact_match']:.3f} "
        f"report={report_dir / 'report.md'}"
    )
    return 0


def cmd_add_version(args: argparse.Namespace) -> int:
    from distill_assets.core.data.dataset_versions import (
        VersionError,
        register_file,
        register_synthetic,
    )

    root = home()
    try:
        if args.synthetic:
            spec = register_synthetic(root, args.synthetic, seed=args.seed, name=args.name)
        else:
            spec = register_file(root, Path(args.from_file), name=args.name)
    except VersionError as exc:
        err(f"add-version: {exc}")
        return 2
    import dagster as dg

    from distill_assets.defs.partitions import dataset_version

    dg.DagsterInstance.get().add_dynamic_partitions(dataset_version.name or "", [spec.key])
    out(f"version={spec.key} kind={spec.kind}")
    if args.run:
        return 0 if materialize_version(spec.key, args.profile) else 1
    return 0


def register(sub: Any) -> None:
    d = sub.add_parser("demo", help="register a synthetic version and materialise the graph")
    d.add_argument("--profile", default=None, help="test | demo | gpu (default $DISTILL_PROFILE)")
    d.add_argument("--rows", type=int, default=None, help="synthetic rows (default: profile's)")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_demo)

    a = sub.add_parser("add-version", help="register a dataset_version by hand")
    a.add_argument("name")
    src = a.add_mutually_exclusive_group(required=True)
    src.add_argument("--from", dest="from_file", help="jsonl, csv or parquet with a text column")
    src.add_argument("--synthetic", type=int, help="rows of a synthetic batch")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--profile", default=None)
    a.add_argument("--run", action="store_true", help="also materialise the graph for it now")
    a.set_defaults(func=cmd_add_version)
