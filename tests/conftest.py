"""The named cast, and one research-misconduct case they all take part in.

People (each a ``User`` whose password is ``"pw-" + username``; see ``tests.factories``):

========================  ==========================================================================
fixture                   who they are in ``case``
========================  ==========================================================================
``officer``               integrity office (group ``integrity_office``): sees every case, no seat
``chair``                 chair of the committee
``member``                committee member
``recused``               committee member, recused: sees nothing of the case
``deciding_official``     institutional deciding official
``appeal_panel``          appeal panel member
``complainant``           complainant, identity withheld from the other parties
``respondent``            first respondent (allegation: code plagiarism)
``respondent2``           second respondent (allegation: model plagiarism)
``witness``               witness
``outsider``              logged in, no relation to the case
========================  ==========================================================================

``case`` is built only through ``cases.services``, as the application builds cases, so it carries
the timeline events real use leaves behind. ``access_for(user, case)`` goes through the access
gate. ``advance(case, state)`` walks ``case`` along the research-misconduct workflow, through
services, to a later state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import AnonymousUser, User

from cases import selectors, services
from cases import workflow as wf
from cases.models import Allegation, AllegationKind, Case, CaseMember, CaseParty, Finding, Response
from cases.selectors import CaseAccess
from tests.factories import OfficerFactory, UserFactory

if TYPE_CHECKING:
    AccessFor = Callable[[User | AnonymousUser, Case], CaseAccess]
    Advance = Callable[[Case, str], Case]


# --- The cast -------------------------------------------------------------------------------------


@pytest.fixture
def officer(db: None) -> User:
    return OfficerFactory.create(username="officer", first_name="Olive", last_name="Officer")


@pytest.fixture
def chair(db: None) -> User:
    return UserFactory.create(username="chair", first_name="Chidi", last_name="Chair")


@pytest.fixture
def member(db: None) -> User:
    return UserFactory.create(username="member", first_name="Mina", last_name="Member")


@pytest.fixture
def recused(db: None) -> User:
    return UserFactory.create(username="recused", first_name="Rex", last_name="Recused")


@pytest.fixture
def deciding_official(db: None) -> User:
    return UserFactory.create(username="deciding", first_name="Dana", last_name="Decider")


@pytest.fixture
def appeal_panel(db: None) -> User:
    return UserFactory.create(username="panel", first_name="Pat", last_name="Panel")


@pytest.fixture
def complainant(db: None) -> User:
    return UserFactory.create(username="complainant", first_name="Cora", last_name="Complainant")


@pytest.fixture
def respondent(db: None) -> User:
    return UserFactory.create(username="respondent", first_name="Remy", last_name="Respondent")


@pytest.fixture
def respondent2(db: None) -> User:
    return UserFactory.create(username="respondent2", first_name="Rosa", last_name="Second")


@pytest.fixture
def witness(db: None) -> User:
    return UserFactory.create(username="witness", first_name="Wes", last_name="Witness")


@pytest.fixture
def outsider(db: None) -> User:
    return UserFactory.create(username="outsider", first_name="Otto", last_name="Outsider")


@pytest.fixture
def anonymous() -> AnonymousUser:
    return AnonymousUser()


# --- The case -------------------------------------------------------------------------------------

CASE_TITLE = "Solver code copied into a thesis and a released model"
ALLEGATION_TEXT = "The thesis's solver reproduces the complainant's published code line for line."
ALLEGATION2_TEXT = "The released model's weights match the complainant's checkpoint."


@pytest.fixture
def case(
    officer: User,
    chair: User,
    member: User,
    recused: User,
    deciding_official: User,
    appeal_panel: User,
    complainant: User,
    respondent: User,
    respondent2: User,
    witness: User,
) -> Case:
    opened = services.case_open(
        actor=officer,
        workflow="research_misconduct",
        title=CASE_TITLE,
        summary="Opened from a confidential report.",
    )
    office = selectors.case_get_for_user(user=officer, number=opened.number)

    def add_party(user: User, role: str, *, withheld: bool = False) -> CaseParty:
        return services.party_add(
            access=office,
            name=user.get_full_name(),
            email=user.email,
            role=role,
            user=user,
            identity_withheld=withheld,
        )

    add_party(complainant, wf.COMPLAINANT, withheld=True)
    first = add_party(respondent, wf.RESPONDENT)
    second = add_party(respondent2, wf.RESPONDENT)
    add_party(witness, wf.WITNESS)
    services.allegation_add(
        access=office,
        respondent=first,
        kind=AllegationKind.CODE_PLAGIARISM,
        description=ALLEGATION_TEXT,
        original={"title": "fastsolve", "url": "https://example.org/fastsolve"},
        suspect={"title": "Thesis, chapter 3", "identifier": "thesis-2024-117"},
    )
    services.allegation_add(
        access=office,
        respondent=second,
        kind=AllegationKind.MODEL_PLAGIARISM,
        description=ALLEGATION2_TEXT,
    )
    for user, role in (
        (chair, wf.CHAIR),
        (member, wf.COMMITTEE_MEMBER),
        (recused, wf.COMMITTEE_MEMBER),
        (deciding_official, wf.DECIDING_OFFICIAL),
        (appeal_panel, wf.APPEAL_PANEL),
    ):
        services.member_add(access=office, user=user, role=role)
    services.member_recuse(
        access=office,
        member=CaseMember.objects.get(case=opened, user=recused),
        reason="Co-authored a paper with the first respondent.",
    )
    opened.refresh_from_db()
    return opened


@pytest.fixture
def demo_case(case: Case) -> Case:
    """Another name for ``case``."""
    return case


def party_row(case: Case, user: User) -> CaseParty:
    return CaseParty.objects.get(case=case, party__user=user)


@pytest.fixture
def complainant_party(case: Case, complainant: User) -> CaseParty:
    return party_row(case, complainant)


@pytest.fixture
def respondent_party(case: Case, respondent: User) -> CaseParty:
    return party_row(case, respondent)


@pytest.fixture
def respondent2_party(case: Case, respondent2: User) -> CaseParty:
    return party_row(case, respondent2)


@pytest.fixture
def witness_party(case: Case, witness: User) -> CaseParty:
    return party_row(case, witness)


@pytest.fixture
def allegation(respondent_party: CaseParty) -> Allegation:
    """The allegation against ``respondent``."""
    return Allegation.objects.get(respondent=respondent_party)


@pytest.fixture
def allegation2(respondent2_party: CaseParty) -> Allegation:
    """The allegation against ``respondent2``."""
    return Allegation.objects.get(respondent=respondent2_party)


@pytest.fixture
def access_for(db: None) -> AccessFor:
    """``access_for(user, case)``: the user's ``CaseAccess`` from the access gate (or NotFound)."""

    def get(user: User | AnonymousUser, case: Case) -> CaseAccess:
        return selectors.case_get_for_user(user=user, number=case.number)

    return get


# --- Walking the research-misconduct workflow -----------------------------------------------------

# (state reached, who fires it, transition), in order, from "assessment".
RESEARCH_MISCONDUCT_PATH: tuple[tuple[str, str, str], ...] = (
    ("inquiry", "officer", "start_inquiry"),
    ("investigation_pending", "chair", "recommend_investigation"),
    ("investigation", "officer", "begin_investigation"),
    ("draft_comment", "chair", "issue_draft_report"),
    ("decision", "chair", "submit_final_report"),
    ("decided", "deciding_official", "decide"),
)


def record_findings(access: CaseAccess) -> list[Finding]:
    """Misconduct (knowing) against the first respondent, none against the second."""
    findings = []
    for row in Allegation.objects.filter(case=access.case).select_related("respondent__party"):
        misconduct = row.kind == AllegationKind.CODE_PLAGIARISM
        findings.append(
            services.finding_record(
                access=access,
                allegation=row,
                outcome=(
                    Finding.Outcome.MISCONDUCT if misconduct else Finding.Outcome.NO_MISCONDUCT
                ),
                standard_of_proof=Finding.Standard.PREPONDERANCE,
                intent=Finding.Intent.KNOWING if misconduct else "",
                rationale="The committee compared both works side by side.",
            )
        )
    return findings


@pytest.fixture
def advance(
    access_for: AccessFor,
    officer: User,
    chair: User,
    deciding_official: User,
    respondent: User,
    respondent2: User,
) -> Advance:
    """``advance(case, state)``: fire the research-misconduct transitions up to ``state``.

    On the way the chair records findings (before the draft report) and both respondents comment on
    the draft report. ``state`` may also be ``"appeal"`` (the first respondent appeals) or
    ``"closed"`` (the office closes the decided case).
    """
    cast = {"officer": officer, "chair": chair, "deciding_official": deciding_official}

    def walk(case: Case, state: str) -> Case:
        targets = [s for s, _, _ in RESEARCH_MISCONDUCT_PATH] + ["appeal", "closed"]
        if state not in targets:
            raise ValueError(f"advance() cannot reach {state!r}")
        case.refresh_from_db()
        for reached, who, name in RESEARCH_MISCONDUCT_PATH:
            if case.state == state:
                break
            if case.state != wf.RESEARCH_MISCONDUCT.transition(name).sources[0]:
                continue
            if name == "issue_draft_report":
                record_findings(access_for(chair, case))
            if name == "submit_final_report":
                for user in (respondent, respondent2):
                    services.response_submit(
                        access=access_for(user, case),
                        kind=Response.Kind.DRAFT_REPORT_COMMENT,
                        body="I disagree with the draft report.",
                    )
            case = services.case_transition(access=access_for(cast[who], case), name=name)
            assert case.state == reached
        if state == "appeal" and case.state == "decided":
            services.appeal_file(
                access=access_for(respondent, case), grounds="The comparison ignored prior art."
            )
        elif state == "closed" and case.state == "decided":
            services.case_transition(access=access_for(officer, case), name="close")
        case.refresh_from_db()
        assert case.state == state
        return case

    return walk
