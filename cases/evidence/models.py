"""Evidence records: content-addressed blobs, exhibits, their files, chain of custody, legal holds.

Bytes live in the ``evidence`` storage under their SHA-256 and are never overwritten; rows here
only point at them. Writes go through ``cases.evidence.services``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

MAX_TEXT = 20_000


class Blob(models.Model):
    """One stored byte string, named by its SHA-256. Shared by every item that has these bytes."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.PositiveBigIntegerField()
    name = models.CharField(max_length=200, unique=True)  # name in the evidence storage
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.sha256[:16]}… ({self.size} bytes)"


class EvidenceItem(models.Model):
    class Kind(models.TextChoices):
        DOCUMENT = "document", "Document"
        SOURCE_ARCHIVE = "source_archive", "Source archive"
        GIT_SNAPSHOT = "git_snapshot", "Git repository snapshot"
        MODEL_SNAPSHOT = "model_snapshot", "Model repository snapshot"
        WEB_CAPTURE = "web_capture", "Web page capture"
        PROBE_SET = "probe_set", "Probe set"
        ANALYSIS_OUTPUT = "analysis_output", "Analysis output"
        STATEMENT = "statement", "Statement"

    class Status(models.TextChoices):
        PENDING = "pending", "Snapshot queued"
        ACQUIRING = "acquiring", "Snapshot running"
        SEALED = "sealed", "Sealed (hash committed, bytes not yet revealed)"
        STORED = "stored", "Stored"
        FAILED = "failed", "Acquisition failed"
        DISPOSED = "disposed", "Disposed"

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="evidence")
    number = models.PositiveIntegerField()  # E-<number>, per case
    description = models.TextField(max_length=MAX_TEXT)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    # URL, repository and commit, model id and revision, "uploaded by ..."
    source = models.JSONField(default=dict, blank=True)
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    collected_at = models.DateTimeField()  # when the bytes were secured (UTC)
    method = models.CharField(max_length=200)  # tool and version
    blob = models.ForeignKey(
        Blob, null=True, blank=True, on_delete=models.PROTECT, related_name="items"
    )
    filename = models.CharField(max_length=255, blank=True)
    media_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    committed_sha256 = models.CharField(max_length=64, blank=True)  # sealed probe sets
    revealed_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)  # manifest, refs, commits, headers, ...
    disclosed_to_respondent = models.BooleanField(default=False)
    disclosed_to_complainant = models.BooleanField(default=False)
    progress = models.PositiveSmallIntegerField(default=0)
    failure_reason = models.TextField(blank=True, max_length=MAX_TEXT)
    disposed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["case", "number"], name="evidence_label_unique"),
            models.CheckConstraint(
                condition=~Q(status="stored") | (Q(blob__isnull=False) & ~Q(sha256="")),
                name="stored_evidence_has_bytes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} {self.description[:40]}"

    @property
    def label(self) -> str:
        return f"E-{self.number}"


class EvidenceFile(models.Model):
    """One file of a multi-file snapshot (a model repository): path, role and its blob."""

    item = models.ForeignKey(EvidenceItem, on_delete=models.PROTECT, related_name="files")
    path = models.CharField(max_length=1000)
    role = models.CharField(max_length=24, blank=True)
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="files")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["item_id", "path"]
        constraints = [
            models.UniqueConstraint(fields=["item", "path"], name="evidence_file_path_unique")
        ]

    def __str__(self) -> str:
        return f"{self.path} of item {self.item_id}"


class CustodyEvent(models.Model):
    """Append-only chain of custody of one item. Rows are never updated or deleted."""

    class Action(models.TextChoices):
        ACQUIRED = "acquired", "Acquired"
        VIEWED = "viewed", "Viewed"
        DOWNLOADED = "downloaded", "Downloaded"
        EXPORTED = "exported", "Exported"
        DISCLOSED = "disclosed", "Disclosed"
        ANALYSED = "analysed", "Analysed"
        TRANSFERRED = "transferred", "Transferred"
        VERIFIED = "verified", "Hash re-checked"
        REVEALED = "revealed", "Sealed set revealed"
        DISPOSED = "disposed", "Disposed"

    item = models.ForeignKey(EvidenceItem, on_delete=models.PROTECT, related_name="custody")
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()
    purpose = models.TextField(blank=True, max_length=MAX_TEXT)
    sha256_expected = models.CharField(max_length=64, blank=True)
    sha256_observed = models.CharField(max_length=64, blank=True)
    hash_ok = models.BooleanField(null=True)  # None where no bytes were read
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["item", "at"], name="custody_item_at")]

    def __str__(self) -> str:
        return f"{self.action} of item {self.item_id} at {self.at:%Y-%m-%d %H:%M}"


class LegalHold(models.Model):
    """While a hold is active, nothing of the case's evidence may be disposed."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="legal_holds")
    reason = models.TextField(max_length=MAX_TEXT)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    placed_at = models.DateTimeField()
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["placed_at", "id"]

    def __str__(self) -> str:
        return f"Hold on case {self.case_id} ({'released' if self.released_at else 'active'})"
