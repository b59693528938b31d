"""CycloneDX XML: the same report as the same BOM in JSON, read safely.

Real files: the shared `cyclonedx/*.xml` (grype 0.41.0, and the CycloneDX 1.4 example
with a Snyk vulnerability) and, under `data/cyclonedx/`, cyclonedx-py 7.5.0's SBOM of one
environment written both as XML and as JSON (see data/README.md).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest

from findings.rules.severity import Severity
from ingest.parsers import cyclonedx
from ingest.parsers.detect import detect_format
from protocol.report import ReportError, fingerprint_of
from tests.shared_data import read

FIXTURES = Path(__file__).parent / "data" / "cyclonedx"
NS = "http://cyclonedx.org/schema/bom/1.5"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def bom(body: str = "", ns: str = NS) -> str:
    return f'<?xml version="1.0"?><bom xmlns="{ns}" version="1">{body}</bom>'


FLASK = (
    '<component type="library" bom-ref="flask"><name>flask</name><version>2.0.0</version>'
    "<purl>pkg:pypi/flask@2.0.0</purl></component>"
)


class TestGrypeLog4jXml:
    def test_it_is_the_report_of_the_same_scan_in_json_but_for_the_serial_number(self):
        from_xml = cyclonedx.parse(read("cyclonedx/log4j.xml"))
        from_json = cyclonedx.parse(read("cyclonedx/log4j.json"))
        assert from_xml.metadata["serialNumber"] != from_json.metadata["serialNumber"]
        from_xml.metadata = from_json.metadata = {}
        assert from_xml == from_json

    def test_one_dependency_and_eight_findings_with_the_severities_of_the_file(self):
        # The README counts 2 components: the scanned file (metadata) and log4j-core.
        report = cyclonedx.parse(read("cyclonedx/log4j.xml"))
        assert (len(report.dependencies), len(report.findings)) == (1, 8)
        assert (report.tool_name, report.tool_version) == ("grype", "0.41.0")
        assert Counter(f.severity.value for f in report.findings) == {
            "critical": 4,
            "medium": 3,
            "high": 1,
        }
        assert report.targets == []  # the metadata component is a file

    def test_grypes_fixed_version_property_is_read(self):
        findings = cyclonedx.parse(read("cyclonedx/log4j.xml")).findings
        fixed = {f.rule_id: f.fixed_version for f in findings if f.fixed_version}
        assert fixed == {
            "GHSA-7rjr-3q55-vv33": "2.16.0",
            "GHSA-8489-44mv-ggj8": "2.17.1",
            "GHSA-jfh8-c2jp-5v3q": "2.15.0",
            "GHSA-p6xc-xr62-6r2g": "2.17.0",
        }


class TestSnykVulnerability14:
    def finding(self):
        [finding] = cyclonedx.parse(read("cyclonedx/valid-vulnerability-1.4.xml")).findings
        return finding

    def test_one_component_and_one_vulnerability(self):
        report = cyclonedx.parse(read("cyclonedx/valid-vulnerability-1.4.xml"))
        [dependency] = report.dependencies
        assert (dependency.name, dependency.version, dependency.ecosystem) == (
            "com.fasterxml.jackson.core:jackson-databind",
            "2.9.4",
            "maven",
        )
        assert report.metadata == {
            "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
            "specVersion": "1.4",
        }

    def test_the_vulnerability_keeps_its_cve_score_vector_and_cwes(self):
        finding = self.finding()
        assert (finding.rule_id, finding.cve_id) == (
            "SNYK-JAVA-COMFASTERXMLJACKSONCORE-32111",
            "CVE-2018-7489",
        )
        assert (finding.severity, finding.cvss_score) == (Severity.CRITICAL, 9.8)
        assert finding.cvss_vector == "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
        assert finding.cwe_ids == ["CWE-184", "CWE-502"]
        assert finding.package_name == "com.fasterxml.jackson.core:jackson-databind"
        assert "https://snyk.io/vuln/SNYK-JAVA-COMFASTERXMLJACKSONCORE-32111" in finding.references

    def test_not_affected_suppresses_it_and_the_analysis_is_kept(self):
        finding = self.finding()
        assert finding.suppressed is True
        assert finding.metadata["analysis"]["state"] == "not_affected"
        assert finding.metadata["analysis"]["responses"] == ["will_not_fix", "update"]

    def test_its_fingerprint_is_the_sca_formula_over_the_cve(self):
        expected = b"sca:com.fasterxml.jackson.core:jackson-databind:2.9.4:cve-2018-7489"
        assert fingerprint_of(self.finding()) == hashlib.sha256(expected).hexdigest()


class TestCycloneDxPy:
    """Real output of cyclonedx-py 7.5.0 (spec 1.6, tools as components)."""

    def test_the_xml_and_the_json_of_one_environment_give_the_same_report(self):
        from_xml = cyclonedx.parse(fixture("cyclonedx-py-environment.xml"))
        from_json = cyclonedx.parse(fixture("cyclonedx-py-environment.json"))
        assert from_xml == from_json
        assert len(from_xml.dependencies) == 10

    def test_the_root_component_is_the_target_and_its_graph_makes_direct_and_transitive(self):
        report = cyclonedx.parse(fixture("cyclonedx-py-environment.xml"))
        assert [t.identifier for t in report.targets] == ["secrets-audit"]
        assert (report.tool_name, report.tool_version) == ("cyclonedx-py", "7.5.0")
        relationships = {d.name: d.relationship for d in report.dependencies}
        assert relationships.pop("trufflehog3") == "direct"
        assert set(relationships.values()) == {"transitive"}
        trufflehog3 = next(d for d in report.dependencies if d.name == "trufflehog3")
        assert trufflehog3.depends_on == [
            "pkg:pypi/gitpython@3.1.41",
            "pkg:pypi/jinja2@3.1.4",
            "pkg:pypi/pyyaml@6.0.1",
            "pkg:pypi/attrs@20.3.0",
        ]

    def test_licenses_by_id_and_by_name_are_read(self):
        report = cyclonedx.parse(fixture("cyclonedx-py-environment.xml"))
        smmap = next(d for d in report.dependencies if d.name == "smmap")
        assert smmap.licenses == ["BSD-3-Clause", "License :: OSI Approved :: BSD License"]

    def test_a_requirements_bom_lists_the_pinned_packages(self):
        report = cyclonedx.parse(fixture("cyclonedx-py-requirements.xml"))
        assert [(d.name, d.version, d.purl) for d in report.dependencies] == [
            ("PyYAML", "5.3", "pkg:pypi/pyyaml@5.3"),
            ("requests", "2.19.1", "pkg:pypi/requests@2.19.1"),
        ]
        assert report.findings == [] and report.targets == []
        assert detect_format(fixture("cyclonedx-py-requirements.xml")) == "cyclonedx"


class TestXmlShapes:
    def test_a_namespace_prefix_and_a_nested_dependency_graph_are_read(self):
        raw = (
            f'<cdx:bom xmlns:cdx="{NS}"><cdx:components>{FLASK.replace("<", "<cdx:")}'
            "</cdx:components></cdx:bom>"
        ).replace("<cdx:/", "</cdx:")
        [dependency] = cyclonedx.parse(raw).dependencies
        assert (dependency.name, dependency.purl) == ("flask", "pkg:pypi/flask@2.0.0")

    def test_a_vulnerability_with_properties_ratings_and_affects(self):
        vulnerability = (
            "<vulnerabilities><vulnerability><id>CVE-2023-30861</id>"
            "<ratings><rating><score>7.5</score><method>CVSSv31</method></rating></ratings>"
            "<cwes><cwe>539</cwe></cwes>"
            "<affects><target><ref>flask</ref><versions><version><version>2.3.2</version>"
            "<status>unaffected</status></version></versions></target></affects>"
            "</vulnerability></vulnerabilities>"
        )
        [finding] = cyclonedx.parse(
            bom(f"<components>{FLASK}</components>{vulnerability}")
        ).findings
        assert (finding.severity, finding.cvss_score, finding.cwe_ids) == (
            Severity.HIGH,
            7.5,
            ["CWE-539"],
        )
        assert (finding.package_name, finding.fixed_version) == ("flask", "2.3.2")

    @pytest.mark.parametrize(
        ("body", "path"),
        [
            (
                "<components><component><version>1</version></component></components>",
                "components[0].name",
            ),
            (
                "<vulnerabilities><vulnerability><id>X</id><ratings><rating><score>high</score>"
                "</rating></ratings></vulnerability></vulnerabilities>",
                "vulnerabilities[0].ratings[0].score",
            ),
            (
                "<vulnerabilities><vulnerability><id>X</id><cwes><cwe>injection</cwe></cwes>"
                "</vulnerability></vulnerabilities>",
                "vulnerabilities[0].cwes[0]",
            ),
            ("<dependencies><dependency/></dependencies>", "dependencies[0].ref"),
        ],
    )
    def test_a_wrong_shape_names_the_place_the_json_would(self, body, path):
        with pytest.raises(ReportError) as caught:
            cyclonedx.parse(bom(body))
        assert caught.value.path == path

    def test_an_xml_root_other_than_a_cyclonedx_bom_is_refused(self):
        with pytest.raises(ReportError, match="CycloneDX <bom>"):
            cyclonedx.parse('<bom xmlns="http://example.com/"/>')
        assert not cyclonedx.recognizes_markup('<bom xmlns="http://example.com/"/>')
        assert not cyclonedx.recognizes_markup("<report/>")
        assert cyclonedx.recognizes_markup(bom())

    def test_nesting_deeper_than_any_bom_is_refused_not_a_recursion_error(self):
        deep = "<components><component><name>x</name>" * 5_000
        with pytest.raises(ReportError, match="nested deeper"):
            cyclonedx.parse(bom(deep + "</component></components>" * 5_000))

    def test_malformed_xml_is_a_report_error(self):
        with pytest.raises(ReportError, match="not valid XML"):
            cyclonedx.parse(bom("<components>"))


class TestXmlDangers:
    @pytest.mark.parametrize(
        "prologue",
        [
            # Billion laughs: entities that expand to each other.
            '<!DOCTYPE bom [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
            # XXE: an external entity that reads a file of the server.
            '<!DOCTYPE bom [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
            "<!DOCTYPE bom>",
            '<!doctype bom SYSTEM "http://example.com/bom.dtd">',
        ],
    )
    def test_a_dtd_or_an_entity_is_refused_before_parsing(self, prologue):
        raw = bom(f"<components>{FLASK}</components>").replace("<bom", prologue + "<bom", 1)
        with pytest.raises(ReportError, match="DTD or entities") as caught:
            cyclonedx.parse(raw)
        assert caught.value.path == "body"

    @pytest.mark.parametrize(
        "encoding", ["utf-16", "utf-16-be", "utf-16-le", "utf-32", "utf-32-le"]
    )
    def test_an_encoding_does_not_hide_a_dtd(self, encoding):
        # Without a declaration or a BOM (-be, -le), the parser would detect UTF-16 by
        # itself: the check must see the text the parser would.
        raw = '<!DOCTYPE bom [<!ENTITY a "x">]><bom xmlns="' + NS + '"><components/></bom>'
        with pytest.raises(ReportError, match="DTD or entities"):
            cyclonedx.parse(raw.encode(encoding))

    def test_nul_characters_are_refused_as_no_xml_has_them(self):
        # What UTF-16 read as UTF-8 looks like: the parser might read it otherwise.
        raw = f'<bom xmlns="{NS}"><components/>\x00<\x00!\x00D</bom>'.encode()
        with pytest.raises(ReportError, match="NUL"):
            cyclonedx.parse(raw)

    @pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
    def test_a_bom_without_byte_order_mark_or_declaration_is_read_in_utf16_and_32(self, encoding):
        raw = f'<bom xmlns="{NS}"><components>{FLASK}</components></bom>'.encode(encoding)
        assert [d.name for d in cyclonedx.parse(raw).dependencies] == ["flask"]

    def test_a_declared_single_byte_encoding_is_honoured(self):
        raw = bom("<components><component><name>caf\xe9</name></component></components>")
        raw = raw.replace('version="1.0"', 'version="1.0" encoding="ISO-8859-1"')
        [dependency] = cyclonedx.parse(raw.encode("latin-1")).dependencies
        assert dependency.name == "café"

    def test_an_unknown_declared_encoding_is_a_report_error(self):
        raw = bom().replace('version="1.0"', 'version="1.0" encoding="rot13"')
        with pytest.raises(ReportError, match="encoding"):
            cyclonedx.parse(raw.encode())
