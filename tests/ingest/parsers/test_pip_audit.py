"""pip-audit JSON: vulnerable dependencies become SCA findings, all dependencies the SBOM.

Real files: the shared `pip_audit/*` (the old list shape and the `{"dependencies"}` one)
and `data/pip_audit/offline.json`, pip-audit 2.10.1's own output on the sample app's
requirements where its vulnerability service could not be reached (see data/README.md).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from findings.rules.categories import FindingType
from findings.rules.severity import Severity
from ingest.parsers import pip_audit
from ingest.parsers.detect import detect_format
from protocol.report import ReportError, fingerprint_of
from tests.shared_data import DATA, read

FIXTURES = Path(__file__).parent / "data" / "pip_audit"
TWISTED_FIXES = {
    "PYSEC-2019-128": "19.2.1",
    "PYSEC-2020-260": "20.3.0rc1",
    "PYSEC-2019-129": "19.7.0rc1",
    "PYSEC-2020-259": "20.3.0rc1",
}


def audit(*dependencies: dict) -> dict:
    return {"dependencies": list(dependencies), "fixes": []}


def django(**vuln: object) -> dict:
    return {
        "name": "Django",
        "version": "3.2.9",
        "vulns": [{"id": "PYSEC-2021-439", "fix_versions": ["3.2.10"], **vuln}],
    }


class TestSharedFiles:
    def test_every_pip_audit_file_is_counted_here(self):
        assert {p.name for p in (DATA / "pip_audit").iterdir()} == {
            "many_vulns.json",
            "many_vulns_new.json",
            "zero_vulns_new.json",
        }

    @pytest.mark.parametrize("name", ["many_vulns.json", "many_vulns_new.json"])
    def test_seven_dependencies_and_seven_vulnerabilities_in_either_shape(self, name):
        report = pip_audit.parse(read(f"pip_audit/{name}"))
        assert (len(report.dependencies), len(report.findings)) == (7, 7)
        assert [(f.package_name, f.rule_id) for f in report.findings][:3] == [
            ("aiohttp", "PYSEC-2021-76"),
            ("django", "PYSEC-2021-439"),
            ("lxml", "PYSEC-2021-852"),
        ]
        assert {f.severity for f in report.findings} == {Severity.MEDIUM}
        assert {f.finding_type for f in report.findings} == {FindingType.VULNERABILITY}

    def test_the_two_shapes_give_the_same_report(self):
        old = pip_audit.parse(read("pip_audit/many_vulns.json"))
        new = pip_audit.parse(read("pip_audit/many_vulns_new.json"))
        assert old == new

    def test_the_fix_is_the_lowest_release_above_the_installed_one(self):
        findings = pip_audit.parse(read("pip_audit/many_vulns_new.json")).findings
        fixed = {f.rule_id: f.fixed_version for f in findings}
        # Django 3.2.9 is fixed in 3.2.10, not in 2.2.25 or 3.1.14 (older release lines).
        assert fixed["PYSEC-2021-439"] == "3.2.10"
        assert fixed["PYSEC-2021-76"] == "3.7.4"
        assert fixed["PYSEC-2021-852"] == ""  # pip-audit knows no fix
        assert {k: fixed[k] for k in TWISTED_FIXES} == TWISTED_FIXES
        django_finding = next(f for f in findings if f.package_name == "django")
        assert django_finding.metadata["vulnerability"]["fix_versions"] == [
            "2.2.25",
            "3.1.14",
            "3.2.10",
        ]

    def test_a_finding_keeps_the_description_and_its_fingerprint_is_the_sca_formula(self):
        finding = pip_audit.parse(read("pip_audit/many_vulns_new.json")).findings[1]
        assert finding.title == "PYSEC-2021-439 in django 3.2.9"
        assert finding.description.startswith("In Django 2.2 before 2.2.25")
        assert (finding.package_name, finding.package_version) == ("django", "3.2.9")
        assert finding.references == ["https://osv.dev/vulnerability/PYSEC-2021-439"]
        assert finding.fingerprint == ""
        expected = hashlib.sha256(b"sca:django:3.2.9:pysec-2021-439").hexdigest()
        assert fingerprint_of(finding) == expected

    def test_every_dependency_is_in_the_sbom_the_skipped_one_with_a_warning(self):
        report = pip_audit.parse(read("pip_audit/zero_vulns_new.json"))
        assert report.findings == []
        assert [(d.name, d.version, d.ecosystem, d.purl) for d in report.dependencies] == [
            ("adal", "1.2.2", "pypi", "pkg:pypi/adal@1.2.2"),
            ("alabaster", "0.7.12", "pypi", "pkg:pypi/alabaster@0.7.12"),
            ("azure-devops", "0.17.0", "pypi", "pkg:pypi/azure-devops@0.17.0"),
        ]
        [warning] = report.warnings
        assert warning.startswith("pip-audit could not audit 1 of 3 dependencies:")
        assert "azure-devops (0.17.0)" in warning

    def test_the_shared_files_are_detected_as_pip_audit(self):
        for name in ("many_vulns.json", "many_vulns_new.json", "zero_vulns_new.json"):
            assert detect_format(read(f"pip_audit/{name}")) == "pip-audit"


class TestRealOfflineRun:
    def test_an_audit_that_reached_no_service_lists_its_dependencies_and_says_so(self):
        raw = (FIXTURES / "offline.json").read_bytes()
        report = pip_audit.parse(raw)
        assert detect_format(raw) == "pip-audit"
        assert report.findings == []
        assert [(d.name, d.version, d.purl) for d in report.dependencies] == [
            ("pyyaml", "5.3", "pkg:pypi/pyyaml@5.3"),
            ("requests", "2.19.1", "pkg:pypi/requests@2.19.1"),
        ]
        assert report.warnings[0].startswith("pip-audit could not audit 2 of 2 dependencies")


class TestAliasesAndNames:
    def test_a_cve_alias_is_the_cve_and_all_aliases_are_kept(self):
        aliases = ["GHSA-v6rh-hp5x-86rv", "CVE-2021-44420"]
        [finding] = pip_audit.parse(json.dumps(audit(django(aliases=aliases)))).findings
        assert (finding.rule_id, finding.cve_id) == ("PYSEC-2021-439", "CVE-2021-44420")
        assert finding.title == "CVE-2021-44420 in Django 3.2.9"
        assert finding.metadata["vulnerability"]["aliases"] == aliases
        expected = hashlib.sha256(b"sca:django:3.2.9:cve-2021-44420").hexdigest()
        assert fingerprint_of(finding) == expected

    def test_an_id_that_is_a_cve_is_the_cve(self):
        [finding] = pip_audit.parse(json.dumps(audit(django(id="cve-2021-44420")))).findings
        assert finding.cve_id == "CVE-2021-44420"

    @pytest.mark.parametrize(
        ("name", "version", "purl"),
        [
            ("Django", "3.2.9", "pkg:pypi/django@3.2.9"),
            ("zope.interface", "5.4.0", "pkg:pypi/zope-interface@5.4.0"),
            ("typing_extensions", "4.0.0", "pkg:pypi/typing-extensions@4.0.0"),
            ("torch", "2.1.0+cpu", "pkg:pypi/torch@2.1.0%2Bcpu"),
        ],
    )
    def test_the_purl_carries_the_pypi_normalised_name(self, name, version, purl):
        [dependency] = pip_audit.parse(
            json.dumps(audit({"name": name, "version": version, "vulns": []}))
        ).dependencies
        assert (dependency.name, dependency.purl) == (name, purl)

    @pytest.mark.parametrize(
        ("installed", "fixes", "expected"),
        [
            ("3.2.9", ["2.2.25", "3.1.14", "3.2.10"], "3.2.10"),
            ("3.2", ["3.2.0", "3.2.1"], "3.2.1"),  # 3.2.0 is the installed release
            ("9.9", ["1.0", "2.0"], "1.0"),  # none above: the first listed
            ("unknown", ["2.0", "1.0"], "2.0"),
            ("1.0", ["x", "1.1"], "1.1"),
            ("1." + "9" * 30, ["2.0"], "2.0"),  # no int() of thirty digits
        ],
    )
    def test_which_fix_is_the_fixed_version(self, installed, fixes, expected):
        dependency = {
            "name": "p",
            "version": installed,
            "vulns": [{"id": "X-1", "fix_versions": fixes}],
        }
        [finding] = pip_audit.parse(json.dumps(audit(dependency))).findings
        assert finding.fixed_version == expected


class TestShapes:
    def test_it_recognizes_pip_audit_and_not_other_dependency_lists(self):
        assert pip_audit.recognizes(audit())  # an empty audit still writes "fixes"
        assert not pip_audit.recognizes({"dependencies": []})
        assert not pip_audit.recognizes(json.loads(read("cyclonedx/jake2.json")))
        assert not pip_audit.recognizes([{"name": "x"}])
        assert not pip_audit.recognizes([])

    @pytest.mark.parametrize(
        ("document", "path"),
        [
            ({"dependencies": {}}, "dependencies"),
            (audit({"version": "1"}), "dependencies[0].name"),
            (audit({"name": "a", "vulns": {}}), "dependencies[0].vulns"),
            (audit({"name": "a", "vulns": [{"fix_versions": []}]}), "dependencies[0].vulns[0].id"),
            (
                audit({"name": "a", "vulns": [{"id": "X", "fix_versions": "1.0"}]}),
                "dependencies[0].vulns[0].fix_versions",
            ),
            (
                audit({"name": "a", "vulns": [{"id": "X", "aliases": [1.5, None]}]}),
                "dependencies[0].vulns[0].aliases[1]",
            ),
            ([{"name": "a", "vulns": ["PYSEC-1"]}], "[0].vulns[0]"),
            ("a string", "body"),
        ],
    )
    def test_a_wrong_shape_names_its_place(self, document, path):
        with pytest.raises(ReportError) as caught:
            pip_audit.parse(json.dumps(document))
        assert caught.value.path == path
