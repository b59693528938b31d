"""Small database helpers shared by every app's models."""

from __future__ import annotations

from django.db import models


def check_constraint_for(
    field: str, choices: type[models.Choices], *, name: str, allow_blank: bool = False
):
    """A CHECK constraint holding a status/type column to its TextChoices values, so a
    raw SQL write or a bulk update cannot store a state the code does not know.
    `allow_blank` admits "" for columns where "unknown" is a legitimate answer."""
    values = [*choices.values, ""] if allow_blank else list(choices.values)
    return models.CheckConstraint(condition=models.Q(**{f"{field}__in": values}), name=name)


def text_choices_from(enum_cls: type, *, labels: dict[str, str] | None = None) -> type:
    """Mirror a Django-free StrEnum of `findings.rules` as TextChoices, so the rules and
    the database speak the same values and the database cannot drift from the rules."""
    labels = labels or {}
    members = [
        (member.name, (member.value, labels.get(member.value, _label(member.value))))
        for member in enum_cls
    ]
    return models.TextChoices(enum_cls.__name__, members)


def _label(value: str) -> str:
    return value.replace("_", " ").capitalize()
