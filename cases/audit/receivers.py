"""Logins, logouts and failed logins go to the audit log.

Signals are the one hook ``django.contrib.auth`` offers, so this is the one place Slipcase uses
them (``CasesConfig.ready`` connects them). A failed login records the username that was tried,
never the password.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.http import HttpRequest

from cases.audit.services import audit_append

MAX_USERNAME = 150


def _request_details(request: HttpRequest | None) -> dict[str, Any]:
    if request is None:
        return {}
    meta = getattr(request, "META", {})
    return {"ip": str(meta.get("REMOTE_ADDR") or "")[:64] or None}


def on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    with transaction.atomic():
        audit_append(kind="auth.login", actor=user, payload=_request_details(request))


def on_logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is None or not user.is_authenticated:
        return  # logging out an anonymous session changes nothing
    with transaction.atomic():
        audit_append(kind="auth.logout", actor=user, payload=_request_details(request))


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    field = get_user_model().USERNAME_FIELD
    tried = credentials.get(field, credentials.get("username")) or ""
    payload = {"username": str(tried)[:MAX_USERNAME], **_request_details(request)}
    with transaction.atomic():
        audit_append(kind="auth.login_failed", payload=payload)


def connect() -> None:
    user_logged_in.connect(on_logged_in, dispatch_uid="slipcase-audit-login")
    user_logged_out.connect(on_logged_out, dispatch_uid="slipcase-audit-logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="slipcase-audit-login-failed")
