"""/api/v1/scans and /api/v1/scan-sessions, as a team's users call them."""

from __future__ import annotations

from django.test import TestCase, override_settings
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from rediverio.services import api_token_create
from scans.models import Scan, ScanSession
from tests.factories import AssetFactory, MembershipFactory, ScanFactory, TenantFactory

SCANS = "/api/v1/scans"


class ScansApi(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="team")
        cls.member = MembershipFactory(tenant=cls.tenant, role="member").user
        cls.viewer = MembershipFactory(tenant=cls.tenant, role="viewer").user
        cls.repo = AssetFactory(tenant=cls.tenant)
        cls.other_tenant = TenantFactory()
        cls.their_repo = AssetFactory(tenant=cls.other_tenant)
        cls.their_scan = ScanFactory(tenant=cls.other_tenant)

    def setUp(self):
        self.api = APIClient()
        self.api.force_login(self.member)

    def create(self, **fields):
        body = {
            "name": "nightly",
            "scanner_name": "bandit",
            "targets": [str(self.repo.pk)],
            "schedule_type": "daily",
            "schedule_time": "02:00",
            "schedule_timezone": "Europe/Paris",
            **fields,
        }
        return self.api.post(SCANS, body, format="json")

    def error(self, response, status: int) -> dict:
        self.assertEqual(response.status_code, status, response.content)
        return response.json()["error"]

    def test_a_member_creates_a_scheduled_scan(self):
        response = self.create(priority="high", tags=["region=eu"])
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual(
            (body["priority"], body["status"], body["targets"]),
            ("high", "active", [str(self.repo.pk)]),
        )
        self.assertIsNotNone(body["next_run_at"])

    def test_bad_input_is_a_400_naming_the_field(self):
        cases = [
            ({"schedule_type": "crontab", "schedule_cron": "99 * * * *"}, "schedule_cron"),
            ({"schedule_type": "daily", "schedule_time": None}, "schedule_time"),
            ({"schedule_timezone": "Mars/Base"}, "schedule_timezone"),
            ({"targets": [str(self.their_repo.pk)]}, "targets"),
            ({"priority": "urgent"}, "priority"),
            ({"scan_type": "workflow", "pipeline": []}, "pipeline"),
            ({"name": ""}, "name"),
        ]
        for fields, field in cases:
            with self.subTest(field=field):
                error = self.error(self.create(**fields), 400)
                self.assertIn(field, error["message"])
        self.assertFalse(Scan.objects.for_tenant(self.tenant).exists())

    def test_names_are_unique_per_team(self):
        self.create()
        self.assertIn("name", self.error(self.create(), 400)["message"])

    def test_list_get_update_delete(self):
        scan_id = self.create().json()["id"]
        listed = self.api.get(SCANS, {"status": "active"}).json()
        self.assertEqual([s["id"] for s in listed["results"]], [scan_id])
        self.assertEqual(self.api.get(f"{SCANS}/{scan_id}").json()["name"], "nightly")
        patched = self.api.patch(f"{SCANS}/{scan_id}", {"schedule_type": "manual"}, format="json")
        self.assertIsNone(patched.json()["next_run_at"])
        self.assertEqual(self.api.delete(f"{SCANS}/{scan_id}").status_code, 204)
        self.assertFalse(Scan.objects.filter(pk=scan_id).exists())

    def test_pause_activate_disable_and_clone(self):
        scan_id = self.create().json()["id"]
        self.assertIsNone(self.api.post(f"{SCANS}/{scan_id}/pause").json()["next_run_at"])
        self.assertEqual(self.api.post(f"{SCANS}/{scan_id}/activate").json()["status"], "active")
        self.assertEqual(self.api.post(f"{SCANS}/{scan_id}/disable").json()["status"], "disabled")
        clone = self.api.post(f"{SCANS}/{scan_id}/clone", {}, format="json")
        self.assertEqual((clone.status_code, clone.json()["name"]), (201, "nightly (copy)"))

    def test_trigger_starts_a_run_and_runs_lists_its_sessions(self):
        # /runs is the specification's path: it lists sessions, each naming its run.
        scan_id = self.create().json()["id"]
        started = self.api.post(f"{SCANS}/{scan_id}/trigger")
        self.assertEqual(started.status_code, 201, started.content)
        self.assertEqual(len(started.json()["sessions"]), 1)
        sessions = self.api.get(f"{SCANS}/{scan_id}/runs").json()
        self.assertEqual([s["id"] for s in sessions], [started.json()["sessions"][0]["id"]])
        self.assertEqual(sessions[0]["run_id"], started.json()["run_id"])

    @override_settings(SCAN_TRIGGER_RATE="2/min")
    def test_manual_triggers_are_rate_limited(self):
        scan_id = self.create().json()["id"]
        codes = [self.api.post(f"{SCANS}/{scan_id}/trigger").status_code for _ in range(3)]
        self.assertEqual(codes, [201, 201, 429])

    def test_a_session_can_be_stopped_then_retried(self):
        scan_id = self.create().json()["id"]
        session_id = self.api.post(f"{SCANS}/{scan_id}/trigger").json()["sessions"][0]["id"]
        self.assertEqual(
            self.error(self.api.post(f"/api/v1/scan-sessions/{session_id}/retry"), 409)["code"],
            "NOT_FINISHED",
        )
        stopped = self.api.post(f"/api/v1/scan-sessions/{session_id}/stop")
        self.assertEqual(stopped.json()["status"], "canceled")
        retried = self.api.post(f"/api/v1/scan-sessions/{session_id}/retry")
        self.assertEqual((retried.status_code, retried.json()["trigger"]), (201, "retry"))

    def test_stats_count_scans_and_sessions(self):
        scan_id = self.create().json()["id"]
        self.create(name="paused", status="paused")
        self.api.post(f"{SCANS}/{scan_id}/trigger")
        with self.assertNumQueries(5):  # session, user, membership, two aggregates
            stats = self.api.get(f"{SCANS}/stats").json()
        self.assertEqual(
            stats,
            {
                "total": 2,
                "active": 1,
                "paused": 1,
                "disabled": 0,
                "sessions_total": 1,
                "sessions_active": 1,
                "sessions_completed": 0,
                "sessions_failed": 0,
                # The former names of the sessions' counts, kept for their clients.
                "runs_total": 1,
                "runs_active": 1,
                "runs_completed": 0,
                "runs_failed": 0,
            },
        )

    def test_the_schema_marks_the_former_names_of_the_stats_deprecated(self):
        schema = SchemaGenerator().get_schema(request=None, public=True)
        fields = schema["components"]["schemas"]["ScanStats"]["properties"]
        deprecated = {name for name, field in fields.items() if field.get("deprecated")}
        self.assertEqual(deprecated, {"runs_total", "runs_active", "runs_completed", "runs_failed"})
        self.assertIn("sessions_total", fields)

    def test_the_schedule_preview_lists_the_next_runs(self):
        preview = self.api.post(
            f"{SCANS}/schedule-preview",
            {
                "schedule_type": "crontab",
                "schedule_cron": "0 9 * * 1-5",
                "schedule_timezone": "Europe/Paris",
            },
            format="json",
        )
        self.assertEqual(preview.status_code, 200)
        self.assertEqual(len(preview.json()), 5)
        bad = self.api.post(
            f"{SCANS}/schedule-preview",
            {"schedule_type": "weekly", "schedule_time": "09:00"},
            format="json",
        )
        self.assertIn("schedule_day", self.error(bad, 400)["message"])

    def test_a_viewer_reads_but_cannot_change_or_run(self):
        scan = ScanFactory(tenant=self.tenant, name="x")
        viewer = APIClient()
        viewer.force_login(self.viewer)
        self.assertEqual(viewer.get(SCANS).status_code, 200)
        for method, path in [
            ("post", SCANS),
            ("patch", f"{SCANS}/{scan.pk}"),
            ("delete", f"{SCANS}/{scan.pk}"),
            ("post", f"{SCANS}/{scan.pk}/trigger"),
            ("post", f"{SCANS}/{scan.pk}/pause"),
        ]:
            with self.subTest(path=path, method=method):
                self.assertEqual(
                    self.error(getattr(viewer, method)(path, {}, format="json"), 403)["code"],
                    "FORBIDDEN",
                )

    def test_another_teams_scans_and_sessions_are_404(self):
        their_session = ScanSession.objects.create(
            tenant=self.other_tenant, scan=self.their_scan, scanner_name="bandit"
        )
        for method, path in [
            ("get", f"{SCANS}/{self.their_scan.pk}"),
            ("patch", f"{SCANS}/{self.their_scan.pk}"),
            ("delete", f"{SCANS}/{self.their_scan.pk}"),
            ("post", f"{SCANS}/{self.their_scan.pk}/trigger"),
            ("get", f"{SCANS}/{self.their_scan.pk}/runs"),
            ("get", f"/api/v1/scan-sessions/{their_session.pk}"),
            ("post", f"/api/v1/scan-sessions/{their_session.pk}/stop"),
            ("get", f"{SCANS}/not-a-uuid"),
        ]:
            with self.subTest(path=path, method=method):
                self.error(getattr(self.api, method)(path, {}, format="json"), 404)
        self.assertNotIn(str(self.their_scan.pk), str(self.api.get(SCANS).json()))

    def test_a_token_works_and_anonymous_callers_are_refused(self):
        _, secret = api_token_create(tenant=self.tenant, user=self.member, name="ci")
        scripted = APIClient()
        scripted.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        self.assertEqual(scripted.get(SCANS).status_code, 200)
        self.assertIn(APIClient().get(SCANS).status_code, (401, 403))

    def test_scans_need_the_scans_module(self):
        self.tenant.modules_override = {"scans": False}
        self.tenant.save()
        self.assertEqual(self.error(self.api.get(SCANS), 403)["code"], "MODULE_DISABLED")

    def test_the_plan_caps_scans(self):
        self.tenant.limits_override = {"max_scans": 1}
        self.tenant.save()
        self.create()
        self.assertEqual(self.error(self.create(name="second"), 403)["code"], "PLAN_LIMIT")
