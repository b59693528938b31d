"""An ingest is one report received: the model IngestRun becomes Ingest, its table
`ingest_runs` becomes `ingests`, and the indexes and constraints named after the table
follow it. Rows stay where they are (a table rename). The model's admin permissions
follow its name, so staff granted them keep them (Django renames the content type, not
the permissions)."""

from __future__ import annotations

from django.db import migrations, models
from django.db.migrations.operations.base import Operation


class RenameConstraint(Operation):
    """Rename a constraint of a model. On PostgreSQL in place, in the catalogue (no table
    scan, no index built); where the database cannot rename one (SQLite) it is dropped and
    made again. Django has RenameIndex, and no operation for constraints."""

    reversible = True

    def __init__(self, model_name: str, old_name: str, new_name: str):
        self.model_name = model_name
        self.old_name = old_name
        self.new_name = new_name

    @property
    def model_name_lower(self) -> str:
        return self.model_name.lower()

    def state_forwards(self, app_label, state):
        model_state = state.models[app_label, self.model_name_lower]
        renamed = model_state.get_constraint_by_name(self.old_name).clone()
        renamed.name = self.new_name
        state.remove_constraint(app_label, self.model_name_lower, self.old_name)
        state.add_constraint(app_label, self.model_name_lower, renamed)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._rename(app_label, schema_editor, from_state, to_state, self.old_name, self.new_name)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._rename(app_label, schema_editor, from_state, to_state, self.new_name, self.old_name)

    def _rename(self, app_label, schema_editor, from_state, to_state, old, new):
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        before = from_state.models[app_label, self.model_name_lower].get_constraint_by_name(old)
        after = to_state.models[app_label, self.model_name_lower].get_constraint_by_name(new)
        if schema_editor.connection.vendor == "postgresql":
            quote = schema_editor.quote_name
            # Django makes a unique constraint with a condition (or included columns,
            # operator classes, expressions) as a unique index, not a table constraint.
            if isinstance(before, models.UniqueConstraint) and (
                before.condition or before.include or before.opclasses or before.expressions
            ):
                schema_editor.execute(f"ALTER INDEX {quote(old)} RENAME TO {quote(new)}")
            else:
                schema_editor.execute(
                    f"ALTER TABLE {quote(model._meta.db_table)} "
                    f"RENAME CONSTRAINT {quote(old)} TO {quote(new)}"
                )
            return
        # Both with the model as it is after the rename: on SQLite, dropping a check
        # constraint rebuilds the table from the model given.
        schema_editor.remove_constraint(model, before)
        schema_editor.add_constraint(model, after)

    def describe(self) -> str:
        return f"Rename constraint {self.old_name} on {self.model_name} to {self.new_name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"rename_{self.old_name.lower()}_{self.new_name.lower()}"


ACTIONS = ("add", "change", "delete", "view")


def rename_permissions(old_model: str, new_model: str, new_verbose: str):
    def rename(apps, schema_editor):
        Permission = apps.get_model("auth", "Permission")
        for action in ACTIONS:
            permissions = Permission.objects.filter(
                content_type__app_label="ingest", codename=f"{action}_{old_model}"
            )
            for permission in permissions:
                taken = Permission.objects.filter(
                    content_type=permission.content_type, codename=f"{action}_{new_model}"
                )
                if not taken.exists():  # made already (a migrate that ran back and forth)
                    permission.codename = f"{action}_{new_model}"
                    permission.name = f"Can {action} {new_verbose}"
                    permission.save(update_fields=["codename", "name"])

    return rename


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0007_ingest_runs_requeue_bookkeeping"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RenameModel(old_name="IngestRun", new_name="Ingest"),
        migrations.AlterModelTable(name="ingest", table="ingests"),
        migrations.RenameIndex(
            model_name="ingest", new_name="ingests_replay", old_name="ingest_runs_replay"
        ),
        migrations.RenameIndex(
            model_name="ingest", new_name="ingests_waiting", old_name="ingest_runs_waiting"
        ),
        RenameConstraint("ingest", "ingest_runs_status_valid", "ingests_status_valid"),
        RenameConstraint(
            "ingest", "ingest_runs_idempotency_key_once", "ingests_idempotency_key_once"
        ),
        migrations.RunPython(
            rename_permissions("ingestrun", "ingest", "ingest"),
            rename_permissions("ingest", "ingestrun", "ingest run"),
        ),
    ]
