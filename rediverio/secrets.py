"""Opaque bearer secrets (agent keys, user API tokens): a visible prefix, a random body,
and only a SHA-256 digest at rest, so a leaked database yields no usable secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

VISIBLE_PREFIX_LENGTH = 12


class StoredSecret(Protocol):
    digest: str


S = TypeVar("S", bound=StoredSecret)


def generate_secret(kind: str) -> str:
    """`rdv_…` for agent keys, `rdu_…` for user tokens; 256 bits of randomness."""
    return f"{kind}_{secrets.token_urlsafe(32)}"


def digest_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def visible_prefix(secret: str) -> str:
    return secret[:VISIBLE_PREFIX_LENGTH]


def matching_secret(candidates: Iterable[S], secret: str) -> S | None:
    """The stored row whose digest is the secret's, compared in constant time."""
    digest = digest_secret(secret)
    return next((c for c in candidates if hmac.compare_digest(c.digest, digest)), None)


def bearer_token(request) -> str | None:
    """The token of `Authorization: Bearer <token>`, if any."""
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def record_use(stored, now: datetime) -> None:
    """Note a secret's last use at most once a minute: a write per request would turn
    every agent poll into a hot-row update."""
    if stored.last_used_at is None or now - stored.last_used_at > timedelta(minutes=1):
        type(stored).objects.filter(pk=stored.pk).update(last_used_at=now)
