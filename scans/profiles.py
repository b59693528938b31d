"""The system scan profiles every tenant gets: read-only, shipped with the product."""

from __future__ import annotations

from typing import Final


def _tool(severity: str = "low", timeout: int = 900, **options) -> dict:
    return {"enabled": True, "severity": severity, "timeout": timeout, "options": options}


SYSTEM_PROFILES: Final[tuple[dict, ...]] = (
    {
        "name": "Quick SAST",
        "description": "Static analysis of source code with semgrep and bandit.",
        "intensity": "low",
        "timeout_seconds": 1800,
        "tags": ["sast"],
        "tools_config": {"semgrep": _tool(timeout=1800), "bandit": _tool()},
        "is_default": True,
    },
    {
        "name": "Secrets",
        "description": "Leaked credentials in files and history.",
        "intensity": "medium",
        "timeout_seconds": 1800,
        "tags": ["secrets"],
        "tools_config": {
            "gitleaks": _tool(),
            "detect-secrets": _tool(),
            "trufflehog": _tool(),
        },
    },
    {
        "name": "Infrastructure as Code",
        "description": "Misconfigurations in Terraform, Kubernetes, Docker and CI files.",
        "intensity": "medium",
        "timeout_seconds": 1800,
        "tags": ["iac"],
        "tools_config": {"checkov": _tool(), "trivy-config": _tool()},
    },
    {
        "name": "Dependencies",
        "description": "Known vulnerabilities in third-party packages, and the SBOM.",
        "intensity": "medium",
        "timeout_seconds": 1800,
        "tags": ["sca"],
        "tools_config": {"trivy-fs": _tool(), "grype": _tool(), "osv-scanner": _tool()},
    },
    {
        "name": "Full",
        "description": "Every scanner: code, secrets, infrastructure and dependencies.",
        "intensity": "high",
        "timeout_seconds": 7200,
        "tags": ["sast", "sca", "secrets", "iac"],
        "tools_config": {
            "semgrep": _tool(timeout=3600),
            "bandit": _tool(),
            "gitleaks": _tool(),
            "detect-secrets": _tool(),
            "checkov": _tool(),
            "trivy-fs": _tool(),
            "trivy-config": _tool(),
        },
    },
)
