"""One error format for the whole REST API.

    {"error": {"code": "not_found", "message": "…", "fields": {"name": ["…"]}}}

``fields`` is present for validation errors only; its keys are field names (or JSON pointers
for parameters). Django ValidationError, Http404 and PermissionDenied raised by services are
translated too, so services need not know about DRF.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

log = logging.getLogger(__name__)


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [msg for value in detail.values() for msg in _flatten(value)]
    if isinstance(detail, list):
        return [msg for value in detail for msg in _flatten(value)]
    return [str(detail)]


def _fields(detail) -> dict:
    if isinstance(detail, dict):
        return {key: [str(m) for m in _flatten(value)] for key, value in detail.items()}
    return {"non_field_errors": [str(m) for m in _flatten(detail)]}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "You do not have permission to do this.")

    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: Django's 500 handler answers in JSON for /api/ (portal.views)

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        fields = _fields(exc.detail)
        first = next(iter(fields.values()))[0] if fields else "Invalid input."
        body = error_body("invalid", f"Invalid input: {first}", fields)
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        message = " ".join(_flatten(exc.detail))
        body = error_body(code, message)
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


def json_error(code: str, message: str, status_code: int) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


__all__ = ["exception_handler", "error_body", "json_error", "status"]
