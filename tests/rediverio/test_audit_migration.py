"""An upgrade keeps the audit log whole: 0004 renames the actions recorded for stopping
and retrying a session (`run.stopped`, `run.retried`) to the product's word for what they
act on (`session.stopped`, `session.retried`), and a downgrade renames them back.

A TransactionTestCase: migrating changes the schema, which SQLite cannot do inside the
transaction of a TestCase. The test leaves the schema as the migrations make it today.
"""

from __future__ import annotations

from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import TransactionTestCase

from rediverio.models import AuditAction, AuditEvent
from tests.factories import TenantFactory

BEFORE = "0003_audit_events"


def migrate(*target: str) -> None:
    call_command("migrate", *target, verbosity=0)


def audit_event_model(migration: str):
    state = MigrationLoader(connection).project_state(("rediverio", migration))
    return state.apps.get_model("rediverio", "AuditEvent")


class AuditMigrations(TransactionTestCase):
    def setUp(self):
        self.tenant = TenantFactory()
        self.addCleanup(migrate)

    def record(self, model, action: str):
        return model.objects.create(
            tenant_id=self.tenant.pk,
            actor_name="alice",
            action=action,
            target_type="scansession",
            target_id="s-1",
        )

    def test_stopped_and_retried_sessions_keep_their_entries_under_the_new_names(self):
        migrate("rediverio", BEFORE)
        old = audit_event_model(BEFORE)
        stopped = self.record(old, "run.stopped")
        retried = self.record(old, "run.retried")
        other = self.record(old, "scan.created")

        migrate()

        actions = dict(AuditEvent.objects.values_list("pk", "action"))
        self.assertEqual(actions[stopped.pk], AuditAction.SESSION_STOPPED)
        self.assertEqual(actions[retried.pk], AuditAction.SESSION_RETRIED)
        self.assertEqual(actions[other.pk], AuditAction.SCAN_CREATED)

    def test_a_downgrade_gives_the_old_names_back(self):
        AuditEvent.objects.create(
            tenant=self.tenant,
            actor_name="alice",
            action=AuditAction.SESSION_STOPPED,
            target_type="scansession",
            target_id="s-1",
        )
        migrate("rediverio", BEFORE)
        old = audit_event_model(BEFORE)
        self.assertEqual(list(old.objects.values_list("action", flat=True)), ["run.stopped"])
