from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.messages import get_messages
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from findings.models import Finding
from findings.selectors import SORTS
from tests.factories import (
    NOW,
    AssetFactory,
    FindingFactory,
    MembershipFactory,
    ScanSessionFactory,
    TenantFactory,
    UserFactory,
)

LIST = reverse("findings:list")
HTMX = {"HTTP_HX_REQUEST": "true"}


def detail(finding: Finding) -> str:
    return reverse("findings:detail", args=[finding.pk])


def triage(finding: Finding) -> str:
    return reverse("findings:triage", args=[finding.pk])


class FindingsPageCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.team, cls.other_team = TenantFactory(name="Alpha"), TenantFactory(name="Bravo")
        cls.member = MembershipFactory(tenant=cls.team, role="member").user
        cls.viewer = MembershipFactory(tenant=cls.team, role="viewer").user

    def listed(self, **params) -> list[Finding]:
        response = self.client.get(LIST, params)
        self.assertEqual(response.status_code, 200)
        return response.context["page"].findings


class Access(FindingsPageCase):
    def test_anonymous_visitors_are_sent_to_the_login_page(self):
        for url in (LIST, reverse("findings:detail", args=[FindingFactory().pk])):
            response = self.client.get(url)
            self.assertRedirects(response, f"{reverse('login')}?next={url}")

    def test_a_user_without_a_team_gets_the_no_team_page(self):
        self.client.force_login(UserFactory())
        self.assertContains(self.client.get(LIST), "No team yet", status_code=403)

    def test_other_tenants_findings_never_appear_and_their_page_is_404(self):
        mine = FindingFactory(tenant=self.team, title="Mine")
        theirs = FindingFactory(tenant=self.other_team, title="Theirs", severity="critical")
        self.client.force_login(self.member)
        self.assertEqual(self.listed(), [mine])
        self.assertEqual(self.listed(asset=theirs.asset_id), [])
        self.assertNotContains(self.client.get(LIST), "Theirs")
        self.assertEqual(self.client.get(detail(theirs)).status_code, 404)
        response = self.client.post(triage(theirs), {"status": "confirmed", "note": ""})
        self.assertEqual(response.status_code, 404)
        theirs.refresh_from_db()
        self.assertEqual(theirs.status, "new")


class Filters(FindingsPageCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.web = AssetFactory(tenant=cls.team, name="web")
        cls.session = ScanSessionFactory(tenant=cls.team)
        cls.eval = FindingFactory(
            tenant=cls.team,
            asset=cls.web,
            title="Use of eval",
            severity="critical",
            file_path="app/views.py",
            last_scan_session=cls.session,
        )
        cls.sqli = FindingFactory(
            tenant=cls.team,
            title="SQL injection",
            severity="high",
            status="confirmed",
            rule_id="python.django.security.injection.sql",
            file_path="app/db.py",
            first_seen_at=NOW - timedelta(days=30),
            last_seen_at=NOW - timedelta(days=10),
        )
        cls.lodash = FindingFactory(
            tenant=cls.team,
            title="Prototype pollution in lodash",
            severity="medium",
            status="false_positive",
            tool_name="trivy",
            source_category="sca",
            rule_id="",
            file_path="package-lock.json",
            cve_id="CVE-2020-8203",
            first_seen_at=NOW - timedelta(days=5),
            last_seen_at=NOW - timedelta(days=5),
        )

    def setUp(self):
        self.client.force_login(self.member)

    def assertListed(self, expected, **params):
        self.assertEqual(
            {f.title for f in self.listed(**params)}, {f.title for f in expected}, params
        )

    def test_no_filter_lists_everything(self):
        self.assertListed([self.eval, self.sqli, self.lodash])

    def test_each_filter_narrows_the_list(self):
        day = timedelta(days=1)
        cases = [
            ({"severity": ["critical", "medium"]}, [self.eval, self.lodash]),
            ({"status": ["confirmed"]}, [self.sqli]),
            ({"status": ["new", "false_positive"]}, [self.eval, self.lodash]),
            ({"tool": "Trivy"}, [self.lodash]),
            ({"category": "sca"}, [self.lodash]),
            ({"asset": self.web.pk}, [self.eval]),
            ({"session": self.session.pk}, [self.eval]),
            ({"first_seen_to": (NOW - 6 * day).date()}, [self.sqli]),
            ({"first_seen_from": (NOW - 6 * day).date()}, [self.eval, self.lodash]),
            ({"last_seen_from": (NOW - 5 * day).date()}, [self.eval, self.lodash]),
            ({"last_seen_to": (NOW - 5 * day).date()}, [self.sqli, self.lodash]),
            ({"last_seen_from": NOW.date(), "last_seen_to": NOW.date()}, [self.eval]),
            ({"q": "EVAL"}, [self.eval]),  # title
            ({"q": "injection.sql"}, [self.sqli]),  # rule
            ({"q": "package-lock"}, [self.lodash]),  # file
            ({"q": "cve-2020-8203"}, [self.lodash]),  # CVE
            ({"severity": "high", "q": "eval"}, []),
        ]
        for params, expected in cases:
            with self.subTest(params=params):
                self.assertListed(expected, **params)

    def test_a_bad_value_is_reported_and_the_other_filters_still_apply(self):
        response = self.client.get(LIST, {"severity": "high", "first_seen_from": "soon"})
        self.assertEqual(response.context["page"].findings, [self.sqli])
        self.assertContains(response, "Enter a valid date")

    def test_the_form_keeps_its_values(self):
        response = self.client.get(
            LIST, {"severity": "critical", "q": "eval", "tool": "semgrep", "sort": "severity"}
        )
        self.assertContains(response, 'value="critical" id="id_severity_0" checked')
        self.assertContains(response, 'value="eval"')
        self.assertContains(response, 'value="semgrep"')
        self.assertContains(response, '<option value="severity" selected>')

    def test_severity_badges_carry_the_severity_class(self):
        self.assertContains(self.client.get(LIST), '<span class="badge sev sev-critical">')

    def test_severity_sort_puts_the_most_severe_first(self):
        self.assertEqual(self.listed(sort="severity"), [self.eval, self.sqli, self.lodash])
        self.assertEqual(self.listed(sort="first_seen"), [self.sqli, self.lodash, self.eval])

    def test_a_session_filter_links_to_its_session(self):
        response = self.client.get(LIST, {"session": self.session.pk})
        self.assertContains(response, f'href="/scans/sessions/{self.session.pk}/"')


class KeysetPagination(FindingsPageCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        # 130 findings with many equal sort keys: ties are where keysets go wrong.
        severities = ["critical", "high", "medium", "low", "info"]
        for n in range(130):
            FindingFactory(
                tenant=cls.team,
                severity=severities[n % 5],
                first_seen_at=NOW - timedelta(days=n % 3),
                last_seen_at=NOW - timedelta(hours=n % 4),
            )
        FindingFactory.create_batch(5, tenant=cls.other_team)

    def walk(self, **params) -> list:
        seen, url, pages = [], f"{LIST}?{urlencode(params)}", 0
        while url:
            with CaptureQueriesContext(connection) as queries:
                response = self.client.get(url)
            for query in queries.captured_queries:
                self.assertNotIn("OFFSET", query["sql"])
                self.assertNotIn("COUNT(", query["sql"])  # no total, however many rows
            seen += [f.pk for f in response.context["page"].findings]
            pages += 1
            next_query = response.context["next_query"]
            url = f"{LIST}?{next_query}" if next_query else None
            self.assertLess(pages, 10)
        self.assertEqual(pages, 3)
        return seen

    def test_pages_neither_repeat_nor_skip_rows_whatever_the_sort(self):
        self.client.force_login(self.member)
        mine = Finding.objects.for_tenant(self.team)
        expected_orders = {
            "-last_seen": mine.order_by("-last_seen_at", "-id"),
            "last_seen": mine.order_by("last_seen_at", "-id"),
            "-first_seen": mine.order_by("-first_seen_at", "-id"),
            "first_seen": mine.order_by("first_seen_at", "-id"),
        }
        for sort in SORTS:
            with self.subTest(sort=sort):
                seen = self.walk(sort=sort)
                self.assertEqual(len(seen), len(set(seen)))
                self.assertEqual(set(seen), set(mine.values_list("pk", flat=True)))
                if sort in expected_orders:
                    self.assertEqual(seen, list(expected_orders[sort].values_list("pk", flat=True)))
                else:
                    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
                    severities = dict(mine.values_list("pk", "severity"))
                    self.assertEqual(
                        seen, sorted(seen, key=lambda pk: (rank[severities[pk]], -pk.int))
                    )

    def test_filters_are_kept_from_page_to_page(self):
        self.client.force_login(self.member)
        response = self.client.get(LIST, {"severity": ["critical", "high", "medium"]})
        self.assertIn("severity=critical", response.context["next_query"])
        self.assertContains(response, "More…")
        page_two = self.client.get(f"{LIST}?{response.context['next_query']}", **HTMX)
        self.assertContains(page_two, "« First page")
        self.assertContains(page_two, 'value="/findings/?severity=critical&amp;severity=high')

    def test_a_broken_page_link_falls_back_to_the_first_page(self):
        self.client.force_login(self.member)
        response = self.client.get(LIST, {"sort": "severity", "after": "2026-01-01~nope"})
        self.assertEqual(len(response.context["page"].findings), 50)
        self.assertContains(response, "That page link has expired")


class QueryCounts(FindingsPageCase):
    def test_the_list_costs_the_same_at_3_and_60_findings(self):
        self.client.force_login(self.member)
        FindingFactory.create_batch(3, tenant=self.team)
        self.client.get(LIST)  # warm the session
        # session, user, membership+tenant, asset options, one page of findings+assets
        with self.assertNumQueries(5):
            self.client.get(LIST, {"severity": "high", "sort": "severity"})
        with self.assertNumQueries(4):  # an htmx refresh skips the asset options
            self.client.get(LIST, **HTMX)
        FindingFactory.create_batch(57, tenant=self.team)
        with self.assertNumQueries(5):
            response = self.client.get(LIST, {"severity": "high", "sort": "severity"})
        self.assertEqual(len(response.context["page"].findings), 50)
        with self.assertNumQueries(4):
            self.client.get(f"{LIST}?{response.context['next_query']}", **HTMX)

    def test_the_finding_page_costs_four_queries(self):
        self.client.force_login(self.member)
        finding = FindingFactory(
            tenant=self.team,
            last_scan_session=ScanSessionFactory(tenant=self.team),
            references=["https://example.com/advisory"],
            metadata={
                "triage": [
                    {
                        "at": NOW.isoformat(),
                        "by": "bob",
                        "from": "new",
                        "to": "confirmed",
                        "note": "seen",
                    }
                ]
            },
        )
        self.client.get(detail(finding))
        # session, user, membership+tenant, finding+asset+scan session, sightings
        with self.assertNumQueries(5):
            response = self.client.get(detail(finding))
        self.assertContains(response, "seen")


class FindingPage(FindingsPageCase):
    def test_it_shows_location_rule_vulnerability_and_history(self):
        session = ScanSessionFactory(tenant=self.team, scanner_name="trivy")
        finding = FindingFactory(
            tenant=self.team,
            title="Prototype pollution",
            tool_name="trivy",
            source_category="sca",
            rule_id="CVE-2020-8203",
            file_path="package-lock.json",
            start_line=12,
            end_line=14,
            snippet='"lodash": "4.17.15" <script>',
            cve_id="CVE-2020-8203",
            cwe_ids=["CWE-1321", "CWE-770"],
            cvss_score="7.4",
            cvss_vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H",
            epss_score=0.0123,
            package_name="lodash",
            package_version="4.17.15",
            fixed_version="4.17.19",
            references=["https://nvd.nist.gov/vuln/detail/CVE-2020-8203", "javascript:alert(1)"],
            reopen_count=2,
            occurrence_count=7,
            last_scan_session=session,
        )
        self.client.force_login(self.viewer)
        response = self.client.get(detail(finding))
        for text in [
            "package-lock.json:12-14",
            '<pre class="snippet"><code>&quot;lodash&quot;: &quot;4.17.15&quot; &lt;script&gt;',
            "CWE-1321, CWE-770",
            "7.4",
            "0.0123",
            "lodash 4.17.15",
            "4.17.19",
            '<a href="https://nvd.nist.gov/vuln/detail/CVE-2020-8203"',
            "<li>javascript:alert(1)</li>",  # shown, never linked
            "2 times",
            "7 times",
            f'href="/scans/sessions/{session.pk}/"',
            f'href="{LIST}?session={session.pk}"',
            "SCA",
        ]:
            self.assertContains(response, text, html=False, msg_prefix=text)

    def test_a_secret_shows_its_weakness_without_empty_vulnerability_rows(self):
        secret = FindingFactory(
            tenant=self.team, finding_type="secret", cwe_ids=["CWE-798"], cve_id=""
        )
        self.client.force_login(self.viewer)
        response = self.client.get(detail(secret))
        self.assertContains(response, '<h2 id="vuln-h">Weakness</h2>', html=False)
        self.assertContains(response, "CWE-798")
        for row in ("<dt>CVE</dt>", "<dt>CVSS</dt>", "<dt>EPSS</dt>", "<dt>Package</dt>"):
            self.assertNotContains(response, row, html=False, msg_prefix=row)

    def test_a_url_location_is_linked_only_when_it_is_http(self):
        web = FindingFactory(tenant=self.team, file_path="", url="https://shop.example/login")
        odd = FindingFactory(tenant=self.team, file_path="", url="javascript:alert(1)")
        self.client.force_login(self.member)
        self.assertContains(self.client.get(detail(web)), 'href="https://shop.example/login"')
        response = self.client.get(detail(odd))
        self.assertNotContains(response, 'href="javascript:')
        self.assertContains(response, "<code>javascript:alert(1)</code>")


class Triage(FindingsPageCase):
    def test_a_member_changes_the_status_with_a_note(self):
        finding = FindingFactory(tenant=self.team)
        self.client.force_login(self.member)
        response = self.client.post(
            triage(finding), {"status": "false_positive", "note": "tests"}, follow=True
        )
        self.assertRedirects(response, detail(finding))
        self.assertContains(response, "Status changed to false positive.")
        self.assertContains(response, '<p class="note">tests</p>')
        finding.refresh_from_db()
        self.assertEqual(finding.status, "false_positive")
        self.assertEqual(finding.metadata["triage"][0]["by"], self.member.username)

    def test_an_htmx_triage_returns_the_status_panel_only(self):
        finding = FindingFactory(tenant=self.team)
        self.client.force_login(self.member)
        response = self.client.post(
            triage(finding), {"status": "confirmed", "note": "real"}, **HTMX
        )
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "<html")
        self.assertContains(response, 'data-testid="finding-status">Confirmed<')
        self.assertContains(response, '<option value="in_progress">')

    def test_a_refused_transition_is_explained(self):
        finding = FindingFactory(tenant=self.team, status="accepted")
        self.client.force_login(self.member)
        response = self.client.post(triage(finding), {"status": "resolved", "note": ""})
        self.assertContains(
            response,
            "accepted → resolved is not allowed (from accepted: confirmed)",
            status_code=400,
        )
        response = self.client.post(triage(finding), {"status": "resolved", "note": ""}, **HTMX)
        self.assertContains(response, 'role="alert"')  # 200: htmx swaps only 2xx
        finding.refresh_from_db()
        self.assertEqual(finding.status, "accepted")

    def test_a_viewer_sees_no_triage_controls_and_cannot_post(self):
        finding = FindingFactory(tenant=self.team)
        self.client.force_login(self.viewer)
        self.assertNotContains(self.client.get(detail(finding)), "Change status")
        listing = self.client.get(LIST)
        self.assertNotContains(listing, 'name="ids"')
        self.assertNotContains(listing, "Apply to selected")
        response = self.client.post(triage(finding), {"status": "confirmed", "note": ""})
        self.assertEqual(response.status_code, 403)
        response = self.client.post(
            reverse("findings:bulk_triage"), {"ids": [finding.pk], "status": "confirmed"}
        )
        self.assertEqual(response.status_code, 403)
        finding.refresh_from_db()
        self.assertEqual(finding.status, "new")

    def test_bulk_triage_reports_updated_and_skipped_and_goes_back(self):
        fresh = FindingFactory.create_batch(3, tenant=self.team)
        stuck = FindingFactory(tenant=self.team, status="duplicate", title="Dup")
        theirs = FindingFactory(tenant=self.other_team)
        self.client.force_login(self.member)
        back = f"{LIST}?severity=high"
        response = self.client.post(
            reverse("findings:bulk_triage"),
            {
                "ids": [f.pk for f in [*fresh, stuck, theirs]],
                "status": "in_progress",
                "note": "sprint 12",
                "next": back,
            },
        )
        self.assertRedirects(response, back)
        [message] = [str(m) for m in get_messages(response.wsgi_request)]
        self.assertTrue(message.startswith("3 updated, 1 skipped: “Dup”: duplicate → in progress"))
        statuses = dict(Finding.objects.values_list("pk", "status"))
        self.assertEqual([statuses[f.pk] for f in fresh], ["in_progress"] * 3)
        self.assertEqual((statuses[stuck.pk], statuses[theirs.pk]), ("duplicate", "new"))

    def test_bulk_triage_refuses_an_empty_selection_and_a_foreign_next(self):
        self.client.force_login(self.member)
        response = self.client.post(
            reverse("findings:bulk_triage"),
            {"status": "confirmed", "next": "https://evil.example/"},
        )
        self.assertRedirects(response, LIST)
        self.assertIn(
            "Select at least one finding.", [str(m) for m in get_messages(response.wsgi_request)]
        )

    def test_the_list_offers_bulk_controls_to_members(self):
        FindingFactory(tenant=self.team)
        self.client.force_login(self.member)
        response = self.client.get(LIST)
        self.assertContains(response, 'name="ids"')
        self.assertContains(response, "Apply to selected")


class HtmxRefresh(FindingsPageCase):
    def test_an_htmx_request_gets_only_the_results_partial(self):
        FindingFactory(tenant=self.team, title="Visible")
        self.client.force_login(self.member)
        response = self.client.get(LIST, {"severity": "high"}, **HTMX)
        self.assertNotContains(response, "<html")
        self.assertNotContains(response, 'role="search"')
        self.assertContains(response, 'id="findings-results"')
        self.assertContains(response, "Visible")
        self.assertIn("HX-Request", response["Vary"])

    def test_a_history_restore_gets_the_whole_page(self):
        self.client.force_login(self.member)
        response = self.client.get(LIST, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)
        self.assertContains(response, "<html")

    def test_the_filter_form_swaps_the_results_and_pushes_the_url(self):
        self.client.force_login(self.member)
        response = self.client.get(LIST)
        self.assertContains(response, 'hx-get="/findings/"')
        self.assertContains(response, 'hx-target="#findings-results"')
        self.assertContains(response, 'hx-push-url="true"')


class FindingHistoryOfRuns(TestCase):
    def test_the_finding_page_lists_the_runs_that_saw_it(self):
        from tests.factories import FindingSightingFactory

        sighting = FindingSightingFactory()
        user = MembershipFactory(tenant=sighting.tenant).user
        self.client.force_login(user)
        response = self.client.get(f"/findings/{sighting.finding_id}/")
        self.assertContains(response, f"/scans/sessions/{sighting.scan_session_id}/")
