"""The scans pages: Configurations, Runs (sessions under their runs, with its polling
fragment) and a session's sheet."""

from __future__ import annotations

from datetime import time, timedelta

from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from agents.models import Command
from scans.models import Scan, ScanSession
from scans.selectors import SESSION_LIST_LIMIT
from scans.services import scan_trigger, session_follow_command
from tests.factories import (
    AgentFactory,
    AssetFactory,
    CommandEventFactory,
    CommandFactory,
    MembershipFactory,
    ScanFactory,
    ScanProfileFactory,
    ScanSessionFactory,
    TenantFactory,
    UserFactory,
)

HTMX = {"HTTP_HX_REQUEST": "true"}


class ScansPageTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.team, cls.other_team = TenantFactory(name="Alpha"), TenantFactory(name="Bravo")
        cls.member = MembershipFactory(tenant=cls.team, role="member").user
        cls.viewer = MembershipFactory(tenant=cls.team, role="viewer").user
        cls.outsider = MembershipFactory(tenant=cls.other_team, role="owner").user
        cls.repo = AssetFactory(tenant=cls.team, identifier="github.com/alpha/api")
        cls.nightly = ScanFactory(
            tenant=cls.team,
            name="Nightly",
            schedule_type="daily",
            schedule_time=time(2, 0),
            schedule_timezone="Europe/Paris",
            next_run_at=timezone.now() + timedelta(hours=5),
        )
        cls.nightly.targets.add(cls.repo)
        cls.weekdays = ScanFactory(
            tenant=cls.team,
            name="Weekdays",
            scan_type="workflow",
            pipeline=[["semgrep", "gitleaks"], ["trivy"]],
            schedule_type="crontab",
            schedule_cron="0 9 * * 1-5",
            status="paused",
        )
        cls.secret = ScanFactory(tenant=cls.other_team, name="Bravo secret scan")


class ConfigurationsTab(ScansPageTestCase):
    url = reverse("scans:list")

    def test_anonymous_visitors_are_sent_to_the_login_page(self):
        self.assertRedirects(self.client.get(self.url), f"{reverse('login')}?next={self.url}")

    def test_a_user_without_a_team_is_told_so(self):
        self.client.force_login(UserFactory())
        self.assertContains(self.client.get(self.url), "No team yet", status_code=403)

    def test_it_lists_only_the_current_teams_scans_with_their_schedules(self):
        self.client.force_login(self.member)
        response = self.client.get(self.url)
        self.assertContains(response, "Nightly")
        self.assertContains(response, "Every day at 02:00 (Europe/Paris)")
        self.assertContains(response, "Cron “0 9 * * 1-5”")
        self.assertContains(response, "semgrep, gitleaks, trivy")
        self.assertNotContains(response, "Bravo secret scan")
        self.assertEqual(
            response.context["stats"], {"total": 2, "active": 1, "paused": 1, "disabled": 0}
        )
        self.assertContains(response, 'href="/scans/runs/"')  # the Runs tab
        self.assertContains(response, "New scan")

    def test_a_scans_last_run_shows_the_status_of_its_newest_session(self):
        Scan.objects.filter(pk=self.nightly.pk).update(last_run_at=timezone.now())
        ScanSessionFactory(tenant=self.team, scan=self.nightly, status="completed")
        ScanSessionFactory(tenant=self.team, scan=self.nightly, status="failed")
        self.client.force_login(self.member)
        response = self.client.get(self.url)
        self.assertEqual(response.context["rows"][0].last_session_status, "failed")
        self.assertContains(response, '<span class="badge status-failed">failed</span>')

    def test_a_viewer_sees_no_action_buttons(self):
        self.client.force_login(self.viewer)
        response = self.client.get(self.url)
        self.assertContains(response, "Nightly")
        self.assertNotContains(response, reverse("scans:trigger", args=[self.nightly.pk]))
        self.assertNotContains(response, "hx-confirm")
        self.assertNotContains(response, "New scan")

    def test_a_viewer_cannot_act(self):
        self.client.force_login(self.viewer)
        for name in ("trigger", "pause", "activate", "delete"):
            response = self.client.post(reverse(f"scans:{name}", args=[self.nightly.pk]))
            self.assertEqual(response.status_code, 403, name)
        self.nightly.refresh_from_db()
        self.assertEqual(self.nightly.status, "active")
        self.assertFalse(ScanSession.objects.exists())

    def test_another_teams_scan_is_not_found(self):
        self.client.force_login(self.member)
        for name in ("trigger", "pause", "activate", "delete"):
            response = self.client.post(reverse(f"scans:{name}", args=[self.secret.pk]))
            self.assertEqual(response.status_code, 404, name)
        self.assertTrue(Scan.objects.filter(pk=self.secret.pk, status="active").exists())

    def test_actions_need_a_post(self):
        self.client.force_login(self.member)
        response = self.client.get(reverse("scans:trigger", args=[self.nightly.pk]))
        self.assertEqual(response.status_code, 405)

    def test_a_member_triggers_a_scan(self):
        self.client.force_login(self.member)
        response = self.client.post(reverse("scans:trigger", args=[self.nightly.pk]), follow=True)
        self.assertRedirects(response, self.url)
        self.assertContains(response, "Nightly started: 1 session queued")
        session = ScanSession.objects.get()
        self.assertEqual((session.scan, session.created_by), (self.nightly, self.member))

    def test_an_htmx_trigger_gets_the_list_fragment_with_its_message(self):
        self.client.force_login(self.member)
        response = self.client.post(reverse("scans:trigger", args=[self.nightly.pk]), **HTMX)
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "<html")
        self.assertContains(response, 'id="scans-body"')
        self.assertContains(response, "Nightly started")

    def test_a_scan_without_targets_shows_an_error_not_a_crash(self):
        self.client.force_login(self.member)
        response = self.client.post(reverse("scans:trigger", args=[self.weekdays.pk]), follow=True)
        self.assertContains(response, "Weekdays did not start: the scan has no target assets")
        self.assertFalse(ScanSession.objects.exists())

    def test_the_concurrency_limit_shows_an_error(self):
        profile = ScanProfileFactory(tenant=self.team, max_concurrent_scans=1)
        Scan.objects.filter(pk=self.nightly.pk).update(profile=profile)
        ScanSessionFactory(tenant=self.team, scan=self.nightly, status="running")
        self.client.force_login(self.member)
        response = self.client.post(reverse("scans:trigger", args=[self.nightly.pk]), follow=True)
        self.assertContains(response, "Nightly did not start: Profile")
        self.assertEqual(ScanSession.objects.count(), 1)

    def test_a_member_pauses_and_activates_a_scan(self):
        self.client.force_login(self.member)
        self.client.post(reverse("scans:pause", args=[self.nightly.pk]))
        self.nightly.refresh_from_db()
        self.assertEqual((self.nightly.status, self.nightly.next_run_at), ("paused", None))
        response = self.client.post(reverse("scans:activate", args=[self.nightly.pk]), **HTMX)
        self.assertContains(response, "Nightly activated.")
        self.nightly.refresh_from_db()
        self.assertEqual(self.nightly.status, "active")
        self.assertIsNotNone(self.nightly.next_run_at)

    def test_a_member_deletes_a_scan_after_confirming(self):
        self.client.force_login(self.member)
        page = self.client.get(self.url)
        self.assertContains(page, 'hx-confirm="Delete the scan “Nightly”')
        response = self.client.post(reverse("scans:delete", args=[self.nightly.pk]), follow=True)
        self.assertContains(response, "Nightly deleted.")
        self.assertFalse(Scan.objects.filter(pk=self.nightly.pk).exists())

    def test_its_query_count_does_not_grow_with_the_rows(self):
        self.client.force_login(self.member)
        self.client.get(self.url)  # warm the session
        # session, user, membership+tenant; the stat cards' aggregate; the rows (each
        # with its last run's status as a subquery).
        with self.assertNumQueries(5):
            self.client.get(self.url)
        ScanFactory.create_batch(28, tenant=self.team)
        for scan in Scan.objects.filter(tenant=self.team):
            ScanSessionFactory(tenant=self.team, scan=scan, status="completed")
        with self.assertNumQueries(5):
            response = self.client.get(self.url)
        self.assertEqual(len(response.context["rows"]), 30)


def sessions_of(runs) -> list[list[ScanSession]]:
    """The Runs tab's rows, as the sessions under each run."""
    return [[row.session for row in run.sessions] for run in runs]


class RunsTab(ScansPageTestCase):
    url = reverse("scans:runs")

    def _session(self, **fields) -> ScanSession:
        """A session of its own run (each factory session gets a fresh run_id)."""
        return ScanSessionFactory(tenant=self.team, scan=self.nightly, **fields)

    def test_anonymous_visitors_are_sent_to_the_login_page(self):
        self.assertRedirects(self.client.get(self.url), f"{reverse('login')}?next={self.url}")

    def test_it_lists_only_the_current_teams_runs_newest_first(self):
        older = self._session(status="completed", scanner_name="bandit", progress=100)
        newer = self._session(status="running", scanner_name="semgrep", progress=40)
        ScanSessionFactory(tenant=self.other_team, scan=self.secret, asset_value="bravo/secret")
        self.client.force_login(self.member)
        response = self.client.get(self.url)
        self.assertEqual(sessions_of(response.context["runs"]), [[newer], [older]])
        self.assertNotContains(response, "bravo/secret")
        self.assertEqual(
            response.context["stats"],
            {"total": 2, "active": 1, "completed": 1, "failed": 0, "canceled": 0},
        )
        self.assertContains(response, 'aria-valuenow="40"')
        self.assertContains(response, 'href="/scans/"')  # the Configurations tab

    def test_a_runs_sessions_are_listed_under_it(self):
        workflow = ScanFactory(
            tenant=self.team, scan_type="workflow", pipeline=[["semgrep", "gitleaks"], ["trivy"]]
        )
        workflow.targets.add(self.repo)
        run = scan_trigger(scan=workflow, by=self.member)  # its first stage: two sessions
        lone = self._session(status="completed")
        self.client.force_login(self.member)
        response = self.client.get(self.url)
        self.assertEqual(sessions_of(response.context["runs"]), [[lone], run.sessions])
        self.assertEqual(response.context["runs"][1].run_id, run.run_id)
        self.assertContains(response, f'<tbody id="run-{run.run_id}"')
        self.assertContains(response, "2 sessions")
        # One run with two sessions, one active: the cards count runs, not sessions.
        self.assertEqual(
            response.context["stats"],
            {"total": 2, "active": 1, "completed": 1, "failed": 0, "canceled": 0},
        )

    def test_the_cards_count_a_run_by_its_latest_attempts(self):
        # A run decided as scans/runs.py decides it: canceled before failed before completed,
        # from the attempts no retry replaced.
        failed_then_retried = self._session(status="failed")
        self._session(
            status="completed", run_id=failed_then_retried.run_id, retry_of=failed_then_retried
        )
        one_failed = self._session(status="failed")
        self._session(status="completed", run_id=one_failed.run_id)
        one_canceled = self._session(status="canceled")
        self._session(status="failed", run_id=one_canceled.run_id)
        self.client.force_login(self.member)
        stats = self.client.get(self.url).context["stats"]
        self.assertEqual(
            stats, {"total": 3, "active": 0, "completed": 1, "failed": 1, "canceled": 1}
        )

    def test_the_page_polls_while_a_run_is_active(self):
        self._session(status="running")
        self.client.force_login(self.member)
        self.assertContains(self.client.get(self.url), 'hx-trigger="every 3s"')

    def test_the_poll_answers_200_while_a_run_is_active(self):
        self._session(status="pending")
        self.client.force_login(self.member)
        response = self.client.get(self.url, **HTMX)
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "<html")
        self.assertContains(response, 'hx-trigger="every 3s"')

    def test_the_poll_answers_286_and_stops_when_nothing_is_active(self):
        self._session(status="completed", progress=100)
        self.client.force_login(self.member)
        response = self.client.get(self.url, **HTMX)
        self.assertEqual(response.status_code, 286)
        self.assertContains(response, 'id="runs-live"', status_code=286)
        self.assertNotContains(response, "hx-trigger", status_code=286)
        page = self.client.get(self.url)
        self.assertNotContains(page, "hx-trigger")

    def test_a_member_stops_an_active_session(self):
        run = scan_trigger(scan=self.nightly, by=self.member)
        session = run.sessions[0]
        self.client.force_login(self.member)
        response = self.client.post(reverse("scans:session_stop", args=[session.pk]), **HTMX)
        self.assertContains(response, "stopped")
        session.refresh_from_db()
        self.assertEqual(session.status, "canceled")
        self.assertEqual(Command.objects.get(scan_session=session).status, "canceled")

    def test_a_member_retries_a_finished_session(self):
        session = self._session(status="failed", asset=self.repo, asset_value=self.repo.identifier)
        self.client.force_login(self.member)
        response = self.client.post(reverse("scans:session_retry", args=[session.pk]), follow=True)
        self.assertRedirects(response, self.url)
        self.assertContains(response, "queued again")
        retried = ScanSession.objects.exclude(pk=session.pk).get()
        self.assertEqual((retried.trigger, retried.status), ("retry", "pending"))

    def test_an_active_session_cannot_be_retried(self):
        session = self._session(status="running")
        self.client.force_login(self.member)
        response = self.client.post(reverse("scans:session_retry", args=[session.pk]), follow=True)
        self.assertContains(response, "Not retried")
        self.assertEqual(ScanSession.objects.count(), 1)

    def test_a_viewer_sees_no_buttons_and_cannot_act(self):
        session = self._session(status="running")
        self.client.force_login(self.viewer)
        page = self.client.get(self.url)
        self.assertNotContains(page, reverse("scans:session_stop", args=[session.pk]))
        for name in ("session_stop", "session_retry"):
            response = self.client.post(reverse(f"scans:{name}", args=[session.pk]))
            self.assertEqual(response.status_code, 403, name)
        session.refresh_from_db()
        self.assertEqual(session.status, "running")

    def test_another_teams_session_is_not_found(self):
        theirs = ScanSessionFactory(tenant=self.other_team, scan=self.secret, status="running")
        self.client.force_login(self.member)
        for name in ("session_stop", "session_retry"):
            response = self.client.post(reverse(f"scans:{name}", args=[theirs.pk]))
            self.assertEqual(response.status_code, 404, name)
        for name in ("session", "session_moved"):
            response = self.client.get(reverse(f"scans:{name}", args=[theirs.pk]))
            self.assertEqual(response.status_code, 404, name)
        theirs.refresh_from_db()
        self.assertEqual(theirs.status, "running")

    def test_its_query_count_does_not_grow_with_the_rows(self):
        for _ in range(2):
            self._session(status="running")
        self.client.force_login(self.member)
        self.client.get(self.url)  # warm the session
        # session, user, membership+tenant; the stat cards' aggregate; the rows with
        # their scans joined.
        with self.assertNumQueries(5):
            self.client.get(self.url)
        with self.assertNumQueries(5):
            self.client.get(self.url, **HTMX)
        for _ in range(28):
            ScanSessionFactory(
                tenant=self.team, scan=ScanFactory(tenant=self.team), status="completed"
            )
        with self.assertNumQueries(5):
            response = self.client.get(self.url)
        self.assertEqual(len(response.context["runs"]), 30)
        with self.assertNumQueries(5):
            self.client.get(self.url, **HTMX)

    def test_it_says_when_it_shows_only_the_newest_sessions(self):
        self.client.force_login(self.member)
        ScanSessionFactory.create_batch(SESSION_LIST_LIMIT, tenant=self.team, scan=self.nightly)
        response = self.client.get(self.url)
        listed = sum(len(run.sessions) for run in response.context["runs"])
        self.assertEqual(listed, SESSION_LIST_LIMIT)
        self.assertContains(
            response, f"The {SESSION_LIST_LIMIT} newest sessions, under their runs."
        )


class SessionSheet(ScansPageTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.agent = AgentFactory(tenant=cls.team, name="worker-eu-1")
        cls.session = ScanSessionFactory(
            tenant=cls.team,
            scan=cls.nightly,
            status="running",
            progress=35,
            agent=cls.agent,
            created_by=cls.member,
            asset=cls.repo,
            asset_value=cls.repo.identifier,
            started_at=timezone.now() - timedelta(minutes=3),
            findings_total=7,
            findings_new=4,
            findings_fixed=2,
            findings_by_severity={"critical": 1, "high": 2, "low": 4},
        )
        cls.command = CommandFactory(tenant=cls.team, scan=cls.nightly, scan_session=cls.session)
        now = timezone.now()
        CommandEventFactory(
            tenant=cls.team, command=cls.command, to_status="pending", at=now - timedelta(minutes=4)
        )
        CommandEventFactory(
            tenant=cls.team,
            command=cls.command,
            from_status="pending",
            to_status="acknowledged",
            agent=cls.agent,
            at=now - timedelta(minutes=3),
        )
        CommandEventFactory(
            tenant=cls.team,
            command=cls.command,
            from_status="acknowledged",
            to_status="running",
            agent=cls.agent,
            message="cloning the repository",
            at=now - timedelta(minutes=2),
        )

    def url(self, tab: str = "") -> str:
        base = reverse("scans:session", args=[self.session.pk])
        return f"{base}?tab={tab}" if tab else base

    def test_anonymous_visitors_are_sent_to_the_login_page(self):
        response = self.client.get(self.url())
        self.assertRedirects(response, f"{reverse('login')}?next={self.url()}")

    def test_the_overview_shows_progress_and_a_timeline_and_polls(self):
        self.client.force_login(self.member)
        response = self.client.get(self.url())
        self.assertContains(response, "semgrep on github.com/alpha/api")
        self.assertContains(response, 'aria-valuenow="35"')
        timeline = [entry.label for entry in response.context["detail"].timeline]
        self.assertEqual(
            timeline, ["Pending", "Acknowledged on worker-eu-1", "Running on worker-eu-1"]
        )
        self.assertContains(response, "cloning the repository")
        self.assertContains(response, 'hx-trigger="every 3s"')

    def test_the_overview_poll_answers_200_while_running_then_286(self):
        self.client.force_login(self.member)
        response = self.client.get(self.url(), **HTMX)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'id="session-live"')
        self.assertNotContains(response, "<html")
        ScanSession.objects.filter(pk=self.session.pk).update(status="completed", progress=100)
        response = self.client.get(self.url(), **HTMX)
        self.assertEqual(response.status_code, 286)
        self.assertContains(response, 'aria-valuenow="100"', status_code=286)
        self.assertNotContains(response, "hx-trigger", status_code=286)

    def test_the_findings_tab_counts_by_severity_and_links_to_the_findings(self):
        self.client.force_login(self.member)
        response = self.client.get(self.url("findings"))
        self.assertEqual(
            response.context["detail"].severities,
            [("critical", 1), ("high", 2), ("medium", 0), ("low", 4), ("info", 0)],
        )
        self.assertContains(response, 'data-testid="findings-new">4<')
        self.assertContains(response, 'data-testid="findings-fixed">2<')
        self.assertContains(response, f'href="/findings/?session={self.session.pk}"')

    def test_the_details_tab_shows_who_what_where_and_the_command_log(self):
        self.client.force_login(self.member)
        response = self.client.get(self.url("details"))
        self.assertContains(response, self.member.username)
        self.assertContains(response, str(self.session.run_id))
        self.assertContains(response, "worker-eu-1")
        self.assertContains(response, "acknowledged → running")
        self.assertContains(response, "Danger zone")
        self.assertContains(response, reverse("scans:session_stop", args=[self.session.pk]))

    def test_a_viewer_sees_no_danger_zone(self):
        self.client.force_login(self.viewer)
        response = self.client.get(self.url("details"))
        self.assertContains(response, "worker-eu-1")
        self.assertNotContains(response, "Danger zone")

    def test_stopping_from_the_sheet_comes_back_to_the_sheet(self):
        self.client.force_login(self.member)
        response = self.client.post(
            reverse("scans:session_stop", args=[self.session.pk]), {"from": "sheet"}
        )
        self.assertRedirects(response, self.url())
        self.session.refresh_from_db()
        self.assertEqual(self.session.status, "canceled")

    def test_the_audit_log_links_a_stopped_session_to_its_sheet(self):
        admin = MembershipFactory(tenant=self.team, role="admin").user
        self.client.force_login(self.member)
        self.client.post(reverse("scans:session_stop", args=[self.session.pk]))
        self.client.force_login(admin)
        response = self.client.get(reverse("audit-log"))
        self.assertContains(response, f'href="/scans/sessions/{self.session.pk}/"')

    def test_retrying_from_the_sheet_opens_the_new_attempts_sheet(self):
        Command.objects.filter(pk=self.command.pk).update(status="dead")
        session_follow_command(command=Command.objects.get(pk=self.command.pk))  # it failed
        self.client.force_login(self.member)
        response = self.client.post(
            reverse("scans:session_retry", args=[self.session.pk]), {"from": "sheet"}
        )
        retried = ScanSession.objects.get(trigger="retry")
        self.assertRedirects(response, reverse("scans:session", args=[retried.pk]))

    def test_a_retried_attempt_links_to_its_retry_and_offers_no_second_retry(self):
        Command.objects.filter(pk=self.command.pk).update(status="dead")
        session_follow_command(command=Command.objects.get(pk=self.command.pk))
        self.client.force_login(self.member)
        self.client.post(reverse("scans:session_retry", args=[self.session.pk]))
        retried = ScanSession.objects.get(retry_of=self.session)
        old = self.client.get(self.url(), {"tab": "details"})
        self.assertContains(old, reverse("scans:session", args=[retried.pk]))
        self.assertNotContains(old, reverse("scans:session_retry", args=[self.session.pk]))
        new = self.client.get(reverse("scans:session", args=[retried.pk]), {"tab": "details"})
        self.assertContains(new, "a retry of")
        self.assertEqual(retried.run_id, self.session.run_id)

    def test_its_former_address_redirects_here_for_good(self):
        old = f"/scans/runs/{self.session.pk}/"
        self.assertRedirects(
            self.client.get(old), f"{reverse('login')}?next={old}", fetch_redirect_response=False
        )
        self.client.force_login(self.viewer)
        response = self.client.get(old)
        self.assertEqual(response.status_code, 301)
        self.assertEqual(response["Location"], f"/scans/sessions/{self.session.pk}/")
        response = self.client.get(old, {"tab": "details"})
        self.assertRedirects(response, self.url("details"), status_code=301)
        # A tab it does not know is the overview, not a value carried over.
        self.assertEqual(self.client.get(old, {"tab": '"><b>'})["Location"], self.url("overview"))

    def test_another_team_cannot_open_it(self):
        self.client.force_login(self.outsider)
        self.assertEqual(self.client.get(self.url()).status_code, 404)
        self.assertEqual(self.client.get(self.url(), **HTMX).status_code, 404)

    def test_its_query_count_does_not_grow_with_the_log(self):
        self.client.force_login(self.member)
        self.client.get(self.url("details"))  # warm the session
        # session, user, membership+tenant; the session with its scan, agent and
        # creator; its commands; their events with their agents.
        with self.assertNumQueries(6):
            self.client.get(self.url("details"))
        for _ in range(9):
            command = CommandFactory(tenant=self.team, scan_session=self.session)
            for status in ("pending", "acknowledged", "running"):
                CommandEventFactory(
                    tenant=self.team, command=command, to_status=status, agent=self.agent
                )
        with self.assertNumQueries(6):
            response = self.client.get(self.url("details"))
        self.assertEqual(len(response.context["detail"].log), 30)
