"""Which scanner settings a member may set (issue #13, item 6): an allow-list of keys
that tune a scan; host paths, rule files and raw flags are an admin's. The services that
write scans and profiles apply it, whoever calls them."""

from __future__ import annotations

from django.test import SimpleTestCase, TestCase

from rediverio.models import AuditEvent, Role
from scans.models import Scan, ScanProfile
from scans.profile_services import (
    ToolsConfigRefused,
    scan_profile_clone,
    scan_profile_create,
    scan_profile_update,
)
from scans.scanner_config import (
    MEMBER_KEYS,
    bundled_rule_set_names,
    scanner_config_refusals,
    tools_config_refusals,
)
from scans.services import ScanInvalid, scan_clone, scan_create, scan_update
from tests.factories import AssetFactory, MembershipFactory, TenantFactory, UserFactory

# What a member may set: each key that tunes a scan, with a value of its shape.
TUNING = {
    "severity": ["high", "critical"],
    "min_severity": "medium",
    "confidence": "high",
    "skip": "B101,B603",
    "tests": ["B602"],
    "framework": ["terraform", "kubernetes"],
    "skip_check": "CKV_AWS_20",
    "scanners": ["vuln", "secret"],
    "mode": "fs",
    "exclude": ["tests/**", "*.min.js", "vendor/"],
    "exclude_files": r".*\.lock$",
    "exclude_lines": ["password = example"],
    "git_history": False,
    "skip_db_update": True,
    "offline": True,
    "ignore_unfixed": True,
    "list_all_packages": False,
    "rate_limit": 150,
    "timeout": 1800,
    "ref": "release/2.1",
    "branch": "main",
    "rules": "python",
    "config": ["python"],
    "ruleset": "python",
}

# What only an admin may set: host paths, rule files, raw flags and commands, and any
# key a member is not given.
ADMIN_ONLY = [
    ("path", "/etc"),
    ("paths", ["/home/agent/.ssh"]),
    ("target_dir", "/var/lib"),
    ("rules_path", "/srv/rules"),
    ("templates", ["/opt/nuclei-templates"]),
    ("config_file", "/etc/gitleaks.toml"),
    ("args", ["--config", "/etc/passwd"]),
    ("extra_args", "--include-path /"),
    ("command", ["sh", "-c", "cat /etc/shadow"]),
    ("rules", "/etc/semgrep/rules.yml"),
    ("rules", ".semgrep/rules.yml"),
    ("rules", ["python", "../../etc/rules.yml"]),
    ("config", "/srv/checkout"),
    ("ruleset", "p/default"),
    ("recursive", True),
]

# Keys a member may set, with values that would leave the scanned directory or pass
# a flag to the tool.
BAD_VALUES = [
    ("exclude", "/etc/*"),
    ("exclude", ["ok/*", "../outside/*"]),
    ("exclude", "~/.ssh/*"),
    ("exclude_files", "--include=/"),
    ("exclude", 5),
    ("severity", "--severity=none"),
    ("severity", ["high", 3]),
    ("skip", "B101,,B102"),
    ("git_history", "yes"),
    ("rate_limit", "100"),
    ("rate_limit", True),
    ("rate_limit", 0),
    ("timeout", 10**9),
    ("ref", "--upload-pack=touch /tmp/x"),
    ("ref", "main/../../x"),
    ("exclude", ["x"] * 101),
]


class TheAllowList(SimpleTestCase):
    def test_a_member_may_set_every_key_that_tunes_a_scan(self):
        self.assertEqual(set(TUNING), set(MEMBER_KEYS))
        self.assertEqual(scanner_config_refusals(TUNING, Role.MEMBER), {})

    def test_keys_naming_host_files_or_passing_flags_are_an_admins(self):
        for key, value in ADMIN_ONLY:
            with self.subTest(key=key, value=value):
                refusals = scanner_config_refusals({key: value}, Role.MEMBER)
                self.assertEqual(list(refusals), [f"scanner_config.{key}"])
                for role in (Role.ADMIN, Role.OWNER):
                    self.assertEqual(scanner_config_refusals({key: value}, role), {})

    def test_the_refusal_says_why_and_what_a_member_may_set(self):
        refusals = scanner_config_refusals({"path": "/etc", "recursive": True}, Role.MEMBER)
        self.assertIn("names files on the agent's host", refusals["scanner_config.path"])
        self.assertIn(
            "not one of the settings a member may set", refusals["scanner_config.recursive"]
        )
        self.assertIn("exclude, exclude_files", refusals["scanner_config.path"])
        rules = scanner_config_refusals({"rules": "/srv/r.yml"}, Role.MEMBER)
        self.assertIn("rule sets the agents ship (python)", rules["scanner_config.rules"])

    def test_a_member_key_with_a_value_of_the_wrong_shape_is_refused(self):
        for key, value in BAD_VALUES:
            with self.subTest(key=key, value=value):
                refusals = scanner_config_refusals({key: value}, Role.MEMBER)
                self.assertEqual(list(refusals), [f"scanner_config.{key}"])

    def test_below_member_and_outside_the_team_count_as_a_member(self):
        for role in (Role.VIEWER, ""):
            with self.subTest(role=role):
                self.assertIn("scanner_config.path", scanner_config_refusals({"path": "/"}, role))

    def test_the_platforms_own_code_is_not_restricted(self):
        self.assertEqual(scanner_config_refusals({"path": "/srv/demo"}, None), {})

    def test_a_member_keeps_what_an_admin_set_but_does_not_change_or_remove_it(self):
        before = {"path": "/srv/checkouts/api", "severity": "high"}
        kept = {"path": "/srv/checkouts/api", "severity": "low", "exclude": "tests/*"}
        self.assertEqual(scanner_config_refusals(kept, Role.MEMBER, before=before), {})
        changed = {"path": "/etc", "severity": "high"}
        self.assertEqual(
            list(scanner_config_refusals(changed, Role.MEMBER, before=before)),
            ["scanner_config.path"],
        )
        removed = scanner_config_refusals({"severity": "high"}, Role.MEMBER, before=before)
        self.assertIn("only an admin may remove 'path'", removed["scanner_config.path"])
        # A member's own keys come and go freely.
        self.assertEqual(
            scanner_config_refusals({"path": before["path"]}, Role.MEMBER, before=before), {}
        )

    def test_settings_that_are_not_an_object_are_refused_for_everyone(self):
        for role in (Role.MEMBER, Role.OWNER, None):
            self.assertEqual(
                scanner_config_refusals(["path"], role), {"scanner_config": "an object of settings"}
            )

    def test_a_profiles_tool_options_follow_the_same_rule(self):
        tools = {
            "semgrep": {"enabled": True, "options": {"rules": "/srv/rules", "exclude": "t/*"}},
            "bandit": {"severity": "high"},
        }
        self.assertEqual(
            list(tools_config_refusals(tools, Role.MEMBER)), ["tools_config.semgrep.options.rules"]
        )
        self.assertEqual(tools_config_refusals(tools, Role.ADMIN), {})
        # Dropping a tool whose options an admin set removes them too.
        dropped = tools_config_refusals({"bandit": {}}, Role.MEMBER, before=tools)
        self.assertEqual(list(dropped), ["tools_config.semgrep.options.rules"])
        self.assertEqual(tools_config_refusals(tools, Role.MEMBER, before=tools), {})

    def test_the_rule_set_names_are_those_the_agents_ship(self):
        self.assertEqual(bundled_rule_set_names(), frozenset({"python"}))


class TheServicesApplyIt(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(plan="team")
        cls.member = MembershipFactory(tenant=cls.tenant, role="member").user
        cls.admin = MembershipFactory(tenant=cls.tenant, role="admin").user
        cls.stranger = UserFactory()
        cls.repo = AssetFactory(tenant=cls.tenant)

    def create(self, by, **config) -> Scan:
        return scan_create(
            tenant=self.tenant,
            by=by,
            targets=[self.repo],
            name=f"scan {Scan.objects.count()}",
            scanner_name="semgrep",
            scanner_config=config,
        )

    def test_a_member_cannot_create_a_scan_that_reads_a_host_path(self):
        with self.assertRaises(ScanInvalid) as caught:
            self.create(self.member, path="/etc", rules="/etc/rules.yml", severity="high")
        self.assertEqual(caught.exception.field, "scanner_config.path")
        self.assertEqual(
            set(caught.exception.details), {"scanner_config.path", "scanner_config.rules"}
        )
        self.assertFalse(Scan.objects.exists())
        self.assertFalse(AuditEvent.objects.filter(action="scan.created").exists())

    def test_a_user_outside_the_team_is_held_to_the_members_rule(self):
        with self.assertRaises(ScanInvalid):
            self.create(self.stranger, path="/etc")

    def test_an_admin_may_point_a_scan_at_a_checkout_on_the_agent(self):
        scan = self.create(self.admin, path="/srv/checkouts/api", rules="python")
        self.assertEqual(scan.scanner_config["path"], "/srv/checkouts/api")

    def test_a_member_may_tune_a_scan(self):
        scan = self.create(self.member, **TUNING)
        self.assertEqual(scan.scanner_config, TUNING)

    def test_a_member_edits_an_admins_scan_without_touching_its_path(self):
        scan = self.create(self.admin, path="/srv/checkouts/api")
        scan_update(scan=scan, by=self.member, name="renamed")
        scan_update(
            scan=scan,
            by=self.member,
            scanner_config={"path": "/srv/checkouts/api", "severity": "high"},
        )
        with self.assertRaises(ScanInvalid) as caught:
            scan_update(scan=scan, by=self.member, scanner_config={"path": "/home"})
        self.assertEqual(caught.exception.field, "scanner_config.path")
        scan.refresh_from_db()
        self.assertEqual(scan.scanner_config, {"path": "/srv/checkouts/api", "severity": "high"})
        scan_update(scan=scan, by=self.admin, scanner_config={"path": "/srv/checkouts/web"})

    def test_a_copy_keeps_what_an_admin_set(self):
        scan = self.create(self.admin, path="/srv/checkouts/api")
        clone = scan_clone(scan=scan, by=self.member)
        self.assertEqual(clone.scanner_config, {"path": "/srv/checkouts/api"})

    def test_a_member_cannot_give_a_profile_tool_a_rules_path(self):
        tools = {"semgrep": {"enabled": True, "options": {"rules": "/etc/semgrep"}}}
        with self.assertRaises(ToolsConfigRefused) as caught:
            scan_profile_create(tenant=self.tenant, name="p", tools_config=tools, by=self.member)
        self.assertEqual(list(caught.exception.refusals), ["tools_config.semgrep.options.rules"])
        self.assertFalse(ScanProfile.objects.filter(name="p").exists())
        profile = scan_profile_create(
            tenant=self.tenant, name="p", tools_config=tools, by=self.admin
        )
        scan_profile_update(profile=profile, changes={"description": "x"}, by=self.member)
        with self.assertRaises(ToolsConfigRefused):
            scan_profile_update(
                profile=profile,
                changes={"tools_config": {"semgrep": {"options": {"rules": "/"}}}},
                by=self.member,
            )
        copy = scan_profile_clone(profile=profile, by=self.member)
        self.assertEqual(copy.tools_config, tools)
