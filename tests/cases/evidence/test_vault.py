"""The evidence vault: hashed, deduplicated, immutable storage with a chain of custody; sealed
probe sets; snapshots of local git and model repositories; retention and legal holds; the API."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from pytest_django import Settings as SettingsWrapper
from rest_framework.test import APIClient

from cases.errors import Conflict, PermissionDenied, ValidationFailed
from cases.evidence import services
from cases.evidence.models import Blob, CustodyEvent, EvidenceItem
from cases.evidence.storage import IntegrityMismatch, evidence_storage
from cases.models import Case

pytestmark = pytest.mark.django_db


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed():`` runs what a service queued for after commit (snapshot tasks, byte
    deletions) at the end of the block, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def stored_path(item: EvidenceItem) -> Path:
    assert item.blob is not None
    return Path(evidence_storage().path(item.blob.name))


def flip_a_byte(path: Path) -> None:
    os.chmod(path, 0o640)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- Ingest, dedupe, custody ----------------------------------------------------------------------


def test_an_upload_is_hashed_stored_under_its_hash_and_logged_as_acquired(
    case: Case, officer: User, access_for
) -> None:
    item = services.evidence_upload(
        access=access_for(officer, case),
        upload=upload("report.pdf", PDF),
        kind="document",
        description="The complainant's comparison report",
    )
    assert item.label == "E-1"
    assert item.sha256 == hashlib.sha256(PDF).hexdigest() and item.size == len(PDF)
    assert item.media_type == "application/pdf"
    assert stored_path(item).read_bytes() == PDF
    assert item.blob is not None and item.blob.name.endswith(item.sha256)
    event = item.custody.get()
    assert event.action == "acquired" and event.hash_ok is True
    assert event.sha256_observed == item.sha256


def test_the_same_bytes_twice_are_stored_once_and_labelled_twice(
    case: Case, officer: User, access_for
) -> None:
    access = access_for(officer, case)
    first = services.evidence_upload(
        access=access, upload=upload("a.pdf", PDF), kind="document", description="one"
    )
    second = services.evidence_upload(
        access=access, upload=upload("b.pdf", PDF), kind="document", description="two"
    )
    assert (first.label, second.label) == ("E-1", "E-2")
    assert first.blob_id == second.blob_id and Blob.objects.count() == 1
    assert second.metadata["deduplicated"] is True


def test_stored_evidence_files_are_read_only(case: Case, officer: User, access_for) -> None:
    item = services.evidence_upload(
        access=access_for(officer, case),
        upload=upload("a.pdf", PDF),
        kind="document",
        description="x",
    )
    assert stored_path(item).stat().st_mode & 0o222 == 0


def test_only_the_committee_adds_evidence_and_a_refusal_stores_nothing(
    case: Case, respondent: User, access_for
) -> None:
    with pytest.raises(PermissionDenied):
        services.evidence_upload(
            access=access_for(respondent, case),
            upload=upload("a.pdf", PDF),
            kind="document",
            description="x",
        )
    assert EvidenceItem.objects.count() == 0 and Blob.objects.count() == 0


def test_an_upload_over_the_limit_is_refused_and_leaves_nothing(
    case: Case, officer: User, access_for, settings: SettingsWrapper
) -> None:
    settings.SLIPCASE_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(ValidationFailed, match="larger than the limit"):
        services.evidence_upload(
            access=access_for(officer, case),
            upload=upload("big.bin", b"x" * 5000),
            kind="document",
            description="too big",
        )
    assert EvidenceItem.objects.count() == 0 and Blob.objects.count() == 0
    incoming = Path(evidence_storage().path("incoming"))
    assert not any(incoming.iterdir())


def test_a_case_over_its_total_limit_refuses_more_evidence(
    case: Case, officer: User, access_for, settings: SettingsWrapper
) -> None:
    settings.SLIPCASE_MAX_CASE_BYTES = len(PDF) + 10
    access = access_for(officer, case)
    services.evidence_upload(
        access=access, upload=upload("a.pdf", PDF), kind="document", description="x"
    )
    with pytest.raises(ValidationFailed, match="limit"):
        services.evidence_upload(
            access=access,
            upload=upload("b.txt", b"more bytes " * 5),
            kind="document",
            description="y",
        )
    assert EvidenceItem.objects.count() == 1


def test_a_hostile_archive_is_refused_naming_the_problem_and_nothing_is_stored(
    case: Case, officer: User, access_for
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../etc/cron.d/evil", "* * * * * root sh")
    with pytest.raises(ValidationFailed) as refused:
        services.evidence_upload(
            access=access_for(officer, case),
            upload=upload("code.zip", buffer.getvalue()),
            kind="source_archive",
            description="suspect's code",
        )
    assert refused.value.extra["problem"] == "path_traversal"
    assert EvidenceItem.objects.count() == 0 and Blob.objects.count() == 0


def test_a_safe_archive_is_stored_with_its_entry_count(
    case: Case, officer: User, access_for
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("src/model.py", "class MiniVModel: pass\n")
        archive.writestr("README.md", "MiniV\n")
    item = services.evidence_upload(
        access=access_for(officer, case),
        upload=upload("code.txt", buffer.getvalue()),
        kind="source_archive",
        description="code",
    )
    assert item.media_type == "application/zip"  # sniffed from content, not from the name
    assert item.metadata["archive_entries"] == 2


# --- Reading: verified streams, flipped bytes, the sweep ------------------------------------------


def test_a_download_streams_the_bytes_and_logs_a_verified_custody_event(
    case: Case, officer: User, access_for
) -> None:
    access = access_for(officer, case)
    item = services.evidence_upload(
        access=access, upload=upload("a.pdf", PDF), kind="document", description="x"
    )
    assert b"".join(services.evidence_stream(access=access, item=item, purpose="review")) == PDF
    event = item.custody.filter(action="downloaded").get()
    assert event.hash_ok is True and event.purpose == "review"


def test_a_flipped_byte_is_caught_on_download_before_the_last_chunk_and_recorded(
    case: Case, officer: User, access_for
) -> None:
    access = access_for(officer, case)
    item = services.evidence_upload(
        access=access, upload=upload("a.pdf", PDF), kind="document", description="x"
    )
    flip_a_byte(stored_path(item))
    received = b""
    with pytest.raises(IntegrityMismatch):
        for chunk in services.evidence_stream(access=access, item=item):
            received += chunk
    assert received != PDF and len(received) < len(PDF)  # never a complete copy of bad bytes
    event = item.custody.filter(action="downloaded").get()
    assert event.hash_ok is False and event.sha256_observed != item.sha256
    assert stored_path(item).read_bytes() != PDF  # recorded, never silently repaired


def test_evidence_verify_passes_then_names_a_flipped_blob_and_exits_non_zero(
    case: Case, officer: User, access_for, capsys: pytest.CaptureFixture[str]
) -> None:
    access = access_for(officer, case)
    good = services.evidence_upload(
        access=access, upload=upload("a.pdf", PDF), kind="document", description="x"
    )
    bad = services.evidence_upload(
        access=access, upload=upload("b.txt", b"statement text"), kind="statement", description="y"
    )
    call_command("evidence_verify")
    assert "OK: 2 stored blobs verified" in capsys.readouterr().out
    flip_a_byte(stored_path(bad))
    with pytest.raises(CommandError, match="1 of 2"):
        call_command("evidence_verify")
    assert f"{case.number} E-2" in capsys.readouterr().err
    assert bad.custody.filter(action="verified", hash_ok=False).exists()
    assert good.custody.filter(action="verified", hash_ok=True).count() == 2


# --- Disclosure and who sees what -----------------------------------------------------------------


def test_a_respondent_sees_only_disclosed_exhibits_and_disclosure_is_logged(
    case: Case, officer: User, respondent: User, complainant: User, outsider: User
) -> None:
    office = client_for(officer)
    base = f"/api/v1/cases/{case.number}/evidence/"
    first = office.post(
        base,
        {"file": upload("a.pdf", PDF), "kind": "document", "description": "one"},
        format="multipart",
    )
    assert first.status_code == 201, first.content
    office.post(
        base,
        {"file": upload("b.txt", b"internal"), "kind": "document", "description": "two"},
        format="multipart",
    )
    assert client_for(respondent).get(base).json()["results"] == []
    disclosed = office.post(
        f"{base}{first.json()['id']}/disclose/",
        {"to": "respondent", "purpose": "notice"},
        format="json",
    )
    assert disclosed.status_code == 200
    seen = client_for(respondent).get(base).json()["results"]
    assert [e["label"] for e in seen] == ["E-1"] and "collected_by" not in seen[0]
    download = client_for(respondent).get(f"{base}{first.json()['id']}/download/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF  # type: ignore[attr-defined]
    assert download["X-Content-SHA256"] == hashlib.sha256(PDF).hexdigest()
    assert client_for(complainant).get(base).json()["results"] == []
    assert client_for(outsider).get(base).status_code == 404
    hidden = EvidenceItem.objects.get(number=2)
    assert client_for(respondent).get(f"{base}{hidden.pk}/download/").status_code == 404
    actions = list(EvidenceItem.objects.get(number=1).custody.values_list("action", flat=True))
    assert actions == ["acquired", "disclosed", "downloaded"]
    custody = office.get(f"{base}{first.json()['id']}/custody/").json()
    assert [c["action"] for c in custody] == ["acquired", "disclosed", "downloaded"]
    assert client_for(respondent).get(f"{base}{first.json()['id']}/custody/").status_code == 403


# --- Sealed probe sets ----------------------------------------------------------------------------


def test_a_sealed_probe_set_is_accepted_only_when_its_hash_matches(
    case: Case, complainant: User, officer: User, respondent: User, access_for
) -> None:
    probes = json.dumps({"slip-0001.png": "禾", "slip-0002.png": "黍"}, ensure_ascii=False).encode()
    committed = hashlib.sha256(probes).hexdigest()
    sealed = services.probe_set_commit(
        access=access_for(complainant, case), description="Bamboo-slip probe set", sha256=committed
    )
    assert sealed.status == "sealed" and sealed.blob is None
    with pytest.raises(Conflict, match="committed as"):
        services.probe_set_reveal(
            access=access_for(complainant, case),
            item=sealed,
            upload=upload("p.json", probes + b" "),
        )
    sealed.refresh_from_db()
    assert sealed.status == "sealed" and Blob.objects.count() == 0
    revealed = services.probe_set_reveal(
        access=access_for(complainant, case), item=sealed, upload=upload("p.json", probes)
    )
    assert revealed.status == "stored" and revealed.sha256 == committed
    assert revealed.custody.filter(action="revealed", hash_ok=True).exists()
    # The committee sees it; the respondent does not, until the committee discloses it.
    from cases.evidence.selectors import evidence_for

    assert revealed in evidence_for(access_for(officer, case))
    assert revealed not in evidence_for(access_for(respondent, case))


def test_a_probe_set_commitment_needs_a_well_formed_hash(
    case: Case, complainant: User, access_for
) -> None:
    with pytest.raises(ValidationFailed, match="64 hexadecimal"):
        services.probe_set_commit(
            access=access_for(complainant, case), description="x", sha256="abc"
        )
    assert EvidenceItem.objects.count() == 0


# --- Snapshots of local repositories --------------------------------------------------------------


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": "2026-03-02T10:00:00Z",
        "GIT_COMMITTER_DATE": "2026-03-02T10:00:00Z",
    }
    return subprocess.run(
        ["git", "-c", "user.name=Chen Lab", "-c", "user.email=lab@example.edu", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_a_git_snapshot_of_a_local_repository_stores_a_bundle_with_refs_and_history(
    committed, case: Case, officer: User, access_for, tmp_path: Path, settings: SettingsWrapper
) -> None:
    repo = tmp_path / "miniv"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "model.py").write_text("class MiniVModel:\n    pass\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "MiniV model")
    git(repo, "tag", "v1.0")
    head = git(repo, "rev-parse", "HEAD")
    settings.SLIPCASE_SNAPSHOT_ROOTS = [str(tmp_path)]
    with committed():
        item = services.snapshot_request(
            access=access_for(officer, case), kind="git", source=str(repo), description="MiniV repo"
        )
    item.refresh_from_db()  # the task ran eagerly on commit
    assert item.status == "stored", item.failure_reason
    assert item.metadata["refs"]["refs/heads/main"] == head
    assert item.metadata["refs"]["refs/tags/v1.0"] == head
    assert [c["message"].strip() for c in item.metadata["commits"]] == ["MiniV model"]
    bundle = tmp_path / "copy.bundle"
    bundle.write_bytes(stored_path(item).read_bytes())
    assert hashlib.sha256(bundle.read_bytes()).hexdigest() == item.sha256
    restored = tmp_path / "restored"
    subprocess.run(
        ["git", "clone", "-q", "--mirror", str(bundle), str(restored)], check=True, cwd=tmp_path
    )
    assert git(restored, "rev-parse", "refs/tags/v1.0") == head
    assert git(restored, "show", f"{head}:model.py").startswith("class MiniVModel")


def test_a_snapshot_of_a_vanished_repository_records_the_fact(
    committed, case: Case, officer: User, access_for, tmp_path: Path, settings: SettingsWrapper
) -> None:
    settings.SLIPCASE_SNAPSHOT_ROOTS = [str(tmp_path)]
    with committed():
        item = services.snapshot_request(
            access=access_for(officer, case),
            kind="git",
            source=str(tmp_path / "deleted"),
            description="gone",
        )
    item.refresh_from_db()
    assert item.status == "failed" and item.failure_reason
    assert case.timeline.filter(kind="snapshot_failed").exists()


def test_local_paths_outside_the_snapshot_roots_are_refused(
    case: Case, officer: User, access_for, settings: SettingsWrapper
) -> None:
    settings.SLIPCASE_SNAPSHOT_ROOTS = []
    with pytest.raises(ValidationFailed, match="SLIPCASE_SNAPSHOT_ROOTS"):
        services.snapshot_request(
            access=access_for(officer, case), kind="git", source="/etc", description="x"
        )
    with pytest.raises(ValidationFailed):
        services.snapshot_request(
            access=access_for(officer, case),
            kind="web",
            source="file:///etc/passwd",
            description="x",
        )
    assert EvidenceItem.objects.count() == 0


def test_a_model_repository_snapshot_records_a_manifest_and_stores_each_file_once(
    committed, case: Case, officer: User, access_for, tmp_path: Path, settings: SettingsWrapper
) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    repo = tmp_path / "MiniV-7B"
    repo.mkdir()
    (repo / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8}))
    (repo / "tokenizer.json").write_text(json.dumps({"added_tokens": [{"content": "<slip>"}]}))
    rng = np.random.default_rng(0)
    save_file(
        {"w": rng.standard_normal((4, 4)).astype(np.float32)}, str(repo / "model.safetensors")
    )
    settings.SLIPCASE_SNAPSHOT_ROOTS = [str(tmp_path)]
    with committed():
        item = services.snapshot_request(
            access=access_for(officer, case),
            kind="model",
            source=str(repo),
            description="MiniV weights",
        )
    item.refresh_from_db()
    assert item.status == "stored", item.failure_reason
    files = {f.path: f for f in item.files.all()}
    assert set(files) == {"config.json", "tokenizer.json", "model.safetensors"}
    weights = (repo / "model.safetensors").read_bytes()
    assert files["model.safetensors"].sha256 == hashlib.sha256(weights).hexdigest()
    manifest = json.loads(stored_path(item).read_bytes())
    assert {f["path"] for f in manifest["files"]} == set(files)


def test_a_model_repository_with_a_pickle_is_refused_unless_accepted(
    committed, case: Case, officer: User, access_for, tmp_path: Path, settings: SettingsWrapper
) -> None:
    repo = tmp_path / "suspect"
    repo.mkdir()
    (repo / "config.json").write_text("{}")
    (repo / "pytorch_model.bin").write_bytes(b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00.")
    settings.SLIPCASE_SNAPSHOT_ROOTS = [str(tmp_path)]
    with committed():
        refused = services.snapshot_request(
            access=access_for(officer, case), kind="model", source=str(repo), description="x"
        )
    refused.refresh_from_db()
    assert refused.status == "failed" and "pytorch_model.bin" in refused.failure_reason
    with committed():
        accepted = services.snapshot_request(
            access=access_for(officer, case),
            kind="model",
            source=str(repo),
            description="y",
            accept_pickle_as_inert=True,
        )
    accepted.refresh_from_db()
    assert accepted.status == "stored"
    assert accepted.metadata["pickles_accepted_as_inert"] is True


# --- Retention and legal holds --------------------------------------------------------------------


def test_evidence_cannot_be_disposed_of_under_retention_or_hold_and_leaves_a_tombstone(
    committed, case: Case, officer: User, access_for
) -> None:
    access = access_for(officer, case)
    item = services.evidence_upload(
        access=access, upload=upload("a.pdf", PDF), kind="document", description="x"
    )
    with pytest.raises(Conflict, match="not closed"):
        services.evidence_dispose(access=access, item=item, reason="schedule")
    Case.objects.filter(pk=case.pk).update(
        closed_at="2020-01-01T00:00:00Z", retain_until=date(2027, 1, 1)
    )
    case.refresh_from_db()
    access = access_for(officer, case)
    with pytest.raises(Conflict, match="retention until 2027-01-01"):
        services.evidence_dispose(
            access=access, item=item, reason="schedule", today=date(2026, 12, 31)
        )
    hold = services.legal_hold_place(access=access, reason="Litigation pending")
    with pytest.raises(Conflict, match="legal hold"):
        services.evidence_dispose(
            access=access, item=item, reason="schedule", today=date(2027, 1, 2)
        )
    services.legal_hold_release(access=access, hold=hold)
    path = stored_path(item)
    with committed():
        disposed = services.evidence_dispose(
            access=access, item=item, reason="schedule", today=date(2027, 1, 2)
        )
    assert disposed.status == "disposed" and not path.exists()
    tombstone = disposed.custody.get(action="disposed")
    assert tombstone.details["tombstone"]["sha256"] == hashlib.sha256(PDF).hexdigest()
    from cases.audit.models import AuditEntry

    assert AuditEntry.objects.filter(kind="custody.disposed").exists()


def test_disposal_keeps_bytes_another_exhibit_still_uses(
    case: Case, officer: User, access_for
) -> None:
    access = access_for(officer, case)
    first = services.evidence_upload(
        access=access, upload=upload("a.pdf", PDF), kind="document", description="x"
    )
    services.evidence_upload(
        access=access, upload=upload("b.pdf", PDF), kind="document", description="y"
    )
    Case.objects.filter(pk=case.pk).update(
        closed_at="2010-01-01T00:00:00Z", retain_until=date(2017, 1, 1)
    )
    case.refresh_from_db()
    services.evidence_dispose(access=access_for(officer, case), item=first, reason="schedule")
    assert stored_path(first).exists()


def test_custody_events_of_an_exhibit_are_in_the_audit_log(
    case: Case, officer: User, access_for
) -> None:
    from cases.audit.models import AuditEntry

    access = access_for(officer, case)
    item = services.evidence_upload(
        access=access, upload=upload("a.pdf", PDF), kind="document", description="x"
    )
    services.evidence_view(access=access, item=item, purpose="reading")
    kinds = list(AuditEntry.objects.filter(case=case).values_list("kind", flat=True))
    assert "custody.acquired" in kinds and "custody.viewed" in kinds
    assert CustodyEvent.objects.filter(item=item).count() == 2
    assert timedelta(0) <= (item.custody.last().at - item.collected_at)  # type: ignore[union-attr]
