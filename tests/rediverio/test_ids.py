"""Ids (rediverio/lib/ids.py) grow in the order they are made, even within a millisecond
and when the clock steps back, so rows made in one request keep their order by id."""

from __future__ import annotations

import uuid
from unittest import mock

from rediverio.lib import ids


def test_ids_made_in_one_millisecond_grow():
    with mock.patch.object(ids.time, "time_ns", return_value=1_800_000_000_000_000_000):
        made = [ids.uuid7() for _ in range(5_000)]  # past the 4,096 of one millisecond
    assert made == sorted(made, key=lambda u: u.int)
    assert len(set(made)) == len(made)


def test_a_clock_stepping_back_does_not_make_ids_go_back():
    first = ids.uuid7()
    with mock.patch.object(ids.time, "time_ns", return_value=0):
        later = ids.uuid7()
    assert later.int > first.int


def test_they_are_version_7_with_the_rfc_variant():
    value = ids.uuid7()
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
