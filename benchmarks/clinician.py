"""The clinician's queue at 1,000, 10,000 and 100,000 encounters, measured in-process.

Rows are made by one ``INSERT ... SELECT`` over ``generate_series``, from a few hundred answer
variants computed beforehand through the app's own validation, triage and digest, so that they
are exactly what patients would have stored. The mix: visits spread over ~2.7 years up to a month
ahead; past visits mostly reviewed, upcoming ones invited, in progress or submitted.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from twitch_intake import questionnaire, services, triage
from twitch_intake.models import Encounter

from .data import realistic_answers

COMPLETE_VARIANTS = 400
PARTIAL_VARIANTS = 100

_INSERT = """
WITH g AS (
    SELECT n, random() AS r, random() AS lang,
           now() + interval '30 days' - random() * interval '1000 days' AS visit_at
    FROM generate_series(%(first)s, %(last)s) AS n
), s AS (
    SELECT g.*, CASE
        WHEN visit_at < now() - interval '1 day' THEN CASE
            WHEN r < 0.94 THEN 'reviewed' WHEN r < 0.98 THEN 'submitted'
            WHEN r < 0.99 THEN 'in_progress' ELSE 'invited' END
        ELSE CASE WHEN r < 0.4 THEN 'invited' WHEN r < 0.5 THEN 'in_progress' ELSE 'submitted' END
    END AS status
    FROM g
)
INSERT INTO twitch_intake_encounter (
    patient_name, date_of_birth, record_number, visit_at, status, created_at, updated_at,
    submitted_at, reviewed_at, reviewed_by_id, questionnaire_version, answers, completed_groups,
    language, token_hash, token_expires_at, dob_failures, locked_until, alerted_at, level, flags,
    flag_count, answers_digest
)
SELECT
    'Patient ' || s.n,
    DATE '1935-01-01' + (s.n::bigint * 7919 %% 29000)::int,
    CASE WHEN s.n %% 3 = 0 THEN '' ELSE 'MRN' || lpad(s.n::text, 7, '0') END,
    s.visit_at,
    s.status,
    s.visit_at - interval '10 days',
    s.visit_at - interval '1 day',
    CASE WHEN done THEN s.visit_at - interval '2 days' END,
    CASE WHEN s.status = 'reviewed' THEN s.visit_at - interval '1 day' END,
    CASE WHEN s.status = 'reviewed' THEN %(reviewer)s::bigint END,
    %(version)s,
    CASE WHEN done THEN c.answers WHEN s.status = 'in_progress' THEN p.answers ELSE '{}'::jsonb END,
    CASE WHEN done THEN c.completed WHEN s.status = 'in_progress' THEN p.completed
         ELSE '{}'::varchar(32)[] END,
    CASE WHEN s.status = 'invited' THEN '' WHEN s.lang < 0.15 THEN 'es' ELSE 'en' END,
    CASE WHEN NOT done THEN encode(sha256(convert_to('bench-link-' || s.n, 'UTF8')), 'hex') END,
    CASE WHEN NOT done THEN s.visit_at + interval '1 day' END,
    0,
    NULL,
    CASE WHEN done AND c.level = 'emergency' THEN s.visit_at - interval '2 days' END,
    CASE WHEN done THEN c.level END,
    CASE WHEN done THEN c.flags ELSE '{}'::varchar(32)[] END,
    CASE WHEN done THEN cardinality(c.flags) ELSE 0 END,
    CASE WHEN done THEN c.digest ELSE '' END
FROM (SELECT s.*, s.status IN ('submitted', 'reviewed') AS done FROM s) AS s
JOIN bench_variant c ON c.kind = 'complete' AND c.idx = s.n %% %(complete)s
JOIN bench_variant p ON p.kind = 'partial' AND p.idx = s.n %% %(partial)s
"""


def _variants(seed: int = 100) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    groups = [g.link_id for g in questionnaire.TWITCH_INTAKE.groups]
    rows = []
    for idx in range(COMPLETE_VARIANTS):
        answers = realistic_answers(rng)
        assessment = triage.assess(answers)
        rows.append(
            (
                "complete",
                idx,
                json.dumps(answers),
                groups,
                assessment.level.value,
                assessment.codes,
                services.answers_digest(answers),
            )
        )
    for idx in range(PARTIAL_VARIANTS):
        answers = realistic_answers(rng)
        done = groups[: rng.randint(1, len(groups) - 1)]
        own = {
            q.link_id
            for g in questionnaire.TWITCH_INTAKE.groups
            if g.link_id in done
            for q in g.questions
        }
        partial = {k: v for k, v in answers.items() if k in own}
        rows.append(("partial", idx, json.dumps(partial), done, None, [], ""))
    return rows


def prepare(reviewer_id: int) -> None:
    """Empty the encounter tables and load the answer variants (once per run)."""
    with connection.cursor() as cursor:
        # The access log refuses TRUNCATE to every session; its owner lifts that for this one.
        cursor.execute(
            "ALTER TABLE twitch_intake_accessevent DISABLE TRIGGER access_event_no_truncate;"
            " TRUNCATE twitch_intake_accessevent, twitch_intake_encounter RESTART IDENTITY CASCADE;"
            " ALTER TABLE twitch_intake_accessevent ENABLE ALWAYS TRIGGER access_event_no_truncate"
        )
        cursor.execute("DROP TABLE IF EXISTS bench_variant")
        cursor.execute(
            "CREATE TABLE bench_variant (kind text, idx int, answers jsonb, completed varchar(32)[],"
            " level varchar(16), flags varchar(32)[], digest varchar(64), PRIMARY KEY (kind, idx))"
        )
        cursor.executemany(
            "INSERT INTO bench_variant VALUES (%s, %s, %s::jsonb, %s, %s, %s, %s)", _variants()
        )
    _state["rows"] = 0
    _state["reviewer"] = reviewer_id


_state: dict[str, int] = {"rows": 0, "reviewer": 0}


#: The answer history's first row for each encounter, as its insert trigger writes it (pghistory,
#: ``twitch_intake_encounterhistory``): written here in one statement while the triggers are off.
_HISTORY = """
INSERT INTO twitch_intake_encounterhistory (
    answers, date_of_birth, patient_name, pgh_context, pgh_context_id, pgh_created_at, pgh_label,
    pgh_obj_id, record_number
)
SELECT answers, date_of_birth, patient_name, NULL, NULL, created_at, 'insert', id, record_number
FROM twitch_intake_encounter WHERE id > %(after)s
"""
TABLES = ("twitch_intake_encounter", "twitch_intake_encounterhistory")


def _triggers(cursor: Any) -> list[tuple[str, str, str]]:
    """Each user trigger of the two tables with its state (``A`` always, ``O`` origin...)."""
    cursor.execute(
        "SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t"
        " JOIN pg_class c ON c.oid = t.tgrelid"
        " WHERE c.relname = ANY(%s) AND NOT t.tgisinternal",
        [list(TABLES)],
    )
    return list(cursor.fetchall())


def _secondary_indexes(cursor: Any) -> list[tuple[str, str]]:
    """The two tables' indexes that back no constraint: (name, its CREATE INDEX)."""
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indrelid WHERE c.relname = ANY(%s)"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
        [list(TABLES)],
    )
    return list(cursor.fetchall())


_ENABLE = {"A": "ENABLE ALWAYS TRIGGER", "O": "ENABLE TRIGGER", "R": "ENABLE REPLICA TRIGGER"}


def grow_to(rows: int) -> float:
    """Insert encounters until there are ``rows``; returns the seconds it took (incl. VACUUM).

    A bulk load as a DBA would do it, in one transaction: the tables' triggers off (the answer
    history's first row of each encounter written in one statement, as its trigger would) and,
    when the table at least doubles, the secondary indexes dropped and built again afterwards.
    Every trigger and index is back, as it was, before the transaction commits.
    """
    start = time.perf_counter()
    first = _state["rows"] + 1
    if rows >= first:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            # Foreign keys checked as each statement ends, so no check is pending at CREATE INDEX.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            triggers = _triggers(cursor)
            for table in TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            rebuild = _secondary_indexes(cursor) if rows - first + 1 >= first - 1 else []
            for name, _definition in rebuild:
                cursor.execute(f"DROP INDEX {name}")
            cursor.execute("SELECT coalesce(max(id), 0) FROM twitch_intake_encounter")
            after = cursor.fetchone()[0]
            cursor.execute("SELECT setseed(%s)", [first / (rows + 1)])
            cursor.execute(
                _INSERT,
                {
                    "first": first,
                    "last": rows,
                    "reviewer": _state["reviewer"],
                    "version": questionnaire.VERSION,
                    "complete": COMPLETE_VARIANTS,
                    "partial": PARTIAL_VARIANTS,
                },
            )
            cursor.execute(_HISTORY, {"after": after})
            for _name, definition in rebuild:
                cursor.execute(definition)
            for table, name, state in triggers:
                if state in _ENABLE:
                    cursor.execute(f'ALTER TABLE {table} {_ENABLE[state]} "{name}"')
        with connection.cursor() as cursor:
            for table in TABLES:
                cursor.execute(f"VACUUM ANALYZE {table}")
        _state["rows"] = rows
    return time.perf_counter() - start


@dataclass
class Timed:
    median_ms: float
    p95_ms: float
    queries: list[int]
    #: This process's CPU for the request (the database's is apart): wall time minus waiting,
    #: which on a busy machine tells contention from work.
    cpu_median_ms: float = 0.0
    sql_median_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_ms": self.median_ms,
            "p95_ms": self.p95_ms,
            "cpu_median_ms": self.cpu_median_ms,
            "sql_median_ms": self.sql_median_ms,
            "queries": sorted(set(self.queries)),
        }


def _time(client: Client, urls: list[str], warm: int) -> Timed:
    for url in urls[:warm]:
        assert client.get(url).status_code == 200, url
    times, cpu, sql, queries = [], [], [], []
    for url in urls[warm:]:
        with CaptureQueriesContext(connection) as captured:
            start, start_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        if response.status_code != 200:
            raise AssertionError(f"{url}: HTTP {response.status_code}")
        queries.append(len(captured.captured_queries))
        sql.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
    times.sort()
    return Timed(
        statistics.median(times),
        times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
        queries,
        statistics.median(cpu),
        statistics.median(sql),
    )


def measure(client: Client, runs: int, warm: int = 2) -> dict[str, Timed]:
    changelist = reverse("admin:twitch_intake_encounter_changelist")
    # Reviewed routine intakes only: an emergency's page reads its answer history too, a
    # reviewer is one more lookup. And the same ones at every size (the first made): the
    # answers vary from row to row, and some draw a summary with more lookups, so a random
    # sample changed the query count by chance (11 in one run, 11-14 in another).
    pks = list(
        Encounter.objects.filter(status="reviewed", level="routine")
        .order_by("pk")
        .values_list("pk", flat=True)[: runs + warm]
    )
    pages = [reverse("admin:twitch_intake_encounter_change", args=[pk]) for pk in pks]
    # A search by name, as front desk types one: the newest patients' names, each of which
    # only that patient has ("Patient 999950" is no prefix of another at a million).
    names = Encounter.objects.order_by("-pk").values_list("patient_name", flat=True)
    searches = [f"{changelist}?{urlencode({'q': name})}" for name in names[: runs + warm]]
    return {
        "changelist": _time(client, [changelist] * (runs + warm), warm),
        "encounter page": _time(client, pages, warm),
        "search": _time(client, searches, warm),
    }
