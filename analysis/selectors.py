"""Reads of analysis runs for a user: the committee's alone (parties see results only when an
output exhibit is disclosed to them through the evidence vault)."""

from __future__ import annotations

from django.db.models import QuerySet

from analysis.models import AnalysisRun
from cases.errors import NotFound
from cases.selectors import CaseAccess


def runs_for(access: CaseAccess) -> QuerySet[AnalysisRun]:
    if not access.is_committee:
        return AnalysisRun.objects.none()
    return (
        AnalysisRun.objects.filter(case=access.case)
        .select_related("requested_by")
        .prefetch_related("inputs__item", "outputs__item")
    )


def run_get(access: CaseAccess, pk: object) -> AnalysisRun:
    try:
        run = runs_for(access).filter(pk=int(pk)).first()  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        run = None
    if run is None:
        raise NotFound(f"No analysis run {pk!r} in this case that you can see.")
    return run
