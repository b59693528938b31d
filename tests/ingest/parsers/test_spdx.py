from __future__ import annotations

import json

import pytest

from ingest.parsers import spdx
from protocol.report import ReportError
from tests.shared_data import DATA, read

PACKAGE_COUNTS = {"spdx_many_vuln.json": 4, "spdx_one_vuln.json": 3}


def parse_file(name: str):
    return spdx.parse(read(f"spdx/{name}"))


def package(spdx_id: str, name: str, version: str = "1.0", **fields: object) -> dict:
    purl = {
        "referenceCategory": "PACKAGE-MANAGER",
        "referenceType": "purl",
        "referenceLocator": f"pkg:npm/{name}@{version}",
    }
    return {
        "SPDXID": spdx_id,
        "name": name,
        "versionInfo": version,
        "externalRefs": [purl],
        **fields,
    }


def document(
    packages: list[dict], relationships: list[dict] | None = None, **fields: object
) -> str:
    return json.dumps(
        {
            "spdxVersion": "SPDX-2.3",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": "shop",
            "creationInfo": {"creators": ["Tool: syft-1.50.0"]},
            "packages": packages,
            "relationships": relationships or [],
            **fields,
        }
    )


def relation(left: str, kind: str, right: str) -> dict:
    return {"spdxElementId": left, "relationshipType": kind, "relatedSpdxElement": right}


APP = package("SPDXRef-app", "shop", "3.1.0")
EXPRESS = package("SPDXRef-express", "express", "4.18.2")
QS = package("SPDXRef-qs", "qs", "6.11.0")
GRAPH = [
    relation("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-app"),
    relation("SPDXRef-app", "DEPENDS_ON", "SPDXRef-express"),
    relation("SPDXRef-qs", "DEPENDENCY_OF", "SPDXRef-express"),
]


class TestSharedFiles:
    def test_every_spdx_file_is_counted_here(self):
        assert {p.name for p in (DATA / "spdx").iterdir()} == set(PACKAGE_COUNTS)

    @pytest.mark.parametrize(("name", "count"), sorted(PACKAGE_COUNTS.items()))
    def test_every_package_is_a_dependency_and_none_a_finding(self, name, count):
        report = parse_file(name)
        assert (len(report.dependencies), report.findings) == (count, [])

    def test_the_tool_comes_from_the_creators(self):
        report = parse_file("spdx_one_vuln.json")
        assert (report.tool_name, report.tool_version) == ("syft", "1.50.0")

    def test_the_first_package(self):
        dependency = parse_file("spdx_one_vuln.json").dependencies[0]
        assert (dependency.name, dependency.version, dependency.ecosystem) == (
            "alpine-baselayout",
            "3.1.2-r0",
            "apk",
        )
        assert (
            dependency.purl
            == "pkg:apk/alpine/alpine-baselayout@3.1.2-r0?arch=x86_64&distro=alpine-3.10.9"
        )
        # licenseConcluded is NOASSERTION: only the declared licence remains.
        assert (dependency.licenses, dependency.type) == (["GPL-2.0-only"], "library")

    def test_every_package_of_the_larger_file(self):
        dependencies = parse_file("spdx_many_vuln.json").dependencies
        assert [(d.name, d.version) for d in dependencies] == [
            ("alpine-baselayout", "3.1.2-r0"),
            ("alpine-keys", "2.1-r2"),
            ("apk-tools", "2.10.6-r0"),
            ("busybox", "1.30.1-r5"),
        ]
        assert [d.licenses for d in dependencies] == [
            ["GPL-2.0-only"],
            ["MIT"],
            ["GPL-2.0-only"],
            ["GPL-2.0-only"],
        ]

    def test_without_relationships_nothing_is_a_target_and_relationships_are_unknown(self):
        report = parse_file("spdx_many_vuln.json")
        assert report.targets == []
        assert {d.relationship for d in report.dependencies} == {"unknown"}
        assert report.metadata["name"] == "generic-image"


class TestRelationships:
    def test_the_described_package_is_the_target_not_a_dependency(self):
        report = spdx.parse(document([APP, EXPRESS, QS], GRAPH))
        assert [(t.identifier, t.metadata["version"]) for t in report.targets] == [
            ("shop", "3.1.0")
        ]
        assert [d.name for d in report.dependencies] == ["express", "qs"]

    def test_document_describes_names_the_target_too(self):
        report = spdx.parse(document([APP, EXPRESS], documentDescribes=["SPDXRef-app"]))
        assert [t.identifier for t in report.targets] == ["shop"]

    def test_depends_on_and_its_inverse_give_purls_and_relationships(self):
        express, qs = spdx.parse(document([APP, EXPRESS, QS], GRAPH)).dependencies
        assert (express.relationship, express.depends_on) == ("direct", ["pkg:npm/qs@6.11.0"])
        assert (qs.relationship, qs.depends_on) == ("transitive", [])

    def test_contains_counts_as_a_dependency_edge(self):
        relationships = [*GRAPH[:1], relation("SPDXRef-app", "CONTAINS", "SPDXRef-qs")]
        [qs] = spdx.parse(document([APP, QS], relationships)).dependencies
        assert qs.relationship == "direct"

    def test_concluded_and_declared_licenses_are_both_kept_once(self):
        item = package(
            "SPDXRef-x", "x", licenseConcluded="MIT", licenseDeclared="MIT OR Apache-2.0"
        )
        again = package("SPDXRef-y", "y", licenseConcluded="MIT", licenseDeclared="MIT")
        x, y = spdx.parse(document([item, again])).dependencies
        assert (x.licenses, y.licenses) == (["MIT", "MIT OR Apache-2.0"], ["MIT"])

    def test_the_primary_purpose_sets_the_type(self):
        items = [
            package("SPDXRef-a", "a", primaryPackagePurpose="APPLICATION"),
            package("SPDXRef-c", "c", primaryPackagePurpose="CONTAINER"),
        ]
        assert [d.type for d in spdx.parse(document(items)).dependencies] == [
            "application",
            "other",
        ]


class TestMalformedDocuments:
    def test_spdx_3_is_refused_on_its_version(self):
        with pytest.raises(ReportError) as caught:
            spdx.parse(json.dumps({"spdxVersion": "SPDX-3.0"}))
        assert caught.value.path == "spdxVersion"

    @pytest.mark.parametrize(
        ("raw", "path"),
        [
            (document([APP, {"SPDXID": "SPDXRef-x"}]), "packages[1].name"),
            (
                document(
                    [APP], [relation("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-app"), "DESCRIBES"]
                ),
                "relationships[1]",
            ),
            (json.dumps({"spdxVersion": "SPDX-2.3", "packages": {}}), "packages"),
        ],
    )
    def test_a_wrong_shape_names_its_place(self, raw, path):
        with pytest.raises(ReportError) as caught:
            spdx.parse(raw)
        assert caught.value.path == path

    def test_other_documents_are_not_spdx(self):
        assert not spdx.recognizes({"bomFormat": "CycloneDX"})
        assert not spdx.recognizes({"spdxVersion": 2})
