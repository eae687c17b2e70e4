"""The access gate (``case_list_for_user``, ``case_get_for_user``, ``case_access``) and the readers
inside a case, for every member of the cast. Anyone without access gets ``NotFound``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from pytest_django import DjangoAssertNumQueries

from cases import selectors, services
from cases import workflow as wf
from cases.errors import NotFound
from cases.models import Case, CaseParty, FindingVote, Note, Response, TimelineEvent
from tests.conftest import record_findings
from tests.factories import OfficerFactory, UserFactory

if TYPE_CHECKING:
    from tests.conftest import AccessFor, Advance

pytestmark = pytest.mark.django_db

# Who sees the cast's case, and as what: (committee roles, party roles). None: no access at all.
EXPECTED_ACCESS: dict[str, tuple[set[str], set[str]] | None] = {
    "officer": ({wf.INTEGRITY_OFFICER}, set()),
    "chair": ({wf.CHAIR}, set()),
    "member": ({wf.COMMITTEE_MEMBER}, set()),
    "deciding_official": ({wf.DECIDING_OFFICIAL}, set()),
    "appeal_panel": ({wf.APPEAL_PANEL}, set()),
    "complainant": (set(), {wf.COMPLAINANT}),
    "respondent": (set(), {wf.RESPONDENT}),
    "respondent2": (set(), {wf.RESPONDENT}),
    "witness": (set(), {wf.WITNESS}),
    "recused": None,
    "outsider": None,
    "anonymous": None,
}


def fresh(user: User) -> User:
    """The user re-read from the database (no cached office membership)."""
    return User.objects.get(pk=user.pk)


# --- The access gate ------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "expected"), list(EXPECTED_ACCESS.items()))
def test_case_list_for_user_lists_the_case_only_for_those_with_access(
    request: pytest.FixtureRequest, case: Case, who: str, expected: object
) -> None:
    user = request.getfixturevalue(who)
    listed = list(selectors.case_list_for_user(user=user))
    assert listed == ([case] if expected is not None else [])


@pytest.mark.parametrize(("who", "expected"), list(EXPECTED_ACCESS.items()))
def test_case_get_for_user_gives_each_person_their_roles_or_not_found(
    request: pytest.FixtureRequest,
    case: Case,
    who: str,
    expected: tuple[set[str], set[str]] | None,
) -> None:
    user = request.getfixturevalue(who)
    if expected is None:
        with pytest.raises(NotFound):
            selectors.case_get_for_user(user=user, number=case.number)
        assert selectors.case_access(user=user, case=case) is None
        return
    committee_roles, party_roles = expected
    access = selectors.case_get_for_user(user=user, number=case.number)
    assert access.case == case
    assert access.user == user
    assert access.committee_roles == committee_roles
    assert access.party_roles == party_roles
    assert access.roles == committee_roles | party_roles
    assert access.is_committee is bool(committee_roles)
    assert access.is_office is (wf.INTEGRITY_OFFICER in committee_roles)
    assert {p.party.user_id for p in access.parties} == ({user.pk} if party_roles else set())


def test_no_access_and_no_such_case_give_the_same_not_found(case: Case, outsider: User) -> None:
    with pytest.raises(NotFound) as hidden:
        selectors.case_get_for_user(user=outsider, number=case.number)
    with pytest.raises(NotFound) as missing:
        selectors.case_get_for_user(user=outsider, number="SC-1999-9999")
    assert type(hidden.value) is type(missing.value)
    assert hidden.value.status == missing.value.status == 404
    assert str(hidden.value).replace(case.number, "N") == str(missing.value).replace(
        "SC-1999-9999", "N"
    )


def test_a_recused_office_member_sees_nothing_of_that_case_but_still_sees_others(
    case: Case, officer: User, access_for: AccessFor
) -> None:
    colleague = OfficerFactory.create(username="colleague")
    other = services.case_open(actor=officer, workflow="course", title="Another case")
    office = access_for(officer, case)
    seat = services.member_add(access=office, user=colleague, role=wf.INTEGRITY_OFFICER)
    services.member_recuse(access=office, member=seat, reason="Supervised the respondent.")
    colleague = fresh(colleague)
    assert list(selectors.case_list_for_user(user=colleague)) == [other]
    with pytest.raises(NotFound):
        selectors.case_get_for_user(user=colleague, number=case.number)
    assert selectors.case_get_for_user(user=colleague, number=other.number).is_office


def test_a_member_who_declares_a_conflict_loses_access_at_once(
    case: Case, member: User, access_for: AccessFor
) -> None:
    access = access_for(member, case)
    seat = case.members.get(user=member)
    services.conflict_declare(
        access=access, member=seat, has_conflict=True, statement="I reviewed the thesis."
    )
    assert list(selectors.case_list_for_user(user=member)) == []
    with pytest.raises(NotFound):
        access_for(member, case)


def test_a_party_who_is_also_in_the_office_gets_only_party_access(
    case: Case, respondent: User
) -> None:
    respondent.groups.add(Group.objects.get(name=selectors.OFFICE_GROUP))
    respondent = fresh(respondent)
    assert selectors.user_is_office(respondent)
    assert list(selectors.case_list_for_user(user=respondent)) == [case]
    access = selectors.case_get_for_user(user=respondent, number=case.number)
    assert access.committee_roles == frozenset()
    assert access.roles == {wf.RESPONDENT}
    assert not access.is_committee
    assert not access.is_office
    assert [n for n in selectors.notes_for(access)] == []


def test_a_superuser_is_treated_as_the_integrity_office(case: Case) -> None:
    admin = UserFactory.create(username="admin", is_superuser=True, is_staff=True)
    assert list(selectors.case_list_for_user(user=admin)) == [case]
    access = selectors.case_get_for_user(user=admin, number=case.number)
    assert access.committee_roles == {wf.INTEGRITY_OFFICER}


def test_a_member_sees_only_the_cases_where_they_hold_a_seat(
    case: Case, officer: User, member: User, access_for: AccessFor
) -> None:
    other = services.case_open(actor=officer, workflow="course", title="Another case")
    assert list(selectors.case_list_for_user(user=member)) == [case]
    with pytest.raises(NotFound):
        access_for(member, other)
    services.member_add(access=access_for(officer, other), user=member, role=wf.CHAIR)
    assert list(selectors.case_list_for_user(user=member)) == [other, case]  # newest first
    assert access_for(member, other).committee_roles == {wf.CHAIR}


def test_someone_with_two_seats_holds_both_roles(
    case: Case, officer: User, chair: User, access_for: AccessFor
) -> None:
    services.member_add(access=access_for(officer, case), user=chair, role=wf.COMMITTEE_MEMBER)
    assert access_for(chair, case).committee_roles == {wf.CHAIR, wf.COMMITTEE_MEMBER}
    assert list(selectors.case_list_for_user(user=chair)) == [case]


def test_anonymous_users_see_no_cases_and_no_reports(case: Case) -> None:
    anonymous = AnonymousUser()
    assert list(selectors.case_list_for_user(user=anonymous)) == []
    assert list(selectors.report_list_for_user(user=anonymous)) == []
    with pytest.raises(NotFound):
        selectors.case_get_for_user(user=anonymous, number=case.number)


@pytest.mark.parametrize("extra_cases", [0, 5])
@pytest.mark.parametrize("who", ["officer", "member", "respondent", "outsider"])
def test_case_list_for_user_takes_a_fixed_number_of_queries(
    request: pytest.FixtureRequest,
    django_assert_num_queries: DjangoAssertNumQueries,
    case: Case,
    officer: User,
    access_for: AccessFor,
    who: str,
    extra_cases: int,
) -> None:
    user = request.getfixturevalue(who)
    for i in range(extra_cases):
        more = services.case_open(actor=officer, workflow="course", title=f"Case {i}")
        office = access_for(officer, more)
        services.member_add(access=office, user=request.getfixturevalue("member"), role=wf.CHAIR)
        services.party_add(
            access=office,
            name="Remy",
            role=wf.RESPONDENT,
            user=request.getfixturevalue("respondent"),
        )
    user = fresh(user)
    # One query for office membership, one for the cases.
    with django_assert_num_queries(2):
        listed = list(selectors.case_list_for_user(user=user))
    assert len(listed) == (0 if who == "outsider" else 1 + extra_cases)


# --- Parties --------------------------------------------------------------------------------------


def party_names(access: selectors.CaseAccess) -> set[tuple[str, str]]:
    return {(row.role, row.party.name) for row in selectors.parties_for(access)}


def test_the_committee_sees_every_party_including_withheld_identities_and_witnesses(
    case: Case, access_for: AccessFor, chair: User
) -> None:
    assert party_names(access_for(chair, case)) == {
        (wf.COMPLAINANT, "Cora Complainant"),
        (wf.RESPONDENT, "Remy Respondent"),
        (wf.RESPONDENT, "Rosa Second"),
        (wf.WITNESS, "Wes Witness"),
    }


def test_a_respondent_sees_neither_a_withheld_complainant_nor_the_witnesses(
    case: Case, access_for: AccessFor, respondent: User
) -> None:
    assert party_names(access_for(respondent, case)) == {
        (wf.RESPONDENT, "Remy Respondent"),
        (wf.RESPONDENT, "Rosa Second"),
    }


def test_a_complainant_whose_identity_is_withheld_still_sees_themself(
    case: Case, access_for: AccessFor, complainant: User
) -> None:
    assert party_names(access_for(complainant, case)) == {
        (wf.COMPLAINANT, "Cora Complainant"),
        (wf.RESPONDENT, "Remy Respondent"),
        (wf.RESPONDENT, "Rosa Second"),
    }


def test_a_witness_sees_themself_but_no_other_witness(
    case: Case, access_for: AccessFor, officer: User, witness: User
) -> None:
    services.party_add(access=access_for(officer, case), name="Val Other", role=wf.WITNESS)
    names = party_names(access_for(witness, case))
    assert (wf.WITNESS, "Wes Witness") in names
    assert (wf.WITNESS, "Val Other") not in names
    assert (wf.COMPLAINANT, "Cora Complainant") not in names


def test_a_named_complainant_is_visible_to_the_respondent(
    case: Case, access_for: AccessFor, officer: User, respondent: User
) -> None:
    services.party_add(access=access_for(officer, case), name="Nell Named", role=wf.COMPLAINANT)
    assert (wf.COMPLAINANT, "Nell Named") in party_names(access_for(respondent, case))


def test_parties_do_not_see_recused_members_and_the_committee_does(
    case: Case, access_for: AccessFor, respondent: User, chair: User, recused: User
) -> None:
    assert recused.pk not in {
        m.user_id for m in selectors.members_for(access_for(respondent, case))
    }
    assert recused.pk in {m.user_id for m in selectors.members_for(access_for(chair, case))}


# --- Allegations, responses, clocks ---------------------------------------------------------------


def test_a_respondent_sees_only_the_allegations_against_them(
    case: Case, access_for: AccessFor, respondent: User, respondent_party: CaseParty
) -> None:
    rows = list(selectors.allegations_for(access_for(respondent, case)))
    assert [a.respondent_id for a in rows] == [respondent_party.pk]


def test_the_complainant_and_the_committee_see_every_allegation_and_a_witness_none(
    case: Case,
    access_for: AccessFor,
    complainant: User,
    member: User,
    witness: User,
) -> None:
    assert selectors.allegations_for(access_for(complainant, case)).count() == 2
    assert selectors.allegations_for(access_for(member, case)).count() == 2
    assert selectors.allegations_for(access_for(witness, case)).count() == 0


def test_a_respondent_sees_only_their_own_responses_and_comment_clock(
    case: Case,
    advance: Advance,
    access_for: AccessFor,
    chair: User,
    respondent: User,
    respondent_party: CaseParty,
    complainant: User,
    complainant_party: CaseParty,
) -> None:
    case = advance(case, "decision")  # both respondents commented on the draft report
    mine = access_for(respondent, case)
    assert [r.party_id for r in selectors.responses_for(mine)] == [respondent_party.pk]
    assert {(c.key, c.party_id) for c in selectors.clocks_for(mine)} == {
        ("respondent_comment", respondent_party.pk)
    }
    assert {(c.key, c.party_id) for c in selectors.clocks_for(access_for(complainant, case))} == {
        ("complainant_comment", complainant_party.pk)
    }
    committee = access_for(chair, case)
    assert selectors.responses_for(committee).count() == 2
    assert {c.key for c in selectors.clocks_for(committee)} == {
        "inquiry",
        "investigation_start",
        "investigation",
        "respondent_comment",
        "complainant_comment",
    }
    assert selectors.clocks_for(committee).filter(key="respondent_comment").count() == 2


def test_a_respondent_cannot_see_another_respondents_allegation_by_id(
    case: Case, access_for: AccessFor, respondent: User, allegation2: object
) -> None:
    with pytest.raises(NotFound, match="allegation"):
        selectors.object_in_case(
            selectors.allegations_for(access_for(respondent, case)),
            allegation2.pk,  # type: ignore[attr-defined]
            "allegation",
        )


@pytest.mark.parametrize("pk", ["abc", None, "1; drop table"])
def test_object_in_case_treats_a_malformed_id_as_not_found(
    case: Case, access_for: AccessFor, officer: User, pk: object
) -> None:
    with pytest.raises(NotFound):
        selectors.object_in_case(
            selectors.allegations_for(access_for(officer, case)), pk, "allegation"
        )


# --- Notes ----------------------------------------------------------------------------------------


@pytest.fixture
def notes(
    case: Case,
    access_for: AccessFor,
    officer: User,
    chair: User,
    respondent: User,
    respondent_party: CaseParty,
    respondent2_party: CaseParty,
) -> dict[str, Note]:
    office = access_for(officer, case)
    by_chair = access_for(chair, case)
    return {
        "internal": services.note_add(access=office, body="Internal.", visibility="internal"),
        "officer_personal": services.note_add(access=office, body="Mine.", visibility="personal"),
        "chair_personal": services.note_add(
            access=by_chair, body="Chair's.", visibility="personal"
        ),
        "to_respondent": services.note_add(
            access=office, body="To you.", visibility="party", party=respondent_party
        ),
        "to_respondent2": services.note_add(
            access=office, body="To the other.", visibility="party", party=respondent2_party
        ),
        "from_respondent": services.note_add(
            access=access_for(respondent, case), body="From me.", visibility="party"
        ),
    }


def visible_notes(access: selectors.CaseAccess, notes: dict[str, Note]) -> set[str]:
    ids = set(selectors.notes_for(access).values_list("id", flat=True))
    return {name for name, note in notes.items() if note.pk in ids}


def test_a_respondent_cannot_see_internal_notes_or_anyone_elses_messages(
    case: Case, notes: dict[str, Note], access_for: AccessFor, respondent: User
) -> None:
    assert visible_notes(access_for(respondent, case), notes) == {
        "to_respondent",
        "from_respondent",
    }


def test_committee_members_see_internal_notes_and_only_their_own_personal_notes(
    case: Case, notes: dict[str, Note], access_for: AccessFor, officer: User, chair: User
) -> None:
    shared = {"internal", "to_respondent", "to_respondent2", "from_respondent"}
    assert visible_notes(access_for(chair, case), notes) == shared | {"chair_personal"}
    assert visible_notes(access_for(officer, case), notes) == shared | {"officer_personal"}


def test_other_parties_see_none_of_the_notes(
    case: Case, notes: dict[str, Note], access_for: AccessFor, complainant: User, witness: User
) -> None:
    assert visible_notes(access_for(complainant, case), notes) == set()
    assert visible_notes(access_for(witness, case), notes) == set()


# --- Findings, votes, sanctions, appeals ----------------------------------------------------------


def test_findings_are_hidden_from_parties_until_the_case_is_decided(
    case: Case,
    advance: Advance,
    access_for: AccessFor,
    chair: User,
    complainant: User,
    respondent: User,
    respondent_party: CaseParty,
    witness: User,
) -> None:
    case = advance(case, "decision")
    assert selectors.findings_for(access_for(chair, case)).count() == 2
    for user in (complainant, respondent, witness):
        assert selectors.findings_for(access_for(user, case)).count() == 0
    case = advance(case, "decided")
    assert selectors.findings_for(access_for(complainant, case)).count() == 2
    assert [
        f.allegation.respondent_id for f in selectors.findings_for(access_for(respondent, case))
    ] == [respondent_party.pk]
    assert selectors.findings_for(access_for(witness, case)).count() == 0


def test_the_committee_gets_findings_with_their_votes_prefetched(
    case: Case,
    access_for: AccessFor,
    chair: User,
    member: User,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    findings = record_findings(access_for(chair, case))
    services.finding_vote(access=access_for(member, case), finding=findings[0], vote="concur")
    rows = list(selectors.findings_for(access_for(chair, case)))
    with django_assert_num_queries(0):
        votes = {f.pk: [(v.member.user.username, v.vote) for v in f.votes.all()] for f in rows}
    assert votes == {findings[0].pk: [("member", FindingVote.Vote.CONCUR)], findings[1].pk: []}


def test_a_respondent_cannot_see_votes_or_conflict_declarations_in_the_timeline(
    case: Case,
    access_for: AccessFor,
    chair: User,
    member: User,
    respondent: User,
) -> None:
    seat = case.members.get(user=member)
    services.conflict_declare(
        access=access_for(member, case), member=seat, has_conflict=False, statement="None."
    )
    findings = record_findings(access_for(chair, case))
    services.finding_vote(access=access_for(member, case), finding=findings[0], vote="dissent")
    committee_kinds = set(
        selectors.timeline_for(access_for(chair, case)).values_list("kind", flat=True)
    )
    assert {"finding_vote", "conflict_declared", "finding_recorded"} <= committee_kinds
    party_kinds = set(
        selectors.timeline_for(access_for(respondent, case)).values_list("kind", flat=True)
    )
    assert party_kinds.isdisjoint({"finding_vote", "conflict_declared", "finding_recorded"})


def test_sanctions_reach_only_their_respondent_and_only_after_the_decision(
    case: Case,
    advance: Advance,
    access_for: AccessFor,
    officer: User,
    respondent: User,
    respondent2: User,
    respondent_party: CaseParty,
) -> None:
    case = advance(case, "decided")
    sanction = services.sanction_add(
        access=access_for(officer, case),
        respondent=respondent_party,
        kind="retraction",
        description="Retract chapter 3.",
    )
    assert list(selectors.sanctions_for(access_for(respondent, case))) == [sanction]
    assert list(selectors.sanctions_for(access_for(respondent2, case))) == []
    assert list(selectors.sanctions_for(access_for(officer, case))) == [sanction]


def test_appeals_are_seen_by_their_appellant_and_the_committee_only(
    case: Case,
    advance: Advance,
    access_for: AccessFor,
    appeal_panel: User,
    respondent: User,
    respondent2: User,
    complainant: User,
) -> None:
    case = advance(case, "appeal")
    assert selectors.appeals_for(access_for(respondent, case)).count() == 1
    assert selectors.appeals_for(access_for(appeal_panel, case)).count() == 1
    assert selectors.appeals_for(access_for(respondent2, case)).count() == 0
    assert selectors.appeals_for(access_for(complainant, case)).count() == 0


# --- Timeline -------------------------------------------------------------------------------------


def timeline(access: selectors.CaseAccess) -> list[TimelineEvent]:
    return list(selectors.timeline_for(access))


def test_the_committee_sees_the_whole_timeline(
    case: Case, access_for: AccessFor, member: User
) -> None:
    events = timeline(access_for(member, case))
    assert [e.pk for e in events] == list(
        TimelineEvent.objects.filter(case=case).order_by("at", "id").values_list("pk", flat=True)
    )
    kinds = [e.kind for e in events]
    assert kinds.count("party_added") == 4
    assert kinds.count("member_added") == 5
    assert "member_recused" in kinds


def test_a_respondent_sees_shared_events_and_their_own_but_not_other_parties_events(
    case: Case,
    advance: Advance,
    access_for: AccessFor,
    respondent: User,
    respondent_party: CaseParty,
    officer: User,
) -> None:
    case = advance(case, "decision")
    services.note_add(access=access_for(officer, case), body="Internal.", visibility="internal")
    events = timeline(access_for(respondent, case))
    assert events, "the respondent sees some of the history"
    for event in events:
        assert event.visibility == TimelineEvent.Visibility.PARTIES
        assert event.party_id in (None, respondent_party.pk)
    kinds = {e.kind for e in events}
    assert {"case_opened", "transition", "allegation_recorded", "response_submitted"} <= kinds
    assert kinds.isdisjoint({"party_added", "member_added", "member_recused", "note_added"})
    # The second respondent's allegation, comment clock and comments are not shown.
    assert [e.data["respondent"] for e in events if e.kind == "allegation_recorded"] == [
        respondent_party.pk
    ]
    own_clocks = {
        e.data["key"] for e in events if e.kind == "clock_started" and e.party_id is not None
    }
    assert own_clocks == {"respondent_comment"}
    assert {e.party_id for e in events if e.kind == "response_submitted"} == {respondent_party.pk}


def test_a_complainant_sees_their_own_comment_clock_but_no_allegation_events(
    case: Case,
    advance: Advance,
    access_for: AccessFor,
    complainant: User,
    complainant_party: CaseParty,
) -> None:
    case = advance(case, "draft_comment")
    events = timeline(access_for(complainant, case))
    assert {e.party_id for e in events} <= {None, complainant_party.pk}
    assert [e.data["key"] for e in events if e.kind == "clock_started" and e.party_id] == [
        "complainant_comment"
    ]
    assert not [e for e in events if e.kind == "allegation_recorded"]


def test_a_witness_sees_only_events_shared_with_all_parties(
    case: Case, advance: Advance, access_for: AccessFor, witness: User
) -> None:
    case = advance(case, "draft_comment")
    events = timeline(access_for(witness, case))
    assert {e.kind for e in events} == {"case_opened", "transition"}


def test_transitions_for_offers_each_person_the_actions_of_their_roles(
    case: Case,
    access_for: AccessFor,
    officer: User,
    chair: User,
    respondent: User,
) -> None:
    assert {t.name for t in selectors.transitions_for(access_for(officer, case))} == {
        "start_inquiry",
        "dismiss_assessment",
    }
    assert selectors.transitions_for(access_for(chair, case)) == ()
    assert selectors.transitions_for(access_for(respondent, case)) == ()


# --- Reports (intake) -----------------------------------------------------------------------------


def test_reports_are_seen_by_their_reporter_and_the_office_only(
    db: None, officer: User, complainant: User, outsider: User
) -> None:
    report = services.report_submit(
        reporter=complainant,
        mode="confidential",
        kind="code_plagiarism",
        title="Copied code",
        narrative="See the attached comparison.",
    )
    assert selectors.report_get_for_user(user=complainant, reference=report.reference) == report
    assert selectors.report_get_for_user(user=officer, reference=report.reference) == report
    with pytest.raises(NotFound):
        selectors.report_get_for_user(user=outsider, reference=report.reference)
    assert list(selectors.report_list_for_user(user=outsider)) == []


def test_an_anonymous_report_is_not_listed_for_the_account_that_filed_it(
    db: None, officer: User, complainant: User
) -> None:
    report = services.report_submit(
        reporter=complainant,
        mode="anonymous",
        kind="fabrication",
        title="Made-up data",
        narrative="Table 2 cannot be right.",
    )
    assert list(selectors.report_list_for_user(user=complainant)) == []
    assert list(selectors.report_list_for_user(user=officer)) == [report]


def test_responses_for_a_party_never_include_another_partys_even_when_filed_by_the_office(
    case: Case,
    advance: Advance,
    access_for: AccessFor,
    officer: User,
    respondent: User,
    respondent2_party: CaseParty,
) -> None:
    case = advance(case, "investigation")
    services.response_submit(
        access=access_for(officer, case),
        kind=Response.Kind.STATEMENT,
        body="On behalf of the second respondent.",
        party=respondent2_party,
    )
    assert selectors.responses_for(access_for(respondent, case)).count() == 0
    assert selectors.responses_for(access_for(officer, case)).count() == 1


def test_respondents_see_the_case_wide_appeal_window_but_the_complainant_does_not(
    case: Case,
    advance: Advance,
    respondent: User,
    complainant: User,
    officer: User,
    access_for: AccessFor,
) -> None:
    advance(case, "decided")
    keys = [c.key for c in selectors.clocks_for(access_for(respondent, case))]
    assert "appeal_window" in keys
    assert "investigation" not in keys  # the institution's own deadlines stay with the committee
    assert "appeal_window" not in [
        c.key for c in selectors.clocks_for(access_for(complainant, case))
    ]
    assert "investigation" in [c.key for c in selectors.clocks_for(access_for(officer, case))]
