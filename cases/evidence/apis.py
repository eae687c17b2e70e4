"""REST API of the evidence vault, under /api/v1/cases/{case_number}/evidence/ and
/legal-holds/. Thin: the access gate first, then one selector or service."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from cases.apis import CASE_NUMBER, ID, CaseScopedViewSet
from cases.evidence import selectors, services
from cases.evidence.models import CustodyEvent, EvidenceItem, LegalHold

MAX_TEXT = 20_000


class EvidenceOutputSerializer(serializers.ModelSerializer):
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]
    collected_by = serializers.CharField(source="collected_by.get_username", read_only=True)

    class Meta:
        model = EvidenceItem
        fields = [
            "id",
            "label",
            "kind",
            "status",
            "description",
            "source",
            "collected_by",
            "collected_at",
            "method",
            "filename",
            "media_type",
            "size",
            "sha256",
            "committed_sha256",
            "revealed_at",
            "disclosed_to_respondent",
            "disclosed_to_complainant",
            "progress",
            "failure_reason",
            "metadata",
            "disposed_at",
        ]

    def to_representation(self, instance: EvidenceItem) -> dict[str, Any]:
        data = super().to_representation(instance)
        access = self.context.get("access")
        if access is not None and not access.is_committee:
            # Parties see what the exhibit is, not who in the office handled it or how.
            for key in ("collected_by", "source", "metadata", "failure_reason"):
                data.pop(key, None)
        return data


class UploadInputSerializer(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(
        choices=[
            c
            for c in EvidenceItem.Kind.choices
            if c[0] in {"document", "source_archive", "statement", "analysis_output"}
        ]
    )
    description = serializers.CharField(max_length=MAX_TEXT)
    source_url = serializers.URLField(required=False, allow_blank=True, max_length=2000)
    purpose = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT)


class SnapshotInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[("git", "git"), ("model", "model"), ("web", "web")])
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=2000,
        help_text="https URL, ssh/git URL (git), hf:<org>/<name>[@revision] (model), or a path "
        "under SLIPCASE_SNAPSHOT_ROOTS.",
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT)
    accept_pickle_as_inert = serializers.BooleanField(default=False)


class ProbeSetInputSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=MAX_TEXT)
    sha256 = serializers.CharField(required=False, allow_blank=True, max_length=64)
    file = serializers.FileField(required=False)


class RevealInputSerializer(serializers.Serializer):
    file = serializers.FileField()


class DiscloseInputSerializer(serializers.Serializer):
    to = serializers.ChoiceField(
        choices=[("respondent", "respondent"), ("complainant", "complainant")]
    )
    purpose = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT)


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=MAX_TEXT)


class CustodySerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = CustodyEvent
        fields = [
            "id",
            "action",
            "actor",
            "at",
            "purpose",
            "sha256_expected",
            "sha256_observed",
            "hash_ok",
            "details",
        ]

    def get_actor(self, event: CustodyEvent) -> str | None:
        return event.actor.get_username() if event.actor is not None else None


class LegalHoldSerializer(serializers.ModelSerializer):
    placed_by = serializers.CharField(source="placed_by.get_username", read_only=True)

    class Meta:
        model = LegalHold
        fields = ["id", "reason", "placed_by", "placed_at", "released_at"]


@extend_schema(parameters=[CASE_NUMBER])
@extend_schema_view(
    list=extend_schema(summary="Exhibits I may see (parties: what was disclosed to them)"),
    retrieve=extend_schema(summary="One exhibit (the view is logged on its custody chain)"),
)
class EvidenceViewSet(CaseScopedViewSet):
    serializer_class = EvidenceOutputSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def visible(self) -> Any:
        return selectors.evidence_for(self.get_access())

    def retrieve(self, request: Request, case_number: str, pk: str) -> Response:
        access = self.get_access()
        item = selectors.evidence_get(access, pk)
        services.evidence_view(access=access, item=item)
        return self._out(item)

    @extend_schema(
        summary="Upload a file as evidence (hashed, inspected, stored once)",
        request={"multipart/form-data": UploadInputSerializer},
        responses={201: EvidenceOutputSerializer},
    )
    def create(self, request: Request, case_number: str) -> Response:
        data = self._input(UploadInputSerializer)
        source = {"url": data["source_url"]} if data.get("source_url") else {}
        item = services.evidence_upload(
            access=self.get_access(),
            upload=data["file"],
            kind=data["kind"],
            description=data["description"],
            source=source,
            purpose=data.get("purpose", ""),
        )
        return self._out(item, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Download the exhibit's bytes, hash-checked as they stream",
        parameters=[ID],
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    @action(detail=True, methods=["get"])
    def download(self, request: Request, case_number: str, pk: str) -> StreamingHttpResponse:
        access = self.get_access()
        item = selectors.evidence_get(access, pk)
        purpose = str(request.query_params.get("purpose", ""))[:500]
        chunks = services.evidence_stream(access=access, item=item, purpose=purpose)
        response = StreamingHttpResponse(
            chunks, content_type=item.media_type or "application/octet-stream"
        )
        response["Content-Length"] = str(item.blob.size if item.blob else 0)
        safe = "".join(c for c in item.filename if c.isalnum() or c in "._-") or "exhibit"
        response["Content-Disposition"] = f'attachment; filename="{item.label}-{safe}"'
        response["X-Content-SHA256"] = item.sha256
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @extend_schema(
        summary="Chain of custody of an exhibit",
        parameters=[ID],
        responses=CustodySerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def custody(self, request: Request, case_number: str, pk: str) -> Response:
        access = self.get_access()
        item = selectors.evidence_get(access, pk)
        if not access.is_committee:
            from cases.errors import PermissionDenied

            raise PermissionDenied("The chain of custody is shown to the committee.")
        return Response(CustodySerializer(selectors.custody_for(access, item), many=True).data)

    @extend_schema(
        summary="Disclose an exhibit to the respondent or the complainant",
        parameters=[ID],
        request=DiscloseInputSerializer,
        responses=EvidenceOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def disclose(self, request: Request, case_number: str, pk: str) -> Response:
        data = self._input(DiscloseInputSerializer)
        access = self.get_access()
        item = services.evidence_disclose(
            access=access, item=selectors.evidence_get(access, pk), **data
        )
        return self._out(item)

    @extend_schema(
        summary="Snapshot a git repository, model repository or web page (queued)",
        request=SnapshotInputSerializer,
        responses={202: EvidenceOutputSerializer},
    )
    @action(detail=False, methods=["post"])
    def snapshot(self, request: Request, case_number: str) -> Response:
        data = self._input(SnapshotInputSerializer)
        item = services.snapshot_request(access=self.get_access(), **data)
        item.refresh_from_db()
        return self._out(item, status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Register a confidential probe set by SHA-256 (sealed) or by upload",
        request={
            "multipart/form-data": ProbeSetInputSerializer,
            "application/json": ProbeSetInputSerializer,
        },
        responses={201: EvidenceOutputSerializer},
    )
    @action(detail=False, methods=["post"], url_path="probe-sets")
    def probe_sets(self, request: Request, case_number: str) -> Response:
        data = self._input(ProbeSetInputSerializer)
        item = services.probe_set_commit(
            access=self.get_access(),
            description=data["description"],
            sha256=data.get("sha256", ""),
            upload=data.get("file"),
        )
        return self._out(item, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Reveal a sealed probe set (accepted only if its hash matches)",
        parameters=[ID],
        request={"multipart/form-data": RevealInputSerializer},
        responses=EvidenceOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def reveal(self, request: Request, case_number: str, pk: str) -> Response:
        data = self._input(RevealInputSerializer)
        access = self.get_access()
        item = services.probe_set_reveal(
            access=access, item=selectors.evidence_get(access, pk), upload=data["file"]
        )
        return self._out(item)

    @extend_schema(
        summary="Dispose of an exhibit after retention (tombstone kept)",
        parameters=[ID],
        request=ReasonInputSerializer,
        responses=EvidenceOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def dispose(self, request: Request, case_number: str, pk: str) -> Response:
        data = self._input(ReasonInputSerializer)
        access = self.get_access()
        item = services.evidence_dispose(
            access=access, item=selectors.evidence_get(access, pk), reason=data["reason"]
        )
        return self._out(item)


@extend_schema(parameters=[CASE_NUMBER])
@extend_schema_view(list=extend_schema(summary="Legal holds on the case's records"))
class LegalHoldViewSet(CaseScopedViewSet):
    serializer_class = LegalHoldSerializer

    def visible(self) -> Any:
        return selectors.legal_holds_for(self.get_access())

    @extend_schema(
        summary="Place a legal hold",
        request=ReasonInputSerializer,
        responses={201: LegalHoldSerializer},
    )
    def create(self, request: Request, case_number: str) -> Response:
        data = self._input(ReasonInputSerializer)
        hold = services.legal_hold_place(access=self.get_access(), reason=data["reason"])
        return self._out(hold, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Release a legal hold", parameters=[ID], request=None, responses=LegalHoldSerializer
    )
    @action(detail=True, methods=["post"])
    def release(self, request: Request, case_number: str, pk: str) -> Response:
        hold = services.legal_hold_release(
            access=self.get_access(), hold=int(pk) if pk.isascii() and pk.isdigit() else -1
        )
        return self._out(hold)
