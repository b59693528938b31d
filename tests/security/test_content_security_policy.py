"""The Content-Security-Policy: one strict policy on every answer, and templates that
need nothing it refuses.

The header is checked directive by directive on dashboard pages (full and htmx
fragments), on the API (answers and refusals alike), on the API docs and the admin. The
policy holds only while no template brings inline code, so the templates are scanned:
an inline <script>, an on…= handler, a style attribute or <style> element, a javascript:
URL, or htmx that needs eval fails the scan. Browser-side proof that each page still
works under the policy is tests/browser/test_csp.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.test import TestCase

from rediverio.models import Role
from rediverio.services import api_token_create
from tests.factories import (
    AgentFactory,
    AssetFactory,
    FindingFactory,
    MembershipFactory,
    ScanDraftFactory,
    ScanFactory,
    ScanProfileFactory,
    ScanSessionFactory,
    TenantFactory,
    UserFactory,
)

POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}


def policy_of(response) -> dict[str, set[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives: dict[str, set[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in directives, f"{name} given twice in {header!r}"
        directives[name] = set(sources)
    return directives


class TheHeader(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.team = TenantFactory(name="Alpha Team")
        cls.owner = MembershipFactory(tenant=cls.team, role=Role.OWNER).user
        cls.viewer = MembershipFactory(tenant=cls.team, role=Role.VIEWER).user
        cls.asset = AssetFactory(tenant=cls.team, name="alpha/api")
        cls.finding = FindingFactory(tenant=cls.team, asset=cls.asset)
        cls.scan = ScanFactory(tenant=cls.team, name="Nightly")
        cls.session = ScanSessionFactory(tenant=cls.team, scan=cls.scan, progress=40)
        cls.agent = AgentFactory(tenant=cls.team, name="build-7")
        cls.profile = ScanProfileFactory(tenant=cls.team, name="Deep")
        cls.draft = ScanDraftFactory(tenant=cls.team, created_by=cls.owner)
        cls.token = api_token_create(tenant=cls.team, user=cls.owner, name="csp")[1]

    def assert_strict(self, response) -> None:
        self.assertEqual(policy_of(response), POLICY)

    def test_every_dashboard_page_carries_the_policy(self):
        self.client.force_login(self.owner)
        pages = [
            "/",
            "/findings/",
            f"/findings/{self.finding.pk}/",
            "/scans/",
            "/scans/runs/",
            f"/scans/sessions/{self.session.pk}/",
            f"/scans/new/{self.draft.pk}/basic/",
            "/agents/",
            f"/agents/{self.agent.pk}/",
            "/assets/",
            f"/assets/{self.asset.pk}/",
            "/profiles/",
            f"/profiles/{self.profile.pk}/",
            "/audit/",
        ]
        for path in pages:
            with self.subTest(path=path):
                response = self.client.get(path)
                self.assertEqual(response.status_code, 200)
                self.assert_strict(response)

    def test_htmx_fragments_redirects_and_refusals_carry_it_too(self):
        self.client.force_login(self.viewer)
        answers = {
            "an htmx fragment": self.client.get("/findings/?q=x", HTTP_HX_REQUEST="true"),
            "a poll": self.client.get("/scans/runs/", HTTP_HX_REQUEST="true"),
            "a redirect": self.client.get("/scans/new/"),
            "a 403": self.client.get("/audit/"),
            "a 404": self.client.get("/no-such-page/"),
        }
        self.assertEqual(answers["a 403"].status_code, 403)
        self.assertEqual(answers["a 404"].status_code, 404)
        self.client.logout()
        answers["the sign-in page"] = self.client.get("/login/")
        answers["a sign-in redirect"] = self.client.get("/findings/")
        for what, response in answers.items():
            with self.subTest(what):
                self.assert_strict(response)

    def test_api_answers_and_refusals_carry_it(self):
        bearer = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}
        answers = {
            "a token's read": self.client.get("/api/v1/scans", **bearer),
            "a bad input": self.client.post(
                "/api/v1/scans/schedule-preview", {"schedule_type": "x"}, **bearer
            ),
            "no credentials": self.client.get("/api/v1/scans"),
            "an agent without a key": self.client.post("/api/v1/agent/heartbeat", {}),
            "the schema": self.client.get("/api/schema/"),
            "a health check": self.client.get("/healthz"),
        }
        self.assertEqual(answers["a token's read"].status_code, 200)
        self.assertEqual(answers["a bad input"].status_code, 400)
        self.assertEqual(answers["no credentials"].status_code, 401)
        for what, response in answers.items():
            with self.subTest(what):
                self.assert_strict(response)

    def test_the_api_docs_and_the_admin_need_no_exemption(self):
        # Swagger UI's init script is a file of its own (the split view) and its inline
        # style is in static/api-docs.css; the admin of Django 5.2 has no inline code.
        docs = self.client.get("/api/docs/")
        script = self.client.get("/api/docs/?script=")
        self.assertEqual(script["Content-Type"], "application/javascript")
        staff = UserFactory(is_staff=True, is_superuser=True)
        self.client.force_login(staff)
        for what, response in {
            "the docs": docs,
            "their script": script,
            "the admin": self.client.get("/admin/"),
            "an admin list": self.client.get("/admin/findings/finding/"),
        }.items():
            with self.subTest(what):
                self.assertEqual(response.status_code, 200)
                self.assert_strict(response)
        self.assertEqual(inline_code("api docs", docs.content.decode()), [])

    def test_rendered_pages_hold_no_inline_code(self):
        """The template scan below cannot see what forms and filters render."""
        self.client.force_login(self.owner)
        draft = ScanDraftFactory(
            tenant=self.team,
            created_by=self.owner,
            step=4,
            data={
                "name": "Nightly API",
                "scan_type": "single",
                "targets": [str(self.asset.pk)],
                "scanner_name": "semgrep",
                "profile": str(self.profile.pk),
                "schedule_type": "daily",
                "schedule_time": "02:00",
                "schedule_timezone": "UTC",
            },
        )
        pages = ["/", "/findings/", f"/findings/{self.finding.pk}/", "/scans/runs/"]
        pages += [f"/scans/new/{draft.pk}/{step}/" for step in ("basic", "targets", "options")]
        pages += [f"/scans/new/{draft.pk}/schedule/", f"/agents/{self.agent.pk}/"]
        for path in [*pages, "/login/"]:
            with self.subTest(path=path):
                if path == "/login/":
                    self.client.logout()
                response = self.client.get(path)
                self.assertEqual(response.status_code, 200)
                self.assertEqual(inline_code(path, response.content.decode()), [])

    def test_htmx_is_told_not_to_eval_nor_inject_styles(self):
        self.client.force_login(self.owner)
        page = self.client.get("/").content.decode()
        self.assertIn(
            """<meta name="htmx-config" content='{"allowEval": false, """
            """"includeIndicatorStyles": false}'>""",
            page,
        )
        # Before htmx itself, which reads its configuration once, when it loads.
        self.assertLess(page.index('name="htmx-config"'), page.index("htmx-2.0.11.min.js"))


# ----------------------------------------------------------------- the template scan

# What the policy refuses, as it appears in a template or a page. Each rule reads one
# tag at a time; Django comments are dropped first (they never reach the browser).
TAG = re.compile(r"<(?P<name>[a-zA-Z][\w-]*)(?P<attrs>(?:[^<>\"']|\"[^\"]*\"|'[^']*')*)>")
ATTRIBUTE = re.compile(
    r"""(?:^|\s)(?P<name>[^\s=/>"']+)(?:\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s>]+)))?"""
)
COMMENTS = re.compile(r"{#.*?#}|{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", re.DOTALL)
SCRIPT_BODY = re.compile(r"<script\b[^>]*>(?P<body>.*?)</script\s*>", re.DOTALL | re.IGNORECASE)
DATA_BLOCK = re.compile(r"""\btype\s*=\s*["']application/(?:ld\+)?json["']""", re.IGNORECASE)
EVAL_PREFIX = re.compile(r"^\s*(?:js|javascript)\s*:", re.IGNORECASE)


def inline_code(where: str, source: str) -> list[str]:
    """Every construct in `source` that the Content-Security-Policy would refuse."""
    source = COMMENTS.sub("", source)
    found: list[str] = []
    for match in SCRIPT_BODY.finditer(source):
        opening = match.group(0)[: match.group(0).index(">") + 1]
        if DATA_BLOCK.search(opening):
            continue  # JSON data (json_script) is never run
        if match.group("body").strip() or not re.search(r"\bsrc\s*=", opening):
            found.append(f"{where}: inline <script>: {opening}")
    for tag in TAG.finditer(source):
        name = tag.group("name").lower()
        if name == "style":
            found.append(f"{where}: <style> element")
        for attribute in ATTRIBUTE.finditer(tag.group("attrs")):
            key = attribute.group("name").lower()
            value = attribute.group("dq") or attribute.group("sq") or attribute.group("bare") or ""
            if re.fullmatch(r"on[a-z]+", key):
                found.append(f"{where}: inline handler {key}= on <{name}>")
            elif key == "style":
                found.append(f"{where}: style attribute on <{name}>")
            elif key.startswith(("hx-on", "data-hx-on")) or key in ("hx-vars", "data-hx-vars"):
                found.append(f"{where}: {key} (htmx evaluates it)")
            elif key in ("hx-vals", "hx-headers", "data-hx-vals", "data-hx-headers") and (
                EVAL_PREFIX.search(value)
            ):
                found.append(f"{where}: {key} with a js: expression")
            elif key in ("hx-trigger", "data-hx-trigger") and "[" in value:
                found.append(f"{where}: hx-trigger filter [{value}] (htmx evaluates it)")
            elif EVAL_PREFIX.search(value) and key not in ("content", "title", "placeholder"):
                found.append(f"{where}: javascript: URL in {key}")
    return found


def our_templates() -> list[Path]:
    folders = [Path(folder) for folder in settings.TEMPLATES[0]["DIRS"]]
    folders += [
        settings.BASE_DIR / app / "templates"
        for app in ("rediverio", "findings", "ingest", "agents", "scans")
    ]
    return sorted(path for folder in folders if folder.is_dir() for path in folder.rglob("*.html"))


class TheTemplates(TestCase):
    def test_no_template_holds_inline_script_handler_or_style(self):
        templates = our_templates()
        self.assertGreater(len(templates), 30)  # the scan found the templates at all
        found = [
            problem
            for path in templates
            for problem in inline_code(
                str(path.relative_to(settings.BASE_DIR)), path.read_text(encoding="utf-8")
            )
        ]
        self.assertEqual(found, [])

    def test_the_scan_finds_each_kind_of_inline_code(self):
        refused = {
            "<script>alert(1)</script>": "inline <script>",
            '<script src="/static/x.js">alert(1)</script>': "inline <script>",
            "<SCRIPT\n>go()</SCRIPT>": "inline <script>",
            '<select onchange="this.form.submit()">': "inline handler onchange=",
            "<form method=post onsubmit='return confirm(1)'>": "inline handler onsubmit=",
            '<input type="checkbox"\n  onclick="x()">': "inline handler onclick=",
            '<span class="bar" style="height: {{ pct }}%">': "style attribute on <span>",
            "<style>p { color: red }</style>": "<style> element",
            '<a href="javascript:void(0)">': "javascript: URL in href",
            '<a href=" JavaScript:alert(1)">': "javascript: URL in href",
            '<button hx-on:click="go()">': "hx-on:click (htmx evaluates it)",
            '<button hx-on::after-request="go()">': "hx-on::after-request",
            '<div hx-vars="a: 1">': "hx-vars (htmx evaluates it)",
            """<div hx-vals='js:{a: b()}'>""": "hx-vals with a js: expression",
            """<body hx-headers='javascript:{}'>""": "hx-headers with a js: expression",
            '<div hx-trigger="keyup[ctrlKey]">': "hx-trigger filter",
            '<li{% if x %} style="color: red"{% endif %}>': "style attribute on <li>",
        }
        for snippet, problem in refused.items():
            with self.subTest(snippet=snippet):
                found = inline_code("t", snippet)
                self.assertEqual(len(found), 1, found)
                self.assertIn(problem, found[0])

    def test_the_scan_lets_what_the_policy_allows_through(self):
        allowed = [
            "<script src=\"{% static 'rediverio.js' %}\" defer></script>",
            '<script id="d" type="application/json">{"a": 1}</script>',
            '<select id="team-switch" name="tenant" data-autosubmit>',
            '<form data-confirm="Revoke {{ agent.name }}? It stops working.">',
            """<body hx-headers='{"X-CSRFToken": "{{ csrf_token }}"}'>""",
            '<div hx-get="/scans/runs/" hx-trigger="every 3s">',
            '<form hx-trigger="change, keyup delay:500ms from:#id_schedule_cron">',
            '<form hx-post="/x" hx-confirm="Stop {{ session.scanner_name }}?">',
            '<svg viewBox="0 0 100 1"><rect width="{{ session.progress }}" height="1"/></svg>',
            "<p>Set the on=off switch; a stylesheet; javascript: is shown as text</p>",
            "{# <script>never rendered</script> #}",
            "{% comment %}<span style='x'>never rendered</span>{% endcomment %}",
            '<input placeholder="javascript: is not a scheme here">',
        ]
        for snippet in allowed:
            with self.subTest(snippet=snippet):
                self.assertEqual(inline_code("t", snippet), [])
