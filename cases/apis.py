"""REST API for the case core under /api/v1/. Thin: parse input, call one selector or service,
shape the output. Every case-scoped endpoint resolves the case through the access gate first, so
someone without access gets 404 for the case and everything in it.
"""

from __future__ import annotations

from typing import Any, cast

import django_filters
from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, filters, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from cases import selectors, services
from cases import serializers as s
from cases.errors import NotFound
from cases.models import Case, CaseParty, Report, TimelineEvent
from cases.selectors import CaseAccess


def _user(request: Request) -> User:
    """The authenticated user (these endpoints require authentication)."""
    return cast(User, request.user)


CASE_NUMBER = OpenApiParameter(
    "case_number", str, OpenApiParameter.PATH, description="e.g. SC-2026-0001"
)
ID = OpenApiParameter("id", int, OpenApiParameter.PATH)


# --- Reports --------------------------------------------------------------------------------------


class ReportFilter(django_filters.FilterSet):
    class Meta:
        model = Report
        fields = ["status", "mode", "kind"]


@extend_schema_view(
    list=extend_schema(summary="Reports: all for the office, one's own for a reporter"),
    retrieve=extend_schema(summary="One report, with its triage outcome"),
)
class ReportViewSet(viewsets.GenericViewSet):
    lookup_field = "reference"
    serializer_class = s.ReportOutputSerializer
    filterset_class = ReportFilter
    ordering_fields = ["created_at"]

    def get_permissions(self) -> list[Any]:
        if self.action == "create":
            return [AllowAny()]
        return [IsAuthenticated()]

    def get_throttles(self) -> list[Any]:
        if self.action == "create":
            self.throttle_scope = "report_intake"
            return [ScopedRateThrottle()]
        return super().get_throttles()

    def get_queryset(self) -> QuerySet[Report]:
        return selectors.report_list_for_user(user=self.request.user)

    def list(self, request: Request) -> Response:
        qs = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.ReportOutputSerializer(page, many=True).data)

    def retrieve(self, request: Request, reference: str) -> Response:
        report = selectors.report_get_for_user(user=request.user, reference=reference)
        return Response(s.ReportOutputSerializer(report).data)

    @extend_schema(
        summary="File a report (named, confidential or anonymous); no account needed",
        request=s.ReportInputSerializer,
        responses={201: s.ReportOutputSerializer},
    )
    def create(self, request: Request) -> Response:
        data = s.ReportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.report_submit(reporter=request.user, **data.validated_data)
        return Response(s.ReportOutputSerializer(report).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Triage: dismiss with a reason the complainant can see",
        request=s.DismissInputSerializer,
        responses=s.ReportOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, reference: str) -> Response:
        report = selectors.report_get_for_user(user=request.user, reference=reference)
        data = s.DismissInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.report_dismiss(report=report, actor=_user(request), **data.validated_data)
        return Response(s.ReportOutputSerializer(report).data)

    @extend_schema(
        summary="Triage: open a case from the report",
        request=s.OpenCaseInputSerializer,
        responses={201: s.CaseDetailSerializer},
    )
    @action(detail=True, methods=["post"], url_path="open-case")
    def open_case(self, request: Request, reference: str) -> Response:
        report = selectors.report_get_for_user(user=request.user, reference=reference)
        data = s.OpenCaseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = services.report_open_case(report=report, actor=_user(request), **data.validated_data)
        access = selectors.case_get_for_user(user=request.user, number=case.number)
        return Response(
            s.CaseDetailSerializer(case, context={"access": access}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Triage: merge a duplicate report into a case",
        request=s.MergeInputSerializer,
        responses=s.ReportOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, reference: str) -> Response:
        report = selectors.report_get_for_user(user=request.user, reference=reference)
        data = s.MergeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        access = selectors.case_get_for_user(user=request.user, number=data.validated_data["case"])
        report = services.report_merge(report=report, access=access)
        return Response(s.ReportOutputSerializer(report).data)


# --- Cases ----------------------------------------------------------------------------------------


class CaseFilter(django_filters.FilterSet):
    opened_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    opened_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Case
        fields = ["state", "workflow"]


@extend_schema_view(
    list=extend_schema(summary="Cases I may see"),
    retrieve=extend_schema(summary="One case, with my roles and the actions open to me"),
)
class CaseViewSet(viewsets.GenericViewSet):
    lookup_field = "number"
    lookup_value_regex = r"[A-Za-z0-9-]+"
    serializer_class = s.CaseListSerializer
    filterset_class = CaseFilter
    filter_backends = [
        django_filters.rest_framework.DjangoFilterBackend,
        filters.SearchFilter,
        filters.OrderingFilter,
    ]
    search_fields = ["number", "title"]
    ordering_fields = ["created_at", "state_changed_at", "number"]

    def get_queryset(self) -> QuerySet[Case]:
        return selectors.case_list_for_user(user=self.request.user)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(s.CaseListSerializer(page, many=True).data)

    def retrieve(self, request: Request, number: str) -> Response:
        access = selectors.case_get_for_user(user=request.user, number=number)
        return Response(s.CaseDetailSerializer(access.case, context={"access": access}).data)

    @extend_schema(
        summary="Open a case directly (integrity office)",
        request=s.CaseInputSerializer,
        responses={201: s.CaseDetailSerializer},
    )
    def create(self, request: Request) -> Response:
        data = s.CaseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = services.case_open(actor=_user(request), **data.validated_data)
        access = selectors.case_get_for_user(user=request.user, number=case.number)
        return Response(
            s.CaseDetailSerializer(case, context={"access": access}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        methods=["GET"],
        summary="Workflow actions open to me",
        responses=s.TransitionSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Fire a workflow transition",
        request=s.TransitionInputSerializer,
        responses=s.CaseDetailSerializer,
    )
    @action(detail=True, methods=["get", "post"])
    def transitions(self, request: Request, number: str) -> Response:
        access = selectors.case_get_for_user(user=request.user, number=number)
        if request.method == "GET":
            return Response(s.CaseDetailSerializer._transitions(access))
        data = s.TransitionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = services.case_transition(access=access, **data.validated_data)
        access = selectors.case_get_for_user(user=request.user, number=case.number)
        return Response(s.CaseDetailSerializer(case, context={"access": access}).data)


class CaseScopedViewSet(viewsets.GenericViewSet):
    """Base for /cases/{case_number}/<things>/: the access gate runs before anything else."""

    _access: CaseAccess | None = None

    def get_access(self) -> CaseAccess:
        if self._access is None:
            self._access = selectors.case_get_for_user(
                user=self.request.user, number=self.kwargs["case_number"]
            )
        return self._access

    def check_permissions(self, request: Request) -> None:
        """The gate runs with the permission checks, before any input is read: someone without
        access gets 404 whatever they send, and the browsable API offers them no form."""
        super().check_permissions(request)
        if getattr(self, "swagger_fake_view", False):
            return
        try:
            self.get_access()
        except NotFound as exc:
            raise exceptions.NotFound(exc.message) from exc

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False):
            return context
        context["access"] = self.get_access()
        return context

    def visible(self) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):
            return self.serializer_class.Meta.model.objects.none()  # type: ignore[union-attr]
        return self.visible()

    def list(self, request: Request, case_number: str) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        serializer = self.get_serializer(page, many=True)
        return self.get_paginated_response(serializer.data)

    def _out(self, obj: Any, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(obj).data, status=code)

    def _input(self, serializer_class: type[Any]) -> dict[str, Any]:
        data = serializer_class(data=self.request.data)
        data.is_valid(raise_exception=True)
        return dict(data.validated_data)


@extend_schema(parameters=[CASE_NUMBER])
@extend_schema_view(
    list=extend_schema(summary="Parties to the case (identities withheld where the case says so)")
)
class PartyViewSet(CaseScopedViewSet):
    serializer_class = s.PartyOutputSerializer
    pagination_class = None
    filter_backends: list[
        Any
    ] = []  # a plain list, not filtered (the browsable API would fail on it)

    def visible(self) -> Any:
        return selectors.parties_for(self.get_access())

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return CaseParty.objects.none()
        return self.visible()

    @extend_schema(responses=s.PartyOutputSerializer(many=True))
    def list(self, request: Request, case_number: str) -> Response:
        return Response(self.get_serializer(self.get_queryset(), many=True).data)

    @extend_schema(
        summary="Add a party",
        request=s.PartyInputSerializer,
        responses={201: s.PartyOutputSerializer},
    )
    def create(self, request: Request, case_number: str) -> Response:
        data = self._input(s.PartyInputSerializer)
        username = data.pop("username", "")
        user = username or None
        row = services.party_add(access=self.get_access(), user=user, **data)
        return self._out(row, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Link a party to a user account",
        parameters=[ID],
        request=s.LinkAccountInputSerializer,
        responses=s.PartyOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def link(self, request: Request, case_number: str, pk: str) -> Response:
        data = self._input(s.LinkAccountInputSerializer)
        row = selectors.object_in_case(
            CaseParty.objects.filter(pk__in=[p.pk for p in self.get_queryset()]), pk, "party"
        )
        row = services.party_link_account(
            access=self.get_access(), party=row, user=data["username"]
        )
        return self._out(row)


@extend_schema(parameters=[CASE_NUMBER])
@extend_schema_view(
    list=extend_schema(summary="Allegations (a respondent sees those against them)")
)
class AllegationViewSet(CaseScopedViewSet):
    serializer_class = s.AllegationOutputSerializer

    def visible(self) -> Any:
        return selectors.allegations_for(self.get_access())

    @extend_schema(
        summary="Record an allegation against a respondent",
        request=s.AllegationInputSerializer,
        responses={201: s.AllegationOutputSerializer},
    )
    def create(self, request: Request, case_number: str) -> Response:
        data = self._input(s.AllegationInputSerializer)
        row = services.allegation_add(access=self.get_access(), **data)
        return self._out(row, status.HTTP_201_CREATED)


@extend_schema(parameters=[CASE_NUMBER])
@extend_schema_view(list=extend_schema(summary="Committee of the case"))
class MemberViewSet(CaseScopedViewSet):
    serializer_class = s.MemberOutputSerializer

    def visible(self) -> Any:
        return selectors.members_for(self.get_access())

    @extend_schema(
        summary="Appoint a committee member",
        request=s.MemberInputSerializer,
        responses={201: s.MemberOutputSerializer},
    )
    def create(self, request: Request, case_number: str) -> Response:
        data = self._input(s.MemberInputSerializer)
        user = data.pop("username")
        row = services.member_add(access=self.get_access(), user=user, **data)
        return self._out(row, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Recuse a member (oneself, or by the integrity office)",
        parameters=[ID],
        request=s.RecuseInputSerializer,
        responses=s.MemberOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def recuse(self, request: Request, case_number: str, pk: str) -> Response:
        data = self._input(s.RecuseInputSerializer)
        member = selectors.object_in_case(self.get_queryset(), pk, "committee member")
        row = services.member_recuse(access=self.get_access(), member=member, **data)
        return self._out(row)

    @extend_schema(
        summary="Declare interests (a conflict recuses the member)",
        parameters=[ID],
        request=s.DeclarationInputSerializer,
        responses={201: s.DeclarationSerializer},
    )
    @action(detail=True, methods=["post"])
    def declarations(self, request: Request, case_number: str, pk: str) -> Response:
        data = self._input(s.DeclarationInputSerializer)
        member = selectors.object_in_case(self.get_queryset(), pk, "committee member")
        row = services.conflict_declare(access=self.get_access(), member=member, **data)
        return Response(s.DeclarationSerializer(row).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[CASE_NUMBER])
@extend_schema_view(list=extend_schema(summary="Clocks (a party sees the clocks that bind them)"))
class ClockViewSet(CaseScopedViewSet):
    serializer_class = s.ClockOutputSerializer

    def visible(self) -> Any:
        return selectors.clocks_for(self.get_access())

    @extend_schema(
        summary="Extend a running clock",
        parameters=[ID],
        request=s.ExtendInputSerializer,
        responses={201: s.ExtensionSerializer},
    )
    @action(detail=True, methods=["post"])
    def extend(self, request: Request, case_number: str, pk: str) -> Response:
        data = self._input(s.ExtendInputSerializer)
        clock = selectors.object_in_case(self.get_queryset(), pk, "clock")
        row = services.clock_extend(access=self.get_access(), clock=clock, **data)
        return Response(s.ExtensionSerializer(row).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[CASE_NUMBER])
@extend_schema_view(list=extend_schema(summary="Notes and messages visible to me"))
class NoteViewSet(CaseScopedViewSet):
    serializer_class = s.NoteOutputSerializer

    def visible(self) -> Any:
        return selectors.notes_for(self.get_access())

    @extend_schema(
        summary="Add a note or send a message",
        request=s.NoteInputSerializer,
        responses={201: s.NoteOutputSerializer},
    )
    def create(self, request: Request, case_number: str) -> Response:
        data = self._input(s.NoteInputSerializer)
        row = services.note_add(access=self.get_access(), **data)
        return self._out(row, status.HTTP_201_CREATED)


@extend_schema(parameters=[CASE_NUMBER])
@extend_schema_view(list=extend_schema(summary="Responses and comments (a party sees their own)"))
class ResponseViewSet(CaseScopedViewSet):
    serializer_class = s.ResponseOutputSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def visible(self) -> Any:
        return selectors.responses_for(self.get_access())

    @extend_schema(
        summary="Submit a statement or comments, with attachments",
        request={
            "multipart/form-data": s.ResponseInputSerializer,
            "application/json": s.ResponseInputSerializer,
        },
        responses={201: s.ResponseOutputSerializer},
    )
    def create(self, request: Request, case_number: str) -> Response:
        payload: Any = request.data.copy() if hasattr(request.data, "copy") else dict(request.data)
        if hasattr(request.data, "getlist"):
            payload.setlist("attachments", request.FILES.getlist("attachments"))
        data = s.ResponseInputSerializer(data=payload)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        row = services.response_submit(
            access=self.get_access(), attachments=values.pop("attachments", []), **values
        )
        return self._out(row, status.HTTP_201_CREATED)


@extend_schema(parameters=[CASE_NUMBER])
@extend_schema_view(
    list=extend_schema(summary="Findings per allegation (parties see them after the decision)")
)
class FindingViewSet(CaseScopedViewSet):
    serializer_class = s.FindingOutputSerializer

    def visible(self) -> Any:
        return selectors.findings_for(self.get_access())

    @extend_schema(
        summary="Record or revise the finding on an allegation",
        request=s.FindingInputSerializer,
        responses={201: s.FindingOutputSerializer},
    )
    def create(self, request: Request, case_number: str) -> Response:
        data = self._input(s.FindingInputSerializer)
        data.setdefault("intent", "")
        row = services.finding_record(access=self.get_access(), **data)
        return self._out(row, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Vote on a finding",
        parameters=[ID],
        request=s.VoteInputSerializer,
        responses={201: s.VoteOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def votes(self, request: Request, case_number: str, pk: str) -> Response:
        data = self._input(s.VoteInputSerializer)
        finding = selectors.object_in_case(self.get_queryset(), pk, "finding")
        row = services.finding_vote(access=self.get_access(), finding=finding, **data)
        return Response(s.VoteOutputSerializer(row).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[CASE_NUMBER])
@extend_schema_view(list=extend_schema(summary="Sanctions and remedies as tasks"))
class SanctionViewSet(CaseScopedViewSet):
    serializer_class = s.SanctionOutputSerializer

    def visible(self) -> Any:
        return selectors.sanctions_for(self.get_access())

    @extend_schema(
        summary="Impose a sanction or remedy",
        request=s.SanctionInputSerializer,
        responses={201: s.SanctionOutputSerializer},
    )
    def create(self, request: Request, case_number: str) -> Response:
        data = self._input(s.SanctionInputSerializer)
        row = services.sanction_add(access=self.get_access(), **data)
        return self._out(row, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Mark a sanction done (with proof) or waived",
        parameters=[ID],
        request=s.SanctionCompleteInputSerializer,
        responses=s.SanctionOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, case_number: str, pk: str) -> Response:
        data = self._input(s.SanctionCompleteInputSerializer)
        sanction = selectors.object_in_case(self.get_queryset(), pk, "sanction")
        row = services.sanction_complete(access=self.get_access(), sanction=sanction, **data)
        return self._out(row)


@extend_schema(parameters=[CASE_NUMBER])
@extend_schema_view(list=extend_schema(summary="Appeals"))
class AppealViewSet(CaseScopedViewSet):
    serializer_class = s.AppealOutputSerializer

    def visible(self) -> Any:
        return selectors.appeals_for(self.get_access())

    @extend_schema(
        summary="File an appeal against the decision",
        request=s.AppealInputSerializer,
        responses={201: s.AppealOutputSerializer},
    )
    def create(self, request: Request, case_number: str) -> Response:
        data = self._input(s.AppealInputSerializer)
        row = services.appeal_file(access=self.get_access(), **data)
        return self._out(row, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Decide an appeal (appeal panel); closes the case",
        parameters=[ID],
        request=s.AppealDecideInputSerializer,
        responses=s.AppealOutputSerializer,
    )
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, case_number: str, pk: str) -> Response:
        data = self._input(s.AppealDecideInputSerializer)
        appeal = selectors.object_in_case(self.get_queryset(), pk, "appeal")
        row = services.appeal_decide(access=self.get_access(), appeal=appeal, **data)
        return self._out(row)


class TimelineFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = TimelineEvent
        fields = ["kind"]


@extend_schema(parameters=[CASE_NUMBER])
@extend_schema_view(list=extend_schema(summary="The case's timeline, oldest first"))
class TimelineViewSet(CaseScopedViewSet, mixins.ListModelMixin):
    serializer_class = s.TimelineEventSerializer
    filterset_class = TimelineFilter
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]

    def visible(self) -> Any:
        return selectors.timeline_for(self.get_access())
