"""What every benchmark needs: a PostgreSQL database of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
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


ROOT = Path(__file__).resolve().parent.parent


def migrated_env(database: str, **extra: str) -> dict[str, str]:
    """The environment of a benchmark child process: its own migrated PostgreSQL
    database, production-like settings, quiet logs."""
    url, _ = bench_database(database)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only"),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return env


def run_child(module: str, env: dict[str, str], *args: str) -> dict:
    """Run `python -m <module> <args>` (a benchmark's measuring side, in a process of its
    own so its timings and memory are its alone) and return the JSON it prints last."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
