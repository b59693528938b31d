"""factory_boy factories for every model: one tenant-consistent row in one call."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import factory
from django.contrib.auth.models import User

from agents.models import Agent, AgentKey, Command, CommandEvent
from findings.models import Asset, AssetDependency, Component, Finding, FindingSighting
from ingest.models import Ingest, IngestChunk
from rediverio.models import ApiToken, AuditAction, AuditEvent, Membership, Tenant
from scans.models import Scan, ScanDraft, ScanProfile, ScanSession
from scans.runs import run_counts_of

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.Sequence(lambda n: f"Team {n}")
    plan = "business"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = "member"


class ApiTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiToken

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    name = "ci"
    prefix = "rdu_abcdefgh"
    digest = factory.Sequence(lambda n: hashlib.sha256(f"token-{n}".encode()).hexdigest())


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    tenant = factory.SubFactory(TenantFactory)
    actor = factory.SubFactory(UserFactory)
    actor_name = factory.LazyAttribute(lambda event: event.actor.username)
    action = AuditAction.SCAN_CREATED
    target_type = "scan"
    target_id = factory.Sequence(lambda n: f"0190c0de-0000-7000-8000-{n:012d}")
    target_name = factory.Sequence(lambda n: f"scan {n}")


class AssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Asset

    tenant = factory.SubFactory(TenantFactory)
    type = "repository"
    identifier = factory.Sequence(lambda n: f"github.com/org/repo-{n}")
    name = factory.LazyAttribute(lambda a: a.identifier.split("/", 1)[-1])
    provider = "github"


class FindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Finding

    tenant = factory.SubFactory(TenantFactory)
    asset = factory.SubFactory(AssetFactory, tenant=factory.SelfAttribute("..tenant"))
    fingerprint = factory.Sequence(lambda n: hashlib.sha256(f"finding-{n}".encode()).hexdigest())
    tool_name = "semgrep"
    source_category = "sast"
    rule_id = "python.lang.security.audit.eval"
    title = "Use of eval"
    severity = "high"
    file_path = "app/views.py"
    start_line = 10
    end_line = 10
    first_seen_at = NOW
    last_seen_at = NOW


class FindingSightingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FindingSighting

    tenant = factory.SubFactory(TenantFactory)
    finding = factory.SubFactory(FindingFactory, tenant=factory.SelfAttribute("..tenant"))
    scan_session = factory.SubFactory(
        "tests.factories.ScanSessionFactory", tenant=factory.SelfAttribute("..tenant")
    )
    seen_at = NOW


class ComponentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Component

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"package-{n}")
    version = "1.0.0"
    ecosystem = "npm"
    purl = factory.LazyAttribute(lambda c: f"pkg:{c.ecosystem}/{c.name}@{c.version}")


class AssetDependencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AssetDependency

    tenant = factory.SubFactory(TenantFactory)
    asset = factory.SubFactory(AssetFactory, tenant=factory.SelfAttribute("..tenant"))
    component = factory.SubFactory(ComponentFactory, tenant=factory.SelfAttribute("..tenant"))
    relationship = "direct"


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"agent-{n}")
    capabilities = factory.LazyFunction(lambda: ["sast"])
    tools = factory.LazyFunction(lambda: ["semgrep", "bandit"])


class AgentKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentKey

    tenant = factory.SubFactory(TenantFactory)
    agent = factory.SubFactory(AgentFactory, tenant=factory.SelfAttribute("..tenant"))
    prefix = "rdv_abcdefgh"
    digest = factory.Sequence(lambda n: hashlib.sha256(f"key-{n}".encode()).hexdigest())


class ScanProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScanProfile

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Profile {n}")


class ScanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scan

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Scan {n}")
    scanner_name = "semgrep"


class ScanSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScanSession

    tenant = factory.SubFactory(TenantFactory)
    scan = factory.SubFactory(ScanFactory, tenant=factory.SelfAttribute("..tenant"))
    scanner_name = "semgrep"
    asset_value = "github.com/org/repo"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """A session as history: its scan's run counters say what its sessions did, as
        the services keep them (scans/runs.py)."""
        session = super()._create(model_class, *args, **kwargs)
        if session.scan_id is not None:
            counts = run_counts_of(session.scan)
            Scan.objects.filter(pk=session.scan_id).update(
                total_runs=counts.total_runs,
                successful_runs=counts.successful_runs,
                failed_runs=counts.failed_runs,
                canceled_runs=counts.canceled_runs,
            )
        return session


class ScanDraftFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScanDraft

    tenant = factory.SubFactory(TenantFactory)
    created_by = factory.SubFactory(UserFactory)
    data = factory.LazyFunction(lambda: {"name": "Nightly SAST", "scan_type": "single"})
    step = 1


class CommandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Command

    tenant = factory.SubFactory(TenantFactory)
    type = "scan"
    payload = factory.LazyFunction(lambda: {"scanner": "semgrep", "target": "."})


class CommandEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CommandEvent

    tenant = factory.SubFactory(TenantFactory)
    command = factory.SubFactory(CommandFactory, tenant=factory.SelfAttribute("..tenant"))
    to_status = "pending"
    at = NOW


class IngestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ingest

    tenant = factory.SubFactory(TenantFactory)
    format = "flat"
    digest = factory.Sequence(lambda n: hashlib.sha256(f"report-{n}".encode()).hexdigest())
    status = "completed"
    result = factory.LazyFunction(lambda: {"findings_created": 0, "findings_updated": 0})


class IngestChunkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IngestChunk

    tenant = factory.SubFactory(TenantFactory)
    agent = factory.SubFactory(AgentFactory, tenant=factory.SelfAttribute("..tenant"))
    report_id = factory.Sequence(lambda n: f"report-{n}")
    index = 0
    total = 2
    data = b"{}"


# One factory per tenant-owned model: the scoping tests walk this list, and a test
# fails when a new tenant-owned model is added without an entry here.
TENANT_OWNED_FACTORIES = {
    factory_class._meta.model: factory_class
    for factory_class in (
        ApiTokenFactory,
        AuditEventFactory,
        AssetFactory,
        FindingFactory,
        FindingSightingFactory,
        ComponentFactory,
        AssetDependencyFactory,
        AgentFactory,
        AgentKeyFactory,
        ScanProfileFactory,
        ScanFactory,
        ScanSessionFactory,
        ScanDraftFactory,
        CommandFactory,
        CommandEventFactory,
        IngestFactory,
        IngestChunkFactory,
    )
}
