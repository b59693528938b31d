"""Which kind of scanner a finding came from, derived from the tool's name.

Pure Python: imported by the server and by the Django-free agent program.

The table starts from the product's first one, a few tools per category (kept, and
tested, as ``SEED_TABLE`` in tests/findings/rules/test_categories.py: hence a bare
``snyk`` is SCA), and adds the reference SDK's scanner presets and the tools the server
ships profiles for (docs/wire-protocol.md):

=========  ==============================================================================
SAST       semgrep, codeql, sonarqube, sonarcloud, checkmarx, bandit, gosec, brakeman,
           spotbugs, find-sec-bugs, njsscan, flawfinder, horusec, fortify, snyk-code,
           and the smart-contract analysers slither, mythril, aderyn, securify
SCA        trivy, trivy-fs, trivy-repo, grype, syft, osv-scanner, snyk,
           snyk-open-source, dependabot, dependency-check, npm-audit, pip-audit, safety,
           govulncheck, retire-js, bundler-audit, cargo-audit
DAST       zap, owasp-zap, zaproxy, burp, burp-suite, nuclei, arachni, nikto, wapiti
IaC        tfsec, checkov, terrascan, kics, trivy-config, trivy-iac, snyk-iac, kubesec
Secrets    gitleaks, trufflehog, trufflehog3, detect-secrets, ggshield, git-secrets,
           trivy-secret
Container  clair, anchore, anchore-engine, aqua, trivy-image, docker-scout,
           snyk-container, dockle
=========  ==============================================================================

Recon tools (subfinder, httpx, naabu, katana, dnsx) have no source category: ``None``.

Decisions a caller must know:

* Names are matched case-insensitively; ``_``, spaces, ``@`` and ``:`` count as ``-``; an
  image path (``aquasec/trivy:0.50``) counts by its last segment; a version suffix
  (``semgrep-1.50.0``, ``trivy v0.48``) and trailing qualifiers (``semgrep-oss``,
  ``zap-baseline``) fall away: the longest known dash-separated prefix wins.
* Multi-purpose tools named without a variant are refined by the finding type: a
  ``secret`` from trivy or semgrep is Secrets, a ``misconfiguration`` from trivy or snyk
  is IaC. Everything else keeps the tool's category whatever the finding type says.
* An unknown tool falls back on the finding type: secret is Secrets, misconfiguration is
  IaC; anything else is ``None``.
"""

from __future__ import annotations

import re
from enum import StrEnum


class SourceCategory(StrEnum):
    SAST = "sast"
    SCA = "sca"
    DAST = "dast"
    IAC = "iac"
    SECRETS = "secrets"
    CONTAINER = "container"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS: dict[SourceCategory, str] = {
    SourceCategory.SAST: "SAST",
    SourceCategory.SCA: "SCA",
    SourceCategory.DAST: "DAST",
    SourceCategory.IAC: "IaC",
    SourceCategory.SECRETS: "Secrets",
    SourceCategory.CONTAINER: "Container",
}


class FindingType(StrEnum):
    VULNERABILITY = "vulnerability"
    SECRET = "secret"
    MISCONFIGURATION = "misconfiguration"
    COMPLIANCE = "compliance"
    WEB3 = "web3"


def _tools(category: SourceCategory, names: str) -> dict[str, SourceCategory]:
    return dict.fromkeys(names.split(), category)


TOOL_CATEGORIES: dict[str, SourceCategory] = {
    **_tools(
        SourceCategory.SAST,
        "semgrep codeql sonarqube sonarcloud sonar checkmarx bandit gosec brakeman spotbugs"
        " find-sec-bugs findsecbugs njsscan flawfinder horusec fortify snyk-code"
        " slither mythril aderyn securify",
    ),
    **_tools(
        SourceCategory.SCA,
        "trivy trivy-fs trivy-repo trivy-rootfs grype syft osv-scanner snyk snyk-open-source"
        " dependabot dependency-check owasp-dependency-check npm-audit yarn-audit pip-audit"
        " safety govulncheck retire retire-js retirejs bundler-audit cargo-audit",
    ),
    **_tools(
        SourceCategory.DAST,
        "zap owasp-zap zaproxy burp burp-suite burpsuite nuclei arachni nikto wapiti",
    ),
    **_tools(
        SourceCategory.IAC,
        "tfsec checkov terrascan kics trivy-config trivy-iac trivy-misconfig snyk-iac kubesec",
    ),
    **_tools(
        SourceCategory.SECRETS,
        "gitleaks trufflehog trufflehog3 detect-secrets ggshield git-secrets trivy-secret",
    ),
    **_tools(
        SourceCategory.CONTAINER,
        "clair anchore anchore-engine aqua trivy-image trivy-container docker-scout"
        " snyk-container dockle",
    ),
}

# Tools whose bare name covers several kinds of scan; the finding type says which one ran.
_REFINED_BY_TYPE: dict[str, dict[FindingType, SourceCategory]] = {
    "trivy": {
        FindingType.SECRET: SourceCategory.SECRETS,
        FindingType.MISCONFIGURATION: SourceCategory.IAC,
    },
    "semgrep": {FindingType.SECRET: SourceCategory.SECRETS},
    "snyk": {FindingType.MISCONFIGURATION: SourceCategory.IAC},
}

_FALLBACK_BY_TYPE: dict[FindingType, SourceCategory] = {
    FindingType.SECRET: SourceCategory.SECRETS,
    FindingType.MISCONFIGURATION: SourceCategory.IAC,
}

_SEPARATORS = re.compile(r"[\s_@:]+")


def normalize_tool_name(tool_name: str | None) -> str:
    """Lower-case, dash-separated form of a tool name, as used for the table's keys."""
    if not isinstance(tool_name, str):
        return ""
    name = tool_name.strip().lower().rsplit("/", 1)[-1]
    return _SEPARATORS.sub("-", name).strip("-")


def known_tool(tool_name: str | None) -> str | None:
    """The table key a tool name resolves to, or ``None`` when it is not a known tool."""
    parts = normalize_tool_name(tool_name).split("-")
    # Longest prefix first: "trivy-image-0.50" is trivy-image before it is trivy, and a
    # version or qualifier suffix ("semgrep-1.50.0", "semgrep-oss") simply falls away.
    for end in range(len(parts), 0, -1):
        key = "-".join(parts[:end])
        if key in TOOL_CATEGORIES:
            return key
    return None


def _finding_type(value: FindingType | str | None) -> FindingType | None:
    if value is None:
        return None
    try:
        return FindingType(str(value).strip().lower())
    except ValueError:
        return None


def source_category_for_tool(
    tool_name: str | None, finding_type: FindingType | str | None = None
) -> SourceCategory | None:
    """The source category of a finding from ``tool_name`` (see the module table)."""
    kind = _finding_type(finding_type)
    key = known_tool(tool_name)
    if key is None:
        return _FALLBACK_BY_TYPE.get(kind) if kind else None
    refined = _REFINED_BY_TYPE.get(key, {})
    if kind in refined:
        return refined[kind]
    return TOOL_CATEGORIES[key]
