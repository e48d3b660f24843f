"""`distill`: the command line for work outside the UI (DESIGN.md: "Command line").

Other tools parse the last line of each command: keep those lines stable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _home() -> Path:
    from distill_assets.defs.resources import default_home

    home = Path(default_home()).resolve()
    os.environ.setdefault("DAGSTER_HOME", str(home))
    home.mkdir(parents=True, exist_ok=True)
    return home


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
    from distill_assets.core.common.lineage import asset_dir
    from distill_assets.core.common.profiles import get_profile
    from distill_assets.core.data.dataset_versions import register_synthetic

    home = _home()
    profile = get_profile(args.profile)
    rows = args.rows or profile.synthetic_rows
    spec = register_synthetic(
        home, rows, seed=args.seed, name=f"{profile.name}-{rows}-s{args.seed}"
    )
    _err(f"demo: profile={profile.name} version={spec.key} rows={rows} home={home}")
    started = time.time()
    ok = materialize_version(spec.key, profile.name)
    report_dir = asset_dir(home / "artifacts", spec.key, "eval_report")
    metrics_path = report_dir / "metrics.json"
    if not ok or not metrics_path.exists():
        _err(f"demo: the run failed after {time.time() - started:.0f}s; see `make dev` for logs")
        return 1
    metrics = json.loads(metrics_path.read_text("utf-8"))
    _err(f"demo: finished in {time.time() - started:.0f}s")
    _out(
        f"demo: version={spec.key} base_exact={metrics['base']['exact_match']:.3f} "
        f"tuned_exact={metrics['tuned']['exact_match']:.3f} report={report_dir / 'report.md'}"
    )
    return 0


def cmd_add_version(args: argparse.Namespace) -> int:
    from distill_assets.core.data.dataset_versions import VersionError, register_file, register_synthetic

    home = _home()
    try:
        if args.synthetic:
            spec = register_synthetic(home, args.synthetic, seed=args.seed, name=args.name)
        else:
            spec = register_file(home, Path(args.from_file), name=args.name)
    except VersionError as exc:
        _err(f"add-version: {exc}")
        return 2
    import dagster as dg

    from distill_assets.defs.partitions import dataset_version

    dg.DagsterInstance.get().add_dynamic_partitions(dataset_version.name or "", [spec.key])
    _out(f"version={spec.key} kind={spec.kind}")
    if args.run:
        return 0 if materialize_version(spec.key, args.profile) else 1
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    from distill_assets.core.teacher.labeling import LabelingError, TeacherSettings, label_file

    home = _home()
    settings = TeacherSettings(
        kind=args.teacher,
        base_url=args.base_url,
        model=args.model,
        api_key=os.environ.get("OPENAI_API_KEY"),
        concurrency=args.concurrency,
        cache_dir=args.cache_dir or str(home / "cache" / "teacher"),
    )
    try:
        summary = label_file(Path(args.input), Path(args.output), settings, log=_err)
    except (LabelingError, ValueError, OSError) as exc:
        _err(f"label: {exc}")
        return 1
    _out(summary["line"])
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from distill_assets.core.student.predict import predict_file

    try:
        summary = predict_file(
            Path(args.model),
            Path(args.input),
            Path(args.output),
            backend=args.backend,
            prompt=args.prompt,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            log=_err,
        )
    except (ValueError, OSError) as exc:
        _err(f"predict: {exc}")
        return 1
    _out(
        f"predicted {summary['rows']}: valid_json={summary['valid_json']} "
        f"samples_per_s={summary['samples_per_s']:.2f} output={args.output}"
    )
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from distill_assets.core.common.lineage import audit

    home = _home()
    result = audit(home / "artifacts", args.version)
    for step in result.steps:
        m = step["manifest"]
        extras = {
            k: m[k]
            for k in ("teacher_model", "prompt_hash", "base_model", "source")
            if k in m and m[k]
        }
        _out(
            f"{m['asset']}: data_version={m['data_version']} code_version={m['code_version']} "
            f"files_ok={step['files_ok']}/{len(m.get('files', {}))} "
            f"upstream={json.dumps(m.get('upstream', {}))} {json.dumps(extras, ensure_ascii=False)}"
        )
    for problem in result.problems:
        _out(f"PROBLEM {problem}")
    _out(
        f"audit: version={args.version} ok={str(result.ok).lower()} problems={len(result.problems)}"
    )
    return 0 if result.ok else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="distill", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

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

    lab = sub.add_parser("label", help="label a file with a teacher")
    lab.add_argument("--teacher", choices=["gazetteer", "openai"], default="gazetteer")
    lab.add_argument("--input", required=True)
    lab.add_argument("--output", required=True)
    lab.add_argument("--base-url", default="")
    lab.add_argument("--model", default="")
    lab.add_argument("--concurrency", type=int, default=32)
    lab.add_argument("--cache-dir", default=None)
    lab.set_defaults(func=cmd_label)

    pr = sub.add_parser("predict", help="run a student model on a file")
    pr.add_argument("--model", required=True, help="merged model folder")
    pr.add_argument("--input", required=True)
    pr.add_argument("--output", required=True)
    pr.add_argument("--backend", choices=["transformers", "vllm"], default="transformers")
    pr.add_argument(
        "--prompt",
        choices=["auto", "teacher", "student_system", "student_short"],
        default="auto",
        help="system prompt; auto = the one saved with the model (merged_model writes it)",
    )
    pr.add_argument("--batch-size", type=int, default=16)
    pr.add_argument("--max-new-tokens", type=int, default=256)
    pr.set_defaults(func=cmd_predict)

    au = sub.add_parser("audit", help="lineage of a version, hashes re-verified on disk")
    au.add_argument("version")
    au.set_defaults(func=cmd_audit)
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
