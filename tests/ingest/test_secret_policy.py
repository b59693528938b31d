"""No raw secret is stored, from any format, and secret fingerprints are keyed.

Each report goes in as a client sends it (`ingest_submit`, or the upload API) and the
assertions read the database: every text, JSON and binary column of every row the
tenant owns (`stored_strings`), so a value that reached any table, not only `findings`,
fails the test. Secret fingerprints are HMAC-SHA256 under the server's key
(ingest/secrets.py): the same secret at the same place is one finding across runs and
across the agent's and the upload's paths, and the reference SDK's unsalted formula over
the right guess does not find it.

The last classes run findings/migrations/0006 over rows as older ingests stored them.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import zlib
from typing import Any
from unittest import mock

from django.apps import apps
from django.db import models
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from agents.runtime.ris import to_ris
from findings.models import Finding, FindingSighting
from findings.rules.categories import FindingType
from findings.rules.fingerprint import secret_fingerprint
from findings.rules.severity import Severity
from ingest.parsers import trufflehog3
from ingest.parsers.credentials import MASK
from ingest.parsers.detect import parse_report
from ingest.pipeline import ingest_report
from ingest.secrets import KEYED_PREFIX, fingerprint_key, keyed_fingerprint
from ingest.services import ingest_submit
from protocol.report import Report, ReportFinding, ReportTarget
from rediverio.models import AuditEvent
from tests.factories import (
    AuditEventFactory,
    FindingFactory,
    FindingSightingFactory,
    MembershipFactory,
    TenantFactory,
)
from tests.shared_data import read

ASSET = {"asset": "github.com/acme/app"}
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB_TOKEN = "ghp_R8x2Lq7Vn4Tz9Kp3Wm6Hb1Jd5Fs0Yc2Ng8Ea"


# ------------------------------------------------------------------ reading the database


def stored_strings(tenant) -> list[str]:
    """Every string the tenant's rows hold, in every text, JSON and binary column of
    every model that has a tenant (findings, sightings, assets, sessions, ingests and
    chunks, audit events…)."""
    found: list[str] = []
    for model in apps.get_models():
        names = {f.name for f in model._meta.concrete_fields}
        if "tenant" not in names:
            continue
        columns = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(
                f, models.CharField | models.TextField | models.JSONField | models.BinaryField
            )
        ]
        for row in model.objects.filter(tenant=tenant).values(*columns):
            for value in row.values():
                found.extend(_strings(value))
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, memoryview | bytes):
        raw = bytes(value)
        with contextlib.suppress(zlib.error):
            raw = zlib.decompress(raw)  # a queued ingest's payload
        return [raw.decode("utf-8", "replace")]
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


class SecretPolicyCase(TestCase):
    def ingest(self, raw: bytes | str | dict | list, format: str | None = None, tenant=None):
        if isinstance(raw, dict | list):
            raw = json.dumps(raw)
        if isinstance(raw, str):
            raw = raw.encode()
        self.tenant = tenant or TenantFactory()
        run = ingest_submit(tenant=self.tenant, raw=raw, format=format, options=ASSET)
        self.assertEqual(run.status, "completed", run.error)
        return run

    def secrets(self, tenant=None):
        return Finding.objects.for_tenant(tenant or self.tenant).filter(finding_type="secret")

    def assertNothingStored(self, *values: str, prefix: int = 8, tenant=None):  # noqa: N802
        """Neither a value nor its first `prefix` characters (0: the whole value only)
        in any column."""
        strings = stored_strings(tenant or self.tenant)
        for value in values:
            for piece in {value, value[: prefix or len(value)]}:
                leaks = [s for s in strings if piece in s]
                self.assertEqual(leaks, [], f"{piece!r} is stored")

    def assertMasked(self, finding: Finding):  # noqa: N802
        """Keyed fingerprint, the fixed mask, no length; a snippet only around the mask."""
        self.assertTrue(finding.fingerprint.startswith(KEYED_PREFIX), finding.fingerprint)
        self.assertEqual(len(finding.fingerprint), len(KEYED_PREFIX) + 64)
        self.assertEqual(finding.metadata["secret"]["masked_value"], MASK)
        self.assertNotIn("length", finding.metadata["secret"])
        if finding.snippet:
            self.assertIn(MASK, finding.snippet)


# -------------------------------------------------------------------------- documents


def gitleaks_sarif(secret: str = AWS_SECRET) -> dict:
    """gitleaks 8's SARIF (`--report-format sarif`): the secret itself is the snippet."""
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "gitleaks",
                        "semanticVersion": "v8.18.2",
                        "informationUri": "https://github.com/gitleaks/gitleaks",
                        "rules": [
                            {
                                "id": "aws-secret-access-key",
                                "name": "AWS Secret Access Key",
                                "shortDescription": {"text": "Identified an AWS secret key."},
                            }
                        ],
                    }
                },
                "results": [
                    {
                        "message": {
                            "text": "aws-secret-access-key has detected secret for file "
                            "config/settings.py at commit 9c3f4d641d14eba27."
                        },
                        "ruleId": "aws-secret-access-key",
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": "config/settings.py"},
                                    "region": {
                                        "startLine": 12,
                                        "startColumn": 23,
                                        "endLine": 12,
                                        "endColumn": 63,
                                        "snippet": {"text": secret},
                                    },
                                }
                            }
                        ],
                        "partialFingerprints": {
                            "commitSha": "9c3f4d641d14eba27",
                            "email": "dev@example.com",
                            "author": "dev",
                            "date": "2024-05-01T10:00:00Z",
                            "commitMessage": "add settings",
                        },
                    }
                ],
            }
        ],
    }


def semgrep_secret_rule(secret: str = GITHUB_TOKEN) -> dict:
    """A secret-detection rule without a CWE tag, as semgrep's JSON writes it."""
    return {
        "version": "1.185.0",
        "errors": [],
        "results": [
            {
                "check_id": "generic.secrets.security.detected-github-token.detected-github-token",
                "path": "deploy/ci.sh",
                "start": {"line": 4, "col": 14, "offset": 60},
                "end": {"line": 4, "col": 54, "offset": 100},
                "extra": {
                    "message": "GitHub Token detected",
                    "severity": "ERROR",
                    "lines": f'export GH_TOKEN="{secret}"',
                    "fingerprint": "0c3a8f2a7d1e4b5c9f6e2d1a0b3c4d5e_0",
                    "metadata": {"category": "security", "technology": ["secrets", "github"]},
                },
            }
        ],
    }


def checkov_secret(secret: str = AWS_SECRET) -> dict:
    """checkov's secrets framework: it masks most of the secret in the code block itself."""
    return {
        "check_type": "secrets",
        "results": {
            "passed_checks": [],
            "failed_checks": [
                {
                    "check_id": "CKV_SECRET_6",
                    "check_name": "Base64 High Entropy String",
                    "file_path": "/deploy/env.sh",
                    "resource": "25910f981e85ca04baf359199dd0bd4a3ae738b6",
                    "file_line_range": [3, 3],
                    "code_block": [[3, f'AWS_SECRET="{secret[:4]}{"*" * (len(secret) - 4)}"\n']],
                }
            ],
            "skipped_checks": [],
            "parsing_errors": [],
        },
        "summary": {"passed": 0, "failed": 1, "checkov_version": "3.2.0"},
    }


def bandit_password(secret: str = "SuperSecret123!") -> dict:
    return {
        "errors": [],
        "generated_at": "2024-05-01T10:00:00Z",
        "metrics": {},
        "results": [
            {
                "test_id": "B105",
                "test_name": "hardcoded_password_string",
                "issue_text": f"Possible hardcoded password: '{secret}'",
                "issue_severity": "LOW",
                "issue_confidence": "MEDIUM",
                "issue_cwe": {"id": 259, "link": "https://cwe.mitre.org/data/definitions/259.html"},
                "filename": "app/config.py",
                "line_number": 8,
                "line_range": [8],
                "code": f"7 DEBUG = True\n8 DB_PASSWORD = '{secret}'\n",
            }
        ],
    }


def ris_secret(secret: str = GITHUB_TOKEN, *, fingerprint: str | None = None) -> dict:
    finding: dict[str, Any] = {
        "type": "secret",
        "title": "GitHub token in deploy/ci.sh",
        "severity": "critical",
        "rule_id": "github-pat",
        "description": f"The token {secret} is committed to deploy/ci.sh.",
        "location": {
            "path": "deploy/ci.sh",
            "start_line": 4,
            "end_line": 4,
            "snippet": f'export GH_TOKEN="{secret}"',
        },
        "secret": {
            "secret_type": "github",
            "secret_value": secret,
            "value": secret,
            "masked_value": f"{secret[:4]}****",
            "length": len(secret),
            "valid": True,
        },
        "properties": {"detector": {"secret_value": secret, "note": f"raw={secret}"}},
    }
    if fingerprint is not None:
        finding["fingerprint"] = fingerprint
    return {
        "version": "1.0",
        "metadata": {"timestamp": "2024-05-01T10:00:00Z"},
        "tool": {"name": "custom-scanner"},
        "findings": [finding],
    }


def flat_secret(secret: str = GITHUB_TOKEN) -> dict:
    return {
        "version": "1.0",
        "metadata": {"tool_name": "custom-scanner", "scan_id": "s-1"},
        "findings": [
            {
                "type": "secret",
                "rule_id": "github-pat",
                "severity": "high",
                "message": f"GitHub token {secret} found",
                "description": f"Rotate {secret}.",
                "file_path": "deploy/ci.sh",
                "start_line": 4,
                "snippet": f"TOKEN={secret}",
                "metadata": {"secret": {"secret_value": secret, "length": len(secret)}},
            }
        ],
    }


# ------------------------------------------------------------------------------ formats


class EveryFormatStoresNoRawSecret(SecretPolicyCase):
    def test_gitleaks_json_keeps_the_matched_line_masked_and_nothing_of_the_secrets(self):
        self.ingest(read("gitleaks/gitleaks8_many.json"))
        secrets = ["secretAWSsecret", "-----BEGIN RSA PRIVATE KEY-----", "dfjksdjfs3294dfjlsdaf213"]
        self.assertNothingStored(*secrets)
        self.assertNothingStored("dfjksdjfs3294dfjlsdaf213", prefix=4)
        self.assertEqual(self.secrets().count(), 3)
        for finding in self.secrets():
            self.assertMasked(finding)
        api_key = self.secrets().get(rule_id="generic-api-key")
        self.assertEqual(api_key.snippet, 'apikey = "••••••••"')

    def test_gitleaks_sarif_is_a_secret_whose_snippet_is_not_kept(self):
        self.ingest(gitleaks_sarif())
        [finding] = self.secrets()
        self.assertMasked(finding)
        self.assertEqual((finding.snippet, finding.source_category), ("", "secrets"))
        self.assertEqual(finding.partial_fingerprints["commitSha"], "9c3f4d641d14eba27")
        self.assertNothingStored(AWS_SECRET, prefix=4)

    def test_trufflehog_keeps_neither_raw_nor_decoded_nor_redacted_values(self):
        raw = read("trufflehog/v3_git.json")
        self.ingest(raw)
        values = []
        for line in raw.decode().splitlines():
            record = json.loads(line)
            values += [record["Raw"], base64.b64decode(record["Raw"]).decode()]
            values.append(record["Redacted"])
        # Whole values: the URI secret begins as its repository's URL does ("https://").
        self.assertNothingStored(*values, prefix=0)
        self.assertNothingStored("AKIAYVP4CIPPERUVIFXG")
        self.assertEqual(self.secrets().count(), 3)
        for finding in self.secrets():
            self.assertMasked(finding)

    def test_trufflehog3_keeps_the_line_masked_and_no_length(self):
        raw = read("trufflehog3/many_vulns_current.json")
        self.ingest(raw)
        self.assertNothingStored(*(issue["secret"] for issue in json.loads(raw)))
        for finding in self.secrets():
            self.assertMasked(finding)

    def test_detect_secrets_keeps_no_hash_and_a_keyed_fingerprint(self):
        raw = read("detect_secrets/many_findings.json")
        self.ingest(raw)
        hashes = [
            entry["hashed_secret"]
            for entries in json.loads(raw)["results"].values()
            for entry in entries
        ]
        self.assertNothingStored(*hashes)
        first = self.secrets().get(file_path="modules_images", start_line=151)
        self.assertMasked(first)
        # The reference SDK's formula over the hash is what identifies it, keyed.
        plain = secret_fingerprint(
            path="modules_images", rule_id="Secret Keyword", start_line=151, secret=hashes[0]
        )
        self.assertEqual(first.fingerprint, keyed_fingerprint(plain, fingerprint_key()))

    def test_checkov_secrets_keep_no_code_line(self):
        self.ingest(checkov_secret())
        [finding] = self.secrets()
        self.assertMasked(finding)
        self.assertEqual(finding.snippet, "")
        self.assertNothingStored(AWS_SECRET[:4] + "****")

    def test_trivy_secrets_keep_trivys_masked_line_with_the_fixed_mask(self):
        self.ingest(read("trivy/misconfigurations_and_secrets.json"))
        snippets = sorted(self.secrets().values_list("snippet", flat=True))
        self.assertEqual(snippets, ["ENV GITHUB_PAT=••••••••", "GITHUB_PAT=••••••••"])
        for finding in self.secrets():
            self.assertMasked(finding)
        self.assertNothingStored("*****", prefix=5)  # one * per character: the length

    def test_a_semgrep_secret_rule_without_a_cwe_is_a_secret_without_its_line(self):
        self.ingest(semgrep_secret_rule())
        [finding] = self.secrets()
        self.assertMasked(finding)
        self.assertEqual((finding.snippet, finding.source_category), ("", "secrets"))
        self.assertNothingStored(GITHUB_TOKEN, prefix=4)

    def test_a_bandit_hardcoded_password_is_a_secret_masked_in_its_message(self):
        self.ingest(bandit_password())
        [finding] = self.secrets()
        self.assertMasked(finding)
        self.assertEqual(finding.title, "Possible hardcoded password: '••••••••'")
        self.assertEqual((finding.snippet, finding.source_category), ("", "sast"))
        self.assertNothingStored("SuperSecret123!", prefix=4)

    def test_ris_keeps_no_value_wherever_the_sender_put_it(self):
        self.ingest(ris_secret())
        [finding] = self.secrets()
        self.assertMasked(finding)
        self.assertEqual(finding.snippet, 'export GH_TOKEN="••••••••"')
        self.assertEqual(finding.description, "The token •••••••• is committed to deploy/ci.sh.")
        self.assertEqual(
            finding.metadata["secret"],
            {"secret_type": "github", "valid": True, "masked_value": MASK},
        )
        self.assertEqual(finding.metadata["properties"], {"detector": {"note": "raw=••••••••"}})
        self.assertNothingStored(GITHUB_TOKEN, prefix=4)

    def test_flat_keeps_no_value_and_no_length(self):
        self.ingest(flat_secret())
        [finding] = self.secrets()
        self.assertMasked(finding)
        self.assertEqual(
            (finding.title, finding.description, finding.snippet),
            ("GitHub token •••••••• found", "Rotate ••••••••.", "TOKEN=••••••••"),
        )
        self.assertNothingStored(GITHUB_TOKEN, prefix=4)

    def test_a_ris_vulnerability_of_a_hard_coded_credential_is_filed_as_a_secret(self):
        # An older agent sends bandit's finding as a vulnerability with its old mask.
        document = {
            "version": "1.0",
            "metadata": {"timestamp": "2024-05-01T10:00:00Z"},
            "tool": {"name": "bandit"},
            "findings": [
                {
                    "type": "vulnerability",
                    "title": "Possible hardcoded password: 'Supe****'",
                    "severity": "low",
                    "rule_id": "B105",
                    "location": {"path": "app/config.py", "start_line": 8},
                    "vulnerability": {"cwe_ids": ["CWE-259"]},
                }
            ],
        }
        self.ingest(document, format="ris")
        [finding] = self.secrets()
        self.assertMasked(finding)
        self.assertEqual(finding.title, "Possible hardcoded password: '••••••••'")


class TheServerAppliesThePolicyWhoeverBuiltTheReport(SecretPolicyCase):
    def test_a_report_built_in_code_is_masked_and_keyed_before_it_is_stored(self):
        # As an agent program's own adapter might build it: the values in `secret_values`
        # and, carelessly, everywhere else too.
        finding = ReportFinding(
            rule_id="github-pat",
            title=f"Token {GITHUB_TOKEN}",
            severity=Severity.HIGH,
            finding_type=FindingType.SECRET,
            description=f"Found {GITHUB_TOKEN} in {AWS_SECRET[:12]}",
            file_path="deploy/ci.sh",
            start_line=4,
            snippet=f"TOKEN={GITHUB_TOKEN}",
            references=[f"https://example.com/?t={GITHUB_TOKEN}"],
            partial_fingerprints={"primaryLocationLineHash": "9cbc869fbfffeb60:1"},
            metadata={"secret": {"length": 40, "masked_value": "ghp_****"}, "x": [GITHUB_TOKEN]},
            secret_values=[GITHUB_TOKEN, AWS_SECRET[:12]],
        )
        tenant = TenantFactory()
        ingest_report(
            tenant=tenant,
            report=Report(tool_name="custom", findings=[finding]),
            default_target=ReportTarget(identifier="github.com/acme/app", type="repository"),
        )
        [stored] = self.secrets(tenant)
        self.assertMasked(stored)
        self.assertEqual(
            (stored.title, stored.description, stored.snippet, stored.references),
            (
                "Token ••••••••",
                "Found •••••••• in ••••••••",
                "TOKEN=••••••••",
                ["https://example.com/?t=••••••••"],
            ),
        )
        self.assertEqual(stored.metadata, {"secret": {"masked_value": MASK}, "x": [MASK]})
        # A hash of the line holding the secret is keyed too.
        self.assertEqual(
            stored.partial_fingerprints["primaryLocationLineHash"],
            keyed_fingerprint("9cbc869fbfffeb60:1", fingerprint_key()),
        )
        self.assertEqual(finding.secret_values, [])  # dropped once applied
        self.assertNothingStored(GITHUB_TOKEN, AWS_SECRET[:12], prefix=4, tenant=tenant)


class TheFindingPage(SecretPolicyCase):
    def test_a_viewer_sees_the_mask_not_the_secret_on_the_finding_page(self):
        tenant = TenantFactory()
        viewer = MembershipFactory(tenant=tenant, role="viewer").user
        member = MembershipFactory(tenant=tenant, role="member").user
        client = APIClient()
        client.force_login(member)
        upload = client.post(
            "/api/v1/ingest/upload",
            {"file": _file("gitleaks.sarif", gitleaks_sarif()), "asset": "github.com/acme/app"},
            format="multipart",
        )
        self.assertEqual(upload.status_code, 201, upload.content)
        [finding] = self.secrets(tenant)
        self.client.force_login(viewer)
        page = self.client.get(reverse("findings:detail", args=[finding.pk]))
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, AWS_SECRET[:8])


def _file(name: str, document: dict):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, json.dumps(document).encode())


# --------------------------------------------------------------------------- fingerprints


class KeyedFingerprints(SecretPolicyCase):
    def test_the_same_secret_at_the_same_place_is_one_finding_across_runs(self):
        tenant = TenantFactory()
        first = self.ingest(ris_secret(), tenant=tenant)
        again = self.ingest(ris_secret(), tenant=tenant)
        self.assertEqual(
            (first.result["findings_created"], again.result["findings_created"]), (1, 0)
        )
        self.assertEqual(again.result["findings_updated"], 1)
        self.assertEqual(self.secrets(tenant).get().occurrence_count, 2)

    def test_a_guess_hashed_with_the_sdk_formula_does_not_find_the_stored_finding(self):
        self.ingest(read("gitleaks/gitleaks8_many.json"))
        guess = secret_fingerprint(
            path="tests/api.py",
            rule_id="generic-api-key",
            start_line=21,
            secret="dfjksdjfs3294dfjlsdaf213",
        )
        stored = set(self.secrets().values_list("fingerprint", flat=True))
        self.assertNotIn(guess, stored)
        self.assertIn(keyed_fingerprint(guess, fingerprint_key()), stored)

    def test_an_agents_fingerprint_for_a_secret_is_replaced_by_the_keyed_one(self):
        self.ingest(ris_secret(fingerprint=f"sha-of-{GITHUB_TOKEN}"))
        [finding] = self.secrets()
        self.assertEqual(
            finding.fingerprint, keyed_fingerprint(f"sha-of-{GITHUB_TOKEN}", fingerprint_key())
        )

    def test_the_agents_report_and_an_upload_of_the_tools_file_give_the_same_finding(self):
        raw = read("trufflehog3/many_vulns_current.json")
        uploaded = TenantFactory()
        self.ingest(raw, tenant=uploaded)
        from_agent = TenantFactory()
        agent_report = to_ris(trufflehog3.parse(raw))
        self.assertNotIn("secret_values", json.dumps(agent_report))
        self.ingest(agent_report, format="ris", tenant=from_agent)
        self.assertEqual(
            set(self.secrets(uploaded).values_list("fingerprint", "snippet")),
            set(self.secrets(from_agent).values_list("fingerprint", "snippet")),
        )
        self.assertNothingStored(*(issue["secret"] for issue in json.loads(raw)), tenant=from_agent)

    def test_the_fingerprint_key_is_its_own_setting_when_set(self):
        with override_settings(SECRET_FINGERPRINT_KEY="a-key-for-fingerprints-only"):
            self.ingest(ris_secret())
            with_own_key = self.secrets().get().fingerprint
        self.ingest(ris_secret())
        self.assertNotEqual(self.secrets().get().fingerprint, with_own_key)
        with override_settings(SECRET_KEY="another-secret-key"):
            self.ingest(ris_secret())
            self.assertNotEqual(self.secrets().get().fingerprint, with_own_key)

    def test_findings_that_are_no_secrets_keep_their_fingerprints(self):
        raw = read("semgrep/one_finding.json")
        self.ingest(raw)
        [expected] = [f.fingerprint for f in parse_report(raw).findings]
        stored = Finding.objects.for_tenant(self.tenant).get()
        self.assertEqual(stored.fingerprint, expected)


# ------------------------------------------------------------------------------ migration

MIGRATION = importlib.import_module("findings.migrations.0006_secret_findings_masked")


def migrate() -> None:
    MIGRATION.mask_stored_secrets(apps, None)


def legacy_ingest(tenant, raw: bytes | str, format: str | None = None):
    """Store a report as the code before the policy did: the parsers' fingerprints as
    they are, unkeyed (the masking below puts back what it used to store)."""
    with mock.patch("ingest.pipeline.apply_secret_policy", lambda report: report):
        raw = raw.encode() if isinstance(raw, str) else raw
        return ingest_submit(tenant=tenant, raw=raw, format=format, options=ASSET)


class TheMigrationRemasksStoredSecrets(SecretPolicyCase):
    def test_old_masks_and_lengths_go_and_the_next_ingest_finds_the_same_findings(self):
        tenant = TenantFactory()
        raw = read("gitleaks/gitleaks8_many.json")
        legacy_ingest(tenant, raw)
        api_key = Finding.objects.for_tenant(tenant).get(rule_id="generic-api-key")
        # What the parser of the time stored: the first four characters and the length.
        api_key.snippet = 'apikey = "dfjk****"'
        api_key.metadata["secret"] |= {"masked_value": "dfjk****", "length": 24}
        api_key.save()
        plain = api_key.fingerprint

        migrate()

        api_key.refresh_from_db()
        self.assertEqual(api_key.fingerprint, keyed_fingerprint(plain, fingerprint_key()))
        self.assertEqual(api_key.snippet, 'apikey = "••••••••"')
        self.assertNotIn("length", api_key.metadata["secret"])
        self.assertNothingStored("dfjk****", prefix=8, tenant=tenant)
        again = ingest_submit(tenant=tenant, raw=raw, format=None, options=ASSET)
        self.assertEqual(
            (again.result["findings_created"], again.result["findings_updated"]), (0, 3)
        )

    def test_a_gitleaks_sarif_vulnerability_becomes_a_secret_without_its_snippet(self):
        tenant = TenantFactory()
        legacy_ingest(tenant, json.dumps(gitleaks_sarif()))
        Finding.objects.for_tenant(tenant).update(
            finding_type="vulnerability", source_category="", snippet=AWS_SECRET
        )
        AuditEventFactory(
            tenant=tenant,
            target_type="finding",
            target_id=str(Finding.objects.for_tenant(tenant).get().pk),
            target_name="[high] aws-secret-access-key has detected secret",
            details={"note": f"rotated {AWS_SECRET} already"},
        )

        migrate()

        [finding] = self.secrets(tenant)
        self.assertMasked(finding)
        self.assertEqual((finding.snippet, finding.source_category), ("", "secrets"))
        self.assertNothingStored(AWS_SECRET, prefix=8, tenant=tenant)
        event = AuditEvent.objects.get(tenant=tenant)
        self.assertEqual(event.details["note"], "rotated •••••••• already")
        again = ingest_submit(
            tenant=tenant, raw=json.dumps(gitleaks_sarif()).encode(), format=None, options=ASSET
        )
        self.assertEqual(again.result["findings_created"], 0)

    def test_ris_values_in_snippet_description_and_metadata_are_masked(self):
        tenant = TenantFactory()
        legacy_ingest(tenant, json.dumps(ris_secret()))
        Finding.objects.for_tenant(tenant).update(
            snippet=f'export GH_TOKEN="{GITHUB_TOKEN}"',
            description=f"The token {GITHUB_TOKEN} is committed.",
            metadata={"secret": {"secret_type": "github", "secret_value": GITHUB_TOKEN}},
        )
        finding = Finding.objects.for_tenant(tenant).get()
        AuditEventFactory(
            tenant=tenant,
            target_type="finding",
            target_id=str(finding.pk),
            target_name=f"[critical] token {GITHUB_TOKEN}",
        )

        migrate()

        finding.refresh_from_db()
        self.assertMasked(finding)
        self.assertEqual(finding.snippet, 'export GH_TOKEN="••••••••"')
        self.assertEqual(finding.description, "The token •••••••• is committed.")
        self.assertEqual(
            AuditEvent.objects.get(tenant=tenant).target_name, "[critical] token ••••••••"
        )
        self.assertNothingStored(GITHUB_TOKEN, prefix=4, tenant=tenant)

    def test_a_bandit_password_stored_as_a_vulnerability_is_masked_and_keyed(self):
        tenant = TenantFactory()
        finding = FindingFactory(
            tenant=tenant,
            tool_name="bandit",
            rule_id="B105",
            finding_type="vulnerability",
            title="Possible hardcoded password: 'Supe****'",
            description="Possible hardcoded password: 'Supe****'",
            cwe_ids=["CWE-259"],
        )
        plain = finding.fingerprint
        migrate()
        finding.refresh_from_db()
        self.assertEqual(
            (finding.finding_type, finding.title, finding.fingerprint),
            (
                "secret",
                "Possible hardcoded password: '••••••••'",
                keyed_fingerprint(plain, fingerprint_key()),
            ),
        )

    def test_a_semgrep_secret_rule_stored_as_a_vulnerability_loses_its_matched_line(self):
        tenant = TenantFactory()
        finding = FindingFactory(
            tenant=tenant,
            rule_id="rules.github-token",
            finding_type="vulnerability",
            snippet=f'export GH_TOKEN="{GITHUB_TOKEN}"',
            metadata={"category": "security", "technology": ["secrets", "github"]},
        )
        plain = finding.fingerprint
        migrate()
        finding.refresh_from_db()
        self.assertMasked(finding)
        self.assertEqual(
            (finding.finding_type, finding.source_category, finding.snippet),
            ("secret", "secrets", ""),
        )
        self.assertEqual(finding.fingerprint, keyed_fingerprint(plain, fingerprint_key()))
        self.assertNothingStored(GITHUB_TOKEN, prefix=4, tenant=tenant)

    def test_an_already_keyed_duplicate_is_merged_into_the_older_finding(self):
        tenant = TenantFactory()
        old = FindingFactory(
            tenant=tenant,
            tool_name="gitleaks",
            rule_id="generic-api-key",
            finding_type="secret",
            status="false_positive",
            first_seen_at=timezone.now() - timezone.timedelta(days=30),
            last_seen_at=timezone.now() - timezone.timedelta(days=2),
            occurrence_count=3,
            metadata={"secret": {"masked_value": "dfjk****"}, "triage": [{"at": "1", "to": "fp"}]},
        )
        new = FindingFactory(
            tenant=tenant,
            asset=old.asset,
            tool_name="gitleaks",
            rule_id="generic-api-key",
            finding_type="secret",
            fingerprint=keyed_fingerprint(old.fingerprint, fingerprint_key()),
            first_seen_at=timezone.now(),
            last_seen_at=timezone.now(),
            occurrence_count=1,
            metadata={"secret": {"masked_value": MASK}},
        )
        FindingSightingFactory(tenant=tenant, finding=new)
        FindingSightingFactory(tenant=tenant, finding=old)

        migrate()

        [merged] = Finding.objects.for_tenant(tenant)
        self.assertEqual(merged.pk, old.pk)
        self.assertEqual(merged.fingerprint, new.fingerprint)
        self.assertEqual(merged.status, "false_positive")  # a person's decision stays
        self.assertEqual((merged.occurrence_count, merged.last_seen_at), (4, new.last_seen_at))
        self.assertEqual(merged.metadata["triage"], [{"at": "1", "to": "fp"}])
        self.assertEqual(FindingSighting.objects.filter(finding=merged).count(), 2)

    def test_it_changes_nothing_the_second_time_nor_a_finding_that_is_no_secret(self):
        tenant = TenantFactory()
        legacy_ingest(tenant, read("gitleaks/gitleaks8_many.json"))
        sast = FindingFactory(tenant=tenant, title="Use of 'eval'", snippet="eval(x) # ****")
        migrate()
        first = list(Finding.objects.for_tenant(tenant).order_by("pk").values())
        migrate()
        self.assertEqual(list(Finding.objects.for_tenant(tenant).order_by("pk").values()), first)
        untouched = Finding.objects.get(pk=sast.pk)
        self.assertEqual(
            (untouched.fingerprint, untouched.title, untouched.snippet),
            (sast.fingerprint, "Use of 'eval'", "eval(x) # ****"),
        )
