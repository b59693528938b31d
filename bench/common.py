"""What every benchmark needs: a PostgreSQL database of its own."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

SERVER_URL = "postgres://postgres@127.0.0.1:5432"
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}


def bench_database(name: str) -> tuple[str, bool]:
    """DATABASE_URL when it names a PostgreSQL database; otherwise a fresh throw-away
    database `name` on the local server. Returns the URL and whether it is throw-away."""
    url = os.environ.get("DATABASE_URL", "")
    if urlsplit(url).scheme.lower() in POSTGRES_SCHEMES:
        return url, False
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return f"{SERVER_URL}/{name}", True
