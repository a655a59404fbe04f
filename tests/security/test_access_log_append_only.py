"""Finding 4: the access log is append-only against the app's own database role.

``tests/test_admin.py`` proves that UPDATE and DELETE are refused, even in raw SQL. Here: the
ways round that a session has. pgtrigger's own ``SET LOCAL pgtrigger.ignore``, TRUNCATE (which
fires no row trigger) and ``session_replication_role`` are refused to everyone, the owner
included; ``ALTER TABLE ... DISABLE TRIGGER`` cannot be refused to the owner, so the app connects
as a runtime role that ``twitch_intake_grant_runtime_role`` sets up with only the DML it needs,
and this proves that role can write the log but never change, empty or alter it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from psycopg import sql

from tests.factories import make_submitted
from twitch_intake.models import AccessEvent, Encounter

pytestmark = pytest.mark.django_db

COMMAND = "twitch_intake_grant_runtime_role"
REFUSED_BY_TRIGGER = "Cannot update or delete rows"
NO_TRUNCATE = "Cannot truncate"
NO_PRIVILEGE = "permission denied"
NOT_OWNER = "must be owner"


def run(statement: str | sql.Composable, params: list[object] | None = None) -> None:
    if isinstance(statement, sql.Composable):
        statement = statement.as_string(connection.connection)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def log_table() -> sql.Identifier:
    return sql.Identifier(AccessEvent._meta.db_table)


@pytest.fixture
def access_event() -> AccessEvent:
    user = User.objects.create_user("doctor", is_staff=True)
    return AccessEvent.objects.create(
        encounter=make_submitted(), user=user, action=AccessEvent.Action.VIEW
    )


@pytest.fixture
def runtime_role() -> Iterator[str]:
    """A role made for this test only, given exactly what the command grants."""
    role = f"twitch_runtime_{secrets.token_hex(4)}"
    run(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    call_command(COMMAND, role, "--execute", stdout=StringIO())
    yield role
    run(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
    run(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@contextmanager
def acting_as(role: str) -> Iterator[None]:
    """This connection with ``role``'s privileges (``SET ROLE``: works on any superuser session,
    over TCP or the embedded server's socket)."""
    run(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    try:
        yield
    finally:
        run("RESET ROLE")


def refused(statement: str | sql.Composable, match: str, *setup: str) -> None:
    with pytest.raises(DatabaseError, match=match), transaction.atomic():
        # Check the deferred foreign keys of this test's own inserts now: PostgreSQL will not
        # TRUNCATE a table with checks pending, which would hide what the trigger does.
        run("SET CONSTRAINTS ALL IMMEDIATE")
        for line in setup:
            run(line)
        run(statement)


def ignore_every_trigger_on_the_log() -> str:
    """What ``pgtrigger.ignore()`` sets, naming every trigger the table has."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(tgname::text)::text FROM pg_trigger WHERE tgrelid = %s::regclass",
            [AccessEvent._meta.db_table],
        )
        names = cursor.fetchone()[0]
    return f"SET LOCAL pgtrigger.ignore = '{names}'"


def assert_log_unchanged(event: AccessEvent) -> None:
    assert AccessEvent.objects.filter(pk=event.pk, action=AccessEvent.Action.VIEW).exists()


# --- Refused to every session, the owner's included ---------------------------------------------


def test_pgtriggers_ignore_setting_does_not_switch_the_protection_off(access_event):
    delete = (
        sql.SQL("DELETE FROM {} WHERE id = %s").format(log_table()).as_string(connection.connection)
    )
    with pytest.raises(DatabaseError, match=REFUSED_BY_TRIGGER), transaction.atomic():
        run(ignore_every_trigger_on_the_log())
        with connection.cursor() as cursor:
            cursor.execute(delete, [access_event.pk])
    with pytest.raises(DatabaseError, match=REFUSED_BY_TRIGGER), transaction.atomic():
        run(ignore_every_trigger_on_the_log())
        AccessEvent.objects.filter(pk=access_event.pk).update(action=AccessEvent.Action.EXPORT)

    assert_log_unchanged(access_event)


@pytest.mark.parametrize(
    "statement",
    [
        sql.SQL("TRUNCATE {}").format(log_table()),
        sql.SQL("TRUNCATE {} CASCADE").format(sql.Identifier(Encounter._meta.db_table)),
    ],
)
def test_truncate_is_refused(access_event, statement):
    refused(statement, NO_TRUNCATE)

    assert_log_unchanged(access_event)


def test_replication_role_does_not_switch_the_protection_off(access_event):
    """``session_replication_role = replica`` skips ordinary triggers; ours fire ALWAYS."""
    delete = sql.SQL("DELETE FROM {}").format(log_table())
    refused(delete, REFUSED_BY_TRIGGER, "SET LOCAL session_replication_role = replica")
    refused(
        sql.SQL("TRUNCATE {}").format(log_table()),
        NO_TRUNCATE,
        "SET LOCAL session_replication_role = replica",
    )

    assert_log_unchanged(access_event)


# --- The runtime role ---------------------------------------------------------------------------


def test_the_runtime_role_writes_and_reads_the_log(access_event, runtime_role):
    with acting_as(runtime_role):
        added = AccessEvent.objects.create(
            encounter=access_event.encounter,
            user=access_event.user,
            action=AccessEvent.Action.PRINT,
        )
        assert set(AccessEvent.objects.values_list("pk", flat=True)) == {access_event.pk, added.pk}
        # ... and changes the rest of the app's data as it must.
        Encounter.objects.filter(pk=access_event.encounter_id).update(record_number="MRN-5")


@pytest.mark.parametrize(
    ("statement", "match"),
    [
        (sql.SQL("UPDATE {} SET action = 'export'").format(log_table()), NO_PRIVILEGE),
        (sql.SQL("DELETE FROM {}").format(log_table()), NO_PRIVILEGE),
        (sql.SQL("TRUNCATE {}").format(log_table()), NO_PRIVILEGE),
        (sql.SQL("ALTER TABLE {} DISABLE TRIGGER ALL").format(log_table()), NOT_OWNER),
        (sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(log_table()), NOT_OWNER),
        (sql.SQL("ALTER TABLE {} ADD COLUMN note text").format(log_table()), NOT_OWNER),
        (sql.SQL("DROP TABLE {}").format(log_table()), NOT_OWNER),
        (
            sql.SQL(
                "CREATE TRIGGER t BEFORE INSERT ON {} EXECUTE FUNCTION suppress_redundant_updates_trigger()"
            ).format(log_table()),
            NO_PRIVILEGE,
        ),
        (sql.SQL("SET LOCAL session_replication_role = replica"), NO_PRIVILEGE),
    ],
)
def test_the_runtime_role_cannot_change_empty_or_alter_the_log(
    access_event, runtime_role, statement, match
):
    with acting_as(runtime_role):
        refused(statement, match)

    assert_log_unchanged(access_event)


def test_the_runtime_role_cannot_delete_with_pgtriggers_ignore_setting(access_event, runtime_role):
    with acting_as(runtime_role):
        refused(
            sql.SQL("DELETE FROM {}").format(log_table()),
            NO_PRIVILEGE,
            ignore_every_trigger_on_the_log(),
        )

    assert_log_unchanged(access_event)


def test_the_admin_works_on_the_runtime_role(client, runtime_role):
    """The grants are enough for the app itself: sessions, cache, auth, axes, the log."""
    encounter = make_submitted()
    clinician = User.objects.create_user("clinician", is_staff=True)
    clinician.groups.add(Group.objects.get(name="Clinicians"))
    client.force_login(clinician)

    with acting_as(runtime_role):
        queue = client.get(reverse("admin:twitch_intake_encounter_changelist"))
        change = client.get(reverse("admin:twitch_intake_encounter_change", args=[encounter.pk]))

    assert (queue.status_code, change.status_code) == (200, 200)
    assert AccessEvent.objects.get().encounter == encounter


# --- The command ---------------------------------------------------------------------------------


def test_the_command_prints_sql_with_the_role_quoted_as_an_identifier():
    role = f'clinic "app" {secrets.token_hex(2)}'
    run(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    out = StringIO()

    call_command(COMMAND, role, stdout=out)

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = cursor.fetchone()[0]
    log = sql.Identifier(schema, AccessEvent._meta.db_table)
    grant = sql.SQL("GRANT SELECT, INSERT ON TABLE {} TO {};").format(log, sql.Identifier(role))
    printed = out.getvalue()
    assert grant.as_string(connection.connection) in printed.splitlines()
    assert "TRUNCATE" not in printed.replace("REVOKE ALL", "")
    # Printing changes nothing.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT has_table_privilege(%s, %s, 'INSERT')", [role, AccessEvent._meta.db_table]
        )
        assert cursor.fetchone()[0] is False


@pytest.mark.parametrize("who", ["the owner", "a superuser", "a member of the owner", "nobody"])
def test_the_command_refuses_a_role_that_would_not_be_held_back(who):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
    role = f"twitch_check_{secrets.token_hex(4)}"
    if who == "the owner":
        role = owner
    elif who == "a superuser":
        run(sql.SQL("CREATE ROLE {} SUPERUSER NOLOGIN").format(sql.Identifier(role)))
    elif who == "a member of the owner":
        run(
            sql.SQL("CREATE ROLE {} NOLOGIN IN ROLE {}").format(
                sql.Identifier(role), sql.Identifier(owner)
            )
        )

    with pytest.raises(CommandError):
        call_command(COMMAND, role, "--execute", stdout=StringIO())
