"""The audit log: user actions on scans, agents and findings — who, what, when.

Services record their action with `audit_record` inside their own transaction, so an
action and its record commit or roll back together. Only people's actions are recorded:
a service called without `by` (the scheduler, an ingest, an operator command) is the
system acting, which the runs and command events already tell.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q

from rediverio.logs import current_request_id
from rediverio.models import AuditAction, AuditEvent, Membership

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from rediverio.models import Tenant

PAGE_SIZE = 50


def _plain(value: Any) -> Any:
    """A JSON-safe picture of a field value (names for rows, text for the rest)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | uuid.UUID | decimal.Decimal):
        return str(value)
    return str(value)


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list]:
    """{field: [before, after]} for the fields whose value changed."""
    return {
        name: [_plain(before.get(name)), _plain(value)]
        for name, value in after.items()
        if _plain(before.get(name)) != _plain(value)
    }


def _event(
    *,
    tenant: Tenant | uuid.UUID,
    by: User,
    action: AuditAction,
    target: models.Model,
    details: Mapping[str, Any] | None,
) -> AuditEvent:
    return AuditEvent(
        tenant_id=getattr(tenant, "pk", tenant),
        actor=by,
        actor_name=by.get_username(),
        action=action,
        target_type=target._meta.model_name or "",  # None only before the class is built
        target_id=str(target.pk),
        target_name=str(target)[:200],
        details=_plain(dict(details or {})),
        request_id=current_request_id(),
    )


def audit_record(
    *,
    tenant: Tenant | uuid.UUID,  # or its id, where only that is at hand
    by: User | AnonymousUser | None,
    action: AuditAction,
    target: models.Model,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent | None:
    """Record that `by` did `action` to `target`; nothing when no person acted."""
    if by is None or not by.is_authenticated:
        return None
    event = _event(tenant=tenant, by=by, action=action, target=target, details=details)
    event.save(force_insert=True)
    return event


def audit_record_many(
    *,
    tenant: Tenant,
    by: User | AnonymousUser | None,
    action: AuditAction,
    entries: Iterable[tuple[models.Model, Mapping[str, Any]]],
) -> None:
    """The same action on many (target, details) (bulk triage): one INSERT in all."""
    if by is None or not by.is_authenticated:
        return
    AuditEvent.objects.bulk_create(
        _event(tenant=tenant, by=by, action=action, target=target, details=details)
        for target, details in entries
    )


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class AuditFilters:
    action: str = ""  # an action, or a family ("scan", "agent"…)
    actor: str = ""  # a user name
    target: str = ""  # a target's id


class AuditFilterInvalid(ValueError):
    """A filter the log cannot be searched by; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# The filters' query parameters and their columns' sizes (AuditEvent.action,
# actor_name, target_id): a longer value cannot match, and is cut as before.
_FILTER_SIZES = {"action": 64, "actor": 150, "target": 64}


def audit_filters_from(query: Mapping[str, str]) -> AuditFilters:
    """The filters of a query string. A NUL character, which PostgreSQL text cannot
    hold (the lookup would fail in the database: a 500), is refused naming its field."""
    values = {name: str(query.get(name, ""))[:size] for name, size in _FILTER_SIZES.items()}
    for name, value in values.items():
        if "\x00" in value:
            raise AuditFilterInvalid(name, "null characters are not allowed")
    return AuditFilters(**values)


@dataclass(frozen=True, slots=True)
class AuditPage:
    events: list[AuditEvent]
    next_cursor: str | None  # None on the last page


def audit_events_page(
    *, tenant: Tenant, filters: AuditFilters, after: str = "", size: int = PAGE_SIZE
) -> AuditPage:
    """The tenant's events, newest first, by keyset on (time, id).

    `after` is the `next_cursor` of the previous page; ValueError when it is not one.
    """
    events = AuditEvent.objects.for_tenant(tenant)
    if filters.action in AuditAction.values:
        events = events.filter(action=filters.action)
    elif filters.action:
        events = events.filter(action__startswith=f"{filters.action}.")
    if filters.actor:
        events = events.filter(actor_name=filters.actor)
    if filters.target:
        events = events.filter(target_id=filters.target)
    if after:
        at, pk = _decode_cursor(after)
        events = events.filter(Q(at__lt=at) | Q(at=at, id__lt=pk))
    rows = list(events.order_by("-at", "-id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return AuditPage(rows, _encode_cursor(rows[-1]) if more else None)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def _encode_cursor(event: AuditEvent) -> str:
    """URL-safe and exact: the time in microseconds since the epoch, then the id."""
    return f"{(event.at - _EPOCH) // _MICROSECOND}~{event.id}"


def _decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    micros, _, pk = cursor.partition("~")
    try:
        return _EPOCH + int(micros) * _MICROSECOND, uuid.UUID(pk)
    except OverflowError as exc:
        raise ValueError(f"not a cursor: {cursor!r}") from exc


def _shown(value: Any) -> str:
    if value in (None, "", [], {}):
        return "—"
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    return str(value)


def audit_event_lines(event: AuditEvent) -> list[str]:
    """The event's details in words: "status: active → paused", "note: …"."""
    details = dict(event.details or {})
    lines = [
        f"{name}: {_shown(before)} → {_shown(after)}"
        for name, (before, after) in details.pop("changes", {}).items()
    ]
    return lines + [f"{name}: {_shown(value)}" for name, value in details.items()]


def audit_actors(*, tenant: Tenant) -> list[str]:
    """The team's members' names, for the filter (former members can still be typed)."""
    return sorted(Membership.objects.for_tenant(tenant).values_list("user__username", flat=True))
