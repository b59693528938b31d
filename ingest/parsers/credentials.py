"""What a SAST finding about a hard-coded credential may keep: no code line, and the
quoted value in its message masked.

One rule for every format a tool writes: bandit's password checks and semgrep's
credential rules say the same thing in JSON and in SARIF, and a SARIF log would
otherwise store the line (and bandit's message) with the password in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Hard-coded credentials (798), passwords (259) and cryptographic keys (321): the matched
# line holds the secret itself.
CREDENTIAL_CWES = frozenset({"CWE-798", "CWE-259", "CWE-321"})

_MASK = "****"
_SHOWN = 4
_QUOTED = re.compile(r"'([^']*)'")


def is_hard_coded_credential(cwe_ids: Iterable[str]) -> bool:
    return not CREDENTIAL_CWES.isdisjoint(cwe_ids)


def mask(secret: str) -> str:
    # A short secret would be mostly revealed by its first characters.
    return f"{secret[:_SHOWN]}{_MASK}" if len(secret) > 2 * _SHOWN else _MASK


def mask_quoted(text: str) -> str:
    """Bandit quotes the password it found: "Possible hardcoded password: 'hunter2'"."""
    return _QUOTED.sub(lambda match: f"'{mask(match.group(1))}'", text)
