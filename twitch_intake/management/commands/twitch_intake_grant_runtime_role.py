"""Give the site's runtime database role the data access it needs, and no more.

The access log's triggers refuse UPDATE, DELETE and TRUNCATE to every session, but the table's
owner can still disable or drop them. So migrations run as the owner and the site connects as
another role, which this grants SELECT, INSERT, UPDATE and DELETE on the site's tables, only
SELECT and INSERT on the access log and the answer history, and USAGE on their sequences:
never TRUNCATE, TRIGGER, REFERENCES or ownership. Run it after every ``migrate``; it revokes before it grants, so a second
run changes nothing. It prints the SQL (for psql, or a DBA to read); ``--execute`` runs it.
"""

from __future__ import annotations

from argparse import ArgumentParser
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import sql

from twitch_intake.models import AccessEvent, EncounterHistory

#: Tables the runtime role may add to and read, but never change or empty.
APPEND_ONLY = (AccessEvent, EncounterHistory)
DML = sql.SQL("SELECT, INSERT, UPDATE, DELETE")
APPEND = sql.SQL("SELECT, INSERT")

_TABLES = """
    SELECT t.name, n.nspname, c.relname
    FROM unnest(%s::text[]) AS t(name)
    JOIN pg_class c ON c.oid = to_regclass(quote_ident(t.name))
    JOIN pg_namespace n ON n.oid = c.relnamespace
    ORDER BY n.nspname, c.relname
"""
#: The sequences behind each table's serial and identity columns.
_SEQUENCES = """
    SELECT t.name, n.nspname, s.relname
    FROM unnest(%s::text[]) AS t(name)
    JOIN pg_depend d ON d.refobjid = to_regclass(quote_ident(t.name))
        AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
    JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
    JOIN pg_namespace n ON n.oid = s.relnamespace
    ORDER BY n.nspname, s.relname
"""


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    sequences: tuple[sql.Identifier, ...]

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)


def _site_tables(alias: str) -> set[str]:
    """Every model's table on this database, and the database cache's tables."""
    tables = {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if not model._meta.proxy and router.allow_migrate_model(alias, model)
    }
    for cache in settings.CACHES.values():
        if cache.get("BACKEND") == "django.core.cache.backends.db.DatabaseCache":
            tables.add(cache["LOCATION"])
    return tables


def _tables(connection: BaseDatabaseWrapper, names: set[str]) -> list[Table]:
    with connection.cursor() as cursor:
        cursor.execute(_SEQUENCES, [sorted(names)])
        sequences: dict[str, list[sql.Identifier]] = {}
        for table, schema, sequence in cursor.fetchall():
            sequences.setdefault(table, []).append(sql.Identifier(schema, sequence))
        cursor.execute(_TABLES, [sorted(names)])
        return [
            Table(schema, relname, tuple(sequences.get(name, ())))
            for name, schema, relname in cursor.fetchall()
        ]


def _refuse_unsafe_role(connection: BaseDatabaseWrapper, role: str) -> None:
    """A superuser, the owner or a member of the owner could switch the protection off."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.rolsuper, pg_has_role(r.oid, c.relowner, 'MEMBER')"
            " FROM pg_roles r, pg_class c"
            " WHERE r.rolname = %s AND c.oid = to_regclass(quote_ident(%s))",
            [role, AccessEvent._meta.db_table],
        )
        row = cursor.fetchone()
    if row is None:
        raise CommandError(
            f"No role {role!r} (or no access log: run migrate first). Create the role first,"
            " e.g. CREATE ROLE ... LOGIN PASSWORD '...'."
        )
    superuser, owner = row
    if superuser:
        raise CommandError(
            f"{role!r} is a superuser: no grant holds it back. Use an ordinary role."
        )
    if owner:
        raise CommandError(
            f"{role!r} owns the tables (or is a member of their owner), so it could disable the"
            " access log's triggers. Run migrations as the owner and connect the site as another role."
        )


def statements(tables: list[Table], role: str) -> list[sql.Composed]:
    grantee = sql.Identifier(role)
    append_only = {model._meta.db_table for model in APPEND_ONLY}
    schemas = sorted({table.schema for table in tables})
    composed = [
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {};").format(sql.Identifier(schema), grantee)
        for schema in schemas
    ]
    for table in tables:
        privileges = APPEND if table.name in append_only else DML
        composed += [
            sql.SQL("REVOKE ALL ON TABLE {} FROM {};").format(table.identifier, grantee),
            sql.SQL("GRANT {} ON TABLE {} TO {};").format(privileges, table.identifier, grantee),
        ]
        for sequence in table.sequences:
            composed += [
                sql.SQL("REVOKE ALL ON SEQUENCE {} FROM {};").format(sequence, grantee),
                sql.SQL("GRANT USAGE ON SEQUENCE {} TO {};").format(sequence, grantee),
            ]
    return composed


class Command(BaseCommand):
    help = (
        "Print (or with --execute, run) the GRANT and REVOKE statements that give the site's "
        "runtime database role only the data access it needs: the access log append-only."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("role", help="The role the site connects as (not the tables' owner).")
        parser.add_argument(
            "--execute",
            action="store_true",
            help="Run the statements now, as this connection's user.",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="Database alias.")

    def handle(self, *args: Any, role: str, execute: bool, database: str, **options: Any) -> None:
        connection = connections[database]
        if connection.vendor != "postgresql":
            raise CommandError("The runtime role is a PostgreSQL role: this database is not one.")
        _refuse_unsafe_role(connection, role)
        tables = _tables(connection, _site_tables(database))
        connection.ensure_connection()
        lines = [s.as_string(connection.connection) for s in statements(tables, role)]
        if not execute:
            self.stdout.write("-- Run as the tables' owner (the role that runs migrate).")
            self.stdout.write("\n".join(["BEGIN;", *lines, "COMMIT;"]))
            return
        with transaction.atomic(using=database), connection.cursor() as cursor:
            for line in lines:
                cursor.execute(line)
        self.stdout.write(
            f"Granted {role!r} data access to {len(tables)} tables; the access log append-only."
        )
