"""One error shape for every API response: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ValidationError: "VALIDATION_ERROR",
    exceptions.ParseError: "INVALID_BODY",
    exceptions.NotAuthenticated: "UNAUTHORIZED",
    exceptions.AuthenticationFailed: "UNAUTHORIZED",
    exceptions.PermissionDenied: "FORBIDDEN",
    exceptions.NotFound: "NOT_FOUND",
    exceptions.MethodNotAllowed: "METHOD_NOT_ALLOWED",
    exceptions.NotAcceptable: "NOT_ACCEPTABLE",
    exceptions.UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
    exceptions.Throttled: "RATE_LIMITED",
}


class ApiError(exceptions.APIException):
    """An error with our own code, e.g. ApiError(409, "LEASE_CONFLICT", "...")."""

    def __init__(
        self, status_code: int, code: str, message: str, details: Any | None = None
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.details = details or {}


def error_body(code: str, message: str, details: Any | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _first_message(detail: Any, path: str = "") -> str:
    """'findings[3].severity: "bogus" is not a valid choice.' from nested DRF errors."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                child = path
            elif isinstance(key, int):  # DRF keys list-item errors by index
                child = f"{path}[{key}]"
            else:
                child = key if not path else f"{path}.{key}"
            return _first_message(value, child)
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list) and value:
                return _first_message(value, f"{path}[{index}]")
            if value:
                return f"{path}: {value}" if path else str(value)
    return f"{path}: {detail}" if path else str(detail)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        body = error_body(exc.error_code, str(exc.detail), exc.details)
    elif isinstance(exc, exceptions.ValidationError):
        body = error_body("VALIDATION_ERROR", _first_message(exc.detail), exc.detail)
    else:
        code = next(
            (name for cls, name in _CODES.items() if isinstance(exc, cls)),
            "ERROR" if response.status_code != status.HTTP_404_NOT_FOUND else "NOT_FOUND",
        )
        detail = getattr(exc, "detail", str(exc))
        body = error_body(code, str(detail))
    response.data = body
    return response
