"""The client address that sign-in throttling counts failures against.

django-axes keys its per-address counter on what this returns. Without trusted proxies
(TRUSTED_PROXY_COUNT=0) it is REMOTE_ADDR: X-Forwarded-For is the client's to write, and
trusting it would let an attacker pick a fresh address for every guess. Behind N proxies
that each append the address they saw, the client is the Nth entry from the right: the
entries left of it are again the client's own writing.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if len(forwarded) < proxies:
        # Fewer hops than proxies: the request did not come through all of them (or a
        # proxy is misconfigured); the direct peer is the only address we know.
        return remote
    return forwarded[-proxies]
