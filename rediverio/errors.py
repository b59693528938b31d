"""The one error type a service raises when it refuses what it was asked.

A service says *why* it refuses (the message, for people) and *what kind* of refusal it
is: the HTTP status and the stable code the API answers with. The API maps a
`ServiceError` to its error shape in one place (`rediverio/api_errors.py`,
`api_exception_handler`), so an API view calls the service and lets the refusal
through; a page shows `str(error)` to the person who asked.

Plain Python: services, forms, value objects and management commands raise these
without importing anything of the web layer.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    """A refusal the caller can act on; subclasses set `status` and `code`."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "INVALID"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class InputInvalid(ServiceError, ValueError):
    """Values that cannot be accepted, as a serializer would refuse them: `field` names
    the first at fault and `details` holds the message of every field at fault."""

    status = 400
    code = "VALIDATION_ERROR"

    def __init__(
        self, field: str, message: str, details: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(f"{field}: {message}", details or {field: [message]})
        self.field = field
        self.message = message


class PlanLimitReached(ServiceError):
    """The team's plan allows no more of something (rediverio/plans.py)."""

    status = 403
    code = "PLAN_LIMIT"


class NotAllowed(ServiceError):
    """Refused whoever asks: the object is not one that may be changed this way."""

    status = 403
    code = "FORBIDDEN"


class Conflict(ServiceError):
    """Refused because of the object's present state; it may succeed later."""

    status = 409
    code = "CONFLICT"
