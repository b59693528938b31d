from __future__ import annotations

import pytest

from findings.rules.categories import (
    TOOL_CATEGORIES,
    FindingType,
    SourceCategory,
    known_tool,
    normalize_tool_name,
    source_category_for_tool,
)

SAST, SCA, DAST = SourceCategory.SAST, SourceCategory.SCA, SourceCategory.DAST
IAC, SECRETS, CONTAINER = SourceCategory.IAC, SourceCategory.SECRETS, SourceCategory.CONTAINER

# The product's first "Finding Source Detection" table: every tool keeps its category.
SEED_TABLE = {
    SAST: ["semgrep", "codeql", "sonarqube", "checkmarx"],
    SCA: ["trivy", "grype", "snyk", "dependabot"],
    DAST: ["zap", "burp", "nuclei", "arachni"],
    IAC: ["tfsec", "checkov", "terrascan", "kics"],
    SECRETS: ["gitleaks", "trufflehog", "detect-secrets"],
    CONTAINER: ["clair", "anchore", "aqua"],
}


@pytest.mark.parametrize(
    ("tool", "category"),
    [(tool, category) for category, tools in SEED_TABLE.items() for tool in tools],
)
def test_every_tool_of_the_seed_table_has_its_category(tool, category):
    assert source_category_for_tool(tool) is category


@pytest.mark.parametrize(
    ("tool", "category"),
    [
        ("bandit", SAST),
        ("gosec", SAST),
        ("slither", SAST),
        ("trivy-fs", SCA),
        ("trivy-config", IAC),
        ("trivy-image", CONTAINER),
        ("trivy-secret", SECRETS),
        ("syft", SCA),
        ("osv-scanner", SCA),
        ("trufflehog3", SECRETS),
        ("snyk-code", SAST),
        ("snyk-iac", IAC),
        ("snyk-container", CONTAINER),
    ],
)
def test_the_sdk_presets_and_seeded_server_tools_are_covered(tool, category):
    assert source_category_for_tool(tool) is category


def test_every_table_entry_resolves_to_itself():
    for tool, category in TOOL_CATEGORIES.items():
        assert known_tool(tool) == tool
        assert source_category_for_tool(tool) is category


@pytest.mark.parametrize(
    ("spelling", "category"),
    [
        ("Semgrep", SAST),
        ("  CODEQL ", SAST),
        ("Trivy_FS", SCA),
        ("trivy config", IAC),
        ("TRIVY-IMAGE", CONTAINER),
        ("detect_secrets", SECRETS),
        ("OSV Scanner", SCA),
        ("OWASP ZAP", DAST),
        ("Burp Suite", DAST),
        ("semgrep-1.50.0", SAST),
        ("semgrep 1.50.0", SAST),
        ("trivy v0.48.3", SCA),
        ("semgrep@1.2", SAST),
        ("semgrep-oss", SAST),
        ("zap-baseline", DAST),
        ("SonarQube Scanner", SAST),
        ("trivy-image-0.50", CONTAINER),
        ("aquasec/trivy:0.50.0", SCA),
        ("ghcr.io/gitleaks/gitleaks:latest", SECRETS),
    ],
)
def test_names_are_matched_loosely(spelling, category):
    assert source_category_for_tool(spelling) is category


def test_tool_names_normalise_to_dashed_lower_case():
    assert normalize_tool_name(" Trivy_Config ") == "trivy-config"
    assert normalize_tool_name("aquasec/trivy:0.50") == "trivy-0.50"
    assert normalize_tool_name(None) == ""


class TestFindingTypeRefinesMultiPurposeTools:
    def test_trivy_secrets_are_secrets_and_its_misconfigurations_iac(self):
        assert source_category_for_tool("trivy", FindingType.SECRET) is SECRETS
        assert source_category_for_tool("trivy", "misconfiguration") is IAC
        assert source_category_for_tool("trivy", FindingType.VULNERABILITY) is SCA

    def test_semgrep_secrets_are_secrets(self):
        assert source_category_for_tool("semgrep", "secret") is SECRETS
        assert source_category_for_tool("semgrep", "vulnerability") is SAST

    def test_snyk_misconfigurations_are_iac(self):
        assert source_category_for_tool("snyk", FindingType.MISCONFIGURATION) is IAC

    def test_a_specific_variant_keeps_its_own_category(self):
        assert source_category_for_tool("trivy-image", "secret") is CONTAINER

    def test_single_purpose_tools_ignore_the_finding_type(self):
        assert source_category_for_tool("nuclei", "misconfiguration") is DAST
        assert source_category_for_tool("gitleaks", "vulnerability") is SECRETS


class TestUnknownTools:
    def test_an_unknown_tool_falls_back_on_the_finding_type(self):
        assert source_category_for_tool("acme-scanner", FindingType.SECRET) is SECRETS
        assert source_category_for_tool("acme-scanner", "Misconfiguration") is IAC

    @pytest.mark.parametrize("finding_type", [None, "vulnerability", "compliance", "web3", "bogus"])
    def test_otherwise_an_unknown_tool_has_no_category(self, finding_type):
        assert source_category_for_tool("acme-scanner", finding_type) is None

    @pytest.mark.parametrize("tool", ["subfinder", "httpx", "naabu", "katana", "dnsx"])
    def test_recon_tools_have_no_source_category(self, tool):
        assert source_category_for_tool(tool) is None

    def test_no_tool_name_at_all_still_uses_the_finding_type(self):
        assert source_category_for_tool(None) is None
        assert source_category_for_tool("", "secret") is SECRETS


def test_labels_are_the_display_names():
    assert [c.label for c in SourceCategory] == [
        "SAST",
        "SCA",
        "DAST",
        "IaC",
        "Secrets",
        "Container",
    ]


def test_finding_types_are_the_ris_enum():
    assert [t.value for t in FindingType] == [
        "vulnerability",
        "secret",
        "misconfiguration",
        "compliance",
        "web3",
    ]
