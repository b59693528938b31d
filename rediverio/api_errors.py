"""One error shape for every API response: {"error": {"code", "message", "details"}}.

A service's refusal (`rediverio/errors.py`, `ServiceError`) and a report's (protocol's
`ReportError`, `LimitExceeded`) are mapped here, once: API views call services without
catching what they refuse."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from protocol.limits import LimitExceeded
from protocol.report import ReportError
from rediverio.errors import ServiceError
from rediverio.logs import current_request_id

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

    # Seconds the client should wait: DRF's exception handler sends it as `Retry-After`.
    wait: float | None = None

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
    if isinstance(exc, ServiceError):
        exc = ApiError(exc.status, exc.code, str(exc), exc.details)
    elif isinstance(exc, ReportError | LimitExceeded):  # a report refused (protocol/)
        error = exc.error()
        exc = ApiError(exc.status, error["code"], error["message"], error["details"])
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


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Stable, e.g. VALIDATION_ERROR, NOT_FOUND, LEASE_CONFLICT."
    )
    message = serializers.CharField(help_text="For people; names the field at fault, if any.")
    details = serializers.JSONField(
        help_text="The message per field for invalid input; otherwise context, often empty."
    )


class ErrorSerializer(serializers.Serializer):
    """The one shape of every API error reply."""

    error = ErrorBodySerializer()


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's own 400s (handler400) in the API's error shape: a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE (413 here) or with too many form fields is refused
    before any view runs, with an HTML page otherwise."""
    if not request.path.startswith("/api/"):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        body = error_body("PAYLOAD_TOO_LARGE", "The request body is too large.")
        return JsonResponse(body, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    message = str(exception) if exception else "Bad request."
    return JsonResponse(error_body("BAD_REQUEST", message), status=status.HTTP_400_BAD_REQUEST)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 page (handler500) in the API's error shape for /api/ paths, so an
    agent or a script reads `{"error": …}` rather than an HTML page; people keep the
    page. Unhandled exceptions still reach it through Django (DRF re-raises them), so
    they are logged with their traceback first. The request id lets an operator find
    that log entry; nothing of the exception is shown."""
    if not request.path.startswith("/api/"):
        return defaults.server_error(request)
    request_id = getattr(request, "request_id", "") or current_request_id()
    body = error_body(
        "INTERNAL_ERROR",
        "The server failed to answer this request; it has been logged.",
        {"request_id": request_id} if request_id else {},
    )
    return JsonResponse(body, status=status.HTTP_500_INTERNAL_SERVER_ERROR)


def refuse_null_characters(query: Any) -> None:
    """A 400 for a query parameter holding NUL, which PostgreSQL text cannot hold: the
    filter or search it feeds would fail in the database, a 500."""
    bad = sorted({name for name, values in query.lists() if any("\x00" in v for v in values)})
    if bad:
        raise exceptions.ValidationError(
            {name: ["Null characters are not allowed."] for name in bad}
        )


def error_reply(description: str) -> OpenApiResponse:
    """An error reply for `extend_schema(responses={409: error_reply("…")})`."""
    return OpenApiResponse(ErrorSerializer, description=description)


class ApiAutoSchema(AutoSchema):
    """Documents the error replies every operation can give, all with the error
    envelope: 400 when it reads input, 401 and 403 (it needs credentials), 404 when its
    path names an object, 413 and 415 when it reads a body, 429 when it is rate
    limited. Views add their own (409…) with `extend_schema(responses=…)`; an error
    reply they declare with a description only gets the envelope too."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code, description in self._error_replies(operation).items():
            responses.setdefault(code, {"description": description})
        for code, reply in responses.items():
            if code.startswith("4") and "content" not in reply:
                reply["content"] = self._get_response_for_code(ErrorSerializer, code)["content"]
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_replies(self, operation: dict) -> dict[str, str]:
        where = {parameter["in"] for parameter in operation.get("parameters", [])}
        body = "requestBody" in operation
        replies = {}
        if body or "query" in where:
            replies["400"] = "Invalid input: `details` has the message per field."
        if operation.get("security"):
            replies["401"] = "Missing, unknown, revoked or expired credentials."
            replies["403"] = "Not allowed: role, plan module, or a disabled agent or team."
        if "path" in where:
            replies["404"] = "No such object in the caller's team."
        if body:
            replies["413"] = "The body is larger than the server accepts."
            replies["415"] = "A Content-Type the operation does not read."
        if getattr(self.view, "throttle_classes", None):
            replies["429"] = "Too many requests; retry after `Retry-After` seconds."
        return replies
