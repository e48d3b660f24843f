"""`distill predict`: run a student model over a file of texts."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from distill_assets.cli.console import err, out


def cmd_predict(args: argparse.Namespace) -> int:
    from distill_assets.core.student.predict import predict_file

    constrained, grounded = DECODINGS[args.decoding]
    try:
        summary = predict_file(
            Path(args.model),
            Path(args.input),
            Path(args.output),
            backend=args.backend,
            prompt=args.prompt,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            canonicalize=False if args.no_canonicalize else None,
            json_constrained=constrained,
            grounded=grounded,
            log=err,
        )
    except (ValueError, OSError) as exc:
        err(f"predict: {exc}")
        return 1
    out(
        f"predicted {summary['rows']}: valid_json={summary['valid_json']} "
        f"samples_per_s={summary['samples_per_s']:.2f} decoding={_words(summary['decoding'])} "
        f"output={args.output}"
    )
    return 0


def _words(decoding: dict[str, bool]) -> str:
    d = decoding
    name = "grounded" if d["grounded"] else "json" if d["json_constrained"] else "free"
    return name if d["canonicalize"] else f"{name},not-canonicalised"


# --decoding: (json_constrained, grounded); None = as recorded with the model.
DECODINGS: dict[str, tuple[bool | None, bool | None]] = {
    "auto": (None, None),
    "free": (False, False),
    "json": (True, False),
    "grounded": (True, True),
}


def register(sub: Any) -> None:
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
    pr.add_argument(
        "--no-canonicalize",
        action="store_true",
        help="keep the student's province/city/district as it wrote them",
    )
    decoding = pr.add_mutually_exclusive_group()
    decoding.add_argument(
        "--decoding",
        choices=list(DECODINGS),
        default="auto",
        help="free; json = the six-key JSON skeleton forced; grounded = that, and street, name "
        "and phone only as spans of the text (transformers). auto (default): as the model's "
        "eval decoded, recorded beside a promoted model (decoding.json), else free",
    )
    decoding.add_argument(
        "--json-constrained", dest="decoding", action="store_const", const="json",
        help="= --decoding json",
    )  # fmt: skip
    decoding.add_argument(
        "--grounded", dest="decoding", action="store_const", const="grounded",
        help="= --decoding grounded",
    )  # fmt: skip
    pr.set_defaults(func=cmd_predict)
