"""Shared fixtures. Builders for test data are in ``tests/factories.py``.

Rate-limit counters are rows of a model now, emptied with every other table between tests (a
rollback, or a transactional test's flush), so no fixture clears them.
"""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _flush_empties_the_append_only_tables():
    """Between transactional tests Django empties every table with one TRUNCATE, which the
    access log and the answer history refuse to every session. Only their owner can lift that
    guard (as the test database's owner does here), and only inside the flush's own
    transaction."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    from twitch_intake.models import AccessEvent, EncounterHistory

    original = DatabaseOperations.sql_flush
    guards = {
        AccessEvent._meta.db_table: "access_event_no_truncate",
        EncounterHistory._meta.db_table: "encounter_history_no_truncate",
    }

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = original(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        guarded = [(table, trigger) for table, trigger in guards.items() if table in tables]
        if not guarded or not statements:
            return statements
        alter = "ALTER TABLE {} {} TRIGGER {}"
        return [
            *(alter.format(self.quote_name(t), "DISABLE", trigger) for t, trigger in guarded),
            *statements,
            *(alter.format(self.quote_name(t), "ENABLE ALWAYS", trigger) for t, trigger in guarded),
        ]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", sql_flush)
        yield


@pytest.fixture
def queue(transactional_db):
    """Committed rows, which a queue worker needs, and an empty queue afterwards: the queue's
    tables are not Django models to flush, so one test's jobs would outlive it."""
    yield
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers, "
            "procrastinate_workers"
        )
