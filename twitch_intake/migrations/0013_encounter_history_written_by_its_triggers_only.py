"""The answer history takes rows only from the encounter's own triggers, stamped with now.

Append-only (0011) stops a row being changed; it did not stop one being made up. A session
with INSERT on the table (the runtime role needs it, since pghistory's triggers run as the
writer) could add a backdated row saying a sign was reported and withdrawn, credited to anyone,
and triage would believe it. A row trigger now refuses any insert that does not come from
inside another trigger (``pg_trigger_depth() < 2``: a client's own INSERT runs this trigger at
depth 1, pghistory's from the encounter's trigger at depth 2), and sets the row's time to the
transaction's, so even a trigger-made row cannot be backdated. It fires ``ALWAYS`` and reads no
setting, like the others.
"""

from django.db import migrations

GUARD = """
CREATE FUNCTION twitch_intake_encounter_history_from_triggers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'Cannot insert into % table: its rows come only from the encounter''s '
            'triggers', TG_TABLE_NAME;
    END IF;
    NEW.pgh_created_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER encounter_history_from_triggers
    BEFORE INSERT ON twitch_intake_encounterhistory
    FOR EACH ROW EXECUTE FUNCTION twitch_intake_encounter_history_from_triggers();

ALTER TABLE twitch_intake_encounterhistory ENABLE ALWAYS TRIGGER encounter_history_from_triggers;
"""

UNGUARD = """
DROP TRIGGER encounter_history_from_triggers ON twitch_intake_encounterhistory;
DROP FUNCTION twitch_intake_encounter_history_from_triggers();
"""


class Migration(migrations.Migration):
    dependencies = [("twitch_intake", "0012_acknowledgement_queue_rank")]

    operations = [migrations.RunSQL(GUARD, UNGUARD)]
