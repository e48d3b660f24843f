"""`distill promote VERSION | --rollback`: the production alias by hand (the same core calls as
the production_model asset, recorded in the instance so the UI shows it)."""

from __future__ import annotations

import argparse
from typing import Any

from distill_assets.cli.console import err, home, out


def _record_in_instance(current: dict[str, Any]) -> None:
    """A runless materialisation of production_model, so the UI's history has it too."""
    import dagster as dg

    from distill_assets.defs.production import PRODUCTION_ASSET, record_metadata

    try:
        instance = dg.DagsterInstance.get()
    except dg.DagsterInvariantViolationError as exc:  # no DAGSTER_HOME: files only
        err(f"promote: not recorded in a Dagster instance ({exc})")
        return
    instance.report_runless_asset_event(
        dg.AssetMaterialization(PRODUCTION_ASSET, metadata=record_metadata(current))
    )


def cmd_promote(args: argparse.Namespace) -> int:
    from distill_assets.core.evaluation.production import PromotionError, promote, rollback

    root = home()
    try:
        if args.rollback:
            current = rollback(root, args.reason or "rollback by hand", by="cli")
        elif args.version:
            current = promote(root, args.version, args.reason or "promoted by hand", by="cli")
        else:
            err("promote: give a VERSION or --rollback")
            return 2
    except PromotionError as exc:
        err(f"promote: {exc}")
        return 1
    _record_in_instance(current)
    previous = (current.get("previous") or [{}])[0].get("version", "")
    out(
        f"production: version={current['version']} action={current['action']} "
        f"tuned_exact={float(current['tuned_exact_match']):.3f} previous={previous or '-'} "
        f"model={current['model_path']}"
    )
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("promote", help="point the production alias at a version, or roll back")
    p.add_argument("version", nargs="?", help="a version whose eval passed the promotion gate")
    p.add_argument("--rollback", action="store_true", help="put the previous model back")
    p.add_argument("--reason", default="", help="why (recorded with the promotion)")
    p.set_defaults(func=cmd_promote)
