"""Every change to an encounter's answers or identity is kept, append-only; when an emergency
sign was first reported.

pghistory's triggers on the encounter table write ``twitch_intake_encounterhistory`` (its
snapshot of ``answers`` and the identity fields, with the session's pghistory context). Then, as
0005 did for the access log, plain SQL makes that table append-only for every session: a row
trigger refuses UPDATE and DELETE, a statement trigger refuses TRUNCATE, and the function reads
no setting (so ``pgtrigger.ignore`` does not switch it off; pghistory's own ``append_only`` is a
pgtrigger ``Protect``, which does). All of them, and pghistory's three tracking triggers, fire
``ALWAYS``: ``session_replication_role = replica`` neither skips the record nor opens the table.
pgtrigger's own ``SET LOCAL pgtrigger.ignore`` would still skip a tracking trigger (the check is
in pgtrigger's installation template): a guard trigger on the encounter table, reading that
setting and nothing else, refuses any write while it names one of them.
A later migration that re-creates a tracking trigger (a tracked field added) must enable it
``ALWAYS`` again; ``tests/test_history.py`` fails until it does.
"""

import django.db.models.deletion
import pghistory.utils
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

import twitch_intake.models
import twitch_intake.validators

#: pghistory's tracking triggers on the encounter table, as pgtrigger names them (``pgid``).
TRACKING = (
    "pgtrigger_insert_insert_e336d",
    "pgtrigger_update_update_75d21",
    "pgtrigger_delete_delete_7bb09",
)

PROTECT = (
    """
CREATE FUNCTION twitch_intake_encounter_history_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'Cannot truncate % table: the answer history is append-only', TG_TABLE_NAME;
    END IF;
    RAISE EXCEPTION 'Cannot update or delete rows from % table: the answer history is append-only',
        TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER encounter_history_append_only
    BEFORE UPDATE OR DELETE ON twitch_intake_encounterhistory
    FOR EACH ROW EXECUTE FUNCTION twitch_intake_encounter_history_append_only();
CREATE TRIGGER encounter_history_no_truncate
    BEFORE TRUNCATE ON twitch_intake_encounterhistory
    FOR EACH STATEMENT EXECUTE FUNCTION twitch_intake_encounter_history_append_only();

ALTER TABLE twitch_intake_encounterhistory ENABLE ALWAYS TRIGGER encounter_history_append_only;
ALTER TABLE twitch_intake_encounterhistory ENABLE ALWAYS TRIGGER encounter_history_no_truncate;

CREATE FUNCTION twitch_intake_encounter_history_not_skipped() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ignored TEXT[];
BEGIN
    BEGIN
        ignored := NULLIF(current_setting('pgtrigger.ignore', true), '')::TEXT[];
    EXCEPTION WHEN OTHERS THEN
        ignored := NULL;  -- unreadable: pgtrigger reads it as "ignore nothing" too
    END;
    IF ignored && TG_ARGV::TEXT[] THEN
        RAISE EXCEPTION 'Cannot skip the answer history of % table: pgtrigger.ignore names it',
            TG_TABLE_NAME;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER encounter_history_not_skipped
    BEFORE INSERT OR UPDATE OR DELETE ON twitch_intake_encounter
    FOR EACH ROW EXECUTE FUNCTION twitch_intake_encounter_history_not_skipped(TRACKING_ARGS);
ALTER TABLE twitch_intake_encounter ENABLE ALWAYS TRIGGER encounter_history_not_skipped;
""".replace("TRACKING_ARGS", ", ".join(f"'{name}'" for name in TRACKING))
    + "".join(
        f"ALTER TABLE twitch_intake_encounter ENABLE ALWAYS TRIGGER {name};\n" for name in TRACKING
    )
)

#: An alert was queued only for a saved sign: that is when it was reported, and an intake still in
#: progress with one is an emergency now (the rules' ``emergency-signs`` flag).
BACKFILL = """
UPDATE twitch_intake_encounter SET emergency_reported_at = alerted_at WHERE alerted_at IS NOT NULL;
UPDATE twitch_intake_encounter
    SET level = 'emergency', flags = ARRAY['emergency-signs']::varchar(32)[], flag_count = 1
    WHERE alerted_at IS NOT NULL AND status IN ('invited', 'in_progress');
"""

UNPROTECT = (
    "".join(f"ALTER TABLE twitch_intake_encounter ENABLE TRIGGER {name};\n" for name in TRACKING)
    + """
DROP TRIGGER encounter_history_no_truncate ON twitch_intake_encounterhistory;
DROP TRIGGER encounter_history_append_only ON twitch_intake_encounterhistory;
DROP FUNCTION twitch_intake_encounter_history_append_only();
"""
)


class Migration(migrations.Migration):
    dependencies = [
        ("twitch_intake", "0010_questionnaire_version_callable_flag_codes_unpinned"),
    ]

    operations = [
        migrations.CreateModel(
            name="EncounterHistory",
            fields=[
                ("pgh_id", models.AutoField(primary_key=True, serialize=False)),
                ("pgh_created_at", models.DateTimeField(auto_now_add=True)),
                ("pgh_label", models.TextField(help_text="The event label.")),
                ("pgh_context", pghistory.utils.JSONField(null=True)),
                ("pgh_context_id", models.UUIDField(null=True)),
                ("answers", models.JSONField(blank=True, default=dict, verbose_name="answers")),
                (
                    "patient_name",
                    models.CharField(
                        max_length=200,
                        validators=[twitch_intake.validators.validate_one_line],
                        verbose_name="patient name",
                    ),
                ),
                (
                    "date_of_birth",
                    models.DateField(
                        validators=[twitch_intake.models.validate_date_of_birth],
                        verbose_name="date of birth",
                    ),
                ),
                (
                    "record_number",
                    models.CharField(
                        blank=True,
                        help_text="The clinic's own patient number, if any.",
                        max_length=64,
                        validators=[twitch_intake.validators.validate_one_line],
                        verbose_name="record number",
                    ),
                ),
            ],
            options={
                "verbose_name": "answer history",
                "verbose_name_plural": "answer history",
                "ordering": ["pgh_created_at", "pgh_id"],
            },
        ),
        migrations.AddField(
            model_name="encounter",
            name="emergency_reported_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="emergency sign reported"
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="encounter",
            trigger=pgtrigger.compiler.Trigger(
                name="insert_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "twitch_intake_encounterhistory" ("answers", "date_of_birth", "patient_name", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "record_number") VALUES (NEW."answers", NEW."date_of_birth", NEW."patient_name", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'insert\', NEW."id", NEW."record_number"); RETURN NULL;',
                    hash="6c4ea5b2ee5c8c7b3a105ab30fcdf96c707b1ee5",
                    operation="INSERT",
                    pgid="pgtrigger_insert_insert_e336d",
                    table="twitch_intake_encounter",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="encounter",
            trigger=pgtrigger.compiler.Trigger(
                name="update_update",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition='WHEN (OLD."answers" IS DISTINCT FROM (NEW."answers") OR OLD."date_of_birth" IS DISTINCT FROM (NEW."date_of_birth") OR OLD."patient_name" IS DISTINCT FROM (NEW."patient_name") OR OLD."record_number" IS DISTINCT FROM (NEW."record_number"))',
                    func='INSERT INTO "twitch_intake_encounterhistory" ("answers", "date_of_birth", "patient_name", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "record_number") VALUES (NEW."answers", NEW."date_of_birth", NEW."patient_name", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'update\', NEW."id", NEW."record_number"); RETURN NULL;',
                    hash="7ff118147774980dcde7195a92be0f914d9dd479",
                    operation="UPDATE",
                    pgid="pgtrigger_update_update_75d21",
                    table="twitch_intake_encounter",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="encounter",
            trigger=pgtrigger.compiler.Trigger(
                name="delete_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "twitch_intake_encounterhistory" ("answers", "date_of_birth", "patient_name", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "record_number") VALUES (OLD."answers", OLD."date_of_birth", OLD."patient_name", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'delete\', OLD."id", OLD."record_number"); RETURN NULL;',
                    hash="e836e6d36d33eacccab44d32e7be886509d38cca",
                    operation="DELETE",
                    pgid="pgtrigger_delete_delete_7bb09",
                    table="twitch_intake_encounter",
                    when="AFTER",
                ),
            ),
        ),
        migrations.AddField(
            model_name="encounterhistory",
            name="pgh_obj",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="twitch_intake.encounter",
            ),
        ),
        migrations.AddIndex(
            model_name="encounterhistory",
            index=models.Index(
                fields=["pgh_obj", "pgh_created_at"], name="encounter_history_obj_at"
            ),
        ),
        migrations.RunSQL(PROTECT, UNPROTECT),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
