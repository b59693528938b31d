"""Request ids and structured logs.

Every request gets an id — the caller's `X-Request-ID` when it sends a sane one (a load
balancer or an agent), else a new one —, returned in the response and attached to every
log line written while the request runs, so one request can be followed across workers.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from rediverio.http import MiddlewareRequest

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# A caller's id is kept only in this shape: it is echoed in a header, written in every log
# line and stored in the audit log, so no spaces, quotes, markup or control characters, and
# short enough for any column. Load balancers' and agents' ids (hex, UUIDs) fit.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def current_request_id() -> str:
    """The id of the request being served ("" outside a request)."""
    request_id = _request_id.get()
    return "" if request_id == "-" else request_id


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: MiddlewareRequest) -> HttpResponse:
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        # fullmatch: `$` in a pattern would also accept a trailing newline.
        request_id = given if _SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request.request_id = request_id
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)
