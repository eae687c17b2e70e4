"""The admin is read-only and applies the access gate to staff who are not superusers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from cases.models import Case, Note
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def staff_client(user: User) -> Client:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client


def test_staff_office_member_sees_the_case_in_the_admin(case: Case, officer: User) -> None:
    page = staff_client(officer).get("/admin/cases/case/")
    assert page.status_code == 200
    assert case.number in page.content.decode()


def test_staff_without_access_see_no_case_and_get_no_detail(case: Case, outsider: User) -> None:
    client = staff_client(outsider)
    page = client.get("/admin/cases/case/")
    assert page.status_code == 200
    assert case.number not in page.content.decode()
    detail = client.get(f"/admin/cases/case/{case.pk}/change/")
    assert detail.status_code == 302  # the admin redirects to its index for objects it can't find
    assert case.title not in client.get(detail["Location"]).content.decode()


def test_a_recused_staff_member_sees_nothing_of_the_case_in_the_admin(
    case: Case, recused: User
) -> None:
    client = staff_client(recused)
    assert case.number not in client.get("/admin/cases/case/").content.decode()
    assert client.get("/admin/cases/timelineevent/").content.decode().count(case.number) == 0


def test_the_admin_cannot_change_or_delete_case_data(case: Case) -> None:
    root = UserFactory.create(username="root", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(root)
    response = client.post(
        f"/admin/cases/case/{case.pk}/change/", {"title": "Changed behind the timeline"}
    )
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.title != "Changed behind the timeline"
    assert client.get(f"/admin/cases/case/{case.pk}/delete/").status_code == 403


def test_personal_notes_stay_personal_in_the_admin(case: Case, chair: User, member: User) -> None:
    note = Note.objects.create(
        case=case, author=chair, visibility="personal", body="Chair's own thought"
    )
    url = f"/admin/cases/note/{note.pk}/change/"
    own = staff_client(chair).get(url)
    assert own.status_code == 200 and "own thought" in own.content.decode()
    assert staff_client(member).get(url).status_code == 302  # not found for anyone else
