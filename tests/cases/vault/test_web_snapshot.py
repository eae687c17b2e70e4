"""Web snapshots of pages served from 127.0.0.1: status, headers, bytes, screenshot, failures."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cases.vault.errors import AcquisitionError, RefusedSource, SourceGone
from cases.vault.snapshots.web import snapshot_web

FIXED = datetime(2026, 11, 24, 22, 10, 3, tzinfo=UTC)
CHROMIUM = "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent (apt-get install chromium)"
)

PAGE = b"""<!DOCTYPE html>
<html><head><title>Lab notebook</title><link rel="stylesheet" href="/style.css"></head>
<body><h1>Results, as first published</h1>
<div class="tall">Figure 3: the blot in question.</div></body></html>
"""
CSS = b"body { background: #fafafa; } h1 { color: #b00020; } .tall { height: 1600px; }"


class _Site(BaseHTTPRequestHandler):
    def _send(self, status: int, body: bytes, *headers: tuple[str, str]) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        html = ("Content-Type", "text/html; charset=utf-8")
        if self.path == "/":
            self._send(
                200,
                PAGE,
                html,
                ("X-Evidence", "yes"),
                ("Set-Cookie", "a=1"),
                ("Set-Cookie", "b=2"),
            )
        elif self.path == "/style.css":
            self._send(200, CSS, ("Content-Type", "text/css"))
        elif self.path == "/gone":
            self._send(404, b"not here", html)
        elif self.path == "/removed":
            self._send(410, b"removed", html)
        elif self.path == "/busy":
            self._send(503, b"busy", html)
        elif self.path == "/forbidden":
            self._send(403, b"no", html)
        elif self.path == "/moved":
            self._send(302, b"", ("Location", "/"))
        elif self.path == "/to-file":
            self._send(302, b"", ("Location", "file:///etc/passwd"))
        elif self.path == "/to-ftp":
            self._send(302, b"", ("Location", "ftp://127.0.0.1/x"))
        elif self.path == "/big":
            self._send(200, b"x" * 200_000, html)
        else:
            self._send(404, b"?", html)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def site() -> Iterator[tuple[str, list[str]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    server.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.hits  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def png_info(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, decompressed pixel data) of a PNG, checking its structure."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_snapshot_records_status_headers_and_the_bytes_served(
    site: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, _ = site
    snap = snapshot_web(base + "/", tmp_path / "work", screenshot=False, clock=lambda: FIXED)
    assert (snap.status, snap.reason, snap.http_version) == (200, "OK", "HTTP/1.0")
    assert ("X-Evidence", "yes") in snap.headers
    assert [v for k, v in snap.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert snap.html_path.read_bytes() == PAGE
    assert snap.html_sha256 == hashlib.sha256(PAGE).hexdigest()
    assert snap.html_size == len(PAGE)
    assert snap.fetched_at == FIXED
    assert snap.final_url == base + "/"
    assert snap.screenshot_path is None and snap.screenshot_error is None
    assert snap.tool.startswith("python-urllib/3.")
    json.dumps(snap.to_dict())


@needs_chromium
def test_screenshot_is_a_full_page_png_of_the_recorded_bytes(
    site: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, hits = site
    snap = snapshot_web(base + "/", tmp_path / "work", timeout_s=60)
    assert snap.screenshot_error is None, snap.screenshot_error
    assert snap.screenshot_path is not None
    data = snap.screenshot_path.read_bytes()
    width, height, pixels = png_info(data)
    assert width == 1280
    assert height > 1600  # full page, not just the 800-pixel viewport
    assert len(data) > 2000
    assert len(set(pixels)) > 8  # text and colours, not a blank canvas
    assert snap.screenshot_sha256 == hashlib.sha256(data).hexdigest()
    # The browser was given the recorded page; it fetched only the stylesheet itself.
    assert snap.screenshot_of == "recorded"
    assert hits.count("/") == 1
    assert "/style.css" in hits
    assert "chromium" in snap.tool and "playwright" in snap.tool


def test_a_missing_chromium_loses_only_the_screenshot(
    site: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, _ = site
    snap = snapshot_web(base + "/", tmp_path / "work", chromium=str(tmp_path / "no-chromium"))
    assert snap.screenshot_path is None
    assert snap.screenshot_error is not None
    assert "chromium not found" in snap.screenshot_error
    assert snap.html_path.read_bytes() == PAGE


@pytest.mark.parametrize("path,code", [("/gone", 404), ("/removed", 410)])
def test_a_page_that_is_gone_is_source_gone_with_the_time(
    site: tuple[str, list[str]], tmp_path: Path, path: str, code: int
) -> None:
    base, _ = site
    with pytest.raises(SourceGone) as caught:
        snapshot_web(base + path, tmp_path / "work", clock=lambda: FIXED)
    assert caught.value.message == f"page returned {code} at 2026-11-24T22:10:03Z"
    assert not (tmp_path / "work" / "page.html").exists()


def test_server_errors_are_transient_and_refusals_permanent(
    site: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, _ = site
    with pytest.raises(AcquisitionError) as busy:
        snapshot_web(base + "/busy", tmp_path / "work", screenshot=False)
    assert busy.value.transient is True
    with pytest.raises(AcquisitionError) as forbidden:
        snapshot_web(base + "/forbidden", tmp_path / "work", screenshot=False)
    assert forbidden.value.transient is False
    assert "403" in forbidden.value.message


def test_redirects_are_followed_and_recorded(site: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = site
    snap = snapshot_web(base + "/moved", tmp_path / "work", screenshot=False)
    assert snap.final_url == base + "/"
    assert snap.redirects == ((302, base + "/"),)
    assert snap.html_path.read_bytes() == PAGE


@pytest.mark.parametrize("path", ["/to-file", "/to-ftp"])
def test_redirects_to_other_schemes_are_not_followed(
    site: tuple[str, list[str]], tmp_path: Path, path: str
) -> None:
    base, _ = site
    with pytest.raises(AcquisitionError) as caught:
        snapshot_web(base + path, tmp_path / "work", screenshot=False)
    assert caught.value.transient is False
    assert not (tmp_path / "work" / "page.html").exists()


def test_a_page_over_the_size_limit_is_not_recorded(
    site: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, _ = site
    with pytest.raises(AcquisitionError, match="larger than"):
        snapshot_web(base + "/big", tmp_path / "work", screenshot=False, max_bytes=100_000)
    assert list((tmp_path / "work").iterdir()) == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "javascript:alert(1)",
        "http://",
        "gopher://x",
        "http://[::1/",
    ],
)
def test_urls_other_than_http_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(RefusedSource):
        snapshot_web(url, tmp_path / "work")


def test_connection_refused_is_transient(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(AcquisitionError) as caught:
        snapshot_web(f"http://127.0.0.1:{port}/", tmp_path / "work", screenshot=False)
    assert caught.value.transient is True
