"""The case page: exhibits with hashes and custody for the committee; disclosed exhibits only,
without custody, for a respondent; nothing for anyone else."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from cases.evidence import services as evidence
from cases.models import Case

pytestmark = pytest.mark.django_db


def page(user: User | None, case: Case) -> tuple[int, str]:
    client = Client()
    if user is not None:
        client.force_login(user)
    response = client.get(f"/cases/{case.number}/")
    return response.status_code, response.content.decode()


@pytest.fixture
def exhibits(case: Case, officer: User, access_for):
    access = access_for(officer, case)
    shown = evidence.evidence_upload(
        access=access,
        upload=SimpleUploadedFile("notice.txt", b"Notice of allegations"),
        kind="document",
        description="Notice of allegations",
    )
    hidden = evidence.evidence_upload(
        access=access,
        upload=SimpleUploadedFile("memo.txt", b"<script>alert(1)</script> internal memo"),
        kind="document",
        description="Internal memo <script>alert(1)</script>",
    )
    evidence.evidence_disclose(access=access, item=shown, to="respondent")
    return shown, hidden


def test_the_committee_sees_every_exhibit_with_its_hash_and_custody(
    case: Case, officer: User, exhibits
) -> None:
    shown, hidden = exhibits
    status, html = page(officer, case)
    assert status == 200
    assert shown.sha256 in html and hidden.sha256 in html
    assert "E-1" in html and "E-2" in html
    assert "Disclosed" in html and "hash verified" in html  # custody chain rendered
    assert "<script>alert(1)</script>" not in html  # untrusted text is escaped
    assert "&lt;script&gt;" in html


def test_a_respondent_sees_only_disclosed_exhibits_and_no_custody(
    case: Case, respondent: User, exhibits
) -> None:
    shown, hidden = exhibits
    status, html = page(respondent, case)
    assert status == 200
    assert shown.sha256 in html and hidden.sha256 not in html
    assert "Internal memo" not in html and "hash verified" not in html


def test_outsiders_get_not_found_and_visitors_are_sent_to_log_in(
    case: Case, outsider: User, recused: User
) -> None:
    assert page(outsider, case)[0] == 404
    assert page(recused, case)[0] == 404
    response = Client().get(f"/cases/{case.number}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
