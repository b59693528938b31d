"""The secret key of an embedded install, generated once and kept in its var/ folder.

`make run` and every `manage.py` command of the README share one SQLite install under
var/; they must share one SECRET_KEY too (sessions, password-reset tokens and signed
values made by one process are checked by another), without a key written in code and
without asking a newcomer to invent one. Production sets SECRET_KEY instead.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from django.core.management.utils import get_random_secret_key


class LocalSecretError(ValueError):
    """The kept key cannot be used: unreadable, empty, or readable by others."""


def local_secret_key(path: Path) -> str:
    """The key kept at `path`, created (owner-only, 0600) when there is none yet.

    Several processes may start at once on a fresh install (the web server, the
    django-q2 cluster): the key is written to a private temporary file and published
    with a hard link, which fails when the name exists, so every process ends up with
    the one key that was published first and none reads a half-written file.
    """
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, draft = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")  # 0600
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(get_random_secret_key() + "\n")
            file.flush()
            os.fsync(file.fileno())
        # When another process published its key first, that one is the install's.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        os.unlink(draft)
    return _read(path)


def _read(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise LocalSecretError(
            f"{path} is open to other users (mode {stat.filemode(mode)}): "
            f"`chmod 600 {path}`, or set SECRET_KEY"
        )
    key = path.read_text().strip()
    if not key:
        raise LocalSecretError(f"{path} is empty: delete it to generate a new key")
    return key
