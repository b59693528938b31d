"""Agent API keys: an opaque secret with a visible prefix, stored only as a digest.

A key looks like `rdv_3q2…`; we keep `sha256(key)` and its first 12 characters, so a
leaked database gives no usable key and an operator can still recognise one.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "rdv_"
VISIBLE_PREFIX_LENGTH = 12


def generate_agent_key() -> str:
    return f"{KEY_PREFIX}{secrets.token_urlsafe(32)}"


def digest_agent_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def visible_prefix(key: str) -> str:
    return key[:VISIBLE_PREFIX_LENGTH]
