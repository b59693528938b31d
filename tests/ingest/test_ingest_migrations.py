"""An upgrade keeps every report received. Each migration of an ingest's rows is run
here over rows stored before it, forwards and, for the rename, back:

- 0007 moves the sweep's bookkeeping out of `error` into columns of its own;
- 0008 renames IngestRun to Ingest: its table `ingest_runs` becomes `ingests`, the
  indexes and constraints named after the table follow it, and staff granted the
  model's admin permissions keep them; 0009 points the sweep's schedule at its new name.

A TransactionTestCase: migrating changes the schema, which SQLite cannot do inside the
transaction of a TestCase. Each test leaves the schema as the migrations make it today.
"""

from __future__ import annotations

import zlib

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.test import TransactionTestCase
from django_q.models import Schedule

from ingest.models import Ingest
from tests.factories import TenantFactory, UserFactory

BEFORE_BOOKKEEPING = "0006_ingest_chunks_expire_schedule"
BEFORE_RENAME = "0007_ingest_runs_requeue_bookkeeping"
# The indexes and constraints of the table named for it (`<table>_<name>`).
NAMED = ("status_valid", "idempotency_key_once", "replay", "waiting")


def migrate(*target: str) -> None:
    call_command("migrate", *target, verbosity=0)


def ingest_run_model(migration: str):
    """The model IngestRun as it was after `migration`."""
    state = MigrationLoader(connection).project_state(("ingest", migration))
    return state.apps.get_model("ingest", "IngestRun")


def named_in_schema(table: str) -> set[str]:
    """The names of the table's indexes and constraints that are named, not generated."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {name for name in found if name.endswith(NAMED)}


def sweep_schedules() -> list[tuple[str, str]]:
    return list(
        Schedule.objects.filter(func__startswith="ingest.tasks.sweep_").values_list("name", "func")
    )


class IngestMigrations(TransactionTestCase):
    def setUp(self):
        self.tenant = TenantFactory()
        self.addCleanup(migrate)

    def test_the_bookkeeping_noted_in_error_becomes_its_columns(self):
        migrate("ingest", BEFORE_BOOKKEEPING)
        before = ingest_run_model(BEFORE_BOOKKEEPING).objects.create(
            tenant_id=self.tenant.pk,
            format="sarif",
            digest="0" * 64,
            error={
                "code": "INGEST_REQUEUED",
                "message": "queued again",
                "requeues": 2,
                "interruptions": 1,
                "requeued_at": "2026-12-01T10:00:00+00:00",
            },
        )
        migrate("ingest", BEFORE_RENAME)
        after = ingest_run_model(BEFORE_RENAME).objects.get(pk=before.pk)
        self.assertEqual((after.requeues, after.interruptions, after.error), (2, 1, None))
        self.assertEqual(after.requeued_at.isoformat(), "2026-12-01T10:00:00+00:00")

    def test_the_rename_keeps_the_rows_and_the_permissions_and_renames_the_schema(self):
        migrate("ingest", BEFORE_RENAME)
        # As migration 0002 declared it (a test before this one may have emptied the table).
        Schedule.objects.get_or_create(
            name="ingest-runs-sweep",
            defaults={"func": "ingest.tasks.sweep_ingest_runs", "schedule_type": "I", "minutes": 1},
        )
        IngestRun = ingest_run_model(BEFORE_RENAME)
        kept = IngestRun.objects.create(
            tenant_id=self.tenant.pk,
            format="sarif",
            digest="0" * 64,
            status="queued",
            idempotency_key="delivery-1",
            payload=zlib.compress(b"{}"),
            requeues=1,
        )
        operator = UserFactory(is_staff=True)
        operator.user_permissions.add(Permission.objects.get(codename="view_ingestrun"))

        migrate()
        ingest = Ingest.objects.get()
        self.assertEqual(
            (ingest.pk, ingest.status, ingest.idempotency_key, ingest.requeues),
            (kept.pk, "queued", "delivery-1", 1),
        )
        self.assertEqual(zlib.decompress(bytes(ingest.payload)), b"{}")
        self.assertNotIn("ingest_runs", connection.introspection.table_names())
        self.assertEqual(named_in_schema("ingests"), {f"ingests_{name}" for name in NAMED})
        self.assertEqual(sweep_schedules(), [("ingests-sweep", "ingest.tasks.sweep_ingests")])
        operator = get_user_model().objects.get(pk=operator.pk)
        self.assertTrue(operator.has_perm("ingest.view_ingest"))
        self.assertFalse(Permission.objects.filter(codename__endswith="_ingestrun").exists())
        # The renamed constraints still hold.
        with self.assertRaises(IntegrityError), transaction.atomic():
            Ingest.objects.filter(pk=ingest.pk).update(status="lost")
        with self.assertRaises(IntegrityError), transaction.atomic():
            Ingest.objects.create(
                tenant=self.tenant, format="flat", digest="1" * 64, idempotency_key="delivery-1"
            )

        migrate("ingest", BEFORE_RENAME)
        self.assertEqual(IngestRun.objects.get().pk, kept.pk)
        self.assertNotIn("ingests", connection.introspection.table_names())
        self.assertEqual(named_in_schema("ingest_runs"), {f"ingest_runs_{name}" for name in NAMED})
        self.assertEqual(
            sweep_schedules(), [("ingest-runs-sweep", "ingest.tasks.sweep_ingest_runs")]
        )
        operator = get_user_model().objects.get(pk=operator.pk)
        self.assertTrue(operator.has_perm("ingest.view_ingestrun"))
