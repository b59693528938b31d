from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def describe_validation_error(exc: ValidationError) -> str:
    """'slug: Tenant with this Slug already exists.' — one line naming each bad field."""
    if hasattr(exc, "message_dict"):
        return "; ".join(
            " ".join(messages) if field == NON_FIELD_ERRORS else f"{field}: {' '.join(messages)}"
            for field, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)
