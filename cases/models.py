"""Case records: intake reports, cases, parties, allegations, committee, clocks, notes, responses,
findings, sanctions, appeals and the case timeline.

Models hold data and database-level invariants (constraints) only. Every write goes through
``cases.services`` and every read for a user through ``cases.selectors``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from cases import workflow as wf

MAX_TEXT = 20_000  # characters in a narrative, statement or note
MAX_TITLE = 300


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        abstract = True


class AllegationKind(models.TextChoices):
    CODE_PLAGIARISM = "code_plagiarism", "Plagiarism of code"
    MODEL_PLAGIARISM = "model_plagiarism", "Plagiarism of a model or its weights"
    TEXT_PLAGIARISM = "text_plagiarism", "Plagiarism of text"
    DATA_PLAGIARISM = "data_plagiarism", "Plagiarism of data"
    FABRICATION = "fabrication", "Fabrication"
    FALSIFICATION = "falsification", "Falsification"
    AUTHORSHIP = "authorship", "Authorship dispute"
    OTHER = "other", "Other"


class Report(TimeStamped):
    """An intake record, kept exactly as filed. Triage turns it into a case or dismisses it."""

    class Mode(models.TextChoices):
        NAMED = "named", "Named"
        CONFIDENTIAL = "confidential", "Confidential (known to the integrity office only)"
        ANONYMOUS = "anonymous", "Anonymous"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        OPENED = "opened", "Case opened"
        MERGED = "merged", "Merged into a case"
        DISMISSED = "dismissed", "Dismissed"

    reference = models.CharField(max_length=20, unique=True)
    mode = models.CharField(max_length=16, choices=Mode.choices)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reports",
    )
    reporter_name = models.CharField(max_length=200, blank=True)
    reporter_email = models.EmailField(blank=True)
    reporter_affiliation = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=32, choices=AllegationKind.choices)
    title = models.CharField(max_length=MAX_TITLE)
    narrative = models.TextField(max_length=MAX_TEXT)
    # [{"name": ..., "affiliation": ..., "email": ...}]
    respondents = models.JSONField(default=list, blank=True)
    # {"title": ..., "url": ..., "identifier": ..., "date": ...}
    original_work = models.JSONField(default=dict, blank=True)
    suspect_work = models.JSONField(default=dict, blank=True)
    client_token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    dismissal_reason = models.TextField(blank=True, max_length=MAX_TEXT)
    triaged_at = models.DateTimeField(null=True, blank=True)
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    case = models.ForeignKey(
        "Case", null=True, blank=True, on_delete=models.PROTECT, related_name="reports"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(mode="anonymous") | (Q(reporter__isnull=True) & Q(reporter_name="")),
                name="report_anonymous_has_no_identity",
            ),
            models.CheckConstraint(
                condition=~Q(status="dismissed") | ~Q(dismissal_reason=""),
                name="report_dismissal_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.reference


WORKFLOW_CHOICES = [(key, w.label) for key, w in wf.WORKFLOWS.items()]


class CaseNumberSequence(models.Model):
    """The last case number issued per year (row-locked while a number is taken)."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class Case(TimeStamped):
    number = models.CharField(max_length=20, unique=True)
    title = models.CharField(max_length=MAX_TITLE)
    summary = models.TextField(blank=True, max_length=MAX_TEXT)
    workflow = models.CharField(max_length=32, choices=WORKFLOW_CHOICES)
    state = models.CharField(max_length=32, db_index=True)
    version = models.PositiveIntegerField(default=1)  # optimistic concurrency for transitions
    institution = models.CharField(max_length=200, blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    state_changed_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closure_reason = models.TextField(blank=True, max_length=MAX_TEXT)
    retain_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def workflow_def(self) -> wf.Workflow:
        from cases.services import workflow_for  # settings-aware (configured day counts)

        return workflow_for(self.workflow)


class Party(TimeStamped):
    """A person or an organisation that can be a party to cases."""

    class Kind(models.TextChoices):
        PERSON = "person", "Person"
        ORGANISATION = "organisation", "Organisation"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(max_length=200)
    affiliation = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="parties",
    )

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "parties"

    def __str__(self) -> str:
        return self.name


class CaseParty(TimeStamped):
    class Role(models.TextChoices):
        COMPLAINANT = wf.COMPLAINANT, "Complainant"
        RESPONDENT = wf.RESPONDENT, "Respondent"
        WITNESS = wf.WITNESS, "Witness"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="case_parties")
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="case_roles")
    role = models.CharField(max_length=16, choices=Role.choices)
    identity_withheld = models.BooleanField(
        default=False,
        help_text="Identity known to the committee only (confidential complainant or witness).",
    )

    class Meta:
        ordering = ["role", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "party", "role"], name="case_party_role_unique")
        ]

    def __str__(self) -> str:
        return f"{self.party} ({self.role}) in {self.case_id}"


class Allegation(TimeStamped):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="allegations")
    respondent = models.ForeignKey(CaseParty, on_delete=models.PROTECT, related_name="allegations")
    kind = models.CharField(max_length=32, choices=AllegationKind.choices)
    description = models.TextField(max_length=MAX_TEXT)
    original_title = models.CharField(max_length=MAX_TITLE, blank=True)
    original_url = models.URLField(max_length=2000, blank=True)
    original_identifier = models.CharField(max_length=200, blank=True)
    original_date = models.DateField(null=True, blank=True)
    suspect_title = models.CharField(max_length=MAX_TITLE, blank=True)
    suspect_url = models.URLField(max_length=2000, blank=True)
    suspect_identifier = models.CharField(max_length=200, blank=True)
    suspect_date = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Allegation {self.pk} ({self.kind}) in case {self.case_id}"


class CaseMember(TimeStamped):
    """A committee seat on one case. A recused member has no access to the case at all."""

    class Role(models.TextChoices):
        INTEGRITY_OFFICER = wf.INTEGRITY_OFFICER, "Integrity officer"
        COMMITTEE_MEMBER = wf.COMMITTEE_MEMBER, "Committee member"
        CHAIR = wf.CHAIR, "Chair"
        DECIDING_OFFICIAL = wf.DECIDING_OFFICIAL, "Deciding official"
        APPEAL_PANEL = wf.APPEAL_PANEL, "Appeal panel"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="seats"
    )
    role = models.CharField(max_length=24, choices=Role.choices)
    expertise = models.CharField(max_length=300, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recused_at = models.DateTimeField(null=True, blank=True)
    recusal_reason = models.TextField(blank=True, max_length=MAX_TEXT)

    class Meta:
        ordering = ["role", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "user", "role"], name="case_member_role_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} as {self.role} in case {self.case_id}"


class ConflictDeclaration(TimeStamped):
    """A member's conflict-of-interest declaration (also 'no conflict', which is kept too)."""

    member = models.ForeignKey(CaseMember, on_delete=models.PROTECT, related_name="declarations")
    has_conflict = models.BooleanField()
    statement = models.TextField(max_length=MAX_TEXT)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Declaration by member {self.member_id}: conflict={self.has_conflict}"


class Clock(TimeStamped):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"  # the step it measures was done

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="clocks")
    key = models.CharField(max_length=40)
    label = models.CharField(max_length=200)
    binds = models.CharField(max_length=16)
    party = models.ForeignKey(
        CaseParty, null=True, blank=True, on_delete=models.PROTECT, related_name="clocks"
    )
    days = models.PositiveIntegerField()
    optional = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField(db_index=True)
    warn_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    stopped_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)  # when the warning event was written
    overdue_at = models.DateTimeField(null=True, blank=True)  # when the overdue event was written

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["status", "due_at"], name="clock_status_due")]

    def __str__(self) -> str:
        return f"{self.label} due {self.due_at:%Y-%m-%d}"


class ClockExtension(TimeStamped):
    clock = models.ForeignKey(Clock, on_delete=models.PROTECT, related_name="extensions")
    previous_due_at = models.DateTimeField()
    new_due_at = models.DateTimeField()
    reason = models.TextField(max_length=MAX_TEXT)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(new_due_at__gt=models.F("previous_due_at")),
                name="extension_moves_due_date_later",
            )
        ]

    def __str__(self) -> str:
        return f"Clock {self.clock_id} extended to {self.new_due_at:%Y-%m-%d}"


class Note(TimeStamped):
    class Visibility(models.TextChoices):
        INTERNAL = "internal", "Internal (committee only)"
        PARTY = "party", "Shared with a party"
        PERSONAL = "personal", "Personal (author only)"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    visibility = models.CharField(max_length=16, choices=Visibility.choices)
    party = models.ForeignKey(
        CaseParty,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
        help_text="For party-visible notes: the party who may read it.",
    )
    body = models.TextField(max_length=MAX_TEXT)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(visibility="party") | Q(party__isnull=False),
                name="note_party_visible_names_party",
            )
        ]

    def __str__(self) -> str:
        return f"{self.visibility} note {self.pk} in case {self.case_id}"


class Response(TimeStamped):
    """A party's statement: a response to the allegations, comments on the draft report, ..."""

    class Kind(models.TextChoices):
        STATEMENT = "statement", "Statement"
        DRAFT_REPORT_COMMENT = "draft_report_comment", "Comments on the draft report"
        APOLOGY = "apology", "Apology"
        OTHER = "other", "Other"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="responses")
    party = models.ForeignKey(CaseParty, on_delete=models.PROTECT, related_name="responses")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    body = models.TextField(max_length=MAX_TEXT)
    clock = models.ForeignKey(
        Clock, null=True, blank=True, on_delete=models.PROTECT, related_name="responses"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} by party {self.party_id} in case {self.case_id}"


class ResponseAttachment(TimeStamped):
    response = models.ForeignKey(Response, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(upload_to="responses/%Y/%m/")
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.sha256[:12]})"


class Finding(TimeStamped):
    class Outcome(models.TextChoices):
        MISCONDUCT = "misconduct", "Research misconduct found"
        NO_MISCONDUCT = "no_misconduct", "No misconduct found"
        POLICY_VIOLATION = "policy_violation", "Violation of policy (not misconduct)"

    class Standard(models.TextChoices):
        PREPONDERANCE = "preponderance", "Preponderance of the evidence"
        CLEAR_AND_CONVINCING = "clear_and_convincing", "Clear and convincing evidence"

    class Intent(models.TextChoices):
        INTENTIONAL = "intentional", "Intentionally"
        KNOWING = "knowing", "Knowingly"
        RECKLESS = "reckless", "Recklessly"
        NOT_APPLICABLE = "not_applicable", "Not applicable"

    allegation = models.OneToOneField(Allegation, on_delete=models.PROTECT, related_name="finding")
    outcome = models.CharField(max_length=24, choices=Outcome.choices)
    standard_of_proof = models.CharField(max_length=32, choices=Standard.choices)
    intent = models.CharField(max_length=16, choices=Intent.choices)
    rationale = models.TextField(max_length=MAX_TEXT)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome="no_misconduct") | ~Q(intent="not_applicable"),
                name="finding_of_misconduct_states_intent",
            )
        ]

    def __str__(self) -> str:
        return f"{self.outcome} on allegation {self.allegation_id}"


class FindingVote(TimeStamped):
    class Vote(models.TextChoices):
        CONCUR = "concur", "Concur"
        DISSENT = "dissent", "Dissent"
        ABSTAIN = "abstain", "Abstain"

    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, related_name="votes")
    member = models.ForeignKey(CaseMember, on_delete=models.PROTECT, related_name="votes")
    vote = models.CharField(max_length=16, choices=Vote.choices)
    comment = models.TextField(blank=True, max_length=MAX_TEXT)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["finding", "member"], name="one_vote_per_member")
        ]

    def __str__(self) -> str:
        return f"{self.vote} by member {self.member_id} on finding {self.finding_id}"


class Sanction(TimeStamped):
    class Kind(models.TextChoices):
        TAKEDOWN = "takedown", "Takedown"
        RETRACTION = "retraction", "Retraction"
        CORRECTION = "correction", "Correction"
        PUBLIC_STATEMENT = "public_statement", "Public statement"
        APOLOGY = "apology", "Apology"
        ACADEMIC_SANCTION = "academic_sanction", "Academic sanction"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        WAIVED = "waived", "Waived"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="sanctions")
    respondent = models.ForeignKey(CaseParty, on_delete=models.PROTECT, related_name="sanctions")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    description = models.TextField(max_length=MAX_TEXT)
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    completed_at = models.DateTimeField(null=True, blank=True)
    proof = models.TextField(blank=True, max_length=MAX_TEXT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="done") | ~Q(proof=""),
                name="sanction_done_has_proof",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.status}) in case {self.case_id}"


class Appeal(TimeStamped):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        UPHELD = "upheld", "Upheld (decision changed)"
        DENIED = "denied", "Denied (decision stands)"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="appeals")
    appellant = models.ForeignKey(CaseParty, on_delete=models.PROTECT, related_name="appeals")
    grounds = models.TextField(max_length=MAX_TEXT)
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    decision = models.TextField(blank=True, max_length=MAX_TEXT)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Appeal {self.pk} ({self.status}) in case {self.case_id}"


class TimelineEvent(models.Model):
    """One event in a case's history, written by the service that caused it, in its transaction."""

    class Visibility(models.TextChoices):
        COMMITTEE = "committee", "Committee"
        PARTIES = "parties", "Committee and parties"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="timeline")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=40)
    summary = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.COMMITTEE
    )
    party = models.ForeignKey(
        CaseParty,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="When set, only this party (besides the committee) sees the event.",
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["case", "at", "id"], name="timeline_case_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}: {self.summary}"


# Models of the tamper-evident audit log live in their own module, in this app.
from cases.audit.models import AuditEntry, TreeHead  # noqa: E402, F401

# Models of the evidence vault live in their own module, in this app.
from cases.evidence.models import (  # noqa: E402, F401
    Blob,
    CustodyEvent,
    EvidenceFile,
    EvidenceItem,
    LegalHold,
)
