"""Snapshots through the service and the Celery task: a web page served on 127.0.0.1, transient
failures that retry and then give up with the reason, and storage that is not a local folder."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from pytest_django import Settings

from cases.evidence import services
from cases.evidence.models import EvidenceItem
from cases.evidence.storage import evidence_storage
from cases.models import Case
from cases.vault.errors import AcquisitionError

pytestmark = pytest.mark.django_db

PAGE = "<!doctype html><html><body><h1>VisionLlama-7B</h1><p>模型发布</p></body></html>"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/model":
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("X-Served-By", "slipcase-test")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_a_web_page_is_captured_with_headers_and_html_as_served(
    case: Case, officer: User, access_for, site: str, committed
) -> None:
    with committed():
        item = services.snapshot_request(
            access=access_for(officer, case), kind="web", source=f"{site}/model", description="page"
        )
    item.refresh_from_db()
    assert item.status == "stored", item.failure_reason
    assert item.sha256 == hashlib.sha256(PAGE.encode()).hexdigest()
    assert item.metadata["status"] == 200
    assert ["X-Served-By", "slipcase-test"] in item.metadata["headers"]
    if Path("/usr/bin/chromium").exists():
        shot = item.files.get(path="screenshot.png")
        with evidence_storage().open(shot.blob.name, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_page_that_is_gone_is_recorded_as_a_fact_with_the_time(
    case: Case, officer: User, access_for, site: str, committed
) -> None:
    with committed():
        item = services.snapshot_request(
            access=access_for(officer, case), kind="web", source=f"{site}/deleted", description="x"
        )
    item.refresh_from_db()
    assert item.status == "failed"
    assert "404" in item.failure_reason and "20" in item.failure_reason  # "... 404 at 2026-..."


def test_transient_failures_retry_then_record_the_reason(
    case: Case,
    officer: User,
    access_for,
    committed,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    tmp_path: Path,
) -> None:
    calls: list[str] = []

    def flaky(source: str, workdir: Path, **kwargs: Any) -> Any:
        calls.append(source)
        raise AcquisitionError("connection timed out", transient=True)

    monkeypatch.setattr("cases.vault.snapshots.git.snapshot_git", flaky)
    from integrity.celery import app

    settings.SLIPCASE_SNAPSHOT_ROOTS = [str(tmp_path)]
    # Eager tasks run retries inline when errors are not propagated to the caller.
    app.conf.task_eager_propagates = False
    try:
        with committed():
            item = services.snapshot_request(
                access=access_for(officer, case), kind="git", source=str(tmp_path), description="x"
            )
    finally:
        app.conf.task_eager_propagates = True
    item.refresh_from_db()
    from cases.tasks import SNAPSHOT_MAX_RETRIES

    assert len(calls) == SNAPSHOT_MAX_RETRIES + 1
    assert item.status == "failed"
    assert "connection timed out" in item.failure_reason and "retries" in item.failure_reason


def test_evidence_goes_through_any_django_storage_not_only_a_local_folder(
    case: Case, officer: User, access_for, settings: Settings
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "evidence": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    from django.core.files.storage import storages

    storages._storages.pop("evidence", None)  # type: ignore[attr-defined]  # rebuild
    try:
        access = access_for(officer, case)
        data = b"%PDF-1.4 stored in memory\n"
        item = services.evidence_upload(
            access=access,
            upload=SimpleUploadedFile("a.pdf", data),
            kind="document",
            description="x",
        )
        assert evidence_storage().exists(item.blob.name)  # type: ignore[union-attr]
        assert b"".join(services.evidence_stream(access=access, item=item)) == data
        again = services.evidence_upload(
            access=access,
            upload=SimpleUploadedFile("b.pdf", data),
            kind="document",
            description="y",
        )
        assert again.blob_id == item.blob_id
        assert EvidenceItem.objects.filter(blob=item.blob).count() == 2
    finally:
        storages._storages.pop("evidence", None)  # type: ignore[attr-defined]
