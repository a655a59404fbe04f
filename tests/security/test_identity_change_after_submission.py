"""Finding 11: front desk could change the name, date of birth and record number of a submitted
intake, and the clinician's summary gave no sign of it.

After submission these are read-only for everyone but a superuser; a superuser's change is
written to the append-only access log and every summary says "Identity changed after
submission by <user> at <time>".
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_encounter, make_submitted, rich_answers
from twitch_intake import services, summary
from twitch_intake.models import AccessEvent, Encounter, Status

pytestmark = pytest.mark.django_db

IDENTITY = ("patient_name", "date_of_birth", "record_number")


def _user(role: str) -> User:
    if role == "superuser":
        return User.objects.create_superuser("root", "root@clinic.test", "x" * 20)
    user = User.objects.create_user(role, password="x" * 20, is_staff=True)
    user.groups.add(
        Group.objects.get(name={"clinician": "Clinicians", "front_desk": "Front desk"}[role])
    )
    return user


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _change(encounter: Encounter) -> str:
    return reverse("admin:twitch_intake_encounter_change", args=[encounter.pk])


def _form_data(encounter: Encounter, **overrides: str) -> dict[str, str]:
    local = timezone.localtime(encounter.visit_at)
    data = {
        "patient_name": encounter.patient_name,
        "date_of_birth": encounter.date_of_birth.isoformat(),
        "record_number": encounter.record_number,
        "visit_at_0": local.date().isoformat(),
        "visit_at_1": local.strftime("%H:%M:%S"),
    }
    data.update(overrides)
    return data


CHANGED = {
    "patient_name": "Someone Else",
    "date_of_birth": "1991-01-01",
    "record_number": "MRN-FAKE",
}


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.REVIEWED])
def test_front_desk_cannot_change_identity_after_submission(status):
    front = _user("front_desk")
    encounter = make_submitted(rich_answers(), patient_name="Ada Example", record_number="MRN-1")
    if status == Status.REVIEWED:
        services.mark_reviewed(encounter.pk, _user("clinician"))
    client = _client(front)

    form = client.get(_change(encounter)).context["adminform"].form
    response = client.post(
        _change(encounter), _form_data(encounter, **CHANGED, visit_at_1="11:15:00")
    )

    assert not set(IDENTITY) & set(form.fields)
    assert response.status_code == 302
    encounter.refresh_from_db()
    assert (encounter.patient_name, str(encounter.date_of_birth), encounter.record_number) == (
        "Ada Example",
        "1980-05-17",
        "MRN-1",
    )
    assert timezone.localtime(encounter.visit_at).strftime("%H:%M") == "11:15"  # a visit may move
    assert not AccessEvent.objects.exists()


def test_front_desk_can_still_correct_identity_before_submission():
    client = _client(_user("front_desk"))
    encounter = make_encounter(status=Status.IN_PROGRESS, answers={"emergency-signs": ["none"]})

    response = client.post(_change(encounter), _form_data(encounter, **CHANGED))

    assert response.status_code == 302
    encounter.refresh_from_db()
    assert encounter.patient_name == "Someone Else"
    assert not AccessEvent.objects.exists()


def test_a_form_opened_before_submission_cannot_change_identity_after_it():
    client = _client(_user("front_desk"))
    encounter = make_encounter(
        answers=rich_answers(), status=Status.IN_PROGRESS, patient_name="Ada Example"
    )
    form = client.get(_change(encounter)).context["adminform"].form
    assert "patient_name" in form.fields  # editable while the patient is still answering
    assert services.submit(encounter.pk).ok  # ... and then the patient submits

    client.post(_change(encounter), _form_data(encounter, patient_name="Someone Else"))

    encounter.refresh_from_db()
    assert encounter.patient_name == "Ada Example"


def test_a_change_form_save_never_overwrites_answers_saved_meanwhile():
    client = _client(_user("front_desk"))
    encounter = make_encounter(answers={"emergency-signs": ["none"]}, status=Status.IN_PROGRESS)
    client.get(_change(encounter))
    # The patient saves a page while the front desk has the form open.
    Encounter.objects.filter(pk=encounter.pk).update(
        answers=rich_answers(), completed_groups=["emergency"]
    )

    client.post(_change(encounter), _form_data(encounter, record_number="MRN-2"))

    encounter.refresh_from_db()
    assert encounter.record_number == "MRN-2"
    assert encounter.answers == rich_answers()
    assert encounter.completed_groups == ["emergency"]


def test_a_superusers_identity_change_is_logged_and_shown_in_every_summary():
    root = _user("superuser")
    doctor = _user("clinician")
    encounter = make_submitted(rich_answers(), patient_name="Ada Example")

    before = timezone.now()
    response = _client(root).post(
        _change(encounter), _form_data(encounter, patient_name="Ada Corrected")
    )
    after = timezone.now()

    assert response.status_code == 302
    encounter.refresh_from_db()
    assert encounter.patient_name == "Ada Corrected"
    event = AccessEvent.objects.get()
    assert (event.encounter, event.user, event.action) == (
        encounter,
        root,
        AccessEvent.Action.IDENTITY,
    )
    assert before <= event.at <= after

    changes = summary.build(encounter).identity_changes
    assert [(change.by, change.at) for change in changes] == [("root", event.at)]
    clinician = _client(doctor)
    for view in ("change", "print", "text"):
        page = clinician.get(reverse(f"admin:twitch_intake_encounter_{view}", args=[encounter.pk]))
        assert "Identity changed after submission by root at" in page.content.decode(), view


def test_a_superusers_save_without_identity_change_is_not_flagged():
    root = _user("superuser")
    encounter = make_submitted(rich_answers())

    _client(root).post(_change(encounter), _form_data(encounter, visit_at_1="15:00:00"))

    assert not AccessEvent.objects.exists()
    assert summary.build(encounter).identity_changes == ()
    assert "Identity changed" not in summary.render_text(encounter)


def test_the_service_keeps_identity_when_submission_wins_the_race():
    """The form was read while in progress; the patient submitted before the save took the lock."""
    front = _user("front_desk")
    stale = make_encounter(
        answers=rich_answers(), status=Status.IN_PROGRESS, patient_name="Ada Example"
    )
    assert services.submit(stale.pk).ok
    stale.patient_name = "Someone Else"
    stale.record_number = "MRN-2"

    kept = services.save_patient_details(
        stale, ["patient_name", "record_number"], front, "127.0.0.1", may_change_identity=False
    )

    assert kept == ["patient_name", "record_number"]
    current = Encounter.objects.get(pk=stale.pk)
    assert (current.patient_name, current.record_number, current.status) == (
        "Ada Example",
        "",
        Status.SUBMITTED,
    )
    assert not AccessEvent.objects.exists()
