"""Small database helpers shared by every app's models."""

from __future__ import annotations

import time
from enum import StrEnum

from django.db import connection, models
from django.db.models import Field, Model
from django.db.models.fields.json import ContainedBy


def check_constraint_for(
    field: str, choices: type[models.Choices], *, name: str, allow_blank: bool = False
):
    """A CHECK constraint holding a status/type column to its TextChoices values, so a
    raw SQL write or a bulk update cannot store a state the code does not know.
    `allow_blank` admits "" for columns where "unknown" is a legitimate answer."""
    values = [*choices.values, ""] if allow_blank else list(choices.values)
    return models.CheckConstraint(condition=models.Q(**{f"{field}__in": values}), name=name)


def text_choices_from(
    enum_cls: type[StrEnum], *, labels: dict[str, str] | None = None
) -> type[models.TextChoices]:
    """Mirror a Django-free StrEnum of `findings.rules` as TextChoices, so the rules and
    the database speak the same values and the database cannot drift from the rules."""
    labels = labels or {}
    members = [
        (member.name, (member.value, labels.get(member.value, _label(member.value))))
        for member in enum_cls
    ]
    # The functional Enum API: mypy types it only for literal member lists.
    return models.TextChoices(enum_cls.__name__, members)  # type: ignore[call-overload]


def _label(value: str) -> str:
    return value.replace("_", " ").capitalize()


@models.JSONField.register_lookup
class SubsetOf(ContainedBy):
    """`tools__subset_of=["bandit", "semgrep"]`: every element of a JSON array of
    strings is in the given list. PostgreSQL uses jsonb `<@` (index-friendly); SQLite,
    which has no JSON containment, gets the same rule through json_each."""

    lookup_name = "subset_of"

    def as_sqlite(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        sql = (
            f"NOT EXISTS (SELECT 1 FROM json_each({lhs}) AS needed "
            f"WHERE needed.value NOT IN (SELECT offered.value FROM json_each({rhs}) AS offered))"
        )
        return sql, (*lhs_params, *rhs_params)


def execute_server_bound(sql: str, params: list) -> int:
    """Run one statement on PostgreSQL with server-side parameter binding, in the current
    transaction, and return its row count.

    Django's psycopg cursors bind on the client: every element of a 5,000-row array is
    quoted into the SQL text in Python, which costs more than the insert itself. Bound
    on the server, arrays travel as-is. The statement still appears in Django's query
    log, so query-count tests see it.
    """
    import psycopg  # PostgreSQL only; SQLite installs need not import it

    connection.ensure_connection()
    started = time.monotonic()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        count = cursor.rowcount
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return count


def concrete_field(model: type[Model], name: str) -> Field:
    """The model's field `name`, which must be a column (not a reverse relation)."""
    found = model._meta.get_field(name)
    assert isinstance(found, Field)
    return found


def column_of(field: Field) -> str:
    """A concrete field's column (the stubs allow None, for fields that have none)."""
    assert field.column is not None
    return field.column
