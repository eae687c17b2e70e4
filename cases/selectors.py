"""Every read of case data on behalf of a user. ``case_get_for_user`` is THE access gate.

Rules (tested line by line in tests/cases/test_selectors.py):

* The integrity office (members of the ``integrity_office`` group, and superusers) sees every case,
  as integrity officer, except where the user is recused or is a party.
* A committee member sees the cases where they hold a seat that is not recused.
* A party (complainant, respondent, witness linked to the user's account) sees their own cases with
  a party's view only: never internal notes, votes or conflict declarations, and never the identity
  of a party whose identity is withheld.
* A recused member sees nothing of the case, not even that it exists; anyone without access gets
  ``NotFound``, never "forbidden".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Prefetch, Q, QuerySet

from cases import workflow as wf
from cases.errors import NotFound
from cases.models import (
    Allegation,
    Appeal,
    Case,
    CaseMember,
    CaseParty,
    Clock,
    ClockExtension,
    Finding,
    Note,
    Report,
    Response,
    Sanction,
    TimelineEvent,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    AnyUser = User | AnonymousUser

OFFICE_GROUP = "integrity_office"
# Findings become visible to parties once the institution has decided.
PARTY_VISIBLE_FINDING_STATES = frozenset({"decided", "appeal", "closed"})


def user_is_office(user: AnyUser) -> bool:
    if not user.is_authenticated:
        return False
    if getattr(user, "is_superuser", False):
        return True
    cached = getattr(user, "_slipcase_is_office", None)
    if cached is None:
        cached = user.groups.filter(name=OFFICE_GROUP).exists()
        setattr(user, "_slipcase_is_office", cached)  # noqa: B010 - per-request cache
    return bool(cached)


@dataclass(frozen=True)
class CaseAccess:
    """What one user may do with one case. Produced only by the access gate."""

    case: Case
    user: User
    committee_roles: frozenset[str]
    parties: tuple[CaseParty, ...]  # the user's own party rows in this case

    @property
    def is_committee(self) -> bool:
        return bool(self.committee_roles)

    @property
    def is_office(self) -> bool:
        return wf.INTEGRITY_OFFICER in self.committee_roles

    @property
    def party_roles(self) -> frozenset[str]:
        return frozenset(p.role for p in self.parties)

    @property
    def roles(self) -> frozenset[str]:
        return self.committee_roles | self.party_roles

    @property
    def party_ids(self) -> frozenset[int]:
        return frozenset(p.pk for p in self.parties)

    def has_any(self, roles: Iterable[str]) -> bool:
        return bool(self.roles & set(roles))


def _case_ids_where_recused(user: User) -> QuerySet[CaseMember, int]:
    return CaseMember.objects.filter(user=user, recused_at__isnull=False).values_list(
        "case_id", flat=True
    )


def case_list_for_user(*, user: AnyUser) -> QuerySet[Case]:
    """Cases the user may know exist, newest first."""
    if not user.is_authenticated:
        return Case.objects.none()
    qs = Case.objects.all()
    if not user_is_office(user):
        seats = CaseMember.objects.filter(user=user, recused_at__isnull=True).values("case_id")
        party_of = CaseParty.objects.filter(party__user=user).values("case_id")
        qs = qs.filter(Q(id__in=seats) | Q(id__in=party_of))
    recused = _case_ids_where_recused(user)
    return qs.exclude(id__in=recused).order_by("-created_at", "-id")


def case_access(*, user: AnyUser, case: Case) -> CaseAccess | None:
    """The user's access to ``case``, or None. The single place that decides it."""
    if not user.is_authenticated:
        return None
    seats = list(CaseMember.objects.filter(case=case, user=user))
    if any(s.recused_at is not None for s in seats):
        return None
    parties = tuple(
        CaseParty.objects.filter(case=case, party__user=user).select_related("party").order_by("id")
    )
    if parties:
        # A party never gets committee access to their own case, whatever else they are.
        return CaseAccess(case=case, user=user, committee_roles=frozenset(), parties=parties)
    roles = {s.role for s in seats}
    if user_is_office(user):
        roles.add(wf.INTEGRITY_OFFICER)
    if not roles:
        return None
    return CaseAccess(case=case, user=user, committee_roles=frozenset(roles), parties=())


def case_get_for_user(*, user: AnyUser, number: str, for_update: bool = False) -> CaseAccess:
    """THE access gate: the case with this number and the user's access, or ``NotFound``."""
    qs = Case.objects.all()
    if for_update:
        qs = qs.select_for_update()
    case = qs.filter(number=number).first()
    access = case_access(user=user, case=case) if case is not None else None
    if access is None:
        raise NotFound(f"No case {number!r} that you can see.")
    return access


# --- Reads inside a case (always take a CaseAccess, which only the gate produces) -----------------


def parties_for(access: CaseAccess) -> list[CaseParty]:
    rows = list(access.case.case_parties.select_related("party").order_by("role", "id"))
    if access.is_committee:
        return rows
    visible = []
    for row in rows:
        if row.identity_withheld and row.pk not in access.party_ids:
            continue
        if row.role == wf.WITNESS and row.pk not in access.party_ids:
            continue  # witnesses are not shown to the parties
        visible.append(row)
    return visible


def allegations_for(access: CaseAccess) -> QuerySet[Allegation]:
    qs = access.case.allegations.select_related("respondent__party")
    if access.is_committee or wf.COMPLAINANT in access.party_roles:
        return qs
    # A respondent sees the allegations against them; a witness sees none.
    return qs.filter(respondent_id__in=access.party_ids)


def members_for(access: CaseAccess) -> QuerySet[CaseMember]:
    qs = access.case.members.select_related("user")
    if access.is_committee:
        return qs.prefetch_related("declarations")
    return qs.filter(recused_at__isnull=True)


def notes_for(access: CaseAccess) -> QuerySet[Note]:
    qs = access.case.notes.select_related("author", "party__party")
    if access.is_committee:
        return qs.filter(~Q(visibility=Note.Visibility.PERSONAL) | Q(author=access.user))
    return qs.filter(visibility=Note.Visibility.PARTY, party_id__in=access.party_ids)


def clocks_for(access: CaseAccess) -> QuerySet[Clock]:
    extensions = ClockExtension.objects.select_related("approved_by")  # shown by username
    qs = access.case.clocks.select_related("party__party").prefetch_related(
        Prefetch("extensions", queryset=extensions)
    )
    if access.is_committee:
        return qs
    # A party sees their own clocks and the case-wide clocks that bind their role (appeal window).
    return qs.filter(
        Q(party_id__in=access.party_ids) | Q(party__isnull=True, binds__in=access.party_roles)
    )


def responses_for(access: CaseAccess) -> QuerySet[Response]:
    qs = access.case.responses.select_related("party__party", "clock").prefetch_related(
        "attachments"
    )
    if access.is_committee:
        return qs
    return qs.filter(party_id__in=access.party_ids)


def findings_for(access: CaseAccess) -> QuerySet[Finding]:
    qs = Finding.objects.filter(allegation__case=access.case).select_related(
        "allegation__respondent__party"
    )
    if access.is_committee:
        return qs.prefetch_related(Prefetch("votes", queryset=_votes()))
    if access.case.state not in PARTY_VISIBLE_FINDING_STATES:
        return qs.none()
    if wf.COMPLAINANT in access.party_roles:
        return qs
    return qs.filter(allegation__respondent_id__in=access.party_ids)


def _votes() -> QuerySet:
    from cases.models import FindingVote

    return FindingVote.objects.select_related("member__user")


def sanctions_for(access: CaseAccess) -> QuerySet[Sanction]:
    qs = access.case.sanctions.select_related("respondent__party")
    if access.is_committee:
        return qs
    if access.case.state not in PARTY_VISIBLE_FINDING_STATES:
        return qs.none()
    return qs.filter(respondent_id__in=access.party_ids)


def appeals_for(access: CaseAccess) -> QuerySet[Appeal]:
    qs = access.case.appeals.select_related("appellant__party")
    if access.is_committee:
        return qs
    return qs.filter(appellant_id__in=access.party_ids)


def timeline_for(access: CaseAccess) -> QuerySet[TimelineEvent]:
    qs = access.case.timeline.select_related("actor")
    if access.is_committee:
        return qs
    return qs.filter(visibility=TimelineEvent.Visibility.PARTIES).filter(
        Q(party__isnull=True) | Q(party_id__in=access.party_ids)
    )


def transitions_for(access: CaseAccess) -> tuple[wf.Transition, ...]:
    """The workflow actions this user may offer (guards are checked when fired)."""
    return access.case.workflow_def.available(access.case.state, access.roles)


# --- Reports (intake) -----------------------------------------------------------------------------


def report_list_for_user(*, user: AnyUser) -> QuerySet[Report]:
    if not user.is_authenticated:
        return Report.objects.none()
    qs = Report.objects.select_related("case")
    if user_is_office(user):
        return qs
    return qs.filter(reporter=user)


def report_get_for_user(*, user: AnyUser, reference: str) -> Report:
    report = report_list_for_user(user=user).filter(reference=reference).first()
    if report is None:
        raise NotFound(f"No report {reference!r} that you can see.")
    return report


def object_in_case(qs: QuerySet, pk: object, what: str):
    """Fetch one row of a visible queryset, or NotFound naming what was asked for."""
    try:
        obj = qs.filter(pk=int(pk)).first()  # type: ignore[call-overload]
    except (TypeError, ValueError):
        obj = None
    if obj is None:
        raise NotFound(f"No {what} {pk!r} in this case that you can see.")
    return obj
