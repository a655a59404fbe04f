"""The queue's search at a million encounters: an index for each thing it searches (issue #20).

A search by name or record number is ``UPPER(column::text) LIKE UPPER('%term%')`` (the admin's
``icontains``), which no B-tree can answer: every row was read, 1-2 s at a million. A trigram
index on exactly that expression (pg_trgm's ``gin_trgm_ops``) answers it in milliseconds. pg_trgm
ships with PostgreSQL's contrib (Debian's, the official images, the managed services) and is a
trusted extension, so a database owner may create it; the embedded PostgreSQL of ``make demo``
(pgserver) does not ship it. So these indexes are made where they can be, and the search works
the same without them, as a scan: they are not in the models' state, and ``makemigrations``
never asks for them. A date of birth gets a plain index (in the model).

Built concurrently, so that a clinic with a large table keeps taking intakes meanwhile.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import DatabaseError, migrations, models

TABLE = "twitch_intake_encounter"
#: Index name, and the expression the admin's ``icontains`` compares (Django's PostgreSQL
#: ``lookup_cast``); any other expression would be an index the planner never uses.
TRIGRAM_INDEXES = {
    "encounter_patient_name_trgm": 'UPPER("patient_name"::text)',
    "encounter_record_number_trgm": 'UPPER("record_number"::text)',
}


def trigram_available(cursor: Any) -> bool:
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    return cursor.fetchone() is not None


def add_trigram_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if not trigram_available(cursor):
            print("\n  pg_trgm is not on this server: a search by name reads every row.")
            return
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DatabaseError as error:  # not the database's owner, say
            print(f"\n  pg_trgm could not be created ({type(error).__name__}): a search by name")
            print("  reads every row. A superuser can make the indexes later with:")
            print("  CREATE EXTENSION IF NOT EXISTS pg_trgm;")
            for statement in _statements():
                print(f"  {statement};")
            return
        for statement in _statements():
            cursor.execute(statement)


def _statements() -> list[str]:
    return [
        f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" '
        f'ON "{TABLE}" USING gin (({expression}) gin_trgm_ops)'
        for name, expression in TRIGRAM_INDEXES.items()
    ]


def drop_trigram_indexes(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        for name in TRIGRAM_INDEXES:
            cursor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("twitch_intake", "0015_queue_order_by_status_and_level")]

    operations = [
        AddIndexConcurrently(
            model_name="encounter",
            index=models.Index(fields=["date_of_birth"], name="encounter_date_of_birth"),
        ),
        migrations.RunPython(add_trigram_indexes, drop_trigram_indexes, atomic=False),
    ]
