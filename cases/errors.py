"""Errors that services raise; ``integrity.api.exception_handler`` maps them to HTTP responses.

A service refuses bad input by raising one of these *before* it writes anything, or inside the
transaction so that nothing it wrote is kept.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A refusal with a message meant for the user. ``status`` is the HTTP status it maps to."""

    status = 400
    code = "invalid"

    def __init__(
        self, message: str, *, field: str | None = None, extra: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}


class ValidationFailed(ApplicationError):
    status = 400
    code = "invalid"


class PermissionDenied(ApplicationError):
    """The user may see the case but may not do this."""

    status = 403
    code = "permission_denied"


class NotFound(ApplicationError):
    """Does not exist, or the user may not know that it exists (the two are not told apart)."""

    status = 404
    code = "not_found"


class Conflict(ApplicationError):
    """The request collides with the current state (stale version, duplicate, closed clock)."""

    status = 409
    code = "conflict"
