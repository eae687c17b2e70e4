"""Server-rendered pages. Thin, like the API: the access gate, then selectors."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from analysis.selectors import runs_for
from cases import selectors
from cases.errors import NotFound
from cases.evidence.models import CustodyEvent
from cases.evidence.selectors import evidence_for


@login_required
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    try:
        access = selectors.case_get_for_user(user=request.user, number=number)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    evidence = evidence_for(access)
    if access.is_committee:
        evidence = evidence.prefetch_related(
            Prefetch("custody", queryset=CustodyEvent.objects.select_related("actor"))
        )
    context = {
        "case": access.case,
        "access": access,
        "state_label": access.case.workflow_def.state(access.case.state).label,
        "parties": selectors.parties_for(access),
        "evidence": list(evidence),
        "institution": getattr(settings, "SLIPCASE_INSTITUTION", ""),
        "analyses": runs_for(access) if access.is_committee else [],
    }
    return render(request, "cases/case_detail.html", context)
