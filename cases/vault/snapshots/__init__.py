"""Snapshots of outside sources: git repositories, model repositories, web pages.

Contract: pure; no Django. Each ``snapshot_*`` function fetches a source into a working directory
that the caller owns, and returns a frozen dataclass naming the files it left there (which the
caller moves into content-addressed storage), their hashes, the facts recorded about the source,
the tool versions and the time of the fetch. Failures raise ``cases.vault.errors``:
``SourceGone`` (404, repository not found: a recorded fact, with its time), ``AcquisitionError``
with ``transient`` set for what a retry may fix, ``RefusedSource`` for sources never fetched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

#: Returns the current time, aware; injected in tests for fixed times.
Clock = Callable[[], datetime]
#: Receives the percentage done (0 to 100) as a snapshot goes, for the caller to record.
Progress = Callable[[int], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """An aware datetime as ISO 8601 in UTC with a ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")


def redact_url(url: str) -> str:
    """``url`` with any password (or token) in it removed, as it may be recorded or shown."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO.sub(r"\1", url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}@{host}" if parts.username else host
    return urlunsplit(parts._replace(netloc=netloc))


def redact_text(text: str) -> str:
    """Credentials in any URL inside ``text`` (tool output) removed."""
    return _USERINFO.sub(r"\1", text)
