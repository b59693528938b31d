"""A throw-away embedded install for tests that run the product's own commands.

`make run` installs the embedded mode: SQLite and the generated secret key under var/.
These helpers give a child process that install's environment with its var/ folder
somewhere temporary (REDIVERIO_VAR_DIR), so a test never touches the developer's var/,
and read what `make run` does from the Makefile itself (`make -n run`).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What the developer's shell or CI may have set that a fresh `make run` install has not:
# a child process must see none of it (DATABASE_URL would point it at a real database).
FOREIGN = {
    "DATABASE_URL",
    "DEBUG",
    "DEMO_PASSWORD",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DJANGO_SETTINGS_MODULE",
    "PROMETHEUS_MULTIPROC_DIR",
    "REDIS_URL",
    "REDIVERIO_VAR_DIR",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "SECURE_TLS",
}


def embedded_env(var_dir: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    return {**clean, "REDIVERIO_VAR_DIR": str(var_dir), **extra}


def make_run_recipe() -> list[str]:
    """The commands `make run` runs, as make prints them without running them."""
    # Under `make test` the parent make's flags would leak into this one.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    printed = subprocess.run(
        ["make", "--no-print-directory", "-n", "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [line.strip() for line in printed.replace("\\\n", " ").splitlines() if line.strip()]
