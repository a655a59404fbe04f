"""The suite runs on a real PostgreSQL, and the database itself holds the rules it can."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Group, User
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_encounter, make_submitted, routine_answers
from twitch_intake.models import Encounter, Status

pytestmark = pytest.mark.django_db


def test_the_database_is_postgresql():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        assert int(cursor.fetchone()[0]) >= 140000


def test_gin_index_serves_array_containment():
    make_submitted(routine_answers(locations=["calf", "thigh"]))
    make_submitted()
    assert list(
        Encounter.objects.filter(flags__contains=["multifocal"]).values_list("flags", flat=True)
    ) == [["multifocal"]]
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'encounter_flags_gin'")
        assert "USING gin" in cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("query", "index"),
    [("", "encounter_queue"), ("?status__exact=submitted", "encounter_unreviewed_queue")],
)
def test_a_page_of_the_queue_is_read_from_its_index(client, query, index):
    """The admin's own query, as it sends it: its ORDER BY is the index's expression."""
    clinician = User.objects.create_user("doctor", is_staff=True)
    clinician.groups.add(Group.objects.get(name="Clinicians"))
    # More than a page, or the admin reads the whole list with no LIMIT.
    Encounter.objects.bulk_create(
        Encounter(
            patient_name=f"P{n}",
            date_of_birth=dt.date(1980, 1, 1),
            visit_at=timezone.now(),
            status=Status.SUBMITTED,
            level="routine",
            submitted_at=timezone.now(),
        )
        for n in range(51)
    )
    client.force_login(clinician)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/admin/twitch_intake/encounter/{query}").status_code == 200
    [page] = [q["sql"] for q in queries if "ORDER BY" in q["sql"] and "LIMIT" in q["sql"]]
    with transaction.atomic(), connection.cursor() as cursor:
        # A table this small is cheaper to scan and sort whole: plan as for a large one, where
        # only an index in the queue's order spares sorting every row.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {page}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Index Scan using {index} " in plan, plan
    # At most the primary key's tie-break is sorted, within rows the index gives in order.
    assert re.search(r"(?<!Incremental )Sort  \(", plan) is None, plan


def test_unreviewed_queue_index_is_partial():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'encounter_unreviewed_queue'"
        )
        assert "WHERE" in cursor.fetchone()[0]


@pytest.mark.parametrize(
    "change",
    [
        {"answers": ["not", "an", "object"]},
        {"status": "lost"},
        {"level": "whenever"},
        {"flag_count": 3},
        {"status": "submitted"},  # no level, no submitted_at
        {"status": "reviewed"},
    ],
)
def test_check_constraints_refuse_impossible_rows(change):
    encounter = make_encounter()
    with pytest.raises(IntegrityError), transaction.atomic():
        Encounter.objects.filter(pk=encounter.pk).update(**change)


def test_a_submitted_row_satisfies_every_constraint():
    encounter = make_submitted()
    encounter.full_clean()
    assert encounter.flag_count == len(encounter.flags)
