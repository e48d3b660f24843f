"""`distill audit VERSION`: the lineage of a version, every hash re-verified on disk."""

from __future__ import annotations

import argparse
import json
from typing import Any

from distill_assets.cli.console import home, out


def cmd_audit(args: argparse.Namespace) -> int:
    from distill_assets.core.common.home import artifacts_dir
    from distill_assets.core.common.lineage import audit

    result = audit(artifacts_dir(home()), args.version)
    for step in result.steps:
        m = step["manifest"]
        extras = {
            k: m[k]
            for k in ("teacher_model", "prompt_hash", "base_model", "source")
            if k in m and m[k]
        }
        out(
            f"{m['asset']}: data_version={m['data_version']} code_version={m['code_version']} "
            f"files_ok={step['files_ok']}/{len(m.get('files', {}))} "
            f"upstream={json.dumps(m.get('upstream', {}))} {json.dumps(extras, ensure_ascii=False)}"
        )
        for inc in step.get("included", []):
            out(
                f"  included: version={inc['version']} asset={inc['asset']} "
                f"data_version={inc['data_version']} files_ok={inc['files_ok']}/{inc['files']}"
            )
    for problem in result.problems:
        out(f"PROBLEM {problem}")
    out(
        f"audit: version={args.version} ok={str(result.ok).lower()} problems={len(result.problems)}"
    )
    return 0 if result.ok else 1


def register(sub: Any) -> None:
    au = sub.add_parser("audit", help="lineage of a version, hashes re-verified on disk")
    au.add_argument("version")
    au.set_defaults(func=cmd_audit)
