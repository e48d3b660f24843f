"""`distill`: the command line for work outside the UI (docs/CONVENTIONS.md: "Command line").

One module per group of commands; each registers its subcommands on the parser. Other tools
parse the last line of each command: keep those lines stable.
"""

from __future__ import annotations

import argparse
import os

from distill_assets.cli import audit, benchmark, graph, label, predict, production, serve

COMMAND_MODULES = (graph, label, predict, audit, benchmark, production, serve)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="distill", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    return int(args.func(args))
