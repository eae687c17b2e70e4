"""Times are stored in UTC and shown in the user's zone.

The zone comes from the ``X-Timezone`` request header (API clients) or the ``slipcase_tz`` cookie
(the browser pages set it from the browser's own zone), and falls back to the institution's zone
(``SLIPCASE_TIME_ZONE``). DRF and templates render aware datetimes in the active zone.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

HEADER = "HTTP_X_TIMEZONE"
COOKIE = "slipcase_tz"


def zone_from_request(request: HttpRequest) -> ZoneInfo:
    """The zone the request asks for, or the institution's zone if none or an unknown one."""
    for name in (request.META.get(HEADER, ""), request.COOKIES.get(COOKIE, "")):
        name = name.strip()
        if not name or len(name) > 64:
            continue
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo(getattr(settings, "SLIPCASE_TIME_ZONE", "UTC"))


class UserTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with timezone.override(zone_from_request(request)):
            return self.get_response(request)
