"""Model-level behaviour that is not a constraint (those are in test_postgres.py)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from tests.factories import make_encounter, routine_answers
from twitch_intake.models import Encounter


def _fields(encounter: Encounter) -> dict[str, object]:
    return {f.attname: getattr(encounter, f.attname) for f in Encounter._meta.concrete_fields}


@pytest.mark.django_db
def test_by_pk_loads_every_field_as_the_orm_does():
    made = make_encounter(
        answers=routine_answers(), flags=["weakness"], flag_count=1, mobile="+12025550143"
    )
    loaded = Encounter.objects.by_pk(made.pk)
    assert loaded is not None
    assert _fields(loaded) == _fields(Encounter.objects.get(pk=made.pk))
    assert loaded.answers == routine_answers()  # a dict, not JSON text
    assert str(loaded.mobile) == "+12025550143"  # through the field's converter
    assert loaded._stored_visit_at == made.visit_at  # through from_db
    assert not loaded._state.adding and loaded._state.db == "default"


@pytest.mark.django_db
def test_by_pk_is_one_query_and_none_for_no_such_row():
    made = make_encounter()
    with CaptureQueriesContext(connection) as queries:
        assert Encounter.objects.by_pk(made.pk + 1000) is None
        assert Encounter.objects.by_pk(made.pk) is not None
    assert len(queries) == 2
    assert "FOR UPDATE" not in queries[0]["sql"]


@pytest.mark.django_db(transaction=True)
def test_by_pk_locks_the_row_only_inside_a_transaction():
    made = make_encounter()
    with pytest.raises(TransactionManagementError):
        Encounter.objects.by_pk(made.pk, lock=True)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert Encounter.objects.by_pk(made.pk, lock=True) == made
    assert queries[-1]["sql"].endswith("FOR UPDATE")


@pytest.mark.django_db
def test_by_pk_is_not_for_a_filtered_queryset():
    made = make_encounter()
    with pytest.raises(TypeError):
        Encounter.objects.filter(status="submitted").by_pk(made.pk)
