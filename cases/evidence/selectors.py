"""Reads of the evidence vault for a user. All take a ``CaseAccess`` from the access gate.

The committee sees every exhibit; a respondent sees only what was disclosed to respondents, a
complainant what was disclosed to complainants (and probe sets they registered themselves).
Sealed probe sets are the committee's alone until disclosed. Custody chains are the committee's.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from cases import workflow as wf
from cases.errors import NotFound
from cases.evidence.models import CustodyEvent, EvidenceItem, LegalHold
from cases.selectors import CaseAccess


def evidence_for(access: CaseAccess) -> QuerySet[EvidenceItem]:
    qs = access.case.evidence.select_related("collected_by", "blob").order_by("number")
    if access.is_committee:
        return qs
    visible = Q(pk__in=[])
    if wf.RESPONDENT in access.party_roles:
        visible |= Q(disclosed_to_respondent=True)
    if wf.COMPLAINANT in access.party_roles:
        visible |= Q(disclosed_to_complainant=True) | Q(
            kind=EvidenceItem.Kind.PROBE_SET, collected_by=access.user
        )
    return qs.filter(visible).exclude(status=EvidenceItem.Status.DISPOSED)


def evidence_get(access: CaseAccess, pk: object) -> EvidenceItem:
    try:
        item = evidence_for(access).filter(pk=int(pk)).first()  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        item = None
    if item is None:
        raise NotFound(f"No evidence item {pk!r} in this case that you can see.")
    return item


def custody_for(access: CaseAccess, item: EvidenceItem) -> QuerySet[CustodyEvent]:
    if not access.is_committee:
        return CustodyEvent.objects.none()
    return item.custody.select_related("actor").order_by("at", "id")


def legal_holds_for(access: CaseAccess) -> QuerySet[LegalHold]:
    if not access.is_committee:
        return LegalHold.objects.none()
    return access.case.legal_holds.select_related("placed_by", "released_by")
