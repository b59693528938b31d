"""Test overrides: the real settings, with fast hashing and synchronous background jobs."""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("SECURE_TLS", "false")  # the test client speaks plain HTTP

from rediverio.settings import *  # noqa: E402,F403
from rediverio.settings import Q_CLUSTER

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
Q_CLUSTER = {**Q_CLUSTER, "sync": True}

# Tests render pages without `collectstatic`: plain static storage, not the manifest.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
