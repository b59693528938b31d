"""The rediverio agent program (`rediverio-agent`): runs real scanners on this machine and
delivers their reports to the server over the agent protocol.

Django-free on purpose: it runs on build machines and in CI jobs that have no server
settings. It imports only this package, `protocol.report`, `ingest.parsers` and
`findings.rules`, which are pure Python; a test runs the program and checks that no
`django` module was loaded.
"""

from __future__ import annotations

VERSION = "0.1.0"
USER_AGENT = f"rediverio-agent/{VERSION}"
