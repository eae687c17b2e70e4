"""Command line: ``python -m analysis.codesim pairs DIR`` and ``... compare ORIGINAL SUSPECT``."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from analysis.codesim.engine import compare_trees, iter_submission_scores
from analysis.codesim.html import render_html
from analysis.codesim.loader import Skipped, load_tree
from analysis.codesim.params import Params
from analysis.codesim.tokens import SourceFile
from analysis.codesim.version import __version__


def group_submissions(files: Sequence[SourceFile]) -> dict[str, list[SourceFile]]:
    """Top-level files are submissions of their own; a top-level folder is one submission."""
    groups: dict[str, list[SourceFile]] = {}
    for f in files:
        groups.setdefault(f.path.split("/", 1)[0], []).append(f)
    return groups


def _load(path: str, lang: str, what: str) -> list[SourceFile]:
    skipped: list[Skipped] = []
    root = Path(path)
    if not root.exists():
        raise SystemExit(f"codesim: {what} {path!r} does not exist")
    files = load_tree(root, lang=lang, skipped=skipped)
    for s in skipped[:50]:
        print(f"codesim: skipped {what} file {s.path}: {s.reason}", file=sys.stderr)
    if len(skipped) > 50:
        print(f"codesim: ... and {len(skipped) - 50} more skipped", file=sys.stderr)
    return files


def _cmd_pairs(args: argparse.Namespace) -> int:
    params = Params(lang=args.lang, min_score=args.min_score)
    files = _load(args.dir, args.lang, "input")
    base = _load(args.base, args.lang, "base") if args.base else None
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["left", "right", "score"])
    for p in iter_submission_scores(group_submissions(files), base=base, params=params):
        writer.writerow([p.left, p.right, f"{p.score:.6f}"])
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    params = Params(lang=args.lang)
    original = _load(args.original, args.lang, "original")
    suspect = _load(args.suspect, args.lang, "suspect")
    base = _load(args.base, args.lang, "base") if args.base else None
    report = compare_trees(original, suspect, base=base, params=params)
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=1) + "\n", encoding="utf-8")
    if args.html:
        Path(args.html).write_text(render_html(report), encoding="utf-8")
    print(
        f"suspect covered by original: {report.suspect_coverage:.1%} "
        f"({report.covered_tokens}/{report.suspect_tokens} tokens), "
        f"longest fragment {report.longest_fragment} tokens, {len(report.pairs)} file pairs"
    )
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["left", "right", "score", "suspect_coverage", "longest_fragment"])
    for p in report.pairs:
        writer.writerow(
            [
                p.left_path,
                p.right_path,
                f"{p.symmetric:.6f}",
                f"{p.suspect_coverage:.6f}",
                p.longest_fragment,
            ]
        )
    for r in report.rename_map[:20]:
        print(f"rename: {r.original} -> {r.suspect} (seen {r.count} times)", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m analysis.codesim", description=__doc__)
    ap.add_argument("--version", action="version", version=f"codesim {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pairs", help="score every pair of files (or sub-folders) under DIR")
    p.add_argument("dir")
    p.add_argument("--base", help="base code to subtract (framework, templates)")
    p.add_argument("--lang", default="auto", help="language (Pygments name) or auto")
    p.add_argument("--min-score", type=float, default=0.0, help="print pairs above this only")
    p.set_defaults(func=_cmd_pairs)
    p = sub.add_parser("compare", help="compare an original tree with a suspect tree")
    p.add_argument("original")
    p.add_argument("suspect")
    p.add_argument("--base", help="base code to subtract")
    p.add_argument("--lang", default="auto")
    p.add_argument("--json", help="write the full report as JSON here")
    p.add_argument("--html", help="write a side-by-side HTML view here")
    p.set_defaults(func=_cmd_compare)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (OSError, ValueError) as exc:
        print(f"codesim: {exc}", file=sys.stderr)
        return 2
    return code
