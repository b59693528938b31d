"""Settings. Intentionally insecure: see README.md. Every credential here is fake."""

from __future__ import annotations

DEBUG = True

# Hard-coded credentials committed to the repository.
ADMIN_PASSWORD = "SuperSecret123!"
DATABASE_PASSWORD = "changeme-db-2024"

# The example key from AWS's own documentation: it looks real to secret scanners.
AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

UPSTREAM_URL = "https://internal.example.com"
