"""Every write, with the database: who may do it, what it stores, what it refuses, and that a
refusal leaves nothing changed. Validation happens in the services, so SQLite (which does not
enforce ``max_length``) and PostgreSQL give the same answers."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from pytest_django import Settings

from cases import services
from cases import workflow as wf
from cases.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from cases.models import (
    MAX_TEXT,
    MAX_TITLE,
    Allegation,
    Appeal,
    Case,
    CaseMember,
    CaseParty,
    Clock,
    ClockExtension,
    ConflictDeclaration,
    Finding,
    FindingVote,
    Party,
    Report,
    Response,
    Sanction,
    TimelineEvent,
)
from cases.selectors import case_get_for_user
from tests.conftest import record_findings
from tests.factories import UserFactory

if TYPE_CHECKING:
    from tests.conftest import AccessFor, Advance

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
END_OF_DAY = (23, 59, 59, 999999)


@pytest.fixture
def new_york(settings: Settings) -> ZoneInfo:
    """The institution keeps New York time (daylight saving included)."""
    settings.SLIPCASE_TIME_ZONE = "America/New_York"
    return NEW_YORK


def local(instant: datetime) -> datetime:
    """``instant`` as naive New York wall-clock time, for readable assertions."""
    return instant.astimezone(NEW_YORK).replace(tzinfo=None)


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, *END_OF_DAY)  # noqa: DTZ001 - naive wall-clock time for comparison


def events(case: Case, kind: str | None = None) -> list[TimelineEvent]:
    qs = TimelineEvent.objects.filter(case=case).order_by("at", "id")
    return list(qs.filter(kind=kind) if kind else qs)


def snapshot(case: Case) -> tuple[Any, ...]:
    """What a refused write must leave exactly as it was."""
    row = Case.objects.get(pk=case.pk)
    return (
        row.state,
        row.version,
        row.state_changed_at,
        TimelineEvent.objects.filter(case=case).count(),
        list(Clock.objects.filter(case=case).values_list("id", "status", "due_at")),
    )


REPORT = {
    "kind": "code_plagiarism",
    "title": "Copied solver",
    "narrative": "Chapter 3 reproduces my published code.",
    "respondents": [
        {"name": "Remy Respondent", "affiliation": "Physics", "email": "remy@example.org"},
        {"name": "Rosa Second"},
    ],
    "original_work": {"title": "fastsolve", "url": "https://example.org/fastsolve"},
    "suspect_work": {"title": "Thesis", "identifier": "thesis-2024-117"},
}


# --- Intake: report_submit ------------------------------------------------------------------------


def test_a_named_report_from_a_logged_in_user_keeps_the_account_and_their_name(
    complainant: User,
) -> None:
    report = services.report_submit(reporter=complainant, mode="named", **REPORT)  # type: ignore[arg-type]
    report.refresh_from_db()
    assert report.reporter == complainant
    assert report.reporter_name == "Cora Complainant"
    assert report.reporter_email == "complainant@example.org"
    assert report.status == Report.Status.RECEIVED
    assert re.fullmatch(rf"R-{timezone.now().year}-[A-Z2-9]{{8}}", report.reference)
    assert report.respondents == [
        {"name": "Remy Respondent", "affiliation": "Physics", "email": "remy@example.org"},
        {"name": "Rosa Second", "affiliation": "", "email": ""},
    ]
    assert report.original_work == REPORT["original_work"]


def test_a_report_without_an_account_needs_a_name_and_an_email(db: None) -> None:
    with pytest.raises(ValidationFailed, match="name and e-mail"):
        services.report_submit(reporter=AnonymousUser(), mode="named", **REPORT)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed, match="name and e-mail"):
        services.report_submit(
            reporter=None,
            mode="confidential",
            reporter_name="Nell",
            **REPORT,  # type: ignore[arg-type]
        )
    assert Report.objects.count() == 0
    report = services.report_submit(
        reporter=None,
        mode="confidential",
        reporter_name=" Nell Named ",
        reporter_email="nell@example.org",
        **REPORT,  # type: ignore[arg-type]
    )
    assert (report.reporter, report.reporter_name, report.mode) == (
        None,
        "Nell Named",
        "confidential",
    )


def test_an_anonymous_report_keeps_no_identity_even_when_a_user_is_logged_in(
    complainant: User,
) -> None:
    report = services.report_submit(reporter=complainant, mode="anonymous", **REPORT)  # type: ignore[arg-type]
    report.refresh_from_db()
    assert report.reporter is None
    assert (report.reporter_name, report.reporter_email, report.reporter_affiliation) == (
        "",
        "",
        "",
    )
    assert not Report.objects.filter(reporter=complainant).exists()


@pytest.mark.parametrize(
    "identity",
    [{"reporter_name": "Cora"}, {"reporter_email": "c@example.org"}, {"reporter_affiliation": "X"}],
    ids=["name", "email", "affiliation"],
)
def test_an_anonymous_report_refuses_any_identity_and_stores_nothing(
    db: None, identity: dict[str, str]
) -> None:
    with pytest.raises(ValidationFailed, match="anonymous report cannot carry"):
        services.report_submit(reporter=None, mode="anonymous", **identity, **REPORT)  # type: ignore[arg-type]
    assert Report.objects.count() == 0


def test_a_repeated_client_token_is_a_conflict_and_only_one_report_is_stored(
    complainant: User,
) -> None:
    first = services.report_submit(
        reporter=complainant,
        mode="named",
        client_token=" tok-1 ",
        **REPORT,  # type: ignore[arg-type]
    )
    with pytest.raises(Conflict) as exc:
        services.report_submit(
            reporter=complainant,
            mode="named",
            client_token="tok-1",
            **REPORT,  # type: ignore[arg-type]
        )
    assert exc.value.extra == {"reference": first.reference}
    assert Report.objects.filter(client_token="tok-1").count() == 1
    assert Report.objects.count() == 1


def test_a_blank_client_token_is_no_token(complainant: User) -> None:
    services.report_submit(reporter=complainant, mode="named", client_token="  ", **REPORT)  # type: ignore[arg-type]
    services.report_submit(reporter=complainant, mode="named", client_token="", **REPORT)  # type: ignore[arg-type]
    assert list(Report.objects.values_list("client_token", flat=True)) == [None, None]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "x" * (MAX_TITLE + 1)}, "title"),
        ({"narrative": "x" * (MAX_TEXT + 1)}, "narrative"),
        ({"title": "   "}, "title"),
        ({"kind": "gossip"}, "kind"),
        ({"mode": "whispered"}, "mode"),
        ({"respondents": [{"affiliation": "Physics"}]}, "respondents"),
        ({"original_work": {"author": "me"}}, None),
        ({"suspect_work": {"url": "https://e.org/" + "x" * 2000}}, None),
    ],
    ids=[
        "title-too-long",
        "narrative-too-long",
        "blank-title",
        "unknown-kind",
        "unknown-mode",
        "respondent-without-name",
        "unknown-work-field",
        "url-too-long",
    ],
)
def test_an_invalid_report_is_refused_and_nothing_is_stored(
    complainant: User, change: dict[str, Any], field: str | None
) -> None:
    data: dict[str, Any] = {"mode": "named", **REPORT, **change}
    with pytest.raises(ValidationFailed) as exc:
        services.report_submit(reporter=complainant, **data)
    assert exc.value.field == field
    assert Report.objects.count() == 0


def test_a_title_of_exactly_the_maximum_length_is_accepted(complainant: User) -> None:
    data: dict[str, Any] = {"mode": "named", **REPORT, "title": "x" * MAX_TITLE}
    report = services.report_submit(reporter=complainant, **data)
    assert len(Report.objects.get(pk=report.pk).title) == MAX_TITLE


# --- Intake: triage -------------------------------------------------------------------------------


@pytest.fixture
def report(complainant: User) -> Report:
    return services.report_submit(reporter=complainant, mode="confidential", **REPORT)  # type: ignore[arg-type]


def test_only_the_integrity_office_triages_reports(report: Report, chair: User) -> None:
    with pytest.raises(PermissionDenied):
        services.report_dismiss(report=report, actor=chair, reason="Not misconduct.")
    with pytest.raises(PermissionDenied):
        services.report_open_case(report=report, actor=chair, workflow="research_misconduct")
    report.refresh_from_db()
    assert report.status == Report.Status.RECEIVED
    assert Case.objects.count() == 0


@pytest.mark.parametrize("reason", ["", "  \n "])
def test_dismissing_a_report_needs_a_reason(report: Report, officer: User, reason: str) -> None:
    with pytest.raises(ValidationFailed, match="reason must not be empty"):
        services.report_dismiss(report=report, actor=officer, reason=reason)
    report.refresh_from_db()
    assert (report.status, report.dismissal_reason, report.triaged_by) == ("received", "", None)


def test_a_dismissed_report_keeps_the_reason_and_who_dismissed_it(
    report: Report, officer: User
) -> None:
    services.report_dismiss(report=report, actor=officer, reason=" Outside our remit. ")
    report.refresh_from_db()
    assert report.status == Report.Status.DISMISSED
    assert report.dismissal_reason == "Outside our remit."
    assert report.triaged_by == officer
    assert report.triaged_at is not None
    with pytest.raises(Conflict, match="already triaged"):
        services.report_open_case(report=report, actor=officer, workflow="research_misconduct")
    with pytest.raises(Conflict, match="already triaged"):
        services.report_dismiss(report=report, actor=officer, reason="Again.")


def test_opening_a_case_from_a_report_numbers_cases_sequentially_per_year(
    officer: User, complainant: User
) -> None:
    year = timezone.now().year
    numbers = []
    for _ in range(3):
        filed = services.report_submit(reporter=complainant, mode="named", **REPORT)  # type: ignore[arg-type]
        numbers.append(
            services.report_open_case(report=filed, actor=officer, workflow="course").number
        )
    assert numbers == [f"SC-{year}-0001", f"SC-{year}-0002", f"SC-{year}-0003"]
    later = services.case_open(
        actor=officer, workflow="course", title="Next year", at=datetime(year + 1, 1, 1, tzinfo=UTC)
    )
    assert later.number == f"SC-{year + 1}-0001"
    assert services.case_open(actor=officer, workflow="course", title="x").number == (
        f"SC-{year}-0004"
    )


def test_opening_a_case_from_a_report_adds_the_complainant_respondents_and_allegations(
    report: Report, officer: User, complainant: User
) -> None:
    case = services.report_open_case(
        report=report, actor=officer, workflow="research_misconduct", title="Solver case"
    )
    report.refresh_from_db()
    assert (report.status, report.case, report.triaged_by) == ("opened", case, officer)
    assert (case.title, case.state, case.workflow, case.version) == (
        "Solver case",
        "assessment",
        "research_misconduct",
        1,
    )
    rows = list(CaseParty.objects.filter(case=case).select_related("party").order_by("id"))
    assert [(r.role, r.party.name, r.party.user_id, r.identity_withheld) for r in rows] == [
        ("complainant", "Cora Complainant", complainant.pk, True),
        ("respondent", "Remy Respondent", None, False),
        ("respondent", "Rosa Second", None, False),
    ]
    allegations = list(Allegation.objects.filter(case=case).order_by("id"))
    assert [a.respondent_id for a in allegations] == [rows[1].pk, rows[2].pk]
    assert {a.kind for a in allegations} == {"code_plagiarism"}
    assert allegations[0].description == REPORT["narrative"]
    assert (allegations[0].original_url, allegations[0].suspect_identifier) == (
        "https://example.org/fastsolve",
        "thesis-2024-117",
    )
    kinds = [e.kind for e in events(case)]
    assert kinds[0] == "report_filed"  # dated when the report was filed, before the case
    assert sorted(kinds) == sorted(
        ["report_filed", "case_opened"] + ["party_added"] * 3 + ["allegation_recorded"] * 2
    )
    # The complainant, linked by account, can now see the case as complainant.
    assert case_get_for_user(user=complainant, number=case.number).roles == {"complainant"}


def test_a_case_opened_from_an_anonymous_report_has_no_complainant(
    officer: User, complainant: User
) -> None:
    filed = services.report_submit(reporter=complainant, mode="anonymous", **REPORT)  # type: ignore[arg-type]
    case = services.report_open_case(report=filed, actor=officer, workflow="research_misconduct")
    assert list(CaseParty.objects.filter(case=case).values_list("role", flat=True)) == [
        "respondent",
        "respondent",
    ]
    assert not Party.objects.filter(user=complainant).exists()


def test_case_open_is_for_the_office_and_a_known_workflow(officer: User, chair: User) -> None:
    with pytest.raises(PermissionDenied):
        services.case_open(actor=chair, workflow="course", title="x")
    with pytest.raises(ValidationFailed, match="unknown workflow") as exc:
        services.case_open(actor=officer, workflow="tribunal", title="x")
    assert exc.value.field == "workflow"
    with pytest.raises(ValidationFailed):
        services.case_open(actor=officer, workflow="course", title="x" * (MAX_TITLE + 1))
    assert Case.objects.count() == 0


# --- Parties and the committee --------------------------------------------------------------------


def test_a_party_cannot_be_appointed_to_the_committee(
    case: Case, access_for: AccessFor, officer: User, respondent: User
) -> None:
    before = snapshot(case)
    with pytest.raises(Conflict, match="is a party to the case"):
        services.member_add(access=access_for(officer, case), user=respondent, role=wf.CHAIR)
    assert not CaseMember.objects.filter(case=case, user=respondent).exists()
    assert snapshot(case) == before


@pytest.mark.parametrize("who", ["member", "recused"])
def test_a_committee_member_cannot_be_added_as_a_party(
    request: pytest.FixtureRequest, case: Case, access_for: AccessFor, officer: User, who: str
) -> None:
    user = request.getfixturevalue(who)
    parties_before = Party.objects.count()
    with pytest.raises(Conflict, match="sits on the case's committee"):
        services.party_add(access=access_for(officer, case), name="X", role=wf.WITNESS, user=user)
    assert Party.objects.count() == parties_before
    assert not CaseParty.objects.filter(case=case, party__user=user).exists()


def test_a_respondents_identity_cannot_be_withheld(
    case: Case, access_for: AccessFor, officer: User
) -> None:
    parties_before = Party.objects.count()
    with pytest.raises(ValidationFailed, match="respondent's identity cannot be withheld"):
        services.party_add(
            access=access_for(officer, case),
            name="Hidden",
            role=wf.RESPONDENT,
            identity_withheld=True,
        )
    assert Party.objects.count() == parties_before


def test_appointing_needs_the_office_and_refuses_recused_and_duplicate_seats(
    case: Case, access_for: AccessFor, officer: User, chair: User, member: User, recused: User
) -> None:
    with pytest.raises(PermissionDenied):
        services.member_add(
            access=access_for(chair, case), user=UserFactory.create(), role=wf.CHAIR
        )
    office = access_for(officer, case)
    with pytest.raises(Conflict, match="was recused"):
        services.member_add(access=office, user=recused, role=wf.CHAIR)
    with pytest.raises(Conflict, match="already holds that role"):
        services.member_add(access=office, user=member, role=wf.COMMITTEE_MEMBER)
    with pytest.raises(ValidationFailed):
        services.member_add(access=office, user=UserFactory.create(), role="treasurer")
    assert CaseMember.objects.filter(case=case).count() == 5


def test_declaring_a_conflict_recuses_every_seat_of_that_member(
    case: Case, access_for: AccessFor, officer: User, member: User
) -> None:
    services.member_add(access=access_for(officer, case), user=member, role=wf.APPEAL_PANEL)
    seat = CaseMember.objects.get(case=case, user=member, role=wf.COMMITTEE_MEMBER)
    declaration = services.conflict_declare(
        access=access_for(member, case),
        member=seat,
        has_conflict=True,
        statement="I supervised the second respondent.",
    )
    assert declaration.has_conflict is True
    seats = CaseMember.objects.filter(case=case, user=member)
    assert seats.count() == 2
    assert all(s.recused_at is not None for s in seats)
    assert {s.recusal_reason for s in seats} == {
        "Declared conflict: I supervised the second respondent."
    }
    assert [e.kind for e in events(case)][-2:] == ["conflict_declared", "member_recused"]
    with pytest.raises(NotFound):
        access_for(member, case)


def test_declaring_no_conflict_is_kept_and_recuses_nobody(
    case: Case, access_for: AccessFor, member: User
) -> None:
    seat = CaseMember.objects.get(case=case, user=member)
    services.conflict_declare(
        access=access_for(member, case), member=seat, has_conflict=False, statement="None."
    )
    seat.refresh_from_db()
    assert seat.recused_at is None
    assert ConflictDeclaration.objects.filter(member=seat, has_conflict=False).count() == 1


def test_only_the_office_recuses_someone_else(
    case: Case, access_for: AccessFor, chair: User, member: User
) -> None:
    seat = CaseMember.objects.get(case=case, user=member)
    with pytest.raises(PermissionDenied):
        services.member_recuse(access=access_for(chair, case), member=seat, reason="Biased.")
    with pytest.raises(PermissionDenied):
        services.conflict_declare(
            access=access_for(chair, case), member=seat, has_conflict=True, statement="Biased."
        )
    seat.refresh_from_db()
    assert seat.recused_at is None
    services.member_recuse(access=access_for(member, case), member=seat, reason="I know them.")
    seat.refresh_from_db()
    assert seat.recused_at is not None


# --- Workflow transitions -------------------------------------------------------------------------


def test_starting_the_inquiry_starts_a_90_day_clock_ending_at_local_midnight(
    case: Case, access_for: AccessFor, officer: User, new_york: ZoneInfo
) -> None:
    now = datetime(2031, 1, 31, 22, 0, tzinfo=UTC)  # 17:00 on 31 January in New York
    version = case.version
    changed = services.case_transition(
        access=access_for(officer, case), name="start_inquiry", expected_version=version, now=now
    )
    case.refresh_from_db()
    assert (case.state, case.version, case.state_changed_at) == ("inquiry", version + 1, now)
    assert changed.version == case.version
    clock = Clock.objects.get(case=case)
    assert (clock.key, clock.days, clock.status, clock.party) == ("inquiry", 90, "running", None)
    assert clock.started_at == now
    assert local(clock.due_at) == end_of(2031, 5, 1)
    assert local(clock.warn_at) == datetime(2031, 4, 17, 0, 0)  # noqa: DTZ001 - 14 days before
    transition = events(case, "transition")[-1]
    assert transition.data == {
        "transition": "start_inquiry",
        "from": "assessment",
        "to": "inquiry",
        "reason": "",
    }
    assert transition.actor == officer
    assert transition.visibility == TimelineEvent.Visibility.PARTIES
    started = events(case, "clock_started")[-1]
    assert started.data["key"] == "inquiry"
    assert started.visibility == TimelineEvent.Visibility.COMMITTEE  # binds the committee


def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(
    case: Case, access_for: AccessFor, officer: User
) -> None:
    before = snapshot(case)
    with pytest.raises(Conflict, match="changed since you loaded it") as exc:
        services.case_transition(
            access=access_for(officer, case),
            name="start_inquiry",
            expected_version=case.version - 1,
        )
    assert exc.value.extra == {"current_version": case.version, "state": "assessment"}
    assert snapshot(case) == before


@pytest.mark.parametrize("who", ["chair", "member", "deciding_official", "respondent", "witness"])
def test_a_transition_by_someone_without_the_role_is_permission_denied(
    request: pytest.FixtureRequest, case: Case, access_for: AccessFor, who: str
) -> None:
    before = snapshot(case)
    with pytest.raises(PermissionDenied, match="may only be done by") as exc:
        services.case_transition(
            access=access_for(request.getfixturevalue(who), case), name="start_inquiry"
        )
    assert exc.value.extra == {"roles": ["integrity_officer"]}
    assert snapshot(case) == before


def test_a_failed_guard_is_a_conflict_naming_the_rule(officer: User, access_for: AccessFor) -> None:
    bare = services.case_open(actor=officer, workflow="research_misconduct", title="No allegations")
    before = snapshot(bare)
    with pytest.raises(Conflict, match=wf.GUARDS[wf.GUARD_ALLEGATIONS_RECORDED]):
        services.case_transition(access=access_for(officer, bare), name="start_inquiry")
    assert snapshot(bare) == before


def test_a_transition_from_the_wrong_state_is_a_conflict(
    case: Case, access_for: AccessFor, officer: User
) -> None:
    before = snapshot(case)
    with pytest.raises(Conflict, match="not possible while the case is in 'Assessment'"):
        services.case_transition(access=access_for(officer, case), name="begin_investigation")
    assert snapshot(case) == before


def test_unknown_and_appeal_transitions_are_refused_as_invalid_input(
    case: Case, access_for: AccessFor, officer: User
) -> None:
    with pytest.raises(ValidationFailed, match="no transition named 'reopen'"):
        services.case_transition(access=access_for(officer, case), name="reopen")
    with pytest.raises(ValidationFailed, match="appeals endpoint"):
        services.case_transition(access=access_for(officer, case), name="file_appeal", reason="x")


def test_closing_after_assessment_needs_a_reason_and_then_closes_the_case(
    case: Case, access_for: AccessFor, officer: User, new_york: ZoneInfo
) -> None:
    before = snapshot(case)
    with pytest.raises(Conflict, match="needs a written reason"):
        services.case_transition(access=access_for(officer, case), name="dismiss_assessment")
    assert snapshot(case) == before
    now = ny(2031, 6, 30, 23, 30).astimezone(UTC)  # already 1 July in UTC
    services.case_transition(
        access=access_for(officer, case),
        name="dismiss_assessment",
        reason="  Honest error, not misconduct.  ",
        now=now,
    )
    case.refresh_from_db()
    assert (case.state, case.closed_at, case.closure_reason) == (
        "closed",
        now,
        "Honest error, not misconduct.",
    )
    assert case.retain_until == date(2038, 6, 30)  # the local closing date, plus seven years


def test_a_closed_case_refuses_further_changes(
    case: Case, access_for: AccessFor, officer: User
) -> None:
    office = access_for(officer, case)
    services.case_transition(access=office, name="dismiss_assessment", reason="No basis.")
    office = access_for(officer, case)
    with pytest.raises(Conflict):
        services.case_transition(access=office, name="start_inquiry")
    with pytest.raises(Conflict, match="is closed"):
        services.party_add(access=office, name="Late", role=wf.WITNESS)
    with pytest.raises(Conflict, match="is closed"):
        services.member_add(access=office, user=UserFactory.create(), role=wf.CHAIR)


def test_the_research_misconduct_clocks_start_and_stop_with_the_right_due_dates(
    case: Case,
    access_for: AccessFor,
    officer: User,
    chair: User,
    respondent: User,
    respondent_party: CaseParty,
    respondent2_party: CaseParty,
    complainant_party: CaseParty,
    new_york: ZoneInfo,
) -> None:
    def fire(user: User, name: str, now: datetime) -> None:
        services.case_transition(access=access_for(user, case), name=name, now=now)

    t0 = ny(2031, 1, 31, 17)
    fire(officer, "start_inquiry", t0)
    # The inquiry ends after its due date: the stop is recorded as late.
    t1 = ny(2031, 5, 2, 9)
    fire(chair, "recommend_investigation", t1)
    inquiry = Clock.objects.get(case=case, key="inquiry")
    assert (inquiry.status, inquiry.stopped_at) == ("stopped", t1)
    assert events(case, "clock_stopped")[-1].data == {
        "clock": inquiry.pk,
        "key": "inquiry",
        "late": True,
    }
    start = Clock.objects.get(case=case, key="investigation_start")
    assert local(start.due_at) == end_of(2031, 6, 1)  # 2 May + 30 days
    t2 = ny(2031, 5, 20, 9)
    fire(officer, "begin_investigation", t2)
    start.refresh_from_db()
    assert start.status == "stopped"
    assert events(case, "clock_stopped")[-1].data["late"] is False
    investigation = Clock.objects.get(case=case, key="investigation")
    assert investigation.days == 180
    assert local(investigation.due_at) == end_of(2031, 11, 16)  # 20 May + 180 days, now EST
    assert local(investigation.warn_at) == datetime(2031, 10, 17, 0, 0)  # noqa: DTZ001
    t3 = ny(2031, 9, 1, 9)
    fire(chair, "issue_draft_report", t3)
    comment_clocks = {
        (c.key, c.party_id): c
        for c in Clock.objects.filter(
            case=case, key__in=["respondent_comment", "complainant_comment"]
        )
    }
    assert set(comment_clocks) == {
        ("respondent_comment", respondent_party.pk),
        ("respondent_comment", respondent2_party.pk),
        ("complainant_comment", complainant_party.pk),
    }
    for clock in comment_clocks.values():
        assert clock.status == "running"
        assert local(clock.due_at) == end_of(2031, 10, 1)
    assert comment_clocks[("complainant_comment", complainant_party.pk)].optional is True
    assert comment_clocks[("respondent_comment", respondent_party.pk)].binds == "respondent"
    # Each party is told of their own comment period only.
    for (_, party_id), clock in comment_clocks.items():
        event = next(e for e in events(case, "clock_started") if e.data["clock"] == clock.pk)
        assert (event.visibility, event.party_id) == ("parties", party_id)

    # Findings, and one respondent's comments; the other stays silent.
    record_findings(access_for(chair, case))
    services.response_submit(
        access=access_for(respondent, case),
        kind=Response.Kind.DRAFT_REPORT_COMMENT,
        body="My comments.",
        now=ny(2031, 9, 20, 12),
    )
    before = snapshot(case)
    with pytest.raises(Conflict, match="comment period"):
        fire(chair, "submit_final_report", ny(2031, 10, 1, 23, 59))
    assert snapshot(case) == before
    t4 = ny(2031, 10, 2, 0, 0)  # the silent respondent's period has ended
    fire(chair, "submit_final_report", t4)
    case.refresh_from_db()
    assert case.state == "decision"
    assert all(
        c.status == "stopped" and c.stopped_at == t4
        for c in Clock.objects.filter(
            case=case, key__in=["respondent_comment", "complainant_comment"]
        )
    )
    investigation.refresh_from_db()
    assert investigation.status == "running"  # runs up to and including the decision


def test_the_full_research_misconduct_path_ends_closed_and_retained_for_seven_years(
    case: Case,
    access_for: AccessFor,
    officer: User,
    chair: User,
    deciding_official: User,
    respondent: User,
    respondent2: User,
    new_york: ZoneInfo,
) -> None:
    steps = [
        (officer, "start_inquiry", ny(2031, 1, 6, 10)),
        (chair, "recommend_investigation", ny(2031, 3, 1, 10)),
        (officer, "begin_investigation", ny(2031, 3, 20, 10)),
        (chair, "issue_draft_report", ny(2031, 7, 1, 10)),
        (chair, "submit_final_report", ny(2031, 7, 28, 10)),
        (deciding_official, "decide", ny(2031, 8, 15, 10)),
        (officer, "close", ny(2032, 2, 29, 16)),
    ]
    for user, name, now in steps:
        if name == "issue_draft_report":
            record_findings(access_for(chair, case))
        if name == "submit_final_report":
            for commenter in (respondent, respondent2):
                services.response_submit(
                    access=access_for(commenter, case),
                    kind=Response.Kind.DRAFT_REPORT_COMMENT,
                    body="Comments.",
                    now=now - timedelta(days=1),
                )
        version = Case.objects.get(pk=case.pk).version
        services.case_transition(
            access=access_for(user, case), name=name, expected_version=version, now=now
        )
    case.refresh_from_db()
    assert case.state == "closed"
    assert case.version == 1 + len(steps)
    assert case.closed_at == ny(2032, 2, 29, 16)
    assert case.retain_until == date(2039, 2, 28)  # 29 February has no match seven years on
    assert [e.data["to"] for e in events(case, "transition")] == [
        "inquiry",
        "investigation_pending",
        "investigation",
        "draft_comment",
        "decision",
        "decided",
        "closed",
    ]
    assert not Clock.objects.filter(case=case, status="running").exists()
    appeal_window = Clock.objects.get(case=case, key="appeal_window")
    assert local(appeal_window.due_at) == end_of(2031, 9, 14)
    assert Clock.objects.get(case=case, key="investigation").stopped_at == ny(2031, 8, 15, 10)


# --- Clock extensions -----------------------------------------------------------------------------


@pytest.fixture
def inquiry_clock(case: Case, access_for: AccessFor, officer: User, new_york: ZoneInfo) -> Clock:
    services.case_transition(
        access=access_for(officer, case), name="start_inquiry", now=ny(2031, 1, 31, 17)
    )
    return Clock.objects.get(case=case, key="inquiry")  # due at the end of 1 May 2031


@pytest.mark.parametrize("new_date", [date(2031, 5, 1), date(2031, 4, 1)], ids=["same", "earlier"])
def test_a_clock_can_only_be_extended_to_a_later_date(
    case: Case, access_for: AccessFor, officer: User, inquiry_clock: Clock, new_date: date
) -> None:
    with pytest.raises(ValidationFailed, match="must be after the current one"):
        services.clock_extend(
            access=access_for(officer, case), clock=inquiry_clock, new_due_date=new_date, reason="x"
        )
    assert ClockExtension.objects.count() == 0
    assert Clock.objects.get(pk=inquiry_clock.pk).due_at == inquiry_clock.due_at


@pytest.mark.parametrize("reason", ["", "   "])
def test_extending_a_clock_needs_a_reason(
    case: Case, access_for: AccessFor, officer: User, inquiry_clock: Clock, reason: str
) -> None:
    with pytest.raises(ValidationFailed, match="reason"):
        services.clock_extend(
            access=access_for(officer, case),
            clock=inquiry_clock,
            new_due_date="2031-06-15",
            reason=reason,
        )
    assert ClockExtension.objects.count() == 0


def test_extending_a_clock_records_the_previous_and_new_due_dates(
    case: Case, access_for: AccessFor, chair: User, inquiry_clock: Clock
) -> None:
    extension = services.clock_extend(
        access=access_for(chair, case),
        clock=inquiry_clock.pk,
        new_due_date="2031-06-15",
        reason="Key witness abroad.",
    )
    clock = Clock.objects.get(pk=inquiry_clock.pk)
    assert extension.previous_due_at == inquiry_clock.due_at
    assert local(extension.new_due_at) == end_of(2031, 6, 15)
    assert clock.due_at == extension.new_due_at
    assert clock.warn_at == clock.due_at - (inquiry_clock.due_at - inquiry_clock.warn_at)
    assert (extension.requested_by, extension.reason) == (chair, "Key witness abroad.")
    event = events(case, "clock_extended")[-1]
    assert event.data["previous_due_at"] == inquiry_clock.due_at.isoformat()
    assert event.data["new_due_at"] == clock.due_at.isoformat()


def test_only_the_office_or_chair_extends_and_only_running_clocks(
    case: Case,
    access_for: AccessFor,
    officer: User,
    member: User,
    respondent: User,
    inquiry_clock: Clock,
) -> None:
    for user in (member, respondent):
        with pytest.raises(PermissionDenied):
            services.clock_extend(
                access=access_for(user, case),
                clock=inquiry_clock,
                new_due_date="2031-06-15",
                reason="x",
            )
    with pytest.raises(NotFound):
        services.clock_extend(
            access=access_for(officer, case), clock=99999, new_due_date="2031-06-15", reason="x"
        )
    with pytest.raises(ValidationFailed, match="YYYY-MM-DD"):
        services.clock_extend(
            access=access_for(officer, case), clock=inquiry_clock, new_due_date="soon", reason="x"
        )
    services.case_transition(access=access_for(officer, case), name="recommend_investigation")
    with pytest.raises(Conflict, match="only running clocks"):
        services.clock_extend(
            access=access_for(officer, case),
            clock=inquiry_clock,
            new_due_date="2031-06-15",
            reason="x",
        )
    assert ClockExtension.objects.count() == 0


# --- Responses ------------------------------------------------------------------------------------


@pytest.fixture
def draft_comment(
    case: Case, access_for: AccessFor, officer: User, chair: User, new_york: ZoneInfo
) -> Case:
    """The case in "draft_comment"; comment periods end at the end of 1 October 2031 (New York)."""
    for user, name, now in (
        (officer, "start_inquiry", ny(2031, 1, 6, 10)),
        (chair, "recommend_investigation", ny(2031, 3, 1, 10)),
        (officer, "begin_investigation", ny(2031, 3, 20, 10)),
        (chair, "issue_draft_report", ny(2031, 9, 1, 10)),
    ):
        services.case_transition(access=access_for(user, case), name=name, now=now)
    case.refresh_from_db()
    return case


def test_a_response_within_the_period_is_stored_and_bound_to_the_clock(
    draft_comment: Case, access_for: AccessFor, respondent: User, respondent_party: CaseParty
) -> None:
    response = services.response_submit(
        access=access_for(respondent, draft_comment),
        kind=Response.Kind.DRAFT_REPORT_COMMENT,
        body=" I disagree. ",
        now=ny(2031, 10, 1, 23, 59),
    )
    assert (response.party, response.body, response.submitted_by) == (
        respondent_party,
        "I disagree.",
        respondent,
    )
    assert response.clock == Clock.objects.get(key="respondent_comment", party=respondent_party)
    event = events(draft_comment, "response_submitted")[-1]
    assert (event.party_id, event.visibility) == (respondent_party.pk, "parties")


def test_a_response_after_the_comment_period_is_a_conflict_and_nothing_is_stored(
    draft_comment: Case, access_for: AccessFor, respondent: User
) -> None:
    before = snapshot(draft_comment)
    with pytest.raises(Conflict, match="ended at") as exc:
        services.response_submit(
            access=access_for(respondent, draft_comment),
            kind=Response.Kind.DRAFT_REPORT_COMMENT,
            body="Late comments.",
            attachments=[SimpleUploadedFile("late.txt", b"late")],
            now=ny(2031, 10, 2, 0, 0),
        )
    assert "due_at" in exc.value.extra
    assert Response.objects.count() == 0
    assert snapshot(draft_comment) == before


def test_an_extension_reopens_the_comment_period(
    draft_comment: Case,
    access_for: AccessFor,
    officer: User,
    respondent: User,
    respondent_party: CaseParty,
) -> None:
    clock = Clock.objects.get(key="respondent_comment", party=respondent_party)
    services.clock_extend(
        access=access_for(officer, draft_comment),
        clock=clock,
        new_due_date=date(2031, 10, 15),
        reason="Respondent was ill.",
    )
    response = services.response_submit(
        access=access_for(respondent, draft_comment),
        kind=Response.Kind.DRAFT_REPORT_COMMENT,
        body="Comments after the extension.",
        now=ny(2031, 10, 10, 12),
    )
    assert response.clock_id == clock.pk


def test_a_response_stores_attachments_with_their_hash(
    draft_comment: Case, access_for: AccessFor, respondent: User
) -> None:
    response = services.response_submit(
        access=access_for(respondent, draft_comment),
        kind=Response.Kind.DRAFT_REPORT_COMMENT,
        body="See attached.",
        attachments=[SimpleUploadedFile("../../etc/passwd", b"hello")],
        now=ny(2031, 9, 2, 12),
    )
    (attachment,) = response.attachments.all()
    assert attachment.size == 5
    assert attachment.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert "/" not in attachment.filename
    assert attachment.file.read() == b"hello"


def test_comments_on_the_draft_report_need_an_open_period_and_are_not_for_witnesses(
    draft_comment: Case, access_for: AccessFor, witness: User, officer: User
) -> None:
    with pytest.raises(ValidationFailed, match="Witnesses do not comment"):
        services.response_submit(
            access=access_for(witness, draft_comment),
            kind=Response.Kind.DRAFT_REPORT_COMMENT,
            body="x",
            now=ny(2031, 9, 2),
        )
    bare = services.case_open(actor=officer, workflow="research_misconduct", title="Other")
    row = services.party_add(access=access_for(officer, bare), name="R", role=wf.RESPONDENT)
    with pytest.raises(Conflict, match="No comment period is open"):
        services.response_submit(
            access=access_for(officer, bare),
            kind=Response.Kind.DRAFT_REPORT_COMMENT,
            body="x",
            party=row,
        )
    assert Response.objects.count() == 0


def test_a_party_cannot_respond_in_another_partys_name(
    draft_comment: Case, access_for: AccessFor, respondent: User, respondent2_party: CaseParty
) -> None:
    with pytest.raises(PermissionDenied):
        services.response_submit(
            access=access_for(respondent, draft_comment),
            kind=Response.Kind.DRAFT_REPORT_COMMENT,
            body="Pretending.",
            party=respondent2_party,
            now=ny(2031, 9, 2),
        )
    assert Response.objects.count() == 0


# --- Sweeping clocks ------------------------------------------------------------------------------


def test_clocks_sweep_writes_each_warning_and_overdue_event_exactly_once(
    case: Case, access_for: AccessFor, inquiry_clock: Clock, officer: User
) -> None:
    before_warning = inquiry_clock.warn_at - timedelta(seconds=1)
    assert services.clocks_sweep(now=before_warning) == {"warned": 0, "overdue": 0}
    assert services.clocks_sweep(now=inquiry_clock.warn_at) == {"warned": 1, "overdue": 0}
    assert services.clocks_sweep(now=inquiry_clock.warn_at + timedelta(days=1)) == {
        "warned": 0,
        "overdue": 0,
    }
    assert services.clocks_sweep(now=inquiry_clock.due_at) == {"warned": 0, "overdue": 0}
    after = inquiry_clock.due_at + timedelta(microseconds=1)
    assert services.clocks_sweep(now=after) == {"warned": 0, "overdue": 1}
    assert services.clocks_sweep(now=after + timedelta(days=3)) == {"warned": 0, "overdue": 0}
    assert [e.kind for e in events(case) if e.kind.startswith("clock_")][-2:] == [
        "clock_warning",
        "clock_overdue",
    ]
    assert len(events(case, "clock_warning")) == len(events(case, "clock_overdue")) == 1
    clock = Clock.objects.get(pk=inquiry_clock.pk)
    assert (clock.warned_at, clock.overdue_at) == (inquiry_clock.warn_at, after)
    # An extension re-arms both; a stopped clock is never swept.
    services.clock_extend(
        access=access_for(officer, case),
        clock=clock,
        new_due_date="2031-08-01",
        reason="More time.",
    )
    late = ny(2031, 8, 2)
    assert services.clocks_sweep(now=late) == {"warned": 1, "overdue": 1}
    services.case_transition(
        access=access_for(officer, case), name="close_inquiry", reason="No basis.", now=late
    )
    stopped_events = len(events(case))
    assert services.clocks_sweep(now=late + timedelta(days=400)) == {"warned": 0, "overdue": 0}
    assert len(events(case)) == stopped_events


def test_clocks_sweep_tells_the_bound_party_about_their_own_clock(
    draft_comment: Case, respondent_party: CaseParty
) -> None:
    services.clocks_sweep(now=ny(2031, 9, 25))
    warnings = [e for e in events(draft_comment, "clock_warning") if e.party_id is not None]
    assert len(warnings) == 3  # two respondents and the complainant
    mine = [e for e in warnings if e.party_id == respondent_party.pk]
    assert len(mine) == 1
    assert mine[0].visibility == "parties"
    committee = [e for e in events(draft_comment, "clock_warning") if e.party_id is None]
    assert [e.visibility for e in committee] == ["committee"]  # the investigation clock


# --- Findings and votes ---------------------------------------------------------------------------


def test_findings_are_recorded_by_the_office_or_chair_only(
    case: Case, access_for: AccessFor, member: User, respondent: User, allegation: Allegation
) -> None:
    for user in (member, respondent):
        with pytest.raises(PermissionDenied):
            services.finding_record(
                access=access_for(user, case),
                allegation=allegation,
                outcome="no_misconduct",
                standard_of_proof="preponderance",
                intent="",
                rationale="x",
            )
    assert Finding.objects.count() == 0


def test_a_finding_of_misconduct_must_state_intent(
    case: Case, access_for: AccessFor, chair: User, allegation: Allegation
) -> None:
    for intent in ("not_applicable", ""):
        with pytest.raises(ValidationFailed):
            services.finding_record(
                access=access_for(chair, case),
                allegation=allegation,
                outcome="misconduct",
                standard_of_proof="preponderance",
                intent=intent,
                rationale="Copied.",
            )
    assert Finding.objects.count() == 0
    cleared = services.finding_record(
        access=access_for(chair, case),
        allegation=allegation.pk,
        outcome="no_misconduct",
        standard_of_proof="preponderance",
        intent="",
        rationale="Properly cited.",
    )
    assert cleared.intent == Finding.Intent.NOT_APPLICABLE


def test_revising_a_finding_discards_the_votes_cast_on_the_earlier_text(
    case: Case, access_for: AccessFor, chair: User, member: User, allegation: Allegation
) -> None:
    def record(outcome: str, intent: str) -> Finding:
        return services.finding_record(
            access=access_for(chair, case),
            allegation=allegation,
            outcome=outcome,
            standard_of_proof="preponderance",
            intent=intent,
            rationale="Side by side comparison.",
        )

    finding = record("misconduct", "reckless")
    services.finding_vote(access=access_for(member, case), finding=finding, vote="concur")
    services.finding_vote(access=access_for(chair, case), finding=finding, vote="dissent")
    revised = record("policy_violation", "knowing")
    assert revised.pk == finding.pk
    assert FindingVote.objects.count() == 0
    assert [e.kind for e in events(case) if e.kind.startswith("finding_")] == [
        "finding_recorded",
        "finding_vote",
        "finding_vote",
        "finding_revised",
    ]


def test_each_seated_member_votes_once_and_others_not_at_all(
    case: Case,
    access_for: AccessFor,
    chair: User,
    member: User,
    officer: User,
    appeal_panel: User,
    respondent: User,
    allegation: Allegation,
) -> None:
    (finding, _) = record_findings(access_for(chair, case))
    ballot = services.finding_vote(
        access=access_for(member, case), finding=finding.pk, vote="abstain", comment="Unsure."
    )
    assert (ballot.member.user, ballot.vote) == (member, "abstain")
    with pytest.raises(Conflict, match="already voted"):
        services.finding_vote(access=access_for(member, case), finding=finding, vote="concur")
    with pytest.raises(ValidationFailed):
        services.finding_vote(access=access_for(chair, case), finding=finding, vote="maybe")
    for user in (officer, appeal_panel):  # the office holds no seat; the panel does not vote
        with pytest.raises(PermissionDenied, match="seated"):
            services.finding_vote(access=access_for(user, case), finding=finding, vote="concur")
    with pytest.raises(PermissionDenied):
        services.finding_vote(access=access_for(respondent, case), finding=finding, vote="dissent")
    with pytest.raises(NotFound):
        services.finding_vote(access=access_for(chair, case), finding=99999, vote="concur")
    assert FindingVote.objects.count() == 1


def test_findings_and_votes_are_closed_once_the_case_is_decided(
    case: Case,
    advance: Advance,
    access_for: AccessFor,
    chair: User,
    member: User,
    allegation: Allegation,
) -> None:
    case = advance(case, "decided")
    finding = Finding.objects.get(allegation=allegation)
    with pytest.raises(Conflict, match="can no longer be changed"):
        services.finding_record(
            access=access_for(chair, case),
            allegation=allegation,
            outcome="no_misconduct",
            standard_of_proof="preponderance",
            intent="",
            rationale="Changed my mind.",
        )
    with pytest.raises(Conflict, match="Voting on findings has closed"):
        services.finding_vote(access=access_for(member, case), finding=finding, vote="concur")
    assert Finding.objects.get(pk=finding.pk).outcome == "misconduct"


def test_findings_count_as_recorded_only_when_every_allegation_has_one(
    case: Case, access_for: AccessFor, chair: User, allegation: Allegation
) -> None:
    assert services.case_facts(case)[wf.GUARD_FINDINGS_RECORDED] is False
    services.finding_record(
        access=access_for(chair, case),
        allegation=allegation,
        outcome="no_misconduct",
        standard_of_proof="preponderance",
        intent="",
        rationale="x",
    )
    assert services.case_facts(case)[wf.GUARD_FINDINGS_RECORDED] is False  # one of two
    record_findings(access_for(chair, case))
    assert services.case_facts(case)[wf.GUARD_FINDINGS_RECORDED] is True


# --- Sanctions ------------------------------------------------------------------------------------


def test_sanctions_follow_the_decision_and_need_a_supporting_finding(
    case: Case,
    advance: Advance,
    access_for: AccessFor,
    officer: User,
    chair: User,
    deciding_official: User,
    respondent_party: CaseParty,
    respondent2_party: CaseParty,
) -> None:
    def add(user: User, row: CaseParty) -> Sanction:
        return services.sanction_add(
            access=access_for(user, case),
            respondent=row,
            kind="retraction",
            description="Retract chapter 3.",
            due_date="2032-01-31",
        )

    with pytest.raises(Conflict, match="follow the decision"):
        add(officer, respondent_party)
    case = advance(case, "decided")
    with pytest.raises(PermissionDenied):
        add(chair, respondent_party)
    with pytest.raises(Conflict, match="No finding against this respondent"):
        add(officer, respondent2_party)  # cleared of misconduct
    sanction = add(deciding_official, respondent_party)
    assert (sanction.due_date, sanction.status) == (date(2032, 1, 31), "open")
    event = events(case, "sanction_imposed")[-1]
    assert (event.party_id, event.visibility) == (respondent_party.pk, "parties")
    assert Sanction.objects.count() == 1


def test_a_sanction_is_done_only_with_proof(
    case: Case, advance: Advance, access_for: AccessFor, officer: User, respondent_party: CaseParty
) -> None:
    case = advance(case, "decided")
    office = access_for(officer, case)
    sanction = services.sanction_add(
        access=office, respondent=respondent_party, kind="correction", description="Correct it."
    )
    with pytest.raises(ValidationFailed, match="proof"):
        services.sanction_complete(access=office, sanction=sanction, status="done", proof=" ")
    with pytest.raises(ValidationFailed, match="'done' or 'waived'"):
        services.sanction_complete(access=office, sanction=sanction, status="open", proof="x")
    assert Sanction.objects.get(pk=sanction.pk).status == "open"
    done = services.sanction_complete(
        access=office, sanction=sanction.pk, status="done", proof="Correction published."
    )
    assert (done.status, done.proof) == ("done", "Correction published.")
    assert done.completed_at is not None
    with pytest.raises(Conflict, match="already done"):
        services.sanction_complete(access=office, sanction=sanction, status="waived", proof="x")


# --- Appeals --------------------------------------------------------------------------------------


def test_a_respondent_appeals_within_the_window_and_the_panel_decides(
    case: Case,
    advance: Advance,
    access_for: AccessFor,
    respondent: User,
    respondent_party: CaseParty,
    appeal_panel: User,
    officer: User,
) -> None:
    case = advance(case, "decided")
    window = Clock.objects.get(case=case, key="appeal_window")
    assert window.status == "running"
    appeal = services.appeal_file(
        access=access_for(respondent, case),
        grounds="The comparison ignored prior art.",
        expected_version=case.version,
    )
    case.refresh_from_db()
    assert (case.state, appeal.appellant, appeal.status) == ("appeal", respondent_party, "pending")
    window.refresh_from_db()
    assert window.status == "stopped"
    with pytest.raises(PermissionDenied):
        services.appeal_decide(
            access=access_for(officer, case), appeal=appeal, status="denied", decision="No."
        )
    with pytest.raises(ValidationFailed):
        services.appeal_decide(
            access=access_for(appeal_panel, case), appeal=appeal, status="denied", decision=" "
        )
    with pytest.raises(ValidationFailed):
        services.appeal_decide(
            access=access_for(appeal_panel, case), appeal=appeal, status="pending", decision="x"
        )
    decided = services.appeal_decide(
        access=access_for(appeal_panel, case),
        appeal=appeal.pk,
        status="denied",
        decision="The decision stands.",
    )
    case.refresh_from_db()
    assert (decided.status, decided.decided_by) == ("denied", appeal_panel)
    assert (case.state, case.closure_reason) == ("closed", "The decision stands.")
    closed_on = case.closed_at.astimezone(services.institution_tz()).date()  # type: ignore[union-attr]
    assert case.retain_until == closed_on.replace(year=closed_on.year + 7)
    with pytest.raises(Conflict, match="already decided"):
        services.appeal_decide(
            access=access_for(appeal_panel, case), appeal=appeal, status="upheld", decision="x"
        )
    assert [e.data["to"] for e in events(case, "transition")][-2:] == ["appeal", "closed"]


def test_an_appeal_after_the_window_has_ended_is_a_conflict(
    case: Case, access_for: AccessFor, advance: Advance, respondent: User, deciding_official: User
) -> None:
    case = advance(case, "decision")
    services.case_transition(
        access=access_for(deciding_official, case),
        name="decide",
        now=timezone.now() - timedelta(days=45),
    )
    case.refresh_from_db()
    before = snapshot(case)
    with pytest.raises(Conflict, match=wf.GUARDS[wf.GUARD_APPEAL_WINDOW_OPEN]):
        services.appeal_file(access=access_for(respondent, case), grounds="Too late?")
    assert Appeal.objects.count() == 0
    assert snapshot(case) == before


def test_only_respondents_or_the_office_for_them_file_appeals(
    case: Case,
    advance: Advance,
    access_for: AccessFor,
    complainant: User,
    respondent: User,
    respondent_party: CaseParty,
    respondent2_party: CaseParty,
    officer: User,
) -> None:
    case = advance(case, "decided")
    with pytest.raises(ValidationFailed, match="Name the respondent"):
        services.appeal_file(access=access_for(complainant, case), grounds="Too lenient.")
    with pytest.raises(PermissionDenied):
        services.appeal_file(
            access=access_for(respondent, case), grounds="For them.", appellant=respondent2_party
        )
    with pytest.raises(ValidationFailed, match="grounds"):
        services.appeal_file(access=access_for(respondent, case), grounds="  ")
    with pytest.raises(Conflict, match="changed since you loaded it"):
        services.appeal_file(
            access=access_for(respondent, case), grounds="Stale.", expected_version=1
        )
    assert Appeal.objects.count() == 0
    appeal = services.appeal_file(
        access=access_for(officer, case),
        grounds="Filed for the respondent.",
        appellant=respondent_party,
    )
    assert (appeal.appellant, appeal.filed_by) == (respondent_party, officer)


# --- The course workflow and configured day counts ------------------------------------------------


def open_course_case(officer: User, chair: User, respondent: User) -> Case:
    case = services.case_open(actor=officer, workflow="course", title="Copied homework")
    office = case_get_for_user(user=officer, number=case.number)
    row = services.party_add(access=office, name="Remy", role=wf.RESPONDENT, user=respondent)
    services.allegation_add(
        access=office, respondent=row, kind="code_plagiarism", description="Same as last year's."
    )
    services.member_add(access=office, user=chair, role=wf.CHAIR)
    return case


@pytest.mark.parametrize(
    ("overrides", "review_days", "decision_days", "response_days"),
    [
        ({}, 10, 5, 7),
        ({"course": {"review": 21, "decision": 3, "respondent_response": 14}}, 21, 3, 14),
    ],
    ids=["shipped", "configured"],
)
def test_the_course_workflow_uses_the_configured_day_counts(
    settings: Settings,
    new_york: ZoneInfo,
    officer: User,
    chair: User,
    respondent: User,
    access_for: AccessFor,
    overrides: dict[str, dict[str, int]],
    review_days: int,
    decision_days: int,
    response_days: int,
) -> None:
    settings.SLIPCASE_WORKFLOW_DAYS = overrides
    case = open_course_case(officer, chair, respondent)
    assert case.workflow_def.clock("decision").days == decision_days
    review = Clock.objects.get(case=case, key="review")  # started when the case opened
    assert review.days == review_days and review.status == Clock.Status.RUNNING
    now = ny(2031, 3, 7, 15)
    services.case_transition(access=access_for(chair, case), name="schedule_meeting", now=now)
    review.refresh_from_db()
    assert review.status == Clock.Status.STOPPED and review.stopped_at == now
    clocks = {c.key: c for c in Clock.objects.filter(case=case).exclude(key="review")}
    assert set(clocks) == {"decision", "respondent_response"}
    assert clocks["decision"].days == decision_days
    assert local(clocks["decision"].due_at) == end_of(2031, 3, 7 + decision_days)
    assert clocks["respondent_response"].days == response_days
    assert local(clocks["respondent_response"].due_at) == end_of(2031, 3, 7 + response_days)
    assert clocks["respondent_response"].party is not None


def test_the_course_workflow_runs_to_an_appeal_decided_by_the_panel(
    officer: User, chair: User, respondent: User, appeal_panel: User, access_for: AccessFor
) -> None:
    case = open_course_case(officer, chair, respondent)
    services.member_add(access=access_for(officer, case), user=appeal_panel, role=wf.APPEAL_PANEL)
    services.case_transition(access=access_for(chair, case), name="schedule_meeting")
    statement = services.response_submit(
        access=access_for(respondent, case), kind=Response.Kind.STATEMENT, body="I worked alone."
    )
    assert statement.clock is not None and statement.clock.key == "respondent_response"
    with pytest.raises(Conflict, match=wf.GUARDS[wf.GUARD_FINDINGS_RECORDED]):
        services.case_transition(access=access_for(chair, case), name="decide")
    record_findings(access_for(chair, case))
    services.case_transition(access=access_for(chair, case), name="decide")
    appeal = services.appeal_file(access=access_for(respondent, case), grounds="Unfair.")
    assert Clock.objects.get(case=case, key="appeal_decision").status == "running"
    services.appeal_decide(
        access=access_for(appeal_panel, case), appeal=appeal, status="upheld", decision="Upheld."
    )
    case.refresh_from_db()
    assert case.state == "closed"
    assert not Clock.objects.filter(case=case, status="running").exists()
    closed_on = case.closed_at.astimezone(services.institution_tz()).date()  # type: ignore[union-attr]
    assert case.retain_until == closed_on.replace(year=closed_on.year + 5)
