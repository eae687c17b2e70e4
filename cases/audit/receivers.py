"""Logins, logouts, failed logins and permission changes go to the audit log.

Signals are the one hook ``django.contrib.auth`` offers, so this is the one place Slipcase uses
them (``CasesConfig.ready`` connects them). A failed login records the username that was tried,
never the password.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import m2m_changed, pre_save
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


PERMISSION_FLAGS = ("is_active", "is_staff", "is_superuser")


def on_groups_changed(
    sender: Any, instance: Any, action: str, model: Any, pk_set: set[int] | None, **kwargs: Any
) -> None:
    """A user's groups or permissions changed (e.g. joining the integrity office)."""
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    user_model = get_user_model()
    if isinstance(instance, user_model):
        users, names = [instance], sorted(str(o) for o in model.objects.filter(pk__in=pk_set or []))
    else:  # changed from the group's side: group.user_set.add(...)
        users, names = list(user_model.objects.filter(pk__in=pk_set or [])), [str(instance)]
    what = "groups" if "group" in sender._meta.model_name else "permissions"
    with transaction.atomic():
        for user in users:
            audit_append(
                kind="permission.changed",
                payload={
                    "user": user.get_username(),
                    "change": what,
                    "action": action.removeprefix("post_"),
                    "names": names,
                },
            )


def on_user_saved(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """Changes of a user's active, staff or superuser flag."""
    if raw or instance.pk is None:
        return
    before = sender.objects.filter(pk=instance.pk).values(*PERMISSION_FLAGS).first()
    if before is None:
        return
    changed = {
        f: getattr(instance, f) for f in PERMISSION_FLAGS if before[f] != getattr(instance, f)
    }
    if changed:
        with transaction.atomic():
            audit_append(
                kind="permission.changed",
                payload={"user": instance.get_username(), "change": "flags", "flags": changed},
            )


def connect() -> None:
    user_model = get_user_model()
    m2m_changed.connect(
        on_groups_changed, sender=user_model.groups.through, dispatch_uid="slipcase-audit-groups"
    )
    m2m_changed.connect(
        on_groups_changed,
        sender=user_model.user_permissions.through,
        dispatch_uid="slipcase-audit-user-permissions",
    )
    pre_save.connect(on_user_saved, sender=user_model, dispatch_uid="slipcase-audit-user-flags")
    user_logged_in.connect(on_logged_in, dispatch_uid="slipcase-audit-login")
    user_logged_out.connect(on_logged_out, dispatch_uid="slipcase-audit-logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="slipcase-audit-login-failed")
