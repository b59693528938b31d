"""The audit log: every user action on scans, agents and findings is recorded — who,
what, when — and the team's admins (only they, only their team's) can read it."""

from __future__ import annotations

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from agents.services import (
    agent_create,
    agent_delete,
    agent_key_issue,
    agent_key_revoke,
    agent_update,
)
from findings.services import finding_triage, findings_triage_bulk
from rediverio.models import AuditAction, AuditEvent
from scans.profile_services import ScanProfileInUse, scan_profile_create, scan_profile_delete
from scans.services import scan_create, scan_delete, scan_set_status, scan_trigger, scan_update
from tests.factories import (
    AgentFactory,
    AssetFactory,
    AuditEventFactory,
    FindingFactory,
    MembershipFactory,
    ScanFactory,
    TenantFactory,
)


def actions(tenant) -> list[str]:
    return list(
        AuditEvent.objects.for_tenant(tenant).order_by("id").values_list("action", flat=True)
    )


class ServicesRecordWhoDidWhat(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="business")
        cls.alice = MembershipFactory(tenant=cls.tenant, role="admin").user
        cls.repo = AssetFactory(tenant=cls.tenant)

    def test_a_scans_life_is_recorded_with_its_actor_and_changes(self):
        scan = scan_create(
            tenant=self.tenant,
            by=self.alice,
            name="nightly",
            scanner_name="bandit",
            targets=[self.repo],
        )
        scan_update(scan=scan, by=self.alice, name="nightly sast", description="SAST")
        scan_set_status(scan=scan, status="paused", by=self.alice)
        scan_set_status(scan=scan, status="active", by=self.alice)
        run = scan_trigger(scan=scan, by=self.alice)
        scan_id = scan.pk
        scan_delete(scan=scan, by=self.alice)

        self.assertEqual(
            actions(self.tenant),
            [
                "scan.created",
                "scan.updated",
                "scan.status_changed",
                "scan.status_changed",
                "scan.triggered",
                "scan.deleted",
            ],
        )
        events = list(AuditEvent.objects.for_tenant(self.tenant).order_by("id"))
        self.assertEqual({e.actor for e in events}, {self.alice})
        self.assertEqual({e.actor_name for e in events}, {self.alice.username})
        self.assertEqual({e.target_id for e in events}, {str(scan_id)})
        self.assertEqual(
            events[1].details["changes"],
            {"name": ["nightly", "nightly sast"], "description": ["", "SAST"]},
        )
        self.assertEqual(events[2].details["changes"], {"status": ["active", "paused"]})
        self.assertEqual(events[4].details["run_id"], str(run.run_id))

    def test_the_record_of_a_deletion_outlives_what_was_deleted(self):
        scan = ScanFactory(tenant=self.tenant, name="gone")
        scan_delete(scan=scan, by=self.alice)
        event = AuditEvent.objects.for_tenant(self.tenant).get()
        self.assertEqual((event.action, event.target_name), ("scan.deleted", "gone"))

    def test_an_update_that_changes_nothing_records_nothing(self):
        scan = ScanFactory(tenant=self.tenant, name="same")
        scan_update(scan=scan, by=self.alice, name="same")
        self.assertEqual(actions(self.tenant), [])

    def test_the_system_acting_is_not_a_user_action(self):
        # The scheduler and operator commands call the same services without a person.
        scan = scan_create(
            tenant=self.tenant, name="cron", scanner_name="bandit", targets=[self.repo]
        )
        scan_trigger(scan=scan, trigger="scheduled")
        agent_create(tenant=self.tenant, name="ci")
        self.assertEqual(actions(self.tenant), [])

    def test_an_agents_life_is_recorded(self):
        agent, _ = agent_create(
            tenant=self.tenant, name="ci", tools=["bandit"], created_by=self.alice
        )
        key, _ = agent_key_issue(agent=agent, name="rotation", by=self.alice)
        agent_key_revoke(key=key, by=self.alice)
        agent_key_revoke(key=key, by=self.alice)  # already revoked: nothing happens
        agent_update(agent=agent, changes={"status": "disabled"}, by=self.alice)
        agent_delete(agent=agent, by=self.alice)
        self.assertEqual(
            actions(self.tenant),
            [
                "agent.registered",
                "agent.key_issued",
                "agent.key_revoked",
                "agent.updated",
                "agent.deleted",
            ],
        )
        revoked = AuditEvent.objects.for_tenant(self.tenant).get(action="agent.key_revoked")
        self.assertEqual(revoked.details["key"], key.prefix)
        self.assertNotIn(key.digest, str(revoked.details))

    def test_triage_is_recorded_per_finding_with_the_note(self):
        one, two, three = (FindingFactory(tenant=self.tenant, asset=self.repo) for _ in range(3))
        finding_triage(finding=one, status="confirmed", note="real", by=self.alice)
        findings_triage_bulk(
            tenant=self.tenant,
            ids=[two.pk, three.pk],
            status="false_positive",
            note="test code",
            by=self.alice,
        )
        events = AuditEvent.objects.for_tenant(self.tenant).filter(action="finding.triaged")
        self.assertEqual(
            {(e.target_id, e.details["changes"]["status"][1], e.details["note"]) for e in events},
            {
                (str(one.pk), "confirmed", "real"),
                (str(two.pk), "false_positive", "test code"),
                (str(three.pk), "false_positive", "test code"),
            },
        )

    def test_a_refused_action_leaves_no_record(self):
        profile = scan_profile_create(tenant=self.tenant, name="strict", by=self.alice)
        ScanFactory(tenant=self.tenant, profile=profile)
        with self.assertRaises(ScanProfileInUse):
            scan_profile_delete(profile=profile, by=self.alice)
        self.assertEqual(actions(self.tenant), ["profile.created"])


class ApiAndPagesRecordTheirUser(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="business")
        cls.admin = MembershipFactory(tenant=cls.tenant, role="admin").user
        cls.repo = AssetFactory(tenant=cls.tenant)

    def test_an_api_call_records_the_caller(self):
        api = APIClient()
        api.force_login(self.admin)
        response = api.post(
            "/api/v1/scans",
            {"name": "api", "scanner_name": "bandit", "targets": [str(self.repo.pk)]},
            format="json",
            HTTP_X_REQUEST_ID="req-audit-0001",
        )
        self.assertEqual(response.status_code, 201, response.content)
        event = AuditEvent.objects.for_tenant(self.tenant).get()
        self.assertEqual(
            (event.action, event.actor, event.target_id, event.request_id),
            ("scan.created", self.admin, response.json()["id"], "req-audit-0001"),
        )

    def test_a_dashboard_action_records_the_user(self):
        agent = AgentFactory(tenant=self.tenant)
        self.client.force_login(self.admin)
        self.client.post(f"/agents/{agent.pk}/disable/")
        event = AuditEvent.objects.for_tenant(self.tenant).get()
        self.assertEqual((event.action, event.actor), ("agent.updated", self.admin))
        self.assertEqual(event.details["changes"], {"status": ["active", "disabled"]})


class TheAuditLogPage(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory()
        cls.admin = MembershipFactory(tenant=cls.tenant, role="admin").user
        cls.member = MembershipFactory(tenant=cls.tenant, role="member").user
        cls.other = TenantFactory()
        AuditEventFactory(tenant=cls.other, target_name="their secret scan")

    def event(self, **fields):
        return AuditEventFactory(tenant=self.tenant, actor=self.admin, **fields)

    def test_admins_read_their_teams_log_newest_first(self):
        self.event(target_name="first scan")
        self.event(action=AuditAction.AGENT_REGISTERED, target_type="agent", target_name="ci")
        self.client.force_login(self.admin)
        response = self.client.get("/audit/")
        self.assertEqual(response.status_code, 200)
        body = response.content.decode()
        self.assertLess(body.index("ci"), body.index("first scan"))
        self.assertNotContains(response, "their secret scan")
        self.assertContains(response, "Audit log</a>")  # in the navigation, for admins

    def test_members_and_visitors_cannot(self):
        self.client.force_login(self.member)
        self.assertEqual(self.client.get("/audit/").status_code, 403)
        self.assertNotContains(self.client.get("/"), "Audit log</a>")
        self.client.logout()
        self.assertRedirects(self.client.get("/audit/"), "/login/?next=/audit/")

    def test_filters_by_action_family_person_and_target(self):
        scan = self.event(target_name="kept scan")
        self.event(action=AuditAction.AGENT_DELETED, target_type="agent", target_name="an agent")
        self.client.force_login(self.admin)
        for query in ("action=scan", "action=scan.created", f"target={scan.target_id}"):
            with self.subTest(query=query):
                response = self.client.get(f"/audit/?{query}")
                self.assertContains(response, "kept scan")
                self.assertNotContains(response, "an agent")
        self.assertContains(self.client.get("/audit/?actor=nobody"), "Nothing recorded")

    def test_pages_follow_each_other_at_a_fixed_query_count(self):
        for n in range(60):
            self.event(target_name=f"scan {n:02d}")
        self.client.force_login(self.admin)
        with CaptureQueriesContext(connection) as first:
            response = self.client.get("/audit/")
        self.assertContains(response, "scan 59")
        self.assertNotContains(response, "scan 09")
        cursor = response.context["next_cursor"]
        with CaptureQueriesContext(connection) as second:
            older = self.client.get(f"/audit/?after={cursor}")
        self.assertContains(older, "scan 09")
        self.assertNotContains(older, "scan 10")
        self.assertIsNone(older.context["next_cursor"])
        self.assertEqual(len(first), len(second))

    def test_a_null_character_in_a_filter_is_a_400_naming_the_filter(self):
        self.client.force_login(self.admin)
        self.client.raise_request_exception = False  # a 500 must show as one
        for name in ("action", "actor", "target"):
            with self.subTest(name=name):
                response = self.client.get("/audit/", {name: "scan\x00"})
                self.assertEqual(response.status_code, 400)
                self.assertIn(name, response.content.decode())

    def test_a_mangled_cursor_is_a_400(self):
        self.client.force_login(self.admin)
        for cursor in ("nope", "1~nope", f"{'9' * 40}~{self.event().id}"):
            with self.subTest(cursor=cursor):
                self.assertEqual(self.client.get(f"/audit/?after={cursor}").status_code, 400)

    def test_the_events_cannot_be_changed_in_the_admin(self):
        from django.contrib import admin

        model_admin = admin.site._registry[AuditEvent]
        request = type("R", (), {"user": self.admin})()
        self.assertFalse(model_admin.has_change_permission(request))
        self.assertFalse(model_admin.has_delete_permission(request))
        self.assertFalse(model_admin.has_add_permission(request))
