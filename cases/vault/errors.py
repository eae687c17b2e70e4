"""Errors of the evidence vault.

Two families: ``AcquisitionError`` (a source could not be acquired; ``transient`` says whether
trying again later may help) and ``UnsafeUpload`` (an upload was refused; ``problem`` is a short
code from ``PROBLEMS``). Messages are meant for the case record: they name the problem and, for a
source that is gone, the time at which that was observed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

#: The codes ``UnsafeUpload.problem`` takes.
PROBLEMS: frozenset[str] = frozenset(
    {
        "path_traversal",  # an entry name with ``..`` components (or a NUL byte)
        "absolute_path",  # an entry name that is absolute (``/x``, ``\\x``, ``C:x``)
        "symlink_escape",  # a symbolic link whose target is absolute or outside the tree
        "hardlink_escape",  # a hard link to something that is not an earlier entry of the tree
        "device_file",  # a character or block device, FIFO or socket
        "zip_bomb_ratio",  # decompressed/compressed above the limit (declared or actual)
        "overlapping_entries",  # zip entries that share compressed data (a zip bomb technique)
        "total_size",  # total decompressed size above the limit
        "too_many_entries",  # more entries than the limit
        "nesting_depth",  # archives inside archives deeper than the limit
        "file_too_large",  # an upload or file above the size limit
        "case_quota",  # the upload would take the case over its size limit
        "pickle_refused",  # a pickle-based file (never unpickled) that was not accepted as inert
        "corrupt_archive",  # unreadable, truncated, or its sizes or checksums disagree
        "unsupported_archive",  # a compression method or entry kind that cannot be inspected
    }
)


def utc_timestamp(moment: datetime | None = None) -> str:
    """``moment`` (default: now) as ``2026-11-24T22:10:03Z``, the form used in messages."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class VaultError(Exception):
    """Base class of the errors this package raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message}


class AcquisitionError(VaultError):
    """A source could not be acquired. ``transient``: retrying later may succeed (a timeout, a
    5xx); otherwise the message is recorded on the item as the failure reason."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "transient": self.transient}


class SourceGone(AcquisitionError):
    """The source is not there (404, 410, repository not found). Permanent; the message carries
    the time it was observed, because "it returned 404 at <time>" is itself a recorded fact."""

    def __init__(self, message: str, *, observed_at: datetime | None = None) -> None:
        super().__init__(message, transient=False)
        self.observed_at = observed_at or datetime.now(UTC)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "observed_at": utc_timestamp(self.observed_at)}


class RefusedSource(AcquisitionError, ValueError):
    """A source given in a form that is never fetched (an unknown URL scheme, option injection).
    Permanent."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class UnsafeUpload(VaultError):
    """An upload refused as unsafe; ``problem`` is one of ``PROBLEMS``."""

    def __init__(self, message: str, *, problem: str) -> None:
        if problem not in PROBLEMS:
            raise ValueError(f"unknown problem code {problem!r}")
        super().__init__(message)
        self.problem = problem

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "problem": self.problem}
