"""When each matched file first appeared in each repository, from recorded commit history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from analysis.codesim.report import TreeReport

Commit = Mapping[str, Any]


def _when(value: str) -> datetime:
    stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def first_touch(history: Sequence[Commit]) -> dict[str, tuple[str, str]]:
    """For every path, the earliest commit that touched it: ``path -> (committed_at, sha)``.

    Each commit is ``{"sha", "committed_at" (ISO 8601), "files": [[status, path, ...], ...]}``;
    every path after the status counts (a rename lists the old and the new path).  Malformed
    entries are ignored."""
    first: dict[str, tuple[datetime, str, str]] = {}
    for commit in history:
        try:
            when = _when(str(commit["committed_at"]))
            sha = str(commit["sha"])
            files = commit.get("files") or []
        except (KeyError, TypeError, ValueError):
            continue
        for entry in files:
            if not isinstance(entry, list | tuple) or len(entry) < 2:
                continue
            for path in entry[1:]:
                key = str(path)
                cur = first.get(key)
                if cur is None or (when, sha) < (cur[0], cur[1]):
                    first[key] = (when, sha, str(commit["committed_at"]))
    return {p: (v[2], v[1]) for p, v in first.items()}


def annotate_history(
    report: TreeReport,
    *,
    original_history: Sequence[Commit],
    suspect_history: Sequence[Commit],
    original_release: str | None = None,
) -> TreeReport:
    """A copy of ``report`` whose file pairs carry the first commit touching each file, and
    whether the suspect file appeared before the original's public release (when given)."""
    left = first_touch(original_history)
    right = first_touch(suspect_history)
    release = _when(original_release) if original_release else None
    pairs = []
    for p in report.pairs:
        lf, rf = left.get(p.left_path), right.get(p.right_path)
        info: dict[str, Any] = {
            "original_first_commit": {"committed_at": lf[0], "sha": lf[1]} if lf else None,
            "suspect_first_commit": {"committed_at": rf[0], "sha": rf[1]} if rf else None,
            "original_release": original_release,
            "suspect_before_release": (rf is not None and _when(rf[0]) < release)
            if release is not None and rf is not None
            else None,
            "suspect_before_original": (_when(rf[0]) < _when(lf[0])) if lf and rf else None,
        }
        pairs.append(replace(p, history=info))
    return replace(report, pairs=tuple(pairs))
