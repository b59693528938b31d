from __future__ import annotations

import pytest
from django.db import connection


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(
        reason=f"needs PostgreSQL; this run uses {connection.vendor} (set DATABASE_URL)"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit buckets live in the cache, keyed by user id, and ids are reused between
    tests: start every test with none, whatever the test before it triggered."""
    from django.core.cache import cache

    cache.clear()
