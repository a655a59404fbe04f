"""The suite runs on a real PostgreSQL, and the database itself holds the rules it can."""

import pytest
from django.db import IntegrityError, connection, transaction

from tests.factories import make_encounter, make_submitted, routine_answers
from twitch_intake.models import Encounter

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
        {"flags": ["made-up-flag"], "flag_count": 1},
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
