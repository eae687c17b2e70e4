"""Result records: frozen dataclasses with ``to_dict()`` for JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fragment:
    """A maximal matching run, as line and column ranges (1-based, inclusive) in both files."""

    left_path: str
    left_lines: tuple[int, int]
    left_cols: tuple[int, int]
    right_path: str
    right_lines: tuple[int, int]
    right_cols: tuple[int, int]
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "left_path": self.left_path,
            "left_lines": list(self.left_lines),
            "left_cols": list(self.left_cols),
            "right_path": self.right_path,
            "right_lines": list(self.right_lines),
            "right_cols": list(self.right_cols),
            "tokens": self.tokens,
        }


@dataclass(frozen=True)
class Rename:
    original: str
    suspect: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"original": self.original, "suspect": self.suspect, "count": self.count}


@dataclass(frozen=True)
class FilePair:
    """One original file against one suspect file."""

    left_path: str
    right_path: str
    symmetric: float
    suspect_coverage: float
    longest_fragment: int
    channels: dict[str, float]
    fragments: tuple[Fragment, ...]
    rename_map: tuple[Rename, ...]
    history: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "left_path": self.left_path,
            "right_path": self.right_path,
            "symmetric": round(self.symmetric, 6),
            "suspect_coverage": round(self.suspect_coverage, 6),
            "longest_fragment": self.longest_fragment,
            "channels": {k: round(v, 6) for k, v in self.channels.items()},
            "fragments": [f.to_dict() for f in self.fragments],
            "rename_map": [r.to_dict() for r in self.rename_map],
        }
        if self.history is not None:
            out["history"] = self.history
        return out


@dataclass(frozen=True)
class TreeReport:
    """Repository against repository: every file pair that shares anything, best first."""

    version: str
    params: dict[str, Any]
    pairs: tuple[FilePair, ...]
    suspect_coverage: float
    suspect_tokens: int
    covered_tokens: int
    longest_fragment: int
    rename_map: tuple[Rename, ...]
    original_files: int
    suspect_files: int
    base_files: int
    notes: tuple[str, ...] = ()
    sources: dict[str, dict[str, str]] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "params": self.params,
            "original_files": self.original_files,
            "suspect_files": self.suspect_files,
            "base_files": self.base_files,
            "suspect_coverage": round(self.suspect_coverage, 6),
            "suspect_tokens": self.suspect_tokens,
            "covered_tokens": self.covered_tokens,
            "longest_fragment": self.longest_fragment,
            "rename_map": [r.to_dict() for r in self.rename_map],
            "notes": list(self.notes),
            "pairs": [p.to_dict() for p in self.pairs],
        }


@dataclass(frozen=True)
class PairScore:
    """Many-vs-many: one pair of submissions."""

    left: str
    right: str
    score: float
    channels: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "left": self.left,
            "right": self.right,
            "score": round(self.score, 6),
            "channels": {k: round(v, 6) for k, v in self.channels.items()},
        }
