"""The scan profile API (`/api/v1/scan-profiles…`), as a team's users and scripts see it."""

from __future__ import annotations

import re
import threading
import uuid

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import TestCase, TransactionTestCase
from rest_framework.test import APIClient

from rediverio.models import Tenant
from rediverio.services import api_token_create
from scans.models import ScanProfile
from scans.profile_services import scan_profile_clone, scan_profile_update
from scans.profiles import SYSTEM_PROFILES
from scans.services import system_profiles_install
from tests.factories import (
    MembershipFactory,
    ScanFactory,
    ScanProfileFactory,
    TenantFactory,
    UserFactory,
)
from tests.test_openapi import generate_schema, schema_validator

PROFILES = "/api/v1/scan-profiles"
GATE_DEFAULTS = {
    "enabled": False,
    "fail_on_critical": False,
    "fail_on_high": False,
    "max_critical": -1,
    "max_high": -1,
    "max_medium": -1,
    "max_total": -1,
    "new_findings_only": False,
}
FIELDS = {
    "id",
    "name",
    "description",
    "tools_config",
    "intensity",
    "max_concurrent_scans",
    "timeout_seconds",
    "tags",
    "quality_gate",
    "is_default",
    "is_system",
    "created_at",
    "updated_at",
}


def profile_url(profile: ScanProfile | str, action: str = "") -> str:
    url = f"{PROFILES}/{getattr(profile, 'pk', profile)}"
    return f"{url}/{action}" if action else url


def member(tenant: Tenant, role: str) -> User:
    return MembershipFactory(tenant=tenant, role=role).user


def client(user: User | None = None) -> APIClient:
    api = APIClient()
    # A crash must show up as a 500 to assert on, not as an exception in the test.
    api.raise_request_exception = False
    if user is not None:
        api.force_login(user)
    return api


def token_client(secret: str) -> APIClient:
    api = client()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


class ProfileApiTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="team")
        cls.owner = member(cls.tenant, "owner")
        cls.admin = member(cls.tenant, "admin")
        cls.member = member(cls.tenant, "member")
        cls.viewer = member(cls.tenant, "viewer")
        cls.other_tenant = TenantFactory(plan="team")
        cls.outsider = member(cls.other_tenant, "owner")

    def setUp(self):
        self.api = client(self.admin)

    def profiles(self, tenant: Tenant | None = None):
        return ScanProfile.objects.for_tenant(tenant or self.tenant)

    def assert_error(self, response, status: int, code: str) -> dict:
        self.assertEqual(response.status_code, status, response.content)
        body = response.json()
        self.assertEqual(set(body), {"error"})
        self.assertEqual(set(body["error"]), {"code", "message", "details"})
        self.assertEqual(body["error"]["code"], code)
        self.assertTrue(body["error"]["message"])
        return body["error"]

    def assert_validation_error(self, response, field: str) -> dict:
        error = self.assert_error(response, 400, "VALIDATION_ERROR")
        self.assertTrue(
            error["message"].startswith(f"{field}:"),
            f"{error['message']!r} does not name {field!r}",
        )
        self.assertIn(re.split(r"[.\[]", field)[0], error["details"])
        return error

    def create(self, **body):
        return self.api.post(PROFILES, {"name": "Nightly", **body}, format="json")

    def every_endpoint(self, profile_id):
        """(method, url, body) for each operation on one profile."""
        return [
            ("get", profile_url(profile_id), None),
            ("put", profile_url(profile_id), {"name": "renamed"}),
            ("patch", profile_url(profile_id), {"description": "changed"}),
            ("delete", profile_url(profile_id), None),
            ("post", profile_url(profile_id, "clone"), {}),
            ("put", profile_url(profile_id, "quality-gate"), {"enabled": True}),
            ("post", profile_url(profile_id, "evaluate-quality-gate"), {"by_severity": {}}),
        ]

    def call(self, api: APIClient, method: str, url: str, body):
        return getattr(api, method)(url, body, format="json")


class ProfileList(ProfileApiTestCase):
    def test_it_lists_only_the_callers_tenants_profiles(self):
        mine = ScanProfileFactory.create_batch(2, tenant=self.tenant)
        ScanProfileFactory(tenant=self.other_tenant)
        response = self.api.get(PROFILES)
        self.assertEqual(response.status_code, 200)
        self.assertEqual({p["id"] for p in response.json()["results"]}, {str(p.pk) for p in mine})

    def test_it_answers_a_page_with_the_default_first_then_by_name(self):
        for name in ("charlie", "alpha", "bravo"):
            ScanProfileFactory(tenant=self.tenant, name=name)
        ScanProfileFactory(tenant=self.tenant, name="zulu", is_default=True)
        page = self.api.get(PROFILES, {"limit": 3}).json()
        self.assertEqual(set(page), {"count", "next", "previous", "results"})
        self.assertEqual(page["count"], 4)
        self.assertEqual([p["name"] for p in page["results"]], ["zulu", "alpha", "bravo"])
        self.assertIn("offset=3", page["next"])
        second = self.api.get(page["next"]).json()
        self.assertEqual([p["name"] for p in second["results"]], ["charlie"])

    def test_a_profile_is_listed_with_its_public_fields(self):
        ScanProfileFactory(tenant=self.tenant, tags=["sast"])
        (listed,) = self.api.get(PROFILES).json()["results"]
        self.assertEqual(set(listed), FIELDS)
        self.assertEqual(listed["tags"], ["sast"])
        self.assertEqual(listed["quality_gate"], GATE_DEFAULTS)

    def test_it_filters_on_is_system(self):
        system_profiles_install(tenant=self.tenant)
        ScanProfileFactory(tenant=self.tenant, name="Ours")
        own = self.api.get(PROFILES, {"is_system": "false"}).json()
        self.assertEqual([p["name"] for p in own["results"]], ["Ours"])
        shipped = self.api.get(PROFILES, {"is_system": "true"}).json()
        self.assertEqual(shipped["count"], len(SYSTEM_PROFILES))
        self.assertTrue(all(p["is_system"] for p in shipped["results"]))

    def test_a_bad_is_system_filter_is_refused_naming_it(self):
        self.assert_validation_error(self.api.get(PROFILES, {"is_system": "maybe"}), "is_system")

    def test_search_looks_in_the_name_ignoring_case(self):
        for name in ("Nightly SAST", "weekly sast", "Secrets"):
            ScanProfileFactory(tenant=self.tenant, name=name)
        ScanProfileFactory(tenant=self.other_tenant, name="Their SAST")
        response = self.api.get(PROFILES, {"search": "SAST"})
        self.assertEqual(
            [p["name"] for p in response.json()["results"]], ["Nightly SAST", "weekly sast"]
        )


class ProfileCreation(ProfileApiTestCase):
    def test_it_creates_a_profile_with_every_setting(self):
        body = {
            "name": "Nightly",
            "description": "Every night",
            "tools_config": {
                "semgrep": {
                    "enabled": True,
                    "severity": "medium",
                    "timeout": 1800,
                    "options": {"config": "p/ci"},
                },
                "nuclei": {
                    "enabled": False,
                    "template_mode": "both",
                    "custom_template_ids": ["t-1", "t-2"],
                },
            },
            "intensity": "high",
            "max_concurrent_scans": 3,
            "timeout_seconds": 7200,
            "tags": ["sast", "python"],
            "quality_gate": {"enabled": True, "fail_on_critical": True, "max_total": 20},
        }
        response = self.api.post(PROFILES, body, format="json")
        self.assertEqual(response.status_code, 201, response.content)
        profile = self.profiles().get(pk=response.json()["id"])
        self.assertEqual(profile.description, "Every night")
        self.assertEqual(profile.tools_config, body["tools_config"])
        self.assertEqual(profile.intensity, "high")
        self.assertEqual((profile.max_concurrent_scans, profile.timeout_seconds), (3, 7200))
        self.assertEqual(profile.tags, ["python", "sast"])
        gate = {**GATE_DEFAULTS, "enabled": True, "fail_on_critical": True, "max_total": 20}
        self.assertEqual(profile.quality_gate, gate)
        self.assertFalse(profile.is_system)
        self.assertFalse(profile.is_default)
        self.assertEqual(response.json()["quality_gate"], gate)
        self.assertEqual(response.json()["tools_config"], body["tools_config"])

    def test_defaults_apply_to_fields_left_out(self):
        response = self.create()
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual(body["tools_config"], {})
        self.assertEqual(body["intensity"], "medium")
        self.assertEqual((body["max_concurrent_scans"], body["timeout_seconds"]), (5, 3600))
        self.assertEqual(body["tags"], [])
        self.assertEqual(body["quality_gate"], GATE_DEFAULTS)
        self.assertFalse(body["is_default"])

    def test_a_tool_is_enabled_unless_it_says_otherwise(self):
        response = self.create(tools_config={"bandit": {}})
        self.assertEqual(response.json()["tools_config"], {"bandit": {"enabled": True}})

    def test_a_new_profile_is_never_a_system_profile(self):
        response = self.create(is_system=True, id=str(uuid.uuid4()))
        self.assertEqual(response.status_code, 201, response.content)
        self.assertFalse(self.profiles().get(pk=response.json()["id"]).is_system)

    def test_the_name_is_stored_trimmed(self):
        response = self.create(name="  Nightly  ")
        self.assertEqual(response.json()["name"], "Nightly")


class ProfileDetail(ProfileApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.profile = ScanProfileFactory(
            tenant=cls.tenant,
            name="Nightly",
            tools_config={"semgrep": {"enabled": True}},
            tags=["sast"],
        )

    def test_get_returns_the_profile(self):
        response = self.api.get(profile_url(self.profile))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(set(response.json()), FIELDS)
        self.assertEqual(response.json()["name"], "Nightly")

    def test_put_replaces_the_given_settings(self):
        body = {
            "name": "Weekly",
            "description": "d",
            "tools_config": {"bandit": {"enabled": True, "severity": "high"}},
            "intensity": "low",
            "max_concurrent_scans": 2,
            "timeout_seconds": 60,
            "tags": ["python"],
            "quality_gate": {"enabled": True, "max_high": 1},
        }
        response = self.api.put(profile_url(self.profile), body, format="json")
        self.assertEqual(response.status_code, 200, response.content)
        self.profile.refresh_from_db()
        self.assertEqual(self.profile.name, "Weekly")
        self.assertEqual(self.profile.tools_config, body["tools_config"])
        self.assertEqual(self.profile.intensity, "low")
        self.assertEqual(self.profile.timeout_seconds, 60)
        self.assertEqual(self.profile.tags, ["python"])
        self.assertEqual(
            self.profile.quality_gate, {**GATE_DEFAULTS, "enabled": True, "max_high": 1}
        )

    def test_put_needs_the_name(self):
        response = self.api.put(profile_url(self.profile), {"intensity": "low"}, format="json")
        self.assert_validation_error(response, "name")

    def test_put_may_keep_the_profiles_own_name(self):
        response = self.api.put(profile_url(self.profile), {"name": "Nightly"}, format="json")
        self.assertEqual(response.status_code, 200, response.content)

    def test_patch_changes_only_the_given_fields(self):
        response = self.api.patch(profile_url(self.profile), {"intensity": "high"}, format="json")
        self.assertEqual(response.status_code, 200, response.content)
        self.profile.refresh_from_db()
        self.assertEqual(self.profile.intensity, "high")
        self.assertEqual(self.profile.name, "Nightly")
        self.assertEqual(self.profile.tools_config, {"semgrep": {"enabled": True}})
        self.assertEqual(self.profile.tags, ["sast"])

    def test_read_only_fields_are_not_changed_by_an_update(self):
        before = self.profile.created_at
        body = {"is_system": True, "id": str(uuid.uuid4()), "created_at": "2000-01-01T00:00:00Z"}
        response = self.api.patch(profile_url(self.profile), body, format="json")
        self.assertEqual(response.status_code, 200, response.content)
        self.profile.refresh_from_db()
        self.assertFalse(self.profile.is_system)
        self.assertEqual(self.profile.created_at, before)

    def test_delete_removes_the_profile(self):
        response = self.api.delete(profile_url(self.profile))
        self.assertEqual(response.status_code, 204)
        self.assertEqual(response.content, b"")
        self.assertFalse(self.profiles().filter(pk=self.profile.pk).exists())

    def test_deleting_a_profile_a_scan_uses_is_refused_with_409(self):
        ScanFactory(tenant=self.tenant, name="Repo scan", profile=self.profile)
        error = self.assert_error(self.api.delete(profile_url(self.profile)), 409, "PROFILE_IN_USE")
        self.assertIn("Repo scan", error["message"])
        self.assertEqual(error["details"], {"scans": ["Repo scan"]})
        self.assertTrue(self.profiles().filter(pk=self.profile.pk).exists())


class SystemProfiles(ProfileApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        system_profiles_install(tenant=cls.tenant)
        cls.full = ScanProfile.objects.for_tenant(cls.tenant).get(name="Full")

    def test_a_system_profile_can_be_read(self):
        response = client(self.viewer).get(profile_url(self.full))
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.json()["is_system"])
        self.assertEqual(response.json()["tools_config"], self.full.tools_config)

    def test_a_system_profile_cannot_be_changed_or_deleted(self):
        writes = [
            ("put", profile_url(self.full), {"name": "Mine"}),
            ("patch", profile_url(self.full), {"intensity": "low"}),
            ("patch", profile_url(self.full), {"is_default": True}),
            ("delete", profile_url(self.full), None),
            ("put", profile_url(self.full, "quality-gate"), {"enabled": True}),
        ]
        for method, url, body in writes:
            with self.subTest(method=method, url=url):
                response = self.call(self.api, method, url, body)
                error = self.assert_error(response, 403, "SYSTEM_PROFILE")
                self.assertIn("clone", error["message"])
        full = self.profiles().get(pk=self.full.pk)
        self.assertEqual(
            (full.name, full.intensity, full.is_default, full.quality_gate),
            ("Full", "high", False, {}),
        )

    def test_the_owner_cannot_change_a_system_profile_either(self):
        response = client(self.owner).patch(profile_url(self.full), {"tags": []}, format="json")
        self.assert_error(response, 403, "SYSTEM_PROFILE")

    def test_a_system_profile_can_be_cloned_into_a_profile_of_the_team(self):
        response = self.api.post(profile_url(self.full, "clone"), {}, format="json")
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual(body["name"], "Full (copy)")
        self.assertFalse(body["is_system"])
        self.assertFalse(body["is_default"])
        clone = self.profiles().get(pk=body["id"])
        for field in ("description", "tools_config", "intensity", "timeout_seconds", "tags"):
            self.assertEqual(getattr(clone, field), getattr(self.full, field), field)
        self.assertNotEqual(clone.pk, self.full.pk)

    def test_the_clone_can_then_be_changed(self):
        clone_id = self.api.post(profile_url(self.full, "clone"), {}, format="json").json()["id"]
        response = self.api.patch(profile_url(clone_id), {"intensity": "low"}, format="json")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(self.profiles().get(pk=self.full.pk).intensity, "high")

    def test_a_system_profiles_quality_gate_can_be_evaluated(self):
        response = self.api.post(
            profile_url(self.full, "evaluate-quality-gate"),
            {"by_severity": {"critical": 3}},
            format="json",
        )
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(
            response.json(), {"passed": True, "reason": "quality gate disabled", "breaches": []}
        )


class Cloning(ProfileApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.profile = ScanProfileFactory(
            tenant=cls.tenant,
            name="Nightly",
            is_default=True,
            tools_config={"semgrep": {"enabled": True, "options": {"config": "auto"}}},
            quality_gate={**GATE_DEFAULTS, "enabled": True, "max_high": 2},
        )

    def clone(self, **body):
        return self.api.post(profile_url(self.profile, "clone"), body, format="json")

    def test_copies_are_numbered_when_the_copy_name_is_taken(self):
        names = [self.clone().json()["name"] for _ in range(3)]
        self.assertEqual(names, ["Nightly (copy)", "Nightly (copy 2)", "Nightly (copy 3)"])

    def test_the_copy_of_the_default_is_not_the_default(self):
        body = self.clone().json()
        self.assertFalse(body["is_default"])
        self.assertEqual(self.profiles().get(is_default=True), self.profile)

    def test_the_copy_takes_the_quality_gate_and_a_separate_tools_config(self):
        clone = self.profiles().get(pk=self.clone().json()["id"])
        self.assertEqual(clone.quality_gate, self.profile.quality_gate)
        clone.tools_config["semgrep"]["options"]["config"] = "changed"
        clone.save()
        self.profile.refresh_from_db()
        self.assertEqual(self.profile.tools_config["semgrep"]["options"], {"config": "auto"})

    def test_the_copy_may_be_named(self):
        response = self.clone(name="  Weekly ")
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["name"], "Weekly")

    def test_a_taken_name_is_refused_naming_the_field(self):
        ScanProfileFactory(tenant=self.tenant, name="Weekly")
        self.assert_validation_error(self.clone(name="Weekly"), "name")
        self.assert_validation_error(self.clone(name="Nightly"), "name")
        self.assertEqual(self.profiles().count(), 2)

    def test_unknown_and_bad_fields_are_refused(self):
        self.assert_validation_error(self.clone(name="x" * 201), "name")

    def test_a_long_name_is_cut_to_fit_its_copy_suffix(self):
        long = ScanProfileFactory(tenant=self.tenant, name="n" * 200)
        first = self.api.post(profile_url(long, "clone"), {}, format="json").json()["name"]
        second = self.api.post(profile_url(long, "clone"), {}, format="json").json()["name"]
        self.assertEqual(first, "n" * 193 + " (copy)")
        self.assertEqual(second, "n" * 191 + " (copy 2)")


class DefaultProfile(ProfileApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        system_profiles_install(tenant=cls.tenant)
        system_profiles_install(tenant=cls.other_tenant)

    def default(self, tenant: Tenant | None = None) -> ScanProfile:
        return self.profiles(tenant).get(is_default=True)

    def test_a_new_default_profile_takes_over_from_the_previous_one(self):
        self.assertEqual(self.default().name, "Quick SAST")
        response = self.create(is_default=True)
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(self.default().name, "Nightly")
        self.assertEqual(self.profiles().filter(is_default=True).count(), 1)
        self.assertEqual(self.default(self.other_tenant).name, "Quick SAST")

    def test_patching_is_default_moves_the_default(self):
        first = self.create(name="First", is_default=True).json()
        second = self.create(name="Second").json()
        response = self.api.patch(profile_url(second["id"]), {"is_default": True}, format="json")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertTrue(response.json()["is_default"])
        self.assertEqual(str(self.default().pk), second["id"])
        self.assertFalse(self.api.get(profile_url(first["id"])).json()["is_default"])
        self.assertEqual(self.profiles().filter(is_default=True).count(), 1)

    def test_unsetting_the_default_leaves_the_team_without_one(self):
        created = self.create(is_default=True).json()
        response = self.api.patch(profile_url(created["id"]), {"is_default": False}, format="json")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertFalse(self.profiles().filter(is_default=True).exists())

    def test_the_default_comes_first_in_the_list(self):
        self.create(name="AAA", is_default=True)
        self.assertEqual(self.api.get(PROFILES).json()["results"][0]["name"], "AAA")

    def test_saving_the_default_again_keeps_it(self):
        created = self.create(is_default=True).json()
        body = {"name": "Nightly", "is_default": True}
        response = self.api.put(profile_url(created["id"]), body, format="json")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(str(self.default().pk), created["id"])


class Validation(ProfileApiTestCase):
    def test_the_name_is_required(self):
        response = self.api.post(PROFILES, {"intensity": "low"}, format="json")
        self.assert_validation_error(response, "name")

    def test_a_blank_name_is_refused(self):
        self.assert_validation_error(self.create(name="   "), "name")

    def test_names_are_unique_within_a_tenant(self):
        ScanProfileFactory(tenant=self.tenant, name="Nightly")
        error = self.assert_validation_error(self.create(), "name")
        self.assertIn("already", error["message"])
        self.assert_validation_error(self.create(name="  Nightly "), "name")
        self.assertEqual(self.profiles().count(), 1)

    def test_a_system_profiles_name_is_taken_too(self):
        system_profiles_install(tenant=self.tenant)
        self.assert_validation_error(self.create(name="Full"), "name")

    def test_another_tenant_may_use_the_same_name(self):
        ScanProfileFactory(tenant=self.other_tenant, name="Nightly")
        self.assertEqual(self.create().status_code, 201)

    def test_renaming_onto_another_profiles_name_is_refused(self):
        ScanProfileFactory(tenant=self.tenant, name="taken")
        profile = ScanProfileFactory(tenant=self.tenant, name="free")
        for method in ("put", "patch"):
            with self.subTest(method=method):
                response = self.call(self.api, method, profile_url(profile), {"name": "taken"})
                self.assert_validation_error(response, "name")
        profile.refresh_from_db()
        self.assertEqual(profile.name, "free")

    def test_bad_fields_are_refused_naming_the_field(self):
        cases = [
            ("intensity", "extreme"),
            ("max_concurrent_scans", 0),
            ("max_concurrent_scans", 101),
            ("max_concurrent_scans", "many"),
            ("timeout_seconds", 0),
            ("timeout_seconds", 86_401),
            ("tags", "sast"),
            ("tags", ["SAST!"]),
            ("tags[1]", ["ok", ""]),
            ("tools_config", ["semgrep"]),
            ("tools_config", "semgrep"),
            ("quality_gate", ["enabled"]),
            ("quality_gate", None),
            ("is_default", "sometimes"),
            ("name", "x" * 201),
        ]
        for field, value in cases:
            with self.subTest(field=field, value=value):
                body = {field.split("[")[0]: value}
                self.assert_validation_error(self.create(**body), field)
        self.assertFalse(self.profiles().exists())

    def test_bad_tool_settings_are_refused_naming_the_tool_and_key(self):
        cases = [
            ({"enabled": "maybe"}, "enabled"),
            ({"severity": "urgent"}, "severity"),
            ({"timeout": 0}, "timeout"),
            ({"timeout": 86_401}, "timeout"),
            ({"options": ["--fast"]}, "options"),
            ({"template_mode": "mine"}, "template_mode"),
            ({"custom_template_ids": "t-1"}, "custom_template_ids"),
            ({"template_mode": "custom"}, "custom_template_ids"),
            ({"template_mode": "custom", "custom_template_ids": []}, "custom_template_ids"),
            ({"enabled": True, "verbose": True}, "verbose"),
            ({"Severity": "high"}, "Severity"),
        ]
        for config, key in cases:
            with self.subTest(config=config):
                response = self.create(tools_config={"semgrep": config})
                self.assert_validation_error(response, f"tools_config.semgrep.{key}")
        self.assertFalse(self.profiles().exists())

    def test_an_unknown_tool_setting_is_called_unknown(self):
        response = self.create(tools_config={"semgrep": {"verbose": True}})
        error = self.assert_validation_error(response, "tools_config.semgrep.verbose")
        self.assertIn("unknown", error["message"])

    def test_a_tool_config_must_be_an_object_and_its_name_a_slug(self):
        response = self.create(tools_config={"semgrep": True})
        self.assert_validation_error(response, "tools_config.semgrep")
        response = self.create(tools_config={"Sem Grep": {"enabled": True}})
        self.assert_validation_error(response, "tools_config.Sem Grep")

    def test_bad_quality_gates_are_refused_naming_the_gate_field(self):
        cases = [
            ({"max_high": -2}, "max_high"),
            ({"max_total": "10"}, "max_total"),
            ({"enabled": "yes"}, "enabled"),
            ({"fail_on_high": 1}, "fail_on_high"),
            ({"baseline": "main"}, "baseline"),
        ]
        for gate, field in cases:
            with self.subTest(gate=gate):
                response = self.create(quality_gate=gate)
                self.assert_validation_error(response, f"quality_gate.{field}")

    def test_an_update_with_a_bad_field_changes_nothing(self):
        profile = ScanProfileFactory(tenant=self.tenant, name="p")
        cases = [
            ("intensity", "extreme", "intensity"),
            ("max_concurrent_scans", 0, "max_concurrent_scans"),
            ("tools_config", {"x": {"bad": 1}}, "tools_config.x.bad"),
            ("quality_gate", {"max_high": -5}, "quality_gate.max_high"),
        ]
        for field, value, named in cases:
            with self.subTest(field=field):
                response = self.api.patch(profile_url(profile), {field: value}, format="json")
                self.assert_validation_error(response, named)
        profile.refresh_from_db()
        self.assertEqual(
            (profile.intensity, profile.max_concurrent_scans, profile.tools_config),
            ("medium", 5, {}),
        )
        self.assertEqual(profile.quality_gate, {})

    def test_a_body_that_is_not_json_is_refused(self):
        response = self.api.post(PROFILES, "{name", content_type="application/json")
        self.assert_error(response, 400, "INVALID_BODY")


class QualityGateApi(ProfileApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.profile = ScanProfileFactory(
            tenant=cls.tenant,
            name="Gated",
            quality_gate={**GATE_DEFAULTS, "enabled": True, "max_medium": 4, "max_total": 9},
        )

    def set_gate(self, body):
        return self.api.put(profile_url(self.profile, "quality-gate"), body, format="json")

    def check(self, body, api: APIClient | None = None):
        url = profile_url(self.profile, "evaluate-quality-gate")
        return (api or self.api).post(url, body, format="json")

    def test_put_replaces_the_whole_gate(self):
        response = self.set_gate({"enabled": True, "fail_on_critical": True})
        self.assertEqual(response.status_code, 200, response.content)
        gate = {**GATE_DEFAULTS, "enabled": True, "fail_on_critical": True}
        self.assertEqual(response.json()["quality_gate"], gate)
        self.assertEqual(response.json()["id"], str(self.profile.pk))
        self.profile.refresh_from_db()
        self.assertEqual(self.profile.quality_gate, gate)  # max_medium and max_total reset

    def test_an_empty_body_disables_the_gate(self):
        self.assertEqual(self.set_gate({}).status_code, 200)
        self.profile.refresh_from_db()
        self.assertEqual(self.profile.quality_gate, GATE_DEFAULTS)

    def test_a_bad_gate_is_refused_naming_the_field_and_changes_nothing(self):
        cases = [
            ({"max_critical": -3}, "max_critical"),
            ({"enabled": "true"}, "enabled"),
            ({"max_low": 1}, "max_low"),
        ]
        for body, field in cases:
            with self.subTest(body=body):
                self.assert_validation_error(self.set_gate(body), field)
        error = self.assert_error(self.set_gate(["enabled"]), 400, "VALIDATION_ERROR")
        self.assertIn("dictionary", error["message"])
        self.profile.refresh_from_db()
        self.assertEqual(self.profile.quality_gate["max_total"], 9)

    def test_within_the_limits_the_gate_passes(self):
        response = self.check({"by_severity": {"medium": 4, "low": 5}})
        self.assertEqual(response.status_code, 200, response.content)
        self.assertTrue(response.json()["passed"])
        self.assertEqual(response.json()["breaches"], [])

    def test_over_the_limits_the_gate_fails_listing_each_breach(self):
        response = self.check({"by_severity": {"critical": 1, "medium": 5, "low": 5}})
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual(set(body), {"passed", "reason", "breaches"})
        self.assertFalse(body["passed"])
        self.assertEqual(
            body["breaches"],
            [
                {"metric": "medium", "limit": 4, "actual": 5},
                {"metric": "total", "limit": 9, "actual": 11},
            ],
        )
        self.assertIn("failed", body["reason"])

    def test_a_gate_set_through_the_api_is_the_one_evaluated(self):
        self.set_gate({"enabled": True, "fail_on_high": True})
        body = self.check({"by_severity": {"high": 1}}).json()
        self.assertEqual(body["breaches"], [{"metric": "high", "limit": 0, "actual": 1}])

    def test_new_findings_only_judges_the_new_ones(self):
        self.set_gate({"enabled": True, "fail_on_critical": True, "new_findings_only": True})
        old_only = {"by_severity": {"critical": 2}, "new_by_severity": {"low": 1}}
        self.assertTrue(self.check(old_only).json()["passed"])
        new = {"by_severity": {"critical": 2}, "new_by_severity": {"critical": 1}}
        self.assertEqual(
            self.check(new).json()["breaches"], [{"metric": "critical", "limit": 0, "actual": 1}]
        )

    def test_a_disabled_gate_passes(self):
        self.set_gate({"enabled": False, "fail_on_critical": True})
        body = self.check({"by_severity": {"critical": 5}}).json()
        self.assertEqual(body, {"passed": True, "reason": "quality gate disabled", "breaches": []})

    def test_bad_counts_are_refused_naming_the_field(self):
        cases = [
            ({}, "by_severity"),
            ({"by_severity": {"critical": -1}}, "by_severity.critical"),
            ({"by_severity": {"critical": "one"}}, "by_severity.critical"),
            ({"by_severity": {"urgent": 1}}, "by_severity.urgent"),
            ({"by_severity": [1, 2]}, "by_severity"),
            ({"by_severity": {}, "new_by_severity": {"high": -2}}, "new_by_severity.high"),
            ({"by_severity": {}, "baseline": "main"}, "baseline"),
        ]
        for body, field in cases:
            with self.subTest(body=body):
                self.assert_validation_error(self.check(body), field)

    def test_viewers_and_members_may_evaluate_but_not_set_the_gate(self):
        for user in (self.viewer, self.member):
            api = client(user)
            with self.subTest(role=user.memberships.get().role):
                self.assertEqual(self.check({"by_severity": {}}, api).status_code, 200)
                url = profile_url(self.profile, "quality-gate")
                response = api.put(url, {"enabled": False}, format="json")
                self.assert_error(response, 403, "FORBIDDEN")
        self.profile.refresh_from_db()
        self.assertTrue(self.profile.quality_gate["enabled"])


class Authentication(ProfileApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.profile = ScanProfileFactory(tenant=cls.tenant, name="Nightly")

    def test_anonymous_callers_are_refused_everywhere_with_the_error_shape(self):
        endpoints = [("get", PROFILES, None), ("post", PROFILES, {"name": "x"})]
        for method, url, body in endpoints + self.every_endpoint(self.profile.pk):
            with self.subTest(method=method, url=url):
                response = self.call(client(), method, url, body)
                self.assertIn(response.status_code, (401, 403))
                self.assertEqual(response.json()["error"]["code"], "UNAUTHORIZED")
        self.assertEqual(list(self.profiles()), [self.profile])

    def test_an_api_token_works_as_a_bearer_token(self):
        _, secret = api_token_create(tenant=self.tenant, user=self.admin, name="ci")
        api = token_client(secret)
        self.assertEqual(api.get(PROFILES).status_code, 200)
        created = api.post(PROFILES, {"name": "via-token"}, format="json")
        self.assertEqual(created.status_code, 201, created.content)
        cloned = api.post(profile_url(self.profile, "clone"), {}, format="json")
        self.assertEqual(cloned.status_code, 201, cloned.content)

    def test_a_token_acts_only_in_its_own_tenant(self):
        user = UserFactory()
        MembershipFactory(user=user, tenant=self.other_tenant, role="owner")
        MembershipFactory(user=user, tenant=self.tenant, role="admin")
        theirs = ScanProfileFactory(tenant=self.other_tenant, name="Theirs")
        _, secret = api_token_create(tenant=self.tenant, user=user, name="ci")
        api = token_client(secret)
        listed = api.get(PROFILES).json()["results"]
        self.assertEqual([p["name"] for p in listed], ["Nightly"])
        self.assert_error(api.get(profile_url(theirs)), 404, "NOT_FOUND")
        created = api.post(PROFILES, {"name": "made-by-token"}, format="json")
        self.assertEqual(self.profiles().get(pk=created.json()["id"]).name, "made-by-token")

    def test_a_viewers_token_may_read_and_evaluate_but_not_write(self):
        _, secret = api_token_create(tenant=self.tenant, user=self.viewer, name="ci")
        api = token_client(secret)
        self.assertEqual(api.get(profile_url(self.profile)).status_code, 200)
        url = profile_url(self.profile, "evaluate-quality-gate")
        self.assertEqual(api.post(url, {"by_severity": {}}, format="json").status_code, 200)
        self.assert_error(api.post(PROFILES, {"name": "x"}, format="json"), 403, "FORBIDDEN")


class Roles(ProfileApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.profile = ScanProfileFactory(tenant=cls.tenant, name="Nightly")

    def writes(self):
        return [("post", PROFILES, {"name": "new"})] + [
            (m, url, body)
            for m, url, body in self.every_endpoint(self.profile.pk)
            if m != "get" and not url.endswith("evaluate-quality-gate")
        ]

    def test_a_viewer_can_list_and_read(self):
        api = client(self.viewer)
        for url in (PROFILES, profile_url(self.profile)):
            with self.subTest(url=url):
                self.assertEqual(api.get(url).status_code, 200)

    def test_viewers_and_members_cannot_write(self):
        for user in (self.viewer, self.member):
            api = client(user)
            for method, url, body in self.writes():
                with self.subTest(role=user.memberships.get().role, method=method, url=url):
                    error = self.assert_error(self.call(api, method, url, body), 403, "FORBIDDEN")
                    self.assertIn("admin", error["message"])
        self.assertEqual(list(self.profiles()), [self.profile])
        self.profile.refresh_from_db()
        self.assertEqual((self.profile.name, self.profile.description), ("Nightly", ""))
        self.assertEqual(self.profile.quality_gate, {})

    def test_admins_and_owners_can_write(self):
        for user in (self.admin, self.owner):
            api = client(user)
            role = user.memberships.get().role
            with self.subTest(role=role):
                created = api.post(PROFILES, {"name": f"by-{role}"}, format="json")
                self.assertEqual(created.status_code, 201, created.content)
                url = profile_url(created.json()["id"])
                put = api.put(url, {"name": f"by-{role}-2"}, format="json")
                self.assertEqual(put.status_code, 200, put.content)
                patch = api.patch(url, {"description": "d"}, format="json")
                self.assertEqual(patch.status_code, 200, patch.content)
                gate = api.put(f"{url}/quality-gate", {"enabled": True}, format="json")
                self.assertEqual(gate.status_code, 200, gate.content)
                clone = api.post(f"{url}/clone", {}, format="json")
                self.assertEqual(clone.status_code, 201, clone.content)
                self.assertEqual(api.delete(url).status_code, 204)
                self.assertEqual(api.delete(profile_url(clone.json()["id"])).status_code, 204)


class CrossTenant(ProfileApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.mine = ScanProfileFactory(tenant=cls.tenant, name="Mine")
        cls.theirs = ScanProfileFactory(tenant=cls.other_tenant, name="Theirs")

    def test_another_tenants_profile_is_not_found(self):
        for method, url, body in self.every_endpoint(self.theirs.pk):
            with self.subTest(method=method, url=url):
                self.assert_error(self.call(self.api, method, url, body), 404, "NOT_FOUND")
        self.theirs.refresh_from_db()
        self.assertEqual((self.theirs.name, self.theirs.description), ("Theirs", ""))
        self.assertEqual(self.profiles(self.other_tenant).count(), 1)
        self.assertEqual(self.profiles().count(), 1)

    def test_unknown_and_malformed_ids_are_not_found_never_a_crash(self):
        bad_ids = [str(uuid.uuid4()), "not-a-uuid", "123", "0193a5f0-zzzz", "%20", "x" * 300]
        for bad in bad_ids:
            for method, url, body in self.every_endpoint(bad):
                with self.subTest(id=bad, method=method, url=url):
                    self.assert_error(self.call(self.api, method, url, body), 404, "NOT_FOUND")
        self.assertEqual(list(self.profiles()), [self.mine])


class ModuleGating(ProfileApiTestCase):
    def test_switching_the_scans_module_off_closes_every_endpoint(self):
        profile = ScanProfileFactory(tenant=self.tenant, name="Nightly")
        Tenant.objects.filter(pk=self.tenant.pk).update(modules_override={"scans": False})
        endpoints = [("get", PROFILES, None), ("post", PROFILES, {"name": "x"})]
        for method, url, body in endpoints + self.every_endpoint(profile.pk):
            with self.subTest(method=method, url=url):
                error = self.assert_error(
                    self.call(self.api, method, url, body), 403, "MODULE_DISABLED"
                )
                self.assertIn("scans", error["message"])
        self.assertEqual(list(self.profiles()), [profile])

    def test_the_free_plan_has_no_scan_profiles_api(self):
        tenant = TenantFactory(plan="free")
        response = client(member(tenant, "owner")).get(PROFILES)
        self.assert_error(response, 403, "MODULE_DISABLED")


class DocumentedRepliesMatchTheSchema(ProfileApiTestCase):
    """Drive each operation once and check its reply against the OpenAPI schema."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.schema = generate_schema()

    def check(self, response, method: str, path: str):
        op = self.schema["paths"][path][method]
        with self.subTest(operation=op["operationId"], status=response.status_code):
            self.assertLess(response.status_code, 300, response.content)
            documented = op["responses"][str(response.status_code)]
            if "content" not in documented:
                self.assertEqual(response.content, b"")
            else:
                node = documented["content"]["application/json"]["schema"]
                errors = [
                    f"{list(e.absolute_path)}: {e.message}"
                    for e in schema_validator(self.schema, node).iter_errors(response.json())
                ]
                self.assertEqual(errors, [])
        return response

    def test_every_operation_replies_as_documented(self):
        system_profiles_install(tenant=self.tenant)
        api = self.api
        one = PROFILES + "/{profile_id}"
        created = self.check(
            api.post(
                PROFILES,
                {
                    "name": "Nightly",
                    "tools_config": {"nuclei": {"template_mode": "both"}},
                    "quality_gate": {"enabled": True},
                },
                format="json",
            ),
            "post",
            PROFILES,
        ).json()
        url = profile_url(created["id"])
        self.check(api.get(PROFILES), "get", PROFILES)
        self.check(api.get(url), "get", one)
        self.check(api.put(url, {"name": "Nightly 2"}, format="json"), "put", one)
        self.check(api.patch(url, {"is_default": True}, format="json"), "patch", one)
        gate = {"enabled": True, "fail_on_critical": True}
        self.check(
            api.put(f"{url}/quality-gate", gate, format="json"), "put", one + "/quality-gate"
        )
        self.check(
            api.post(
                f"{url}/evaluate-quality-gate", {"by_severity": {"critical": 1}}, format="json"
            ),
            "post",
            one + "/evaluate-quality-gate",
        )
        full = self.profiles().get(name="Full")
        self.check(api.post(profile_url(full, "clone"), {}, format="json"), "post", one + "/clone")
        self.check(api.delete(url), "delete", one)


@pytest.mark.postgres
class ConcurrentWrites(TransactionTestCase):
    """Writers of one tenant race on a barrier, each on its own connection: the tenant
    lock must turn what would be unique-constraint violations into an orderly queue."""

    THREADS = 6

    def race(self, body, args: list) -> list[BaseException]:
        barrier = threading.Barrier(len(args), timeout=60)
        errors: list[BaseException] = []

        def main(arg) -> None:
            try:
                barrier.wait()
                body(arg)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)
                barrier.abort()
            finally:
                connection.close()

        threads = [threading.Thread(target=main, args=(a,), daemon=True) for a in args]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertFalse([t for t in threads if t.is_alive()], "a writer hung")
        return errors

    def test_concurrent_default_switches_leave_exactly_one_default(self):
        tenant = TenantFactory()
        profiles = ScanProfileFactory.create_batch(self.THREADS, tenant=tenant)
        errors = self.race(
            lambda p: scan_profile_update(profile=p, changes={"is_default": True}), profiles
        )
        self.assertEqual(errors, [])
        self.assertEqual(ScanProfile.objects.for_tenant(tenant).filter(is_default=True).count(), 1)

    def test_concurrent_clones_get_distinct_numbered_names(self):
        tenant = TenantFactory()
        source = ScanProfileFactory(tenant=tenant, name="Nightly")
        errors = self.race(lambda _: scan_profile_clone(profile=source), list(range(self.THREADS)))
        self.assertEqual(errors, [])
        names = set(
            ScanProfile.objects.for_tenant(tenant)
            .exclude(pk=source.pk)
            .values_list("name", flat=True)
        )
        expected = {"Nightly (copy)"} | {f"Nightly (copy {n})" for n in range(2, self.THREADS + 1)}
        self.assertEqual(names, expected)
