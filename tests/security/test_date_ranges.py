"""Finding 6: one typo in a date must not take the queue down.

A visit typed as 9999-12-31 23:59 in a clinic west of Greenwich is year 10000 in UTC: PostgreSQL
stores it, Python cannot read it back, and every queue page that lists the row is a 500. Dates
are held to a plausible range where they are typed (the admin's form, through the model's
validators) and, with fixed bounds, by the database itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_encounter, refused_post, routine_answers
from twitch_intake import fhir
from twitch_intake.models import EARLIEST_BIRTH, EARLIEST_VISIT, LATEST_VISIT, Encounter

pytestmark = pytest.mark.django_db

ADD = reverse("admin:twitch_intake_encounter_add")
CHANGELIST = reverse("admin:twitch_intake_encounter_changelist")


def change_url(encounter: Encounter) -> str:
    return reverse("admin:twitch_intake_encounter_change", args=[encounter.pk])


@pytest.fixture
def staff(client) -> User:
    user = User.objects.create_superuser("root", "root@clinic.test", "correct horse battery staple")
    client.force_login(user)
    return user


def form_data(visit: dt.datetime | str, **overrides: Any) -> dict[str, Any]:
    if isinstance(visit, dt.datetime):
        visit = timezone.localtime(visit).strftime("%Y-%m-%d %H:%M:%S")
    day, time = visit.split(" ")
    data = {
        "patient_name": "Ada Example",
        "date_of_birth": "1980-05-17",
        "record_number": "MRN-1",
        "visit_at_0": day,
        "visit_at_1": time,
    }
    data.update(overrides)
    return data


def field_errors(response, name: str) -> list[str]:
    assert response.status_code == 400, response.status_code  # the form again, as a 400
    return response.context["adminform"].form.errors.get(name, [])


def soon() -> dt.datetime:
    return (timezone.localtime() + dt.timedelta(days=7)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )


# --- The admin's add and change forms ------------------------------------------------------------


def test_a_visit_in_year_9999_is_refused_beside_the_field_and_the_queue_still_renders(
    client, staff
):
    response = client.post(ADD, form_data("9999-12-31 23:59:00"))

    assert field_errors(response, "visit_at")
    assert "Enter a visit between" in response.content.decode()
    assert not Encounter.objects.exists()
    assert client.get(CHANGELIST).status_code == 200


def test_a_change_to_a_visit_in_year_9999_is_refused_and_the_saved_visit_kept(client, staff):
    encounter = make_encounter(visit_at=soon())

    response = client.post(change_url(encounter), form_data("9999-12-31 23:59:00"))

    assert field_errors(response, "visit_at")
    encounter.refresh_from_db()
    assert encounter.visit_at == soon()
    assert client.get(CHANGELIST).status_code == 200


@pytest.mark.parametrize(
    ("days", "accepted"),
    [
        (-400, False),  # more than a year ago: a typo in the year
        (-300, True),  # a late entry for a visit that happened
        (0, True),
        (3 * 365 - 5, True),  # booked well ahead
        (3 * 365 + 30, False),
    ],
)
def test_a_new_visit_is_within_a_year_back_and_three_years_ahead(client, staff, days, accepted):
    visit = timezone.localtime() + dt.timedelta(days=days)

    response = client.post(ADD, form_data(visit))

    assert Encounter.objects.exists() == accepted
    if not accepted:
        assert field_errors(response, "visit_at")


def test_an_unchanged_visit_outside_the_window_does_not_block_an_edit(client, staff):
    """A visit recorded long ago (or imported with its time to the microsecond) stays editable."""
    long_ago = (timezone.now() - dt.timedelta(days=800)).replace(microsecond=123456)
    encounter = make_encounter(visit_at=long_ago)

    response = client.post(change_url(encounter), form_data(long_ago, record_number="MRN-2"))

    assert response.status_code == 302, response.context["adminform"].form.errors
    encounter.refresh_from_db()
    assert encounter.record_number == "MRN-2"
    assert encounter.visit_at == long_ago  # unchanged, so not written back at all


@pytest.mark.parametrize(
    "born",
    [
        (timezone.localdate() + dt.timedelta(days=2)).isoformat(),
        "1899-12-31",
        "9999-12-31",
    ],
)
def test_an_implausible_date_of_birth_is_refused_beside_the_field(client, staff, born):
    response = client.post(ADD, form_data(soon(), date_of_birth=born))

    assert field_errors(response, "date_of_birth")
    assert not Encounter.objects.exists()


def test_a_plausible_encounter_is_added(client, staff):
    response = client.post(ADD, form_data(soon(), date_of_birth=EARLIEST_BIRTH.isoformat()))

    assert response.status_code == 302  # to the new encounter's page
    assert Encounter.objects.get().visit_at == soon()


# --- The database holds fixed bounds whatever the path ----------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("visit_at", "10000-01-01 04:59:00+00"),
        ("visit_at", "9999-12-31 23:59:00-05"),
        ("visit_at", "1999-12-31 23:59:59+00"),
        ("visit_at", LATEST_VISIT.isoformat()),
        ("date_of_birth", "1899-12-31"),
        ("date_of_birth", "2100-01-01"),
        ("date_of_birth", "20000-01-01"),
    ],
)
def test_raw_sql_cannot_store_an_implausible_date(column, value):
    encounter = make_encounter()
    table = connection.ops.quote_name(Encounter._meta.db_table)
    with (
        pytest.raises(IntegrityError, match="plausible"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, encounter.pk])

    assert Encounter.objects.get().visit_at == encounter.visit_at  # and it still reads back


def test_the_bounds_themselves_store():
    make_encounter(visit_at=EARLIEST_VISIT, date_of_birth=EARLIEST_BIRTH)
    make_encounter(visit_at=LATEST_VISIT - dt.timedelta(microseconds=1))
    assert Encounter.objects.count() == 2


# --- The other ways in use the same rule -------------------------------------------------------


def _fhir_response() -> dict[str, Any]:
    submitted = Encounter(
        patient_name="Ada Example",
        date_of_birth=dt.date(1980, 5, 17),
        answers=routine_answers(),
        status=Encounter.Status.SUBMITTED,
        submitted_at=timezone.now() - dt.timedelta(days=1),
    )
    return fhir.response_json(submitted)


def test_fhir_import_holds_birth_and_authored_to_the_same_bounds():
    assert fhir.import_response(_fhir_response()).ok  # the response below is valid but for one date
    Encounter.objects.all().delete()

    for birth in [(EARLIEST_BIRTH - dt.timedelta(days=1)).isoformat(), "9999-12-31"]:
        resource = _fhir_response()
        resource["contained"][0]["birthDate"] = birth
        result = fhir.import_response(resource)
        assert not result.ok and any("birthDate" in p for p in result.problems), birth

    resource = _fhir_response()
    resource["authored"] = (EARLIEST_VISIT - dt.timedelta(seconds=1)).isoformat()
    result = fhir.import_response(resource)
    assert not result.ok and any("authored" in p for p in result.problems)
    assert not Encounter.objects.exists()


def test_self_start_refuses_a_birth_date_outside_the_same_bounds(client, settings):
    settings.TWITCH_INTAKE = {**getattr(settings, "TWITCH_INTAKE", {}), "SELF_START": True}
    visit = timezone.localdate() + dt.timedelta(days=2)
    for born in [(EARLIEST_BIRTH - dt.timedelta(days=1)).isoformat(), "9999-12-31"]:
        response = refused_post(
            client,
            "/intake/start/",
            {"patient_name": "Walk In", "date_of_birth": born, "visit_date": visit.isoformat()},
        )
        assert response.status_code == 200
        assert response.context["form"].errors["date_of_birth"]
    assert not Encounter.objects.exists()
