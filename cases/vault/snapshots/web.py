"""Web pages as evidence: the bytes as served, the status and headers, the time, a screenshot.

Pure; no Django. ``snapshot_web`` fetches a page with ``urllib`` (http and https only, redirects
only to http and https, a size limit, a deadline), stores the body exactly as served, and then
takes a full-page PNG screenshot with headless Chromium driven by Playwright's sync API.

The screenshot is of the recorded bytes: the browser's request for the page itself is answered
from what was stored (status, headers and body), and only the page's own resources (styles,
images, scripts) are fetched live. A screenshot that cannot be taken (Chromium missing, a page
that never loads) does not lose the page: the snapshot is returned with ``screenshot_path`` None
and ``screenshot_error`` saying why.
"""

from __future__ import annotations

import http.client
import importlib.metadata
import os
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urldefrag, urlsplit, urlunsplit

from cases.vault.errors import (
    AcquisitionError,
    RefusedSource,
    SourceGone,
    UnsafeUpload,
    utc_timestamp,
)
from cases.vault.safety import CHUNK, sha256_file, stream_to_file
from cases.vault.snapshots import Clock, iso, redact_url, utc_now

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
USER_AGENT = "Slipcase-Evidence/1.0 (research-integrity evidence capture)"
_HOP_BY_HOP = frozenset(
    {"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"}
)


@dataclass(frozen=True)
class WebSnapshot:
    """What ``snapshot_web`` recorded. ``headers`` keeps every response header in order,
    repeated ones included. ``redirects`` lists each (status, location) followed.
    ``screenshot_of`` says whether the screenshot shows the recorded bytes (``"recorded"``) or, when
    the browser's request could not be matched to them, the page as the browser fetched it
    (``"live"``)."""

    url: str
    final_url: str
    status: int
    reason: str
    http_version: str
    headers: tuple[tuple[str, str], ...]
    redirects: tuple[tuple[int, str], ...]
    html_path: Path
    html_size: int
    html_sha256: str
    screenshot_path: Path | None
    screenshot_sha256: str | None
    screenshot_error: str | None
    screenshot_of: str | None
    fetched_at: datetime
    tool: str
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "final_url": self.final_url,
            "status": self.status,
            "reason": self.reason,
            "http_version": self.http_version,
            "headers": [[k, v] for k, v in self.headers],
            "redirects": [[code, url] for code, url in self.redirects],
            "html_path": str(self.html_path),
            "html_size": self.html_size,
            "html_sha256": self.html_sha256,
            "screenshot_path": None if self.screenshot_path is None else str(self.screenshot_path),
            "screenshot_sha256": self.screenshot_sha256,
            "screenshot_error": self.screenshot_error,
            "screenshot_of": self.screenshot_of,
            "fetched_at": iso(self.fetched_at),
            "tool": self.tool,
            "parameters": dict(self.parameters),
        }


# --- Fetching ------------------------------------------------------------------------------------


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http and https only (urllib alone would also follow ftp)."""

    max_redirections = 10

    def __init__(self) -> None:
        self.chain: list[tuple[int, str]] = []

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        scheme = urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https"):
            raise AcquisitionError(
                f"page redirected to a {scheme!r} URL, which is not followed", transient=False
            )
        self.chain.append((code, redact_url(newurl)))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise RefusedSource(f"refused URL: not a valid URL ({exc})") from exc
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise RefusedSource(f"refused URL {redact_url(url)!r}: only http and https pages")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise RefusedSource("refused URL: it contains spaces or control characters")


def _http_error(code: int, url: str, at: datetime) -> AcquisitionError:
    if code in (404, 410):
        return SourceGone(f"page returned {code} at {utc_timestamp(at)}", observed_at=at)
    transient = code in (408, 425, 429) or code >= 500
    return AcquisitionError(
        f"page returned {code} at {utc_timestamp(at)} ({redact_url(url)})", transient=transient
    )


def _body(response: http.client.HTTPResponse, deadline: float) -> Iterator[bytes]:
    while chunk := response.read1(CHUNK):
        if time.monotonic() > deadline:
            raise TimeoutError("the page did not finish loading in time")
        yield chunk


def snapshot_web(
    url: str,
    workdir: Path,
    *,
    timeout_s: float = 30,
    screenshot: bool = True,
    chromium: str = CHROMIUM,
    max_bytes: int = 50 * 1024 * 1024,
    javascript: bool = True,
    viewport: tuple[int, int] = (1280, 800),
    user_agent: str = USER_AGENT,
    clock: Clock = utc_now,
) -> WebSnapshot:
    """Record the page at ``url`` into ``workdir`` (``page.html``, ``screenshot.png``).

    Raises ``RefusedSource`` for a URL that is not http(s), ``SourceGone`` for 404 and 410
    ("page returned 404 at <time>"), ``AcquisitionError`` transient for timeouts, connection
    failures, 408, 425, 429 and 5xx, permanent for other statuses, redirects to other schemes and
    pages larger than ``max_bytes``.
    """
    _check_url(url)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    redirects = _Redirects()
    opener = urllib.request.build_opener(redirects)
    request = urllib.request.Request(  # noqa: S310 - scheme checked above: http(s) only
        url,
        headers={
            "User-Agent": user_agent,
            "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
            "Accept-Encoding": "identity",
        },
    )
    html_path = workdir / "page.html"
    deadline = time.monotonic() + timeout_s
    try:
        with opener.open(request, timeout=timeout_s) as response:
            fetched_at = clock()
            status = int(response.status)
            reason = str(response.reason)
            version = "HTTP/1.0" if response.version == 10 else "HTTP/1.1"
            headers = tuple((str(k), str(v)) for k, v in response.headers.items())
            final_url = str(response.geturl())
            size, digest = stream_to_file(_body(response, deadline), html_path, max_bytes=max_bytes)
    except urllib.error.HTTPError as exc:
        raise _http_error(exc.code, url, clock()) from exc
    except UnsafeUpload as exc:
        raise AcquisitionError(
            f"page is larger than {max_bytes} bytes; not recorded", transient=False
        ) from exc
    except urllib.error.URLError as exc:
        reason_ = exc.reason
        if isinstance(reason_, ssl.SSLCertVerificationError):
            raise AcquisitionError(
                f"page's TLS certificate did not verify: {reason_}", transient=False
            ) from exc
        raise AcquisitionError(
            f"page could not be fetched at {utc_timestamp(clock())}: {reason_}", transient=True
        ) from exc
    except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        raise AcquisitionError(
            f"page could not be fetched at {utc_timestamp(clock())}: {exc or type(exc).__name__}",
            transient=True,
        ) from exc

    shot_path: Path | None = None
    shot_error: str | None = None
    shot_of: str | None = None
    browser = ""
    if screenshot:
        encoded = any(
            k.lower() == "content-encoding" and v.strip().lower() not in ("", "identity")
            for k, v in headers
        )
        shot = _screenshot(
            final_url,
            html_path,
            status,
            headers,
            workdir / "screenshot.png",
            chromium=chromium,
            timeout_s=timeout_s,
            javascript=javascript,
            viewport=viewport,
            serve_recorded=not encoded,
        )
        shot_path, shot_error, shot_of, browser = shot
    shot_sha = sha256_file(shot_path)[1] if shot_path else None
    python = f"python-urllib/{sys.version_info.major}.{sys.version_info.minor}"
    tool = python + (f"; playwright {_playwright_version()}; chromium {browser}" if browser else "")
    return WebSnapshot(
        url=redact_url(url),
        final_url=redact_url(final_url),
        status=status,
        reason=reason,
        http_version=version,
        headers=headers,
        redirects=tuple(redirects.chain),
        html_path=html_path,
        html_size=size,
        html_sha256=digest,
        screenshot_path=shot_path,
        screenshot_sha256=shot_sha,
        screenshot_error=shot_error,
        screenshot_of=shot_of,
        fetched_at=fetched_at,
        tool=tool,
        parameters={
            "timeout_s": timeout_s,
            "max_bytes": max_bytes,
            "javascript": javascript,
            "viewport": list(viewport),
            "user_agent": user_agent,
            "chromium_args": list(CHROMIUM_ARGS),
        },
    )


# --- The screenshot ------------------------------------------------------------------------------


def _playwright_version() -> str:
    try:
        return importlib.metadata.version("playwright")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


def _normal(url: str) -> str:
    parts = urlsplit(urldefrag(url)[0])
    return urlunsplit(parts._replace(path=parts.path or "/", netloc=parts.netloc.lower()))


def _screenshot(
    final_url: str,
    html_path: Path,
    status: int,
    headers: tuple[tuple[str, str], ...],
    out: Path,
    *,
    chromium: str,
    timeout_s: float,
    javascript: bool,
    viewport: tuple[int, int],
    serve_recorded: bool,
) -> tuple[Path | None, str | None, str | None, str]:
    """(path, error, "recorded" | "live", browser version); never raises."""
    if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        return None, f"no screenshot: chromium not found at {chromium}", None, ""
    try:
        from playwright.sync_api import Route, sync_playwright
    except ImportError:  # pragma: no cover - a pinned dependency
        return None, "no screenshot: playwright is not installed", None, ""

    body = html_path.read_bytes() if serve_recorded else b""
    kept = {k: v for k, v in headers if k.lower() not in _HOP_BY_HOP}
    target = _normal(final_url)
    served: list[bool] = []

    def answer(route: Route) -> None:
        if not served and route.request.is_navigation_request():
            served.append(True)
            route.fulfill(status=status, headers=kept, body=body)
        else:
            route.continue_()

    timeout_ms = timeout_s * 1000
    try:
        with (
            tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile,
            sync_playwright() as playwright,
        ):
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=chromium,
                headless=True,
                args=list(CHROMIUM_ARGS),
                java_script_enabled=javascript,
                viewport={"width": viewport[0], "height": viewport[1]},
                accept_downloads=False,
                service_workers="block",
                timeout=timeout_ms,
            )
            try:
                version = context.browser.version if context.browser else "unknown"
                page = context.new_page()
                if serve_recorded:
                    page.route(lambda u: _normal(u) == target, answer)
                page.goto(final_url, wait_until="load", timeout=timeout_ms)
                try:
                    page.wait_for_load_state("networkidle", timeout=min(timeout_ms, 5000))
                except Exception:  # noqa: S110 - a page that keeps polling: shoot what loaded
                    pass
                page.screenshot(path=str(out), full_page=True, type="png", timeout=timeout_ms)
            finally:
                context.close()
    except Exception as exc:  # the page is recorded whatever the browser did
        out.unlink(missing_ok=True)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return None, f"no screenshot: {first[:500]}", None, ""
    return out, None, "recorded" if served else "live", version
