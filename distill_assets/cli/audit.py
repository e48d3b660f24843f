"""`distill audit VERSION | --production`: the lineage of a version (or of the model in
production), every hash re-verified on disk."""

from __future__ import annotations

import argparse
import json
from typing import Any

from distill_assets.cli.console import home, out


def cmd_audit_production() -> int:
    """The chain raw file hash -> teacher model and prompt hash -> dataset -> adapter -> merged
    model -> eval figures of the model in production."""
    from distill_assets.core.evaluation.production import PromotionError, production_chain

    try:
        chain = production_chain(home())
    except PromotionError as exc:
        out(f"PROBLEM {exc}")
        out("audit: production version=- ok=false problems=1")
        return 1
    rec = chain.record
    out(
        f"production: version={rec['version']} since={rec['at']} by={rec.get('by', '')} "
        f"reason={json.dumps(rec['reason'], ensure_ascii=False)}"
    )
    for asset, fields in chain.links:
        shown = {k: v for k, v in fields.items() if v not in (None, "")}
        out(f"{asset}: {json.dumps(shown, ensure_ascii=False, sort_keys=True)}")
    for problem in chain.problems:
        out(f"PROBLEM {problem}")
    ok = str(chain.ok).lower()
    out(f"audit: production version={rec['version']} ok={ok} problems={len(chain.problems)}")
    return 0 if chain.ok else 1


def cmd_audit(args: argparse.Namespace) -> int:
    from distill_assets.core.common.home import artifacts_dir
    from distill_assets.core.common.lineage import audit

    if args.production:
        return cmd_audit_production()
    if not args.version:
        out("audit: give a VERSION or --production")
        return 2

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
    au.add_argument("version", nargs="?")
    au.add_argument(
        "--production", action="store_true", help="the chain of the model in production"
    )
    au.set_defaults(func=cmd_audit)
