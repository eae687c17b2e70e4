"""A whole research-misconduct case walked through the API, from report to closed, with two
respondents who get different findings, the respondent's comment period, an extension, an appeal
and sanctions. Every step is made by the person who would make it, with their own login."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import Case, Clock, Report, TimelineEvent

pytestmark = pytest.mark.django_db


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json()


def test_a_case_goes_from_report_to_closed_through_the_api(
    officer: User,
    chair: User,
    member: User,
    deciding_official: User,
    appeal_panel: User,
    complainant: User,
    respondent: User,
    respondent2: User,
) -> None:
    # 1. The complainant files a named report.
    report = ok(
        client_for(complainant).post(
            "/api/v1/reports/",
            {
                "mode": "named",
                "kind": "model_plagiarism",
                "title": "VisionLlama is our MiniV model renamed",
                "narrative": "Same weights plus noise; same wrong answers on our probe set.",
                "respondents": [
                    {"name": "Alex Kim", "email": "alex@example.edu"},
                    {"name": "Sam Patel", "email": "sam@example.edu"},
                ],
                "original_work": {"title": "MiniV-7B", "url": "https://example.org/miniv"},
                "suspect_work": {"title": "VisionLlama-7B", "url": "https://example.org/vl"},
                "client_token": "walkthrough-1",
            },
            format="json",
        ),
        201,
    )
    reference = report["reference"]
    assert report["status"] == "received"
    # The same submission again is refused, and stored once.
    again = client_for(complainant).post(
        "/api/v1/reports/",
        {
            "mode": "named",
            "kind": "other",
            "title": "t",
            "narrative": "n",
            "client_token": "walkthrough-1",
        },
        format="json",
    )
    assert again.status_code == 409
    assert reference in again.json()["error"]["message"]
    assert Report.objects.count() == 1

    # 2. The office triages it into a case.
    office = client_for(officer)
    case = ok(
        office.post(
            f"/api/v1/reports/{reference}/open-case/",
            {"workflow": "research_misconduct"},
            format="json",
        ),
        201,
    )
    number = case["number"]
    assert number == f"SC-{timezone.now().year}-0001"
    assert case["state"] == "assessment"
    base = f"/api/v1/cases/{number}"
    parties = ok(office.get(f"{base}/parties/"))
    respondents = {p["name"]: p["id"] for p in parties if p["role"] == "respondent"}
    assert set(respondents) == {"Alex Kim", "Sam Patel"}
    ok(
        office.post(
            f"{base}/parties/{respondents['Alex Kim']}/link/",
            {"username": respondent.username},
            format="json",
        )
    )
    ok(
        office.post(
            f"{base}/parties/{respondents['Sam Patel']}/link/",
            {"username": respondent2.username},
            format="json",
        )
    )
    # The complainant's report made a complainant party linked to their account.
    assert ok(client_for(complainant).get(f"{base}/"))["my_roles"] == ["complainant"]

    # 3. The committee is appointed; the member declares no conflict.
    for user, role in (
        (chair, "chair"),
        (member, "committee_member"),
        (deciding_official, "deciding_official"),
        (appeal_panel, "appeal_panel"),
    ):
        ok(
            office.post(
                f"{base}/members/", {"username": user.username, "role": role}, format="json"
            ),
            201,
        )
    seats = {m["username"]: m["id"] for m in ok(office.get(f"{base}/members/"))["results"]}
    ok(
        client_for(member).post(
            f"{base}/members/{seats[member.username]}/declarations/",
            {"has_conflict": False, "statement": "No ties to either lab."},
            format="json",
        ),
        201,
    )

    # 4. Assessment → inquiry → investigation.
    version = ok(office.get(f"{base}/"))["version"]
    ok(
        office.post(
            f"{base}/transitions/",
            {"name": "start_inquiry", "expected_version": version},
            format="json",
        )
    )
    stale = office.post(
        f"{base}/transitions/",
        {"name": "recommend_investigation", "expected_version": version},
        format="json",
    )
    assert stale.status_code == 409  # an old version is refused, nothing changes
    assert Case.objects.get(number=number).state == "inquiry"
    ok(
        client_for(chair).post(
            f"{base}/transitions/", {"name": "recommend_investigation"}, format="json"
        )
    )
    # A committee member may not begin the investigation: 403 naming who may.
    refused = client_for(member).post(
        f"{base}/transitions/", {"name": "begin_investigation"}, format="json"
    )
    assert refused.status_code == 403
    assert "integrity_officer" in refused.json()["error"]["message"]
    ok(office.post(f"{base}/transitions/", {"name": "begin_investigation"}, format="json"))
    clocks = ok(office.get(f"{base}/clocks/"))["results"]
    investigation = next(c for c in clocks if c["key"] == "investigation")
    assert investigation["days"] == 180 and investigation["status"] == "running"

    # 5. The officer writes an internal note; the respondent posts a statement with an attachment.
    ok(
        office.post(
            f"{base}/notes/",
            {"body": "Repos deleted; snapshots taken.", "visibility": "internal"},
            format="json",
        ),
        201,
    )
    upload = SimpleUploadedFile("apology.txt", b"I am sorry.", content_type="text/plain")
    statement = ok(
        client_for(respondent).post(
            f"{base}/responses/",
            {"kind": "apology", "body": "I apologise.", "attachments": [upload]},
            format="multipart",
        ),
        201,
    )
    assert statement["attachments"][0]["sha256"] == hashlib.sha256(b"I am sorry.").hexdigest()
    assert ok(client_for(respondent).get(f"{base}/notes/"))["results"] == []

    # 6. Findings: misconduct for Alex, none for Sam (same allegation kind, different outcome).
    allegations = ok(office.get(f"{base}/allegations/"))["results"]
    by_respondent = {a["respondent"]["name"]: a["id"] for a in allegations}
    chair_client = client_for(chair)
    finding_alex = ok(
        chair_client.post(
            f"{base}/findings/",
            {
                "allegation": by_respondent["Alex Kim"],
                "outcome": "misconduct",
                "standard_of_proof": "preponderance",
                "intent": "intentional",
                "rationale": (
                    "Weights equal MiniV's plus i.i.d. noise; renamed code; shared wrong answers."
                ),
            },
            format="json",
        ),
        201,
    )
    ok(
        chair_client.post(
            f"{base}/findings/",
            {
                "allegation": by_respondent["Sam Patel"],
                "outcome": "no_misconduct",
                "standard_of_proof": "preponderance",
                "rationale": "Prepared data only; no part in the copying.",
            },
            format="json",
        ),
        201,
    )
    ok(
        client_for(member).post(
            f"{base}/findings/{finding_alex['id']}/votes/", {"vote": "concur"}, format="json"
        ),
        201,
    )

    # 7. Draft report: each respondent gets a 30-day comment clock; one is extended.
    ok(chair_client.post(f"{base}/transitions/", {"name": "issue_draft_report"}, format="json"))
    alex_clocks = ok(client_for(respondent).get(f"{base}/clocks/"))["results"]
    assert [c["key"] for c in alex_clocks] == [
        "respondent_comment"
    ]  # only the clock that binds him
    sam_clock = next(
        c
        for c in ok(office.get(f"{base}/clocks/"))["results"]
        if c["key"] == "respondent_comment" and c["party"]["name"] == "Sam Patel"
    )
    new_date = (timezone.now() + timedelta(days=45)).date().isoformat()
    ok(
        office.post(
            f"{base}/clocks/{sam_clock['id']}/extend/",
            {"new_due_date": new_date, "reason": "Medical leave."},
            format="json",
        ),
        201,
    )
    # Too early to send the final report: the respondents have not commented and time is left.
    early = chair_client.post(
        f"{base}/transitions/", {"name": "submit_final_report"}, format="json"
    )
    assert early.status_code == 409 and "comment" in early.json()["error"]["message"]
    for user in (respondent, respondent2):
        ok(
            client_for(user).post(
                f"{base}/responses/",
                {"kind": "draft_report_comment", "body": "My comments."},
                format="multipart",
            ),
            201,
        )
    ok(chair_client.post(f"{base}/transitions/", {"name": "submit_final_report"}, format="json"))

    # 8. The deciding official decides; parties now see their findings.
    ok(
        client_for(deciding_official).post(
            f"{base}/transitions/", {"name": "decide"}, format="json"
        )
    )
    alex_findings = ok(client_for(respondent).get(f"{base}/findings/"))["results"]
    assert [f["outcome"] for f in alex_findings] == ["misconduct"]
    assert alex_findings[0]["votes"] == []  # votes stay with the committee
    sam_findings = ok(client_for(respondent2).get(f"{base}/findings/"))["results"]
    assert [f["outcome"] for f in sam_findings] == ["no_misconduct"]
    ok(
        office.post(
            f"{base}/sanctions/",
            {
                "respondent": respondents["Alex Kim"],
                "kind": "takedown",
                "description": "Take down VisionLlama-7B.",
            },
            format="json",
        ),
        201,
    )
    no_basis = office.post(
        f"{base}/sanctions/",
        {"respondent": respondents["Sam Patel"], "kind": "apology", "description": "x"},
        format="json",
    )
    assert no_basis.status_code == 409

    # 9. Alex appeals; the appeal panel denies it, which closes the case.
    appeal = ok(
        client_for(respondent).post(
            f"{base}/appeals/", {"grounds": "The noise analysis is wrong."}, format="json"
        ),
        201,
    )
    assert Case.objects.get(number=number).state == "appeal"
    ok(
        client_for(appeal_panel).post(
            f"{base}/appeals/{appeal['id']}/decide/",
            {"status": "denied", "decision": "The analysis stands."},
            format="json",
        )
    )
    closed = ok(office.get(f"{base}/"))
    assert closed["state"] == "closed"
    closed_on = timezone.now().date()
    assert closed["retain_until"] == closed_on.replace(year=closed_on.year + 7).isoformat()
    sanction = ok(office.get(f"{base}/sanctions/"))["results"][0]
    ok(
        office.post(
            f"{base}/sanctions/{sanction['id']}/complete/",
            {"status": "done", "proof": "Model page returns 404 since 2026-11-20."},
            format="json",
        )
    )

    # 10. Writes after closure are refused; the timeline tells the whole story in order.
    late = client_for(respondent).post(
        f"{base}/responses/", {"kind": "statement", "body": "More."}, format="multipart"
    )
    assert late.status_code == 409
    kinds = [e["kind"] for e in ok(office.get(f"{base}/timeline/?page_size=500"))["results"]]
    for expected in (
        "report_filed",
        "case_opened",
        "member_added",
        "transition",
        "clock_started",
        "clock_extended",
        "response_submitted",
        "finding_recorded",
        "appeal_filed",
        "appeal_decided",
        "sanction_completed",
    ):
        assert expected in kinds, expected
    assert not Clock.objects.filter(case__number=number, status="running").exists()
    assert kinds[0] == "report_filed"  # the timeline starts with the report, filed before the case
    assert (
        kinds.count("transition")
        == TimelineEvent.objects.filter(case__number=number, kind="transition").count()
        == 8
    )
