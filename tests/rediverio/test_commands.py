from __future__ import annotations

import hashlib
import os
import tempfile
from io import StringIO
from pathlib import Path
from unittest import mock

from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import TestCase, override_settings

from agents.models import Agent, AgentKey
from findings.models import Asset
from rediverio.models import ApiToken, Membership, Tenant
from scans.models import Scan, ScanProfile
from scans.profiles import SYSTEM_PROFILES
from tests.factories import AgentFactory, MembershipFactory, TenantFactory, UserFactory


def run(*args, **kwargs) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


class CreateTenant(TestCase):
    def test_it_creates_a_tenant_with_its_plan_and_the_system_profiles(self):
        output = run("createtenant", "acme", "--name", "Acme Corp", "--plan", "business")
        tenant = Tenant.objects.get(slug="acme")
        self.assertEqual((tenant.name, tenant.plan), ("Acme Corp", "business"))
        self.assertIn(str(tenant.id), output)
        self.assertEqual(
            ScanProfile.objects.for_tenant(tenant).filter(is_system=True).count(),
            len(SYSTEM_PROFILES),
        )

    def test_agent_limit_overrides_the_plan(self):
        run("createtenant", "acme", "--agent-limit", "12")
        self.assertEqual(Tenant.objects.get(slug="acme").limit("agent_limit"), 12)

    def test_a_taken_slug_is_a_clear_error(self):
        run("createtenant", "acme")
        with self.assertRaisesMessage(CommandError, "slug"):
            run("createtenant", "acme")


class CreateAgent(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(slug="acme", plan="team")

    def test_it_prints_the_key_on_its_last_line_and_stores_only_a_digest(self):
        output = run(
            "createagent",
            "--tenant=acme",
            "--name=ci-runner",
            "--type=runner",
            "--capabilities=sast,secrets",
            "--tools=bandit,semgrep",
            "--labels=region=eu,pool=ci",
        )
        key = output.strip().splitlines()[-1]
        self.assertTrue(key.startswith("rdv_"))
        agent = Agent.objects.for_tenant(self.tenant).get(name="ci-runner")
        self.assertEqual(agent.type, "runner")
        self.assertEqual(agent.capabilities, ["sast", "secrets"])
        self.assertEqual(agent.tools, ["bandit", "semgrep"])
        self.assertEqual(agent.labels, {"region": "eu", "pool": "ci"})
        stored = AgentKey.objects.get(agent=agent)
        self.assertEqual(stored.digest, hashlib.sha256(key.encode()).hexdigest())
        self.assertEqual(stored.prefix, key[:12])
        self.assertNotIn(key, str(AgentKey.objects.values().get()))

    def test_the_plans_agent_limit_is_enforced(self):
        AgentFactory.create_batch(5, tenant=self.tenant)
        with self.assertRaisesMessage(CommandError, "allows 5 agent(s)"):
            run("createagent", "--tenant=acme", "--name=one-too-many")

    def test_an_unknown_tenant_is_a_clear_error(self):
        with self.assertRaisesMessage(CommandError, "--tenant"):
            run("createagent", "--tenant=nope", "--name=x")

    def test_a_duplicate_name_is_a_clear_error(self):
        AgentFactory(tenant=self.tenant, name="twin")
        with self.assertRaisesMessage(CommandError, "Agent with this Tenant and Name already"):
            run("createagent", "--tenant=acme", "--name=twin")

    def test_malformed_labels_are_refused(self):
        with self.assertRaisesMessage(CommandError, "--labels"):
            run("createagent", "--tenant=acme", "--name=x", "--labels=justakey")


class SeedDemo(TestCase):
    def setUp(self):
        self.var = Path(self.enterContext(tempfile.TemporaryDirectory()))
        self.enterContext(override_settings(VAR_DIR=self.var))
        # patch.dict restores the environment, DEMO_PASSWORD included, after each test.
        self.enterContext(mock.patch.dict(os.environ))
        os.environ.pop("DEMO_PASSWORD", None)

    def test_it_is_idempotent(self):
        run("seed_demo")
        run("seed_demo")
        tenant = Tenant.objects.get(slug="demo")
        self.assertEqual(User.objects.filter(username="demo").count(), 1)
        self.assertEqual(Membership.objects.get(user__username="demo").role, "owner")
        self.assertEqual(Asset.objects.for_tenant(tenant).count(), 1)
        self.assertEqual(ScanProfile.objects.for_tenant(tenant).count(), len(SYSTEM_PROFILES))

    def test_it_sets_up_the_sample_scan_and_a_local_agent_with_a_kept_key(self):
        run("seed_demo")
        tenant = Tenant.objects.get(slug="demo")
        scan = Scan.objects.for_tenant(tenant).get(name="Sample app SAST")
        self.assertTrue(scan.targets.get().identifier.endswith("samples/vulnerable-app"))
        self.assertEqual(scan.stages[0]["tools"], ["bandit", "semgrep"])
        key_file = self.var / "local-agent.key"
        key = key_file.read_text()
        self.assertEqual(key_file.stat().st_mode & 0o777, 0o600)
        stored = AgentKey.objects.for_tenant(tenant).get(agent__name="local-agent")
        self.assertEqual(stored.digest, hashlib.sha256(key.encode()).hexdigest())

        run("seed_demo")
        self.assertEqual(key_file.read_text(), key)  # kept across runs
        key_file.unlink()
        run("seed_demo")  # lost: a new key, the old one revoked
        self.assertNotEqual(key_file.read_text(), key)
        self.assertEqual(AgentKey.objects.for_tenant(tenant).usable().count(), 1)

    def test_the_password_comes_from_demo_password(self):
        os.environ["DEMO_PASSWORD"] = "s3cret-demo-pass"
        output = run("seed_demo")
        self.assertIn("demo / s3cret-demo-pass", output)
        self.assertTrue(User.objects.get(username="demo").check_password("s3cret-demo-pass"))

    def test_a_generated_password_is_printed_and_shown_again_on_the_next_run(self):
        first = run("seed_demo")
        password = first.split("demo / ")[1].split()[0]
        self.assertTrue(User.objects.get(username="demo").check_password(password))
        self.assertIn(f"demo / {password}", run("seed_demo"))
        self.assertEqual((self.var / "demo-password").stat().st_mode & 0o777, 0o600)


class CreateApiToken(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.tenant = TenantFactory(slug="acme")
        cls.alice = UserFactory(username="alice")
        MembershipFactory(user=cls.alice, tenant=cls.tenant, role="admin")

    def test_it_prints_a_token_once_and_stores_only_its_digest(self):
        secret = run("createapitoken", "--tenant=acme", "--user=alice", "--name=ci").split()[-1]
        self.assertTrue(secret.startswith("rdu_"))
        token = ApiToken.objects.for_tenant(self.tenant).get()
        self.assertEqual(token.digest, hashlib.sha256(secret.encode()).hexdigest())
        self.assertEqual((token.user, token.name), (self.alice, "ci"))

    def test_only_members_get_a_token(self):
        UserFactory(username="mallory")
        with self.assertRaisesMessage(CommandError, "--user"):
            run("createapitoken", "--tenant=acme", "--user=mallory")
