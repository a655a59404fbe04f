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


@pytest.mark.django_db
def test_save_fields_writes_what_save_with_update_fields_writes():
    from tests.factories import rich_answers
    from twitch_intake.services import PAGE_FIELDS

    made = make_encounter(answers=routine_answers())
    twin = make_encounter(answers=routine_answers())
    before = Encounter.objects.get(pk=made.pk).updated_at
    for encounter, write in ((made, "save_fields"), (twin, "save")):
        encounter.answers = rich_answers()
        encounter.flags, encounter.flag_count, encounter.level = ["weakness"], 1, "priority"
        encounter.emergency_reported_at = None
        encounter.patient_name = "Not written"  # not among the fields: stays as stored
        if write == "save":
            encounter.save(update_fields=PAGE_FIELDS)
        else:
            with CaptureQueriesContext(connection) as queries:
                encounter.save_fields(PAGE_FIELDS)
            assert len(queries) == 1 and queries[0]["sql"].startswith("UPDATE")
    ours, theirs = Encounter.objects.get(pk=made.pk), Encounter.objects.get(pk=twin.pk)
    skip = {"id", "updated_at", "created_at", "visit_at", "token_hash", "link_nonce"}
    assert {k: v for k, v in _fields(ours).items() if k not in skip} == {
        k: v for k, v in _fields(theirs).items() if k not in skip
    }
    assert ours.patient_name == "Ada Example" and ours.answers == rich_answers()
    assert ours.updated_at > before  # auto_now moved, as save() moves it


@pytest.mark.django_db
def test_save_fields_of_a_deleted_row_is_an_error_not_a_silent_no_op():
    from django.db import DatabaseError

    made = make_encounter()
    gone = Encounter.objects.get(pk=made.pk)
    Encounter.objects.filter(pk=made.pk).delete()
    with pytest.raises(DatabaseError):
        gone.save_fields(["answers"])
    with pytest.raises(ValueError):
        made.save_fields(["answers", "no_such_field"])
