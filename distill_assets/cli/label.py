"""`distill label`: label a file with the rule teacher or an OpenAI-compatible API.

Its teacher options are generated from `TeacherSettings` (core/teacher/settings.py), the type
the `teacher` resource of the `teacher_labels` asset is made of: the same fields, the same
defaults, so both ask the same way and share one cache key. An option not given keeps the
field's default; empty kind/base_url/model come from the profile, as in the asset.
"""

from __future__ import annotations

import argparse
import os
import types
import typing
from pathlib import Path
from typing import Any

from distill_assets.cli.console import err, home, out

# Fields with an option of their own name elsewhere (--teacher) or never on a command line.
_NOT_OPTIONS = frozenset({"kind", "api_key"})


def _teacher_options() -> list[tuple[str, type, bool, str]]:
    """(field, value type, optional, help) for every TeacherSettings field the CLI exposes."""
    from distill_assets.core.teacher.settings import TeacherSettings

    opts = []
    for name, info in TeacherSettings.model_fields.items():
        if name in _NOT_OPTIONS:
            continue
        ann: Any = info.annotation
        args = typing.get_args(ann)
        optional = isinstance(ann, types.UnionType) and type(None) in args
        base = next(a for a in args if a is not type(None)) if optional else ann
        default = "" if info.default is None else f" (default {info.default!r})"
        help_ = f"{info.description or name}{default}".replace("%", "%%")  # argparse formats help
        opts.append((name, base, optional, help_))
    return opts


def teacher_settings(args: argparse.Namespace) -> Any:
    """TeacherSettings from the options given, resolved like the asset's (`for_run`)."""
    from distill_assets.core.common.home import cache_dir
    from distill_assets.core.common.profiles import get_profile
    from distill_assets.core.teacher.settings import API_KEY_ENV, TeacherSettings

    given = {
        name: getattr(args, name)
        for name, *_ in _teacher_options()
        if getattr(args, name, None) is not None
    }
    p = get_profile(args.profile)
    settings = TeacherSettings(kind=args.teacher, api_key=os.environ.get(API_KEY_ENV), **given)
    cache = str(cache_dir(home()) / "teacher")
    return settings.resolve(p.teacher_kind, p.teacher_base_url, p.teacher_model, cache)


def cmd_label(args: argparse.Namespace) -> int:
    from distill_assets.core.teacher.label_files import LabelFileError, label_file
    from distill_assets.core.teacher.ledger import LabelingError

    try:
        settings = teacher_settings(args)
        summary = label_file(Path(args.input), Path(args.output), settings, log=err)
    except LabelFileError as exc:  # past the failure threshold: every row is in the output
        err(f"label: {exc}")
        for line in exc.summary["lines"]:
            out(line)
        return 1
    except (LabelingError, ValueError, OSError) as exc:
        err(f"label: {exc}")
        return 1
    for line in summary["lines"]:
        out(line)
    return 0


def register(sub: Any) -> None:
    lab = sub.add_parser("label", help="label a file with a teacher")
    lab.add_argument(
        "--teacher",
        choices=["gazetteer", "openai"],
        default="",
        help="the teacher kind; default: the profile's, as for the asset (gazetteer on demo/test)",
    )
    lab.add_argument("--input", required=True, help="jsonl(.gz), json, csv(.gz), txt or parquet")
    lab.add_argument("--output", required=True, help="JSONL, one object per input row")
    lab.add_argument(
        "--profile", default=None, help="fills --teacher/--base-url/--model when not given"
    )
    for name, base, _optional, help_ in _teacher_options():
        flag = "--" + name.replace("_", "-")
        if base is bool:
            lab.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, help=help_)
        else:
            lab.add_argument(flag, dest=name, type=base, default=None, help=help_)
    lab.set_defaults(func=cmd_label)
