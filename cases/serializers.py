"""Input and output shapes of the case API. No business rules here: services check them.

Output serializers receive the caller's ``CaseAccess`` in their context (``"access"``) so that a
party reference is redacted where the party's identity is withheld from the caller.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from cases import models as m
from cases.models import MAX_TEXT, MAX_TITLE
from cases.selectors import CaseAccess

WITHHELD = "(identity withheld)"


def _access(serializer: serializers.BaseSerializer) -> CaseAccess | None:
    return serializer.context.get("access")


class PartyRefField(serializers.Field):
    """A reference to a CaseParty: id, role and the name unless withheld from the caller."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: m.CaseParty) -> dict[str, Any]:
        access = self.context.get("access")
        hidden = (
            value.identity_withheld
            and access is not None
            and not access.is_committee
            and value.pk not in access.party_ids
        )
        return {
            "id": value.pk,
            "role": value.role,
            "name": WITHHELD if hidden else value.party.name,
        }


PARTY_REF_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "role": {"type": "string"},
        "name": {"type": "string"},
    },
}


try:  # document the custom field for the OpenAPI schema
    from drf_spectacular.extensions import OpenApiSerializerFieldExtension

    class PartyRefFieldExtension(OpenApiSerializerFieldExtension):
        target_class = "cases.serializers.PartyRefField"

        def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
            return PARTY_REF_SCHEMA
except ImportError:  # pragma: no cover
    pass


class WorkSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=MAX_TITLE, required=False, allow_blank=True)
    url = serializers.URLField(max_length=2000, required=False, allow_blank=True)
    identifier = serializers.CharField(max_length=200, required=False, allow_blank=True)
    date = serializers.DateField(required=False, allow_null=True)


class RespondentInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    affiliation = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)


# --- Reports ------------------------------------------------------------------------------------


class ReportInputSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=m.Report.Mode.choices)
    kind = serializers.ChoiceField(choices=m.AllegationKind.choices)
    title = serializers.CharField(max_length=MAX_TITLE)
    narrative = serializers.CharField(max_length=MAX_TEXT)
    respondents = RespondentInputSerializer(many=True, required=False)
    original_work = WorkSerializer(required=False)
    suspect_work = WorkSerializer(required=False)
    reporter_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    reporter_email = serializers.EmailField(required=False, allow_blank=True)
    reporter_affiliation = serializers.CharField(max_length=200, required=False, allow_blank=True)
    client_token = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="A random token chosen by the client; a second submission with it is refused.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for key in ("original_work", "suspect_work"):
            if attrs.get(key) and attrs[key].get("date"):
                attrs[key]["date"] = attrs[key]["date"].isoformat()
        return attrs


class ReportOutputSerializer(serializers.ModelSerializer):
    case = serializers.SlugRelatedField(slug_field="number", read_only=True)  # type: ignore[var-annotated]

    class Meta:
        model = m.Report
        fields = [
            "reference",
            "created_at",
            "mode",
            "reporter_name",
            "reporter_email",
            "reporter_affiliation",
            "kind",
            "title",
            "narrative",
            "respondents",
            "original_work",
            "suspect_work",
            "status",
            "dismissal_reason",
            "triaged_at",
            "case",
        ]


class DismissInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=MAX_TEXT)


class OpenCaseInputSerializer(serializers.Serializer):
    workflow = serializers.ChoiceField(choices=m.WORKFLOW_CHOICES)
    title = serializers.CharField(max_length=MAX_TITLE, required=False, allow_blank=True)
    summary = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)


class MergeInputSerializer(serializers.Serializer):
    case = serializers.CharField(max_length=20, help_text="Number of the case to merge into.")


# --- Cases --------------------------------------------------------------------------------------


class CaseInputSerializer(OpenCaseInputSerializer):
    title = serializers.CharField(max_length=MAX_TITLE)


class CaseListSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.Case
        fields = [
            "number",
            "title",
            "workflow",
            "state",
            "version",
            "created_at",
            "state_changed_at",
            "closed_at",
        ]


class TransitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    target = serializers.CharField()
    requires_reason = serializers.BooleanField()


class CaseDetailSerializer(serializers.ModelSerializer):
    my_roles = serializers.SerializerMethodField()
    state_label = serializers.SerializerMethodField()
    available_transitions = serializers.SerializerMethodField()

    class Meta:
        model = m.Case
        fields = [
            "number",
            "title",
            "summary",
            "workflow",
            "state",
            "state_label",
            "version",
            "institution",
            "created_at",
            "state_changed_at",
            "closed_at",
            "closure_reason",
            "retain_until",
            "my_roles",
            "available_transitions",
        ]

    def get_my_roles(self, case: m.Case) -> list[str]:
        access = _access(self)
        return sorted(access.roles) if access else []

    def get_state_label(self, case: m.Case) -> str:
        return case.workflow_def.state(case.state).label

    @staticmethod
    def _transitions(access: CaseAccess) -> list[dict[str, Any]]:
        from cases.selectors import transitions_for

        return [
            {
                "name": t.name,
                "label": t.label,
                "target": t.target,
                "requires_reason": t.requires_reason,
            }
            for t in transitions_for(access)
        ]

    def get_available_transitions(self, case: m.Case) -> list[dict[str, Any]]:
        access = _access(self)
        return self._transitions(access) if access else []


class TransitionInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    reason = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    expected_version = serializers.IntegerField(required=False, min_value=1)


# --- Parties, allegations, members ----------------------------------------------------------------


class PartyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    role = serializers.ChoiceField(choices=m.CaseParty.Role.choices)
    kind = serializers.ChoiceField(choices=m.Party.Kind.choices, default=m.Party.Kind.PERSON)
    affiliation = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    username = serializers.CharField(
        max_length=150, required=False, allow_blank=True, help_text="Link the party to an account."
    )
    identity_withheld = serializers.BooleanField(default=False)


class PartyOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.CharField()
    identity_withheld = serializers.BooleanField()
    name = serializers.SerializerMethodField()
    kind = serializers.SerializerMethodField()
    affiliation = serializers.SerializerMethodField()
    email = serializers.SerializerMethodField()

    def _hidden(self, row: m.CaseParty) -> bool:
        access = _access(self)
        return bool(
            row.identity_withheld
            and access is not None
            and not access.is_committee
            and row.pk not in access.party_ids
        )

    def get_name(self, row: m.CaseParty) -> str:
        return WITHHELD if self._hidden(row) else row.party.name

    def get_kind(self, row: m.CaseParty) -> str:
        return row.party.kind

    def get_affiliation(self, row: m.CaseParty) -> str:
        return "" if self._hidden(row) else row.party.affiliation

    def get_email(self, row: m.CaseParty) -> str:
        access = _access(self)
        if access is not None and not access.is_committee and row.pk not in access.party_ids:
            return ""
        return row.party.email


class LinkAccountInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)


class AllegationInputSerializer(serializers.Serializer):
    respondent = serializers.IntegerField(help_text="Id of the respondent (a case party).")
    kind = serializers.ChoiceField(choices=m.AllegationKind.choices)
    description = serializers.CharField(max_length=MAX_TEXT)
    original = WorkSerializer(required=False)
    suspect = WorkSerializer(required=False)


class AllegationOutputSerializer(serializers.ModelSerializer):
    respondent = PartyRefField()

    class Meta:
        model = m.Allegation
        fields = [
            "id",
            "respondent",
            "kind",
            "description",
            "original_title",
            "original_url",
            "original_identifier",
            "original_date",
            "suspect_title",
            "suspect_url",
            "suspect_identifier",
            "suspect_date",
            "created_at",
        ]


class MemberInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=m.CaseMember.Role.choices)
    expertise = serializers.CharField(max_length=300, required=False, allow_blank=True)


class DeclarationSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.ConflictDeclaration
        fields = ["id", "has_conflict", "statement", "created_at"]


class MemberOutputSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.get_username", read_only=True)
    name = serializers.CharField(source="user.get_full_name", read_only=True)
    declarations = serializers.SerializerMethodField()

    class Meta:
        model = m.CaseMember
        fields = [
            "id",
            "username",
            "name",
            "role",
            "expertise",
            "recused_at",
            "recusal_reason",
            "declarations",
            "created_at",
        ]

    def get_declarations(self, member: m.CaseMember) -> list[dict[str, Any]]:
        access = _access(self)
        if access is None or not access.is_committee:
            return []
        return DeclarationSerializer(member.declarations.all(), many=True).data  # type: ignore[return-value]

    def to_representation(self, instance: m.CaseMember) -> dict[str, Any]:
        data = super().to_representation(instance)
        access = _access(self)
        if access is not None and not access.is_committee:
            data.pop("recusal_reason", None)
            data.pop("recused_at", None)
        return data


class RecuseInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=MAX_TEXT)


class DeclarationInputSerializer(serializers.Serializer):
    has_conflict = serializers.BooleanField()
    statement = serializers.CharField(max_length=MAX_TEXT)


# --- Clocks ---------------------------------------------------------------------------------------


class ExtensionSerializer(serializers.ModelSerializer):
    approved_by = serializers.CharField(source="approved_by.get_username", read_only=True)

    class Meta:
        model = m.ClockExtension
        fields = ["id", "previous_due_at", "new_due_at", "reason", "approved_by", "created_at"]


class ClockOutputSerializer(serializers.ModelSerializer):
    party = PartyRefField(allow_null=True)
    extensions = ExtensionSerializer(many=True, read_only=True)

    class Meta:
        model = m.Clock
        fields = [
            "id",
            "key",
            "label",
            "binds",
            "party",
            "days",
            "optional",
            "started_at",
            "due_at",
            "warn_at",
            "status",
            "stopped_at",
            "extensions",
        ]

    def to_representation(self, instance: m.Clock) -> dict[str, Any]:
        data = super().to_representation(instance)
        if instance.party is None:
            data["party"] = None
        return data


class ExtendInputSerializer(serializers.Serializer):
    new_due_date = serializers.DateField(help_text="Local date (institution time zone).")
    reason = serializers.CharField(max_length=MAX_TEXT)


# --- Notes, responses -----------------------------------------------------------------------------


class NoteInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=MAX_TEXT)
    visibility = serializers.ChoiceField(choices=m.Note.Visibility.choices)
    party = serializers.IntegerField(required=False, allow_null=True)


class NoteOutputSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.get_username", read_only=True)
    party = PartyRefField(allow_null=True)

    class Meta:
        model = m.Note
        fields = ["id", "author", "visibility", "party", "body", "created_at"]

    def to_representation(self, instance: m.Note) -> dict[str, Any]:
        data = super().to_representation(instance)
        if instance.party is None:
            data["party"] = None
        return data


class AttachmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = m.ResponseAttachment
        fields = ["id", "filename", "size", "sha256", "created_at"]


class ResponseInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=m.Response.Kind.choices)
    body = serializers.CharField(max_length=MAX_TEXT)
    party = serializers.IntegerField(required=False, allow_null=True)
    attachments = serializers.ListField(
        child=serializers.FileField(), required=False, allow_empty=True
    )


class ResponseOutputSerializer(serializers.ModelSerializer):
    party = PartyRefField()
    attachments = AttachmentSerializer(many=True, read_only=True)
    clock = serializers.PrimaryKeyRelatedField(read_only=True)  # type: ignore[var-annotated]

    class Meta:
        model = m.Response
        fields = ["id", "party", "kind", "body", "clock", "attachments", "created_at"]


# --- Findings, sanctions, appeals -----------------------------------------------------------------


class VoteOutputSerializer(serializers.ModelSerializer):
    member = serializers.CharField(source="member.user.get_username", read_only=True)

    class Meta:
        model = m.FindingVote
        fields = ["id", "member", "vote", "comment", "created_at"]


class FindingInputSerializer(serializers.Serializer):
    allegation = serializers.IntegerField()
    outcome = serializers.ChoiceField(choices=m.Finding.Outcome.choices)
    standard_of_proof = serializers.ChoiceField(choices=m.Finding.Standard.choices)
    intent = serializers.ChoiceField(choices=m.Finding.Intent.choices, required=False)
    rationale = serializers.CharField(max_length=MAX_TEXT)


class FindingOutputSerializer(serializers.ModelSerializer):
    respondent = PartyRefField(source="allegation.respondent")
    votes = serializers.SerializerMethodField()

    class Meta:
        model = m.Finding
        fields = [
            "id",
            "allegation",
            "respondent",
            "outcome",
            "standard_of_proof",
            "intent",
            "rationale",
            "votes",
            "created_at",
            "updated_at",
        ]

    def get_votes(self, finding: m.Finding) -> list[dict[str, Any]]:
        access = _access(self)
        if access is None or not access.is_committee:
            return []
        return VoteOutputSerializer(finding.votes.all(), many=True).data  # type: ignore[return-value]


class VoteInputSerializer(serializers.Serializer):
    vote = serializers.ChoiceField(choices=m.FindingVote.Vote.choices)
    comment = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)


class SanctionInputSerializer(serializers.Serializer):
    respondent = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=m.Sanction.Kind.choices)
    description = serializers.CharField(max_length=MAX_TEXT)
    due_date = serializers.DateField(required=False, allow_null=True)


class SanctionOutputSerializer(serializers.ModelSerializer):
    respondent = PartyRefField()

    class Meta:
        model = m.Sanction
        fields = [
            "id",
            "respondent",
            "kind",
            "description",
            "due_date",
            "status",
            "completed_at",
            "proof",
            "created_at",
        ]


class SanctionCompleteInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[("done", "Done"), ("waived", "Waived")])
    proof = serializers.CharField(max_length=MAX_TEXT)


class AppealInputSerializer(serializers.Serializer):
    grounds = serializers.CharField(max_length=MAX_TEXT)
    appellant = serializers.IntegerField(required=False, allow_null=True)
    expected_version = serializers.IntegerField(required=False, min_value=1)


class AppealOutputSerializer(serializers.ModelSerializer):
    appellant = PartyRefField()

    class Meta:
        model = m.Appeal
        fields = ["id", "appellant", "grounds", "status", "decision", "decided_at", "created_at"]


class AppealDecideInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[("upheld", "Upheld"), ("denied", "Denied")])
    decision = serializers.CharField(max_length=MAX_TEXT)
    expected_version = serializers.IntegerField(required=False, min_value=1)


# --- Timeline -------------------------------------------------------------------------------------


class TimelineEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = m.TimelineEvent
        fields = ["id", "at", "kind", "summary", "actor", "data"]

    def get_actor(self, event: m.TimelineEvent) -> str | None:
        return event.actor.get_username() if event.actor is not None else None

    def to_representation(self, instance: m.TimelineEvent) -> dict[str, Any]:
        data = super().to_representation(instance)
        access = _access(self)
        if access is not None and not access.is_committee:
            data["data"] = {}  # internal ids and reasons stay with the committee
        return data
