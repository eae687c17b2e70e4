"""API error mapping: service errors and Django validation become clear 4xx JSON responses.

Every error body has the same shape: ``{"error": {"code": ..., "message": ..., "field": ...}}``
(``field`` and ``extra`` only when known), so that clients show the message as it is.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404
from rest_framework import exceptions, pagination, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cases.errors import ApplicationError


def _body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    if extra:
        error["extra"] = extra
    return {"error": error}


def _flatten(detail: Any, prefix: str = "") -> list[tuple[str, str]]:
    """DRF's nested validation detail as (field path, message) pairs."""
    if isinstance(detail, dict):
        pairs = []
        for key, value in detail.items():
            path = key if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors":
                path = prefix
            pairs.extend(_flatten(value, path))
        return pairs
    if isinstance(detail, list):
        pairs = []
        for i, value in enumerate(detail):
            path = prefix if not isinstance(value, dict | list) else f"{prefix}[{i}]"
            pairs.extend(_flatten(value, path))
        return pairs
    return [(prefix, str(detail))]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(_body(exc.code, exc.message, exc.field, **exc.extra), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        messages = " ".join(exc.messages)
        return Response(_body("invalid", messages), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DataError):
        return Response(
            _body("invalid", "A value is too long or has the wrong form for its field."),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        pairs = _flatten(exc.detail)
        field, _ = pairs[0] if pairs else ("", "")
        message = "; ".join(f"{f}: {m}" if f else m for f, m in pairs) or "Invalid input."
        response.data = _body("invalid", message, field or None, fields=exc.detail)
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        message = str(detail) if not isinstance(detail, dict | list) else str(detail)
        response.data = _body(
            str(exc.get_codes()) if isinstance(exc.get_codes(), str) else exc.default_code, message
        )
    return response


class Pagination(pagination.PageNumberPagination):
    """Page numbers, 50 a page by default; ``?page_size=`` up to 500."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
