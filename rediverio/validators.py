"""Input rules shared by the API's serializers."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


def has_null_character(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_null_character(k) or has_null_character(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_null_character(item) for item in value)
    return False


def no_null_characters(value: Any) -> None:
    """For free-form JSON (configs, results): PostgreSQL's jsonb cannot hold NUL, so a
    string or key with one would fail in the database, a 500. DRF's CharField refuses
    NUL itself; its DictField and JSONField do not."""
    if has_null_character(value):
        raise serializers.ValidationError("Null characters are not allowed.")
