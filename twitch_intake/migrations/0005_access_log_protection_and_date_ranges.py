"""The access log cannot be changed or emptied from any session; dates are held to a sane range.

pgtrigger's ``Protect`` trigger (0001) is replaced by plain SQL. Every function pgtrigger
installs first asks ``_pgtrigger_should_ignore(TG_NAME)``, which reads the session setting
``pgtrigger.ignore``: any role that may UPDATE the table may also ``SET LOCAL pgtrigger.ignore``
and then change or delete rows. That check is in pgtrigger's versioned installation template, not
in the ``func`` a trigger supplies, so it cannot be left out short of subclassing the template,
which every later migration would then have to keep importing. Here the function reads no
setting; a statement-level trigger refuses TRUNCATE (which fires no row trigger); and both fire
``ALWAYS``, so ``session_replication_role = replica`` skips them no more than any other setting.
Only the owner can drop or disable them, which is why the app connects as a runtime role
(``manage.py twitch_intake_grant_runtime_role``).

Rows outside the new date bounds make this migration fail on ``encounter_visit_at_plausible``
or ``encounter_date_of_birth_plausible``; such a visit could not be read back anyway.
"""

import datetime

import pgtrigger.migrations
from django.db import migrations, models

import twitch_intake.models

PROTECT = """
CREATE FUNCTION twitch_intake_access_event_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'Cannot truncate % table: the access log is append-only', TG_TABLE_NAME;
    END IF;
    RAISE EXCEPTION 'Cannot update or delete rows from % table: the access log is append-only',
        TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER access_event_append_only
    BEFORE UPDATE OR DELETE ON twitch_intake_accessevent
    FOR EACH ROW EXECUTE FUNCTION twitch_intake_access_event_append_only();
CREATE TRIGGER access_event_no_truncate
    BEFORE TRUNCATE ON twitch_intake_accessevent
    FOR EACH STATEMENT EXECUTE FUNCTION twitch_intake_access_event_append_only();

ALTER TABLE twitch_intake_accessevent ENABLE ALWAYS TRIGGER access_event_append_only;
ALTER TABLE twitch_intake_accessevent ENABLE ALWAYS TRIGGER access_event_no_truncate;
"""

UNPROTECT = """
DROP TRIGGER access_event_no_truncate ON twitch_intake_accessevent;
DROP TRIGGER access_event_append_only ON twitch_intake_accessevent;
DROP FUNCTION twitch_intake_access_event_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("twitch_intake", "0004_accessevent_link_and_identity_actions"),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name="accessevent",
            name="access_event_append_only",
        ),
        migrations.RunSQL(PROTECT, UNPROTECT),
        migrations.RemoveConstraint(
            model_name="encounter",
            name="encounter_date_of_birth_plausible",
        ),
        migrations.AlterField(
            model_name="encounter",
            name="date_of_birth",
            field=models.DateField(
                validators=[twitch_intake.models.validate_date_of_birth],
                verbose_name="date of birth",
            ),
        ),
        migrations.AlterField(
            model_name="encounter",
            name="visit_at",
            field=models.DateTimeField(
                validators=[twitch_intake.models.validate_visit_at], verbose_name="visit"
            ),
        ),
        migrations.AddConstraint(
            model_name="encounter",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("date_of_birth__gte", datetime.date(1900, 1, 1)),
                    ("date_of_birth__lt", datetime.date(2100, 1, 1)),
                ),
                name="encounter_date_of_birth_plausible",
            ),
        ),
        migrations.AddConstraint(
            model_name="encounter",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("visit_at__gte", datetime.datetime(2000, 1, 1, 0, 0, tzinfo=datetime.UTC)),
                    ("visit_at__lt", datetime.datetime(2100, 1, 1, 0, 0, tzinfo=datetime.UTC)),
                ),
                name="encounter_visit_at_plausible",
            ),
        ),
    ]
