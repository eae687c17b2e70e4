"""Times are stored in UTC and shown in the zone the user asks for."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from cases import services
from cases.models import Case

pytestmark = pytest.mark.django_db


@pytest.fixture
def opened(officer: User) -> Case:
    return services.case_open(actor=officer, workflow="research_misconduct", title="Zones")


def created_at(client: APIClient, case: Case, **headers: str) -> str:
    response = client.get(f"/api/v1/cases/{case.number}/", **headers)  # type: ignore[arg-type]
    assert response.status_code == 200
    return str(response.json()["created_at"])


def test_api_times_are_shown_in_the_zone_named_by_the_header(officer: User, opened: Case) -> None:
    client = APIClient()
    client.force_authenticate(officer)
    assert created_at(client, opened).endswith("Z")  # institution zone (UTC in tests)
    shanghai = created_at(client, opened, HTTP_X_TIMEZONE="Asia/Shanghai")
    assert shanghai.endswith("+08:00")


def test_the_cookie_sets_the_zone_and_an_unknown_zone_falls_back(
    officer: User, opened: Case
) -> None:
    client = APIClient()
    client.force_authenticate(officer)
    client.cookies["slipcase_tz"] = "Asia/Kolkata"
    assert created_at(client, opened).endswith("+05:30")
    assert created_at(client, opened, HTTP_X_TIMEZONE="Mars/Olympus_Mons").endswith("+05:30")
    del client.cookies["slipcase_tz"]
    assert created_at(client, opened, HTTP_X_TIMEZONE="../../etc/passwd").endswith("Z")


def test_stored_times_stay_utc_whatever_zone_the_user_asks_for(officer: User, opened: Case) -> None:
    client = APIClient()
    client.force_authenticate(officer)
    created_at(client, opened, HTTP_X_TIMEZONE="America/New_York")
    opened.refresh_from_db()
    offset = opened.created_at.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
