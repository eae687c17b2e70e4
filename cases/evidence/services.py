"""Every write to the evidence vault.

Each service checks the caller's ``CaseAccess``, refuses bad input before anything is stored
(a refused upload leaves no bytes and no rows), and records what it did on the item's chain of
custody, the case timeline and the audit log, in one transaction.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import timezone

from cases import workflow as wf
from cases.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from cases.evidence.models import Blob, CustodyEvent, EvidenceFile, EvidenceItem, LegalHold
from cases.evidence.storage import (
    CHUNK,
    IntegrityMismatch,
    Spool,
    TooLarge,
    blob_chunks,
    blob_delete,
    blob_ingest,
    blob_rehash,
)
from cases.models import Case
from cases.selectors import CaseAccess
from cases.services import event_record, require_roles

log = logging.getLogger("slipcase.evidence")

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
COMMITTEE_WRITERS = {wf.INTEGRITY_OFFICER, wf.CHAIR, wf.COMMITTEE_MEMBER}


# --- Helpers ------------------------------------------------------------------------------------


def _audit(kind: str, *, actor: Any, case: Case | None, payload: dict[str, Any]) -> None:
    from cases.audit.services import audit_append

    audit_append(kind=kind, actor=actor, case=case, payload=payload)


def custody_record(
    *,
    item: EvidenceItem,
    action: str,
    actor: User | None,
    purpose: str = "",
    observed: str = "",
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> CustodyEvent:
    """Append a custody event (and its audit entry). ``observed``: hash of bytes just read."""
    expected = item.sha256 or item.committed_sha256
    event = CustodyEvent.objects.create(
        item=item,
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        at=at or timezone.now(),
        purpose=purpose[:20_000],
        sha256_expected=expected if observed else "",
        sha256_observed=observed,
        hash_ok=(observed == expected) if observed else None,
        details=details or {},
    )
    _audit(
        f"custody.{action}",
        actor=event.actor,
        case=item.case,
        payload={
            "item": item.label,
            "sha256": expected,
            "observed": observed,
            "hash_ok": event.hash_ok,
            "purpose": event.purpose,
            **(details or {}),
        },
    )
    return event


def _next_number(case: Case) -> int:
    Case.objects.select_for_update().filter(pk=case.pk).first()
    last = EvidenceItem.objects.filter(case=case).aggregate(m=models.Max("number"))["m"]
    return (last or 0) + 1


def _item_in_case(access: CaseAccess, item: EvidenceItem | int) -> EvidenceItem:
    pk = item.pk if isinstance(item, EvidenceItem) else item
    row = EvidenceItem.objects.filter(case=access.case, pk=pk).select_related("blob").first()
    if row is None:
        raise NotFound(f"No evidence item {pk!r} in case {access.case.number}.")
    return row


def upload_limits() -> Any:
    """The archive limits applied to uploads (and to archives extracted for analyses)."""
    from cases.vault.safety import Limits

    max_upload = int(getattr(settings, "SLIPCASE_MAX_UPLOAD_BYTES", 4 * 1024**3))
    return Limits(
        max_upload_bytes=max_upload,
        max_total_uncompressed_bytes=max_upload * 4,
        max_ratio=100,
        max_entries=20_000,
        max_nesting=3,
    )


def _case_bytes(case: Case) -> int:
    total = (
        EvidenceItem.objects.filter(case=case)
        .exclude(status=EvidenceItem.Status.DISPOSED)
        .aggregate(t=models.Sum("size"))["t"]
    )
    return int(total or 0)


def _check_case_limit(case: Case, adding: int) -> None:
    limit = int(getattr(settings, "SLIPCASE_MAX_CASE_BYTES", 200 * 1024**3))
    if _case_bytes(case) + adding > limit:
        raise ValidationFailed(
            f"The case's evidence would exceed its limit of {limit} bytes.", field="file"
        )


@dataclass(frozen=True)
class Checked:
    media_type: str
    is_text: bool
    encoding: str | None
    archive_entries: int | None
    archive: str | None = None


def _check_upload(path: Path) -> Checked:
    """Sniff the type from content and inspect archives; raise ValidationFailed if unsafe."""
    from cases.vault.errors import UnsafeUpload
    from cases.vault.safety import inspect_archive, sniff

    sniffed = sniff(path)
    entries = None
    try:
        if sniffed.archive:
            report = inspect_archive(path, limits=upload_limits())
            entries = len(report.entries)
    except UnsafeUpload as exc:
        raise ValidationFailed(
            f"Upload refused: {exc}", field="file", extra={"problem": exc.problem}
        ) from exc
    return Checked(sniffed.mime, sniffed.is_text, sniffed.encoding, entries, sniffed.archive)


def _max_upload() -> int:
    return int(getattr(settings, "SLIPCASE_MAX_UPLOAD_BYTES", 4 * 1024**3))


def _spool_upload(upload: Any, max_bytes: int | None = None) -> Spool:
    """Stream an upload to a temporary file, hashing it; refuse it past ``max_bytes``."""
    max_bytes = max_bytes or _max_upload()
    spool = Spool(max_bytes=max_bytes)
    try:
        if hasattr(upload, "temporary_file_path"):  # a large upload Django already put on disk
            return spool.adopt(Path(upload.temporary_file_path()))
        chunks = upload.chunks(CHUNK) if hasattr(upload, "chunks") else upload
        return spool.feed(chunks)
    except TooLarge as exc:
        raise ValidationFailed(
            f"Upload refused: the file is larger than the limit of {max_bytes} bytes.",
            field="file",
            extra={"problem": "file_too_large"},
        ) from exc


def _safe_filename(name: str) -> str:
    name = (name or "upload").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return name[-255:] or "upload"


# --- Upload -------------------------------------------------------------------------------------


def evidence_upload(
    *,
    access: CaseAccess,
    upload: Any,
    kind: str,
    description: str,
    source: dict[str, Any] | None = None,
    purpose: str = "",
) -> EvidenceItem:
    """Store an uploaded file as a new exhibit. Streams to disk, hashes once, inspects archives."""
    require_roles(access, COMMITTEE_WRITERS, "add evidence")
    if kind not in EvidenceItem.Kind.values or kind == EvidenceItem.Kind.PROBE_SET:
        raise ValidationFailed(
            "kind must be a document, archive, statement or analysis output "
            "(snapshots and probe sets have their own endpoints).",
            field="kind",
        )
    description = (description or "").strip()
    if not description:
        raise ValidationFailed("description must not be empty.", field="description")
    if len(description) > 20_000:
        raise ValidationFailed("description is too long.", field="description")
    spool = _spool_upload(upload)
    try:
        checked = _check_upload(spool.path)
        _check_case_limit(access.case, spool.size)
    except BaseException:
        spool.discard()
        raise
    filename = _safe_filename(getattr(upload, "name", ""))
    with transaction.atomic():
        blob, created = spool.commit()
        try:
            item = EvidenceItem.objects.create(
                case=access.case,
                number=_next_number(access.case),
                description=description,
                kind=kind,
                status=EvidenceItem.Status.STORED,
                source={**(source or {}), "uploaded_by": access.user.get_username()},
                collected_by=access.user,
                collected_at=timezone.now(),
                method=f"Slipcase upload ({_tool_version()})",
                blob=blob,
                filename=filename,
                media_type=checked.media_type,
                size=blob.size,
                sha256=blob.sha256,
                metadata={
                    "is_text": checked.is_text,
                    "encoding": checked.encoding,
                    "archive_entries": checked.archive_entries,
                    "deduplicated": not created,
                },
            )
            custody_record(
                item=item,
                action=CustodyEvent.Action.ACQUIRED,
                actor=access.user,
                purpose=purpose or "uploaded",
                observed=blob.sha256,
                details={"filename": filename, "size": blob.size},
            )
            event_record(
                case=access.case,
                kind="evidence_added",
                summary=f"Exhibit {item.label} added ({item.get_kind_display()}).",
                actor=access.user,
                data={"item": item.pk, "sha256": item.sha256, "size": item.size},
            )
        except BaseException:
            if created:  # the transaction rolls back: the bytes we placed must go too
                _forget_blob(blob)
            raise
    return item


def _forget_blob(blob: Blob) -> None:
    """Remove bytes that were stored for a change that then failed (no row refers to them)."""
    try:
        blob_delete(blob)
    except OSError:  # pragma: no cover - best effort; evidence_verify reports orphans
        log.exception("could not remove orphan blob %s", blob.sha256)


def _tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"Django {version('django')}"
    except PackageNotFoundError:  # pragma: no cover
        return "Django"


# --- Reading ------------------------------------------------------------------------------------


def evidence_view(*, access: CaseAccess, item: EvidenceItem, purpose: str = "") -> None:
    custody_record(item=item, action=CustodyEvent.Action.VIEWED, actor=access.user, purpose=purpose)


def evidence_stream(
    *, access: CaseAccess, item: EvidenceItem, purpose: str = "", action: str = "downloaded"
) -> Iterator[bytes]:
    """The item's bytes, hash-checked as they stream. The custody event is written when the
    stream ends: ``hash_ok`` true, or false with a loud log and audit entry on a mismatch."""
    return _stream_item(item=item, user=access.user, purpose=purpose, action=action)


def _stream_item(
    *, item: EvidenceItem, user: User | None, purpose: str, action: str
) -> Iterator[bytes]:
    if item.status != EvidenceItem.Status.STORED or item.blob is None:
        raise Conflict(f"Exhibit {item.label} has no stored bytes ({item.status}).")
    blob = item.blob

    def stream() -> Iterator[bytes]:
        try:
            yield from blob_chunks(blob)
        except IntegrityMismatch as exc:
            log.error("EVIDENCE HASH MISMATCH on %s (%s): %s", item.label, item.case.number, exc)
            custody_record(
                item=item,
                action=action,
                actor=user,
                purpose=purpose,
                observed=exc.observed,
                details={"error": str(exc), "delivered": False},
            )
            raise
        except FileNotFoundError:
            log.error("EVIDENCE BYTES MISSING for %s (%s)", item.label, item.case.number)
            custody_record(
                item=item,
                action=action,
                actor=user,
                purpose=purpose,
                observed="0" * 64,
                details={"error": "bytes missing from storage", "delivered": False},
            )
            raise
        custody_record(item=item, action=action, actor=user, purpose=purpose, observed=blob.sha256)

    return stream()


# --- Disclosure -----------------------------------------------------------------------------------


@transaction.atomic
def evidence_disclose(
    *, access: CaseAccess, item: EvidenceItem | int, to: str, purpose: str = ""
) -> EvidenceItem:
    require_roles(access, {wf.INTEGRITY_OFFICER, wf.CHAIR}, "disclose evidence")
    row = _item_in_case(access, item)
    if to not in ("respondent", "complainant"):
        raise ValidationFailed("to must be 'respondent' or 'complainant'.", field="to")
    if row.status != EvidenceItem.Status.STORED:
        raise Conflict(f"Exhibit {row.label} cannot be disclosed while {row.status}.")
    field = f"disclosed_to_{to}"
    if getattr(row, field):
        raise Conflict(f"Exhibit {row.label} is already disclosed to the {to}.")
    setattr(row, field, True)
    row.save(update_fields=[field])
    custody_record(
        item=row,
        action=CustodyEvent.Action.DISCLOSED,
        actor=access.user,
        purpose=purpose,
        details={"to": to},
    )
    # Each party of that role sees the event on their timeline; the others do not.
    recipients: list[Any] = list(access.case.case_parties.filter(role=to)) or [None]
    for recipient in recipients:
        event_record(
            case=access.case,
            kind="evidence_disclosed",
            summary=f"Exhibit {row.label} disclosed to the {to}.",
            actor=access.user,
            data={"item": row.pk, "to": to},
            visible_to_parties=recipient is not None,
            party=recipient,
        )
    return row


# --- Sealed probe sets ----------------------------------------------------------------------------


def probe_set_commit(
    *,
    access: CaseAccess,
    description: str,
    sha256: str = "",
    upload: Any = None,
    source: dict[str, Any] | None = None,
) -> EvidenceItem:
    """Register a confidential probe set by its SHA-256 alone (sealed) or by uploading it."""
    if not (access.is_committee or wf.COMPLAINANT in access.party_roles):
        raise PermissionDenied("Only the committee or the complainant may register a probe set.")
    description = (description or "").strip()
    if not description:
        raise ValidationFailed("description must not be empty.", field="description")
    digest = (sha256 or "").strip().lower()
    if upload is None and not SHA256_RE.match(digest):
        raise ValidationFailed(
            "Give the probe set's SHA-256 as 64 hexadecimal characters, or upload it.",
            field="sha256",
        )
    spool = None
    if upload is not None:
        spool = _spool_upload(upload)
        if digest and digest != spool.sha256:
            spool.discard()
            raise Conflict(
                f"The upload's SHA-256 is {spool.sha256}, not the {digest} given.", field="sha256"
            )
        digest = spool.sha256
    now = timezone.now()
    with transaction.atomic():
        blob = None
        if spool is not None:
            blob, _ = spool.commit()
        item = EvidenceItem.objects.create(
            case=access.case,
            number=_next_number(access.case),
            description=description,
            kind=EvidenceItem.Kind.PROBE_SET,
            status=EvidenceItem.Status.STORED if blob else EvidenceItem.Status.SEALED,
            source={**(source or {}), "registered_by": access.user.get_username()},
            collected_by=access.user,
            collected_at=now,
            method=f"Slipcase sealed probe set ({_tool_version()})",
            blob=blob,
            filename=_safe_filename(getattr(upload, "name", "")) if upload is not None else "",
            size=blob.size if blob else None,
            sha256=blob.sha256 if blob else "",
            committed_sha256=digest,
            revealed_at=now if blob else None,
        )
        custody_record(
            item=item,
            action=CustodyEvent.Action.ACQUIRED,
            actor=access.user,
            purpose="probe set registered" + (" and uploaded" if blob else " by hash (sealed)"),
            observed=blob.sha256 if blob else "",
            details={"committed_sha256": digest},
        )
        event_record(
            case=access.case,
            kind="probe_set_committed",
            summary=f"Probe set {item.label} committed by its SHA-256.",
            actor=access.user,
            data={"item": item.pk, "committed_sha256": digest},
            at=now,
        )
    return item


def probe_set_reveal(*, access: CaseAccess, item: EvidenceItem | int, upload: Any) -> EvidenceItem:
    """Reveal a sealed probe set: accepted only when its bytes have the committed SHA-256."""
    row = _item_in_case(access, item)
    if row.kind != EvidenceItem.Kind.PROBE_SET:
        raise ValidationFailed(f"Exhibit {row.label} is not a probe set.")
    if not (access.is_committee or row.collected_by_id == access.user.pk):
        raise PermissionDenied("Only the committee or whoever registered it may reveal it.")
    if row.status != EvidenceItem.Status.SEALED:
        raise Conflict(f"Probe set {row.label} is not sealed ({row.status}).")
    spool = _spool_upload(upload)
    if spool.sha256 != row.committed_sha256:
        spool.discard()
        raise Conflict(
            f"Refused: the revealed file's SHA-256 is {spool.sha256}, but {row.label} was "
            f"committed as {row.committed_sha256}.",
            field="file",
        )
    with transaction.atomic():
        row = EvidenceItem.objects.select_for_update().get(pk=row.pk)
        if row.status != EvidenceItem.Status.SEALED:
            spool.discard()
            raise Conflict(f"Probe set {row.label} was revealed meanwhile.")
        blob, _ = spool.commit()
        row.blob = blob
        row.sha256 = blob.sha256
        row.size = blob.size
        row.filename = _safe_filename(getattr(upload, "name", ""))
        row.status = EvidenceItem.Status.STORED
        row.revealed_at = timezone.now()
        row.save(update_fields=["blob", "sha256", "size", "filename", "status", "revealed_at"])
        custody_record(
            item=row,
            action=CustodyEvent.Action.REVEALED,
            actor=access.user,
            purpose="sealed probe set revealed; hash matches the commitment",
            observed=blob.sha256,
        )
        event_record(
            case=access.case,
            kind="probe_set_revealed",
            summary=f"Probe set {row.label} revealed; it matches its committed SHA-256.",
            actor=access.user,
            data={"item": row.pk, "sha256": blob.sha256},
        )
    return row


# --- Snapshots ------------------------------------------------------------------------------------

SNAPSHOT_KINDS = {
    "git": EvidenceItem.Kind.GIT_SNAPSHOT,
    "model": EvidenceItem.Kind.MODEL_SNAPSHOT,
    "web": EvidenceItem.Kind.WEB_CAPTURE,
}


def _check_source(kind: str, source: str) -> dict[str, Any]:
    source = (source or "").strip()
    if not source or len(source) > 2000:
        raise ValidationFailed("source must be a URL or path (at most 2000 characters).")
    if source.startswith("-"):
        raise ValidationFailed("source must not start with '-'.", field="source")
    parts = urlsplit(source)
    if parts.scheme in ("http", "https") and parts.netloc:
        return {"url": source}
    if kind == "git" and parts.scheme in ("ssh", "git") and parts.netloc:
        return {"url": source}
    if kind == "model" and re.match(r"^hf:[\w.-]+/[\w.-]+(@[\w./-]+)?$", source):
        repo, _, revision = source[3:].partition("@")
        return {"model_id": repo, "revision": revision or "main"}
    if kind == "web":
        raise ValidationFailed("A web capture needs an http(s) URL.", field="source")
    path = Path(parts.path if parts.scheme == "file" else source)
    roots = [Path(r).resolve() for r in getattr(settings, "SLIPCASE_SNAPSHOT_ROOTS", [])]
    resolved = path.resolve()
    if not path.is_absolute() or not any(resolved.is_relative_to(r) for r in roots):
        raise ValidationFailed(
            "Local paths may be snapshotted only inside SLIPCASE_SNAPSHOT_ROOTS.", field="source"
        )
    return {"path": str(resolved)}


def snapshot_request(
    *,
    access: CaseAccess,
    kind: str,
    source: str,
    description: str = "",
    accept_pickle_as_inert: bool = False,
) -> EvidenceItem:
    """Queue a snapshot of a volatile artefact; a Celery task acquires it."""
    require_roles(access, COMMITTEE_WRITERS, "snapshot artefacts")
    if kind not in SNAPSHOT_KINDS:
        raise ValidationFailed("kind must be git, model or web.", field="kind")
    origin = _check_source(kind, source)
    description = (description or "").strip() or f"Snapshot of {source}"
    with transaction.atomic():
        item = EvidenceItem.objects.create(
            case=access.case,
            number=_next_number(access.case),
            description=description[:20_000],
            kind=SNAPSHOT_KINDS[kind],
            status=EvidenceItem.Status.PENDING,
            source={**origin, "requested_by": access.user.get_username()},
            collected_by=access.user,
            collected_at=timezone.now(),
            method="queued",
            metadata={"accept_pickle_as_inert": bool(accept_pickle_as_inert)},
        )
        event_record(
            case=access.case,
            kind="snapshot_requested",
            summary=f"Snapshot {item.label} requested: {source}.",
            actor=access.user,
            data={"item": item.pk, "source": origin},
        )
        from cases.tasks import evidence_snapshot

        transaction.on_commit(lambda: evidence_snapshot.delay(item.pk))
    return item


def _set_progress(item: EvidenceItem, percent: int) -> None:
    EvidenceItem.objects.filter(pk=item.pk).update(progress=max(0, min(100, percent)))


def snapshot_run(*, item_id: int) -> EvidenceItem:
    """Acquire a queued snapshot (called by the Celery task). Transient errors propagate (the task
    retries); a source that is gone is recorded on the item as a fact."""
    from cases.vault.errors import AcquisitionError, SourceGone, UnsafeUpload

    item = EvidenceItem.objects.select_related("case").get(pk=item_id)
    if item.status not in (EvidenceItem.Status.PENDING, EvidenceItem.Status.ACQUIRING):
        return item  # already done: a redelivered task does nothing twice
    EvidenceItem.objects.filter(pk=item.pk).update(status=EvidenceItem.Status.ACQUIRING)
    workdir = Path(tempfile.mkdtemp(prefix="slipcase-snapshot-"))
    try:
        if item.kind == EvidenceItem.Kind.GIT_SNAPSHOT:
            _acquire_git(item, workdir)
        elif item.kind == EvidenceItem.Kind.MODEL_SNAPSHOT:
            _acquire_model(item, workdir)
        else:
            _acquire_web(item, workdir)
    except (SourceGone, UnsafeUpload) as exc:
        snapshot_fail(item_id=item.pk, reason=str(exc))
    except AcquisitionError as exc:
        if not exc.transient:
            snapshot_fail(item_id=item.pk, reason=str(exc))
        else:
            EvidenceItem.objects.filter(pk=item.pk).update(status=EvidenceItem.Status.PENDING)
            raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    item.refresh_from_db()
    return item


def snapshot_fail(*, item_id: int, reason: str) -> None:
    with transaction.atomic():
        item = EvidenceItem.objects.select_for_update().get(pk=item_id)
        if item.status == EvidenceItem.Status.STORED:
            return
        item.status = EvidenceItem.Status.FAILED
        item.failure_reason = reason[:20_000]
        item.save(update_fields=["status", "failure_reason"])
        event_record(
            case=item.case,
            kind="snapshot_failed",
            summary=f"Snapshot {item.label} failed: {reason[:300]}",
            data={"item": item.pk, "reason": reason},
        )
        _audit(
            "evidence.snapshot_failed",
            actor=None,
            case=item.case,
            payload={"item": item.label, "source": item.source, "reason": reason},
        )


def _store_snapshot(
    item: EvidenceItem,
    *,
    main: Path | None,
    filename: str,
    media_type: str,
    method: str,
    metadata: dict[str, Any],
    files: Sequence[tuple[str, str, Path, str]] = (),
    collected_at: datetime | None = None,
) -> None:
    """Ingest a snapshot's files (path, role, local file, expected SHA-256 or "") and store it."""
    from cases.vault.errors import AcquisitionError

    blobs: list[tuple[str, str, Blob]] = []
    for path, role, local, expected in files:
        with open(local, "rb") as fh:
            b = blob_ingest(fh)
        if expected and b.sha256 != expected:
            raise AcquisitionError(
                f"{path} changed while it was being copied ({expected} then {b.sha256})",
                transient=True,
            )
        blobs.append((path, role, b))
    blob = None
    if main is not None:
        with open(main, "rb") as fh:
            blob = blob_ingest(fh)
    with transaction.atomic():
        row = EvidenceItem.objects.select_for_update().get(pk=item.pk)
        if row.status == EvidenceItem.Status.STORED:
            return
        for path, role, b in blobs:
            EvidenceFile.objects.create(
                item=row, path=path, role=role, blob=b, size=b.size, sha256=b.sha256
            )
        if blob is None and blobs:  # a model repository: the manifest is the item's bytes
            import json

            manifest = json.dumps(
                {"files": [{"path": p, "sha256": b.sha256, "size": b.size} for p, _, b in blobs]},
                sort_keys=True,
                indent=1,
            ).encode()
            blob = blob_ingest([manifest])
        if blob is None:
            raise ValueError("a snapshot needs a main file or at least one file")
        row.blob = blob
        row.sha256 = blob.sha256
        row.size = blob.size + sum(b.size for _, _, b in blobs)
        row.filename = filename
        row.media_type = media_type
        row.method = method
        row.metadata = {**row.metadata, **metadata}
        row.collected_at = collected_at or timezone.now()
        row.status = EvidenceItem.Status.STORED
        row.progress = 100
        row.save()
        custody_record(
            item=row,
            action=CustodyEvent.Action.ACQUIRED,
            actor=row.collected_by,
            purpose="snapshot of a volatile artefact",
            observed=blob.sha256,
            details={"source": row.source, "method": method},
        )
        event_record(
            case=row.case,
            kind="snapshot_stored",
            summary=f"Snapshot {row.label} stored ({row.get_kind_display()}).",
            data={"item": row.pk, "sha256": row.sha256, "size": row.size},
        )


def _acquire_git(item: EvidenceItem, workdir: Path) -> None:
    from cases.vault.snapshots.git import snapshot_git

    origin = item.source.get("url") or item.source["path"]
    snap = snapshot_git(origin, workdir, progress=lambda p: _set_progress(item, int(p)))
    _store_snapshot(
        item,
        main=snap.bundle_path,
        filename="repository.bundle",
        media_type="application/x-git-bundle",
        method=snap.tool,
        metadata={
            "refs": snap.refs,
            "head": snap.head,
            "commits": [c.to_dict() for c in snap.commits],
        },
        collected_at=_parse_time(snap.fetched_at),
    )


def _acquire_model(item: EvidenceItem, workdir: Path) -> None:
    from cases.vault.snapshots.model_repo import fetch_hf_repo, snapshot_model_repo

    accept = bool(item.metadata.get("accept_pickle_as_inert"))
    if "model_id" in item.source:
        folder = fetch_hf_repo(item.source["model_id"], item.source.get("revision"), workdir)
    else:
        folder = Path(item.source["path"])
    snap = snapshot_model_repo(folder, accept_pickle_as_inert=accept)
    files = [(f.path, f.role, folder / f.path, f.sha256) for f in snap.files]
    _store_snapshot(
        item,
        main=None,
        filename="manifest.json",
        media_type="application/json",
        method=getattr(snap, "tool", "Slipcase model-repository snapshot"),
        metadata={
            "manifest": [f.to_dict() for f in snap.files],
            "config": snap.config,
            "pickles_accepted_as_inert": accept,
        },
        files=files,
    )


def _acquire_web(item: EvidenceItem, workdir: Path) -> None:
    from cases.vault.snapshots.web import snapshot_web

    snap = snapshot_web(item.source["url"], workdir)
    files: list[tuple[str, str, Path, str]] = []
    if snap.screenshot_path is not None:
        files.append(("screenshot.png", "screenshot", Path(snap.screenshot_path), ""))
    _store_snapshot(
        item,
        main=Path(snap.html_path),
        filename="page.html",
        media_type="text/html",
        method=snap.tool,
        metadata={
            "final_url": snap.final_url,
            "status": snap.status,
            "headers": [list(h) for h in snap.headers],
            "screenshot_error": getattr(snap, "screenshot_error", None),
        },
        files=files,
        collected_at=_parse_time(snap.fetched_at),
    )


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


# --- Retention, legal holds, disposal -------------------------------------------------------------


@transaction.atomic
def legal_hold_place(*, access: CaseAccess, reason: str) -> LegalHold:
    require_roles(access, {wf.INTEGRITY_OFFICER}, "place legal holds")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason must not be empty.", field="reason")
    hold = LegalHold.objects.create(
        case=access.case, reason=reason[:20_000], placed_by=access.user, placed_at=timezone.now()
    )
    event_record(
        case=access.case,
        kind="legal_hold_placed",
        summary="Legal hold placed on the case's records.",
        actor=access.user,
        data={"hold": hold.pk, "reason": hold.reason},
    )
    return hold


@transaction.atomic
def legal_hold_release(*, access: CaseAccess, hold: LegalHold | int) -> LegalHold:
    require_roles(access, {wf.INTEGRITY_OFFICER}, "release legal holds")
    pk = hold.pk if isinstance(hold, LegalHold) else hold
    row = LegalHold.objects.select_for_update().filter(case=access.case, pk=pk).first()
    if row is None:
        raise NotFound(f"No legal hold {pk!r} on case {access.case.number}.")
    if row.released_at is not None:
        raise Conflict("This hold was already released.")
    row.released_at = timezone.now()
    row.released_by = access.user
    row.save(update_fields=["released_at", "released_by"])
    event_record(
        case=access.case,
        kind="legal_hold_released",
        summary="Legal hold released.",
        actor=access.user,
        data={"hold": row.pk},
    )
    return row


def retention_blocker(case: Case, *, today: date | None = None) -> str | None:
    """Why the case's evidence may not be disposed of now, or None."""
    today = today or timezone.localdate()
    if case.closed_at is None or case.retain_until is None:
        return f"case {case.number} is not closed; its records are retained"
    if today <= case.retain_until:
        return f"case {case.number} is under retention until {case.retain_until.isoformat()}"
    if LegalHold.objects.filter(case=case, released_at__isnull=True).exists():
        return f"case {case.number} is under a legal hold"
    return None


def evidence_dispose(
    *, access: CaseAccess, item: EvidenceItem | int, reason: str, today: date | None = None
) -> EvidenceItem:
    """Dispose of an exhibit after retention: bytes deleted (when no other exhibit shares them),
    a tombstone with its hash kept on the custody chain and the audit log."""
    require_roles(access, {wf.INTEGRITY_OFFICER}, "dispose of evidence")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason must not be empty.", field="reason")
    with transaction.atomic():
        row = EvidenceItem.objects.select_for_update().get(pk=_item_in_case(access, item).pk)
        blocker = retention_blocker(access.case, today=today)
        if blocker:
            raise Conflict(f"Exhibit {row.label} cannot be disposed of: {blocker}.")
        if row.status == EvidenceItem.Status.DISPOSED:
            raise Conflict(f"Exhibit {row.label} was already disposed of.")
        blobs = [b for b in [row.blob] if b is not None] + [
            f.blob for f in row.files.select_related("blob")
        ]
        row.status = EvidenceItem.Status.DISPOSED
        row.disposed_at = timezone.now()
        row.save(update_fields=["status", "disposed_at"])
        custody_record(
            item=row,
            action=CustodyEvent.Action.DISPOSED,
            actor=access.user,
            purpose=reason,
            details={"tombstone": {"label": row.label, "sha256": row.sha256, "size": row.size}},
        )
        event_record(
            case=access.case,
            kind="evidence_disposed",
            summary=f"Exhibit {row.label} disposed of after retention.",
            actor=access.user,
            data={"item": row.pk, "sha256": row.sha256, "reason": reason},
        )
        doomed = [b for b in blobs if not _blob_still_needed(b, row)]

        def delete_bytes() -> None:
            for b in doomed:
                blob_delete(b)

        transaction.on_commit(delete_bytes)
    return row


def _blob_still_needed(blob: Blob, disposing: EvidenceItem) -> bool:
    live = EvidenceItem.objects.exclude(status=EvidenceItem.Status.DISPOSED).exclude(
        pk=disposing.pk
    )
    return (
        live.filter(blob=blob).exists()
        or EvidenceFile.objects.filter(blob=blob, item__in=live).exists()
    )


# --- Verification sweep ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyProblem:
    sha256: str
    problem: str
    items: tuple[str, ...]


def evidence_verify_all(
    *, progress: Callable[[int, int], None] | None = None
) -> tuple[int, list[VerifyProblem]]:
    """Re-hash every stored blob. Each mismatch or missing file is recorded on the custody chain
    of every exhibit that uses it (never repaired) and returned."""
    problems: list[VerifyProblem] = []
    live = EvidenceItem.objects.exclude(status=EvidenceItem.Status.DISPOSED)
    blobs = Blob.objects.filter(
        models.Q(items__in=live) | models.Q(files__item__in=live)
    ).distinct()
    total = blobs.count()
    for n, blob in enumerate(blobs.iterator(), start=1):
        try:
            observed = blob_rehash(blob)
            problem = "" if observed == blob.sha256 else f"hash mismatch: read {observed}"
        except FileNotFoundError:
            observed, problem = "0" * 64, "bytes missing from storage"
        affected = list(live.filter(models.Q(blob=blob) | models.Q(files__blob=blob)).distinct())
        for item in affected:
            custody_record(
                item=item,
                action=CustodyEvent.Action.VERIFIED,
                actor=None,
                purpose="scheduled integrity sweep (evidence_verify)",
                observed=observed if item.blob_id == blob.sha256 else "",
                details={"blob": blob.sha256, "ok": not problem, "problem": problem},
            )
        if problem:
            log.error("EVIDENCE INTEGRITY PROBLEM %s: %s", blob.sha256, problem)
            problems.append(
                VerifyProblem(
                    blob.sha256,
                    problem,
                    tuple(f"{i.case.number} {i.label}" for i in affected),
                )
            )
        if progress:
            progress(n, total)
    return total, problems


def open_item_file(item: EvidenceItem) -> IO[Any]:
    """Raw, unverified bytes for internal analysis jobs (they hash what they read themselves)."""
    from cases.evidence.storage import blob_open

    if item.blob is None:
        raise Conflict(f"Exhibit {item.label} has no stored bytes.")
    return blob_open(item.blob)


# --- Outputs of analyses --------------------------------------------------------------------------


def evidence_store_generated(
    *,
    case: Case,
    actor: User,
    data: bytes,
    filename: str,
    media_type: str,
    description: str,
    method: str,
    source: dict[str, Any] | None = None,
    kind: str = EvidenceItem.Kind.ANALYSIS_OUTPUT,
) -> EvidenceItem:
    """Store bytes that Slipcase produced (an analysis report) as a new exhibit of the case."""
    with transaction.atomic():
        blob = blob_ingest([data])
        item = EvidenceItem.objects.create(
            case=case,
            number=_next_number(case),
            description=description[:20_000],
            kind=kind,
            status=EvidenceItem.Status.STORED,
            source=source or {},
            collected_by=actor,
            collected_at=timezone.now(),
            method=method[:200],
            blob=blob,
            filename=_safe_filename(filename),
            media_type=media_type,
            size=blob.size,
            sha256=blob.sha256,
        )
        custody_record(
            item=item,
            action=CustodyEvent.Action.ACQUIRED,
            actor=actor,
            purpose="produced by an analysis run",
            observed=blob.sha256,
            details={"source": source or {}},
        )
    return item


def evidence_materialize(
    *, item: EvidenceItem, actor: User | None, dest: Path, purpose: str
) -> Path:
    """Write an exhibit's bytes to ``dest`` for an analysis, hash-checked as they stream; the read
    is an ``analysed`` custody event (with ``hash_ok``). Raises IntegrityMismatch on bad bytes."""
    with open(dest, "wb") as out:
        for chunk in _stream_item(
            item=item, user=actor, purpose=purpose, action=CustodyEvent.Action.ANALYSED
        ):
            out.write(chunk)
    return dest


def evidence_materialize_files(
    *, item: EvidenceItem, actor: User | None, dest: Path, purpose: str
) -> Path:
    """Write a multi-file snapshot (a model repository) to ``dest`` with its recorded paths, each
    file hash-checked as it streams; one ``analysed`` custody event records the read."""
    from cases.evidence.storage import blob_chunks

    if item.status != EvidenceItem.Status.STORED:
        raise Conflict(f"Exhibit {item.label} has no stored bytes ({item.status}).")
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    files = list(item.files.select_related("blob"))
    try:
        for entry in files:
            target = (dest / entry.path).resolve()
            if not target.is_relative_to(root):
                raise ValidationFailed(f"{item.label}: unsafe path {entry.path!r} in the manifest")
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as out:
                for chunk in blob_chunks(entry.blob):
                    out.write(chunk)
    except IntegrityMismatch as exc:
        custody_record(
            item=item,
            action=CustodyEvent.Action.ANALYSED,
            actor=actor,
            purpose=purpose,
            observed=exc.observed,
            details={"error": str(exc), "file": entry.path},
        )
        raise
    custody_record(
        item=item,
        action=CustodyEvent.Action.ANALYSED,
        actor=actor,
        purpose=purpose,
        details={"files": len(files), "all_hashes_verified": True},
    )
    return dest
