"""`distill label`: label a file with the rule teacher or an OpenAI-compatible API."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from distill_assets.cli.console import err, home, out


def cmd_label(args: argparse.Namespace) -> int:
    from distill_assets.core.common.home import cache_dir
    from distill_assets.core.common.profiles import get_profile
    from distill_assets.core.teacher.label_files import label_file
    from distill_assets.core.teacher.ledger import LabelingError
    from distill_assets.core.teacher.settings import API_KEY_ENV, TeacherSettings

    root = home()
    p = get_profile(args.profile)
    try:
        settings = TeacherSettings(
            kind=args.teacher,
            base_url=args.base_url,
            model=args.model,
            api_key=os.environ.get(API_KEY_ENV),
            concurrency=args.concurrency,
            cache_dir=args.cache_dir,
        ).resolve(
            p.teacher_kind, p.teacher_base_url, p.teacher_model, str(cache_dir(root) / "teacher")
        )
        summary = label_file(Path(args.input), Path(args.output), settings, log=err)
    except (LabelingError, ValueError, OSError) as exc:
        err(f"label: {exc}")
        return 1
    out(summary["line"])
    return 0


def register(sub: Any) -> None:
    lab = sub.add_parser("label", help="label a file with a teacher")
    lab.add_argument("--teacher", choices=["gazetteer", "openai"], default="gazetteer")
    lab.add_argument("--input", required=True)
    lab.add_argument("--output", required=True)
    lab.add_argument("--base-url", default="")
    lab.add_argument("--model", default="")
    lab.add_argument("--concurrency", type=int, default=32)
    lab.add_argument("--cache-dir", default=None)
    lab.add_argument("--profile", default=None, help="fills --base-url/--model when empty")
    lab.set_defaults(func=cmd_label)
