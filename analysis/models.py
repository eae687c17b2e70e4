"""Analysis runs: which exhibits went in (with their hashes), what ran (kind, parameters, tool
versions), how it went (status, progress, timings, failure reason) and what came out (new
exhibits). Written only by ``analysis.services``; a worker updates progress with update_fields."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AnalysisRun(models.Model):
    class Kind(models.TextChoices):
        CODESIM = "codesim", "Code similarity"
        PROVENANCE = "provenance", "Model-weight provenance"
        PROBES = "probes", "Model-output probe test"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="analyses")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    params = models.JSONField(default=dict, blank=True)
    versions = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True)  # headline figures of the result
    failure_reason = models.TextField(blank=True, max_length=20_000)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="analysis_status_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} run {self.pk} ({self.status})"


class AnalysisInput(models.Model):
    """An exhibit read by a run, in a named role, with the SHA-256 it had when read."""

    run = models.ForeignKey(AnalysisRun, on_delete=models.PROTECT, related_name="inputs")
    role = models.CharField(max_length=24)  # original, suspect, base, submission
    item = models.ForeignKey("cases.EvidenceItem", on_delete=models.PROTECT, related_name="+")
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["run_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "role", "item"], name="analysis_input_unique")
        ]

    def __str__(self) -> str:
        return f"{self.role}: item {self.item_id}"


class AnalysisOutput(models.Model):
    run = models.ForeignKey(AnalysisRun, on_delete=models.PROTECT, related_name="outputs")
    name = models.CharField(max_length=40)  # report.json, view.html
    item = models.ForeignKey("cases.EvidenceItem", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["run_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "name"], name="analysis_output_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name}: item {self.item_id}"
