"""`POST /api/v1/ingest/upload` takes the trufflehog3, pip-audit and CycloneDX XML reports,
detected from their content or named in any spelling; an XML report with a DTD is a 400."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from rest_framework.test import APIClient

from findings.models import AssetDependency, Finding
from tests.factories import MembershipFactory, TenantFactory
from tests.shared_data import read

UPLOAD = "/api/v1/ingest/upload"


class NewFormatsUpload(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.member = MembershipFactory(tenant=cls.tenant, role="member").user

    def upload(self, raw: bytes, name: str, **fields: str):
        client = APIClient()
        client.force_login(self.member)
        body = {"file": SimpleUploadedFile(name, raw), "asset": f"github.com/acme/{name}", **fields}
        return client.post(UPLOAD, body, format="multipart")

    def test_each_new_format_is_detected_and_stored(self):
        cases = [
            # file, findings created, skipped as repeats, SBOM components
            ("trufflehog3/many_vulns_current.json", 3, 1, 0),
            ("pip_audit/many_vulns_new.json", 7, 0, 7),
            ("cyclonedx/log4j.xml", 8, 0, 1),
        ]
        for relative, created, skipped, components in cases:
            with self.subTest(report=relative):
                before = AssetDependency.objects.for_tenant(self.tenant).count()
                response = self.upload(read(relative), relative.replace("/", "-"))
                self.assertEqual(response.status_code, 201, response.content)
                answer = response.json()
                self.assertEqual(
                    (answer["findings_created"], answer["findings_skipped"]), (created, skipped)
                )
                # Each upload names an asset of its own: its SBOM is what this report lists.
                after = AssetDependency.objects.for_tenant(self.tenant).count()
                self.assertEqual(after - before, components)

    def test_the_formats_may_be_named_in_either_spelling(self):
        for relative, format in [
            ("pip_audit/many_vulns.json", "pip_audit"),
            ("pip_audit/many_vulns.json", "pip-audit"),
            ("trufflehog3/zero_vulns.json", "trufflehog3"),
            ("cyclonedx/valid-vulnerability-1.4.xml", "cyclonedx"),
        ]:
            with self.subTest(format=format, report=relative):
                response = self.upload(read(relative), f"{format}.report", format=format)
                self.assertEqual(response.status_code, 201, response.content)

    def test_a_suppressed_xml_vulnerability_is_stored_as_a_false_positive(self):
        self.upload(read("cyclonedx/valid-vulnerability-1.4.xml"), "snyk.xml")
        finding = Finding.objects.for_tenant(self.tenant).get()
        self.assertEqual((finding.status, finding.severity), ("false_positive", "critical"))

    def test_an_xml_report_declaring_entities_is_refused_and_nothing_is_stored(self):
        raw = read("cyclonedx/log4j.xml").replace(
            b"<bom ", b'<!DOCTYPE bom [<!ENTITY x SYSTEM "file:///etc/passwd">]><bom ', 1
        )
        response = self.upload(raw, "xxe.xml")
        self.assertEqual(response.status_code, 400, response.content)
        error = response.json()["error"]
        self.assertIn("DTD", error["message"])
        self.assertFalse(Finding.objects.for_tenant(self.tenant).exists())
