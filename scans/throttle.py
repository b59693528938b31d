"""One limit on manual scan triggers, whatever the path: the API and the dashboard.

Both count against the same per-user bucket in the cache (SCAN_TRIGGER_RATE, default
20/min), so a user cannot get twice the rate by alternating between the button and the
API. The API uses `TriggerThrottle` as a DRF throttle (429 in the error shape, with
Retry-After); the dashboard view asks `trigger_wait` and shows a message instead.
With Redis the bucket is shared by every web worker; with the local-memory cache it is
per worker process (see CACHES in settings).
"""

from __future__ import annotations

import math

from django.conf import settings
from django.http import HttpRequest
from rest_framework.throttling import UserRateThrottle


class TriggerThrottle(UserRateThrottle):
    """Manual triggers per user (SCAN_TRIGGER_RATE, default 20/min)."""

    scope = "scan_trigger"

    def get_rate(self) -> str:
        return settings.SCAN_TRIGGER_RATE


def trigger_wait(request: HttpRequest) -> int | None:
    """Count one trigger by the request's user: None when it is within the limit, else
    the whole seconds to wait before the next one is allowed (a refused attempt is not
    counted)."""
    throttle = TriggerThrottle()
    # A user-rate throttle reads only `.user` and `.META`, which a Django request has,
    # and no view; DRF's stubs ask for its own Request and a view.
    if throttle.allow_request(request, None):  # type: ignore[arg-type]
        return None
    return max(1, math.ceil(throttle.wait() or 1))
