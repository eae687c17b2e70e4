"""Command line: ``python -m analysis.probes run --probe-set FILE.jsonl --original DIR
--suspect DIR [--reference DIR ...] [--json FILE]``; JSON report on stdout or to ``--json``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from analysis.probes.probeset import ProbeSetError, load_probe_set
from analysis.probes.report import analyse
from analysis.probes.runner import ModelAnswers, ModelLoadError, run_text_model
from analysis.probes.version import __version__


def _labels(dirs: Sequence[str]) -> list[str]:
    """Folder names, made unique with a counter when two folders share a name."""
    out: list[str] = []
    for d in dirs:
        base = Path(d).name or d
        name, n = base, 2
        while name in out:
            name, n = f"{base}#{n}", n + 1
        out.append(name)
    return out


def _cmd_run(args: argparse.Namespace) -> int:
    probe_set = load_probe_set(args.probe_set)
    dirs = [args.original, args.suspect, *args.reference]
    roles = ["original", "suspect"] + [f"reference{i + 1}" for i in range(len(args.reference))]
    runs: list[ModelAnswers] = []
    for role, d, label in zip(roles, dirs, _labels(dirs), strict=True):
        if not Path(d).is_dir():
            raise ModelLoadError(f"{role} {d!r} is not a folder")
        print(f"probes: running {role} {d}", file=sys.stderr)
        runs.append(
            run_text_model(
                d,
                probe_set.items,
                batch_size=args.batch_size,
                max_new_tokens=args.max_new_tokens,
                device=args.device,
                label=f"{role}:{label}",
                seed=args.seed,
            )
        )
    report = analyse(probe_set.items, runs[0], runs[1], runs[2:], probe_set=probe_set.to_dict())
    text = json.dumps(report.to_dict(), indent=1, sort_keys=False) + "\n"
    if args.json:
        Path(args.json).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    print(f"probes: {report.verdict.verdict} ({report.verdict.rule})", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis.probes")
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="answer a probe set with each model and test the pair")
    run.add_argument("--probe-set", required=True, help="JSONL probe set")
    run.add_argument("--original", required=True, help="original model folder")
    run.add_argument("--suspect", required=True, help="suspect model folder")
    run.add_argument(
        "--reference", action="append", default=[], help="independent reference model folder"
    )
    run.add_argument("--json", help="write the JSON report here instead of stdout")
    run.add_argument("--batch-size", type=int, default=16)
    run.add_argument("--max-new-tokens", type=int, default=16)
    run.add_argument("--device", default="cpu")
    run.add_argument("--seed", type=int, default=0)
    run.set_defaults(func=_cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ProbeSetError, ModelLoadError, ValueError) as exc:
        print(f"probes: error: {exc}", file=sys.stderr)
        return 2
