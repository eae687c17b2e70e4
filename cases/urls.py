"""Routes of the case API, mounted at /api/v1/ by integrity/urls.py."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter, SimpleRouter

from analysis import apis as analysis_apis
from cases import apis
from cases.evidence import apis as evidence_apis

router = DefaultRouter()
router.register("reports", apis.ReportViewSet, basename="report")
router.register("cases", apis.CaseViewSet, basename="case")

case_router = SimpleRouter()
case_router.register("parties", apis.PartyViewSet, basename="case-party")
case_router.register("allegations", apis.AllegationViewSet, basename="case-allegation")
case_router.register("members", apis.MemberViewSet, basename="case-member")
case_router.register("clocks", apis.ClockViewSet, basename="case-clock")
case_router.register("notes", apis.NoteViewSet, basename="case-note")
case_router.register("responses", apis.ResponseViewSet, basename="case-response")
case_router.register("findings", apis.FindingViewSet, basename="case-finding")
case_router.register("sanctions", apis.SanctionViewSet, basename="case-sanction")
case_router.register("appeals", apis.AppealViewSet, basename="case-appeal")
case_router.register("timeline", apis.TimelineViewSet, basename="case-timeline")
case_router.register("evidence", evidence_apis.EvidenceViewSet, basename="case-evidence")
case_router.register("legal-holds", evidence_apis.LegalHoldViewSet, basename="case-legal-hold")
case_router.register("analyses", analysis_apis.AnalysisViewSet, basename="case-analysis")

urlpatterns = [
    path("", include(router.urls)),
    path("cases/<str:case_number>/", include(case_router.urls)),
]
