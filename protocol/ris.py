"""The RIS vocabulary (RIS 1.0, the Rediver Ingest Schema): the words the agent writes
(agents/runtime/ris.py) and the server reads (ingest/parsers/ris.py), written once.

A RIS report is `{"version", "metadata", "tool", "assets", "findings",
"dependencies"}`; a finding has a `type` (protocol.report's FindingType words), a title,
a severity, a fingerprint, a `location`, a `vulnerability`, and may carry the detail
objects below, which the server keeps whole in the finding's metadata.
"""

from __future__ import annotations

RIS_VERSION = "1.0"

# Detail objects a finding may carry, kept whole (minus a secret's raw value).
DETAILS: tuple[str, ...] = (
    "secret",
    "misconfiguration",
    "compliance",
    "remediation",
    "web3",
    "data_flow",
    "exposure",
    "remediation_context",
    "business_impact",
    "suppression",
)

# A finding's descriptive fields besides them, kept in its metadata as sent.
EXTRAS: tuple[str, ...] = ("category", "impact", "likelihood", "tags", "vulnerability_class")

# The server keeps a title's first line, at most this long; the agent moves a longer
# message into the description so that nothing a tool said is lost.
TITLE_LENGTH = 1000
