"""Time-ordered UUIDs (RFC 9562 version 7).

Random v4 keys scatter inserts across the whole primary-key index; v7 keys grow with
time, so bulk ingests append to the right edge of the B-tree and keyset pagination by
id follows creation order.

Within one process the ids also grow within a millisecond (RFC 9562 §6.2, method 1:
`rand_a` is a counter started at a random value below its middle), so rows made one
after another in the same millisecond (the audit events of one request) keep their
order. A clock that steps back keeps counting from the last millisecond used.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_COUNTER_MAX = 0xFFF
_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    global _last_ms, _counter
    rand = int.from_bytes(os.urandom(10), "big")
    with _lock:
        unix_ms = time.time_ns() // 1_000_000
        if unix_ms > _last_ms:
            _last_ms, _counter = unix_ms, (rand >> 62) & 0x7FF
        elif _counter < _COUNTER_MAX:
            _counter += 1
        else:  # 4,096 ids in one millisecond: borrow the next one
            _last_ms, _counter = _last_ms + 1, 0
        unix_ms, counter = _last_ms, _counter
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= counter << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    return uuid.UUID(int=value)
