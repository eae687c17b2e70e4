"""Command line: ``python -m analysis.provenance compare ORIGINAL SUSPECT [--base BASE]``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from analysis.provenance.compare import Params, compare_models
from analysis.provenance.reader import ModelFileError
from analysis.provenance.version import __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.provenance")
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser("compare", help="compare an original and a suspect model folder")
    cmp.add_argument("original")
    cmp.add_argument("suspect")
    cmp.add_argument("--base", help="public base model both may start from")
    cmp.add_argument("--json", help="also write the JSON report to this file")
    cmp.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        report = compare_models(
            args.original, args.suspect, base=args.base, params=Params(seed=args.seed)
        )
    except ModelFileError as exc:
        print(f"provenance: refused: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(report.to_dict(), indent=1, allow_nan=False)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0
