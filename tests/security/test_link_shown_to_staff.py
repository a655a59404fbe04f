"""Finding 2: front desk could read and rewrite answers in progress.

"New patient link" showed the token on screen (now links are only sent to the patient's own
contact, or printed in a letter, which is what these tests hold to the rule), and front desk sees the date of birth, so they
could open an intake that already held answers. A link to an encounter that holds answers (or
is submitted) is never shown to staff now; one for an encounter with no answers yet may be shown
once, and every link issued is an access event. The check and the issue happen under the row
lock, so a patient saving their first page at the same moment cannot slip between them.
"""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    issue,
    make_encounter,
    make_submitted,
    rich_answers,
    routine_answers,
    staff_group,
)
from twitch_intake import services
from twitch_intake.models import AccessEvent, Encounter, Status, hash_token

LINK_IN_PAGE = re.compile(r"/intake/link/([A-Za-z0-9_-]{20,})/")
REFUSED = "cannot be shown here"


def _user(role: str) -> User:
    if role == "superuser":
        return User.objects.create_superuser("root", "root@clinic.test", "x" * 20)
    user = User.objects.create_user(role, password="x" * 20, is_staff=True)
    user.groups.add(staff_group("Front desk"))
    return user


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(view: str, encounter: Encounter) -> str:
    return reverse(f"admin:twitch_intake_encounter_{view}", args=[encounter.pk])


STARTED = {
    "one page saved": {"answers": {"emergency-signs": ["none"]}, "completed_groups": ["emergency"]},
    "answers only": {"answers": {"emergency-signs": ["none"]}},
    "a page completed": {"completed_groups": ["emergency"]},
    "all answered": {"answers": rich_answers(), "completed_groups": ["emergency", "twitching"]},
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["front_desk", "superuser"])
@pytest.mark.parametrize("started", STARTED)
def test_no_link_is_shown_for_an_intake_that_holds_answers(role, started):
    encounter = make_encounter(status=Status.IN_PROGRESS, **STARTED[started])
    old_token = issue(encounter)
    client = _client(_user(role))

    page = client.get(_url("change", encounter)).content.decode()
    response = client.post(_url("letter", encounter), follow=True)

    assert _url("letter", encounter) not in page  # no button that would be refused
    assert "The patient has started answering" in page
    content = response.content.decode()
    assert not LINK_IN_PAGE.search(content)
    assert REFUSED in content  # said where they are looking, and why
    assert "patient's own contact" in content
    encounter.refresh_from_db()
    assert encounter.token_hash == hash_token(old_token)  # the patient's link still works
    assert not AccessEvent.objects.filter(action=AccessEvent.Action.LINK).exists()


@pytest.mark.django_db
def test_no_link_is_shown_for_a_submitted_intake():
    encounter = make_submitted(routine_answers())
    client = _client(_user("front_desk"))

    response = client.post(_url("link", encounter), follow=True)

    assert not LINK_IN_PAGE.search(response.content.decode())
    encounter.refresh_from_db()
    assert encounter.token_hash is None


@pytest.mark.django_db
@pytest.mark.parametrize("view", ["link", "letter"])
def test_every_link_issued_is_an_access_event(view):
    front = _user("front_desk")
    encounter = make_encounter(email="ada@example.test", preferred_channel="email")
    client = _client(front)

    client.post(_url(view, encounter))

    event = AccessEvent.objects.get()
    assert (event.encounter, event.user, event.action) == (
        encounter,
        front,
        AccessEvent.Action.LINK,
    )
    assert event.client_address == "127.0.0.1"
    encounter.refresh_from_db()
    assert encounter.token_hash is not None


@pytest.mark.django_db
def test_creating_an_encounter_sends_its_link_and_shows_none():
    """After this change no page shows a link to staff, but the printed letter's."""
    front = _user("front_desk")
    client = _client(front)

    response = client.post(
        reverse("admin:twitch_intake_encounter_add"),
        {
            "patient_name": "New Patient",
            "date_of_birth": "1975-02-03",
            "record_number": "",
            "visit_at_0": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
            "visit_at_1": "10:30:00",
            "mobile": "202 555 0143",  # the clinic's region (PHONE_REGION, "US") reads it
            "preferred_channel": "email",
            "email": "new@example.test",
        },
        follow=True,
    )

    assert not LINK_IN_PAGE.search(response.content.decode())
    encounter = Encounter.objects.get()
    assert str(encounter.mobile) == "+12025550143"
    assert list(AccessEvent.objects.values_list("encounter", "user", "action")) == [
        (encounter.pk, front.pk, "link")
    ]


@pytest.mark.django_db
def test_the_service_refuses_and_says_why():
    front = _user("front_desk")
    empty = make_encounter()
    started = make_encounter(status=Status.IN_PROGRESS, answers={"emergency-signs": ["none"]})
    submitted = make_submitted(routine_answers())

    issued = services.issue_link(empty.pk, front, "127.0.0.1")
    assert issued.token and issued.refused == ""
    for encounter, reason in (
        (started, services.LinkRefused.STARTED),
        (submitted, services.LinkRefused.SUBMITTED),
    ):
        result = services.issue_link(encounter.pk, front, "127.0.0.1")
        assert (result.token, result.refused) == ("", reason)
    assert AccessEvent.objects.count() == 1


def _wait_until_blocked_on_a_lock(other_pid: int) -> None:
    """Poll PostgreSQL until the other session waits for a row lock (no timing involved)."""
    with connections["default"].cursor() as cursor:
        for _ in range(100_000):
            cursor.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [other_pid]
            )
            row = cursor.fetchone()
            if row and row[0] == "Lock":
                return
    raise AssertionError("the link request never waited for the row lock")


@pytest.mark.django_db(transaction=True)
def test_a_patient_saving_at_the_same_moment_cannot_slip_between_check_and_issue():
    front = _user("front_desk")
    encounter = make_encounter()
    client = _client(front)
    outcome: dict[str, object] = {}

    def ask_for_a_link() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                outcome["pid"] = cursor.fetchone()[0]
            started.set()
            outcome["response"] = client.post(_url("letter", encounter), follow=True)
        finally:
            connection.close()

    started = threading.Event()
    # The patient's page save holds the row lock, its answers not yet committed ...
    with transaction.atomic():
        Encounter.objects.select_for_update().get(pk=encounter.pk)
        Encounter.objects.filter(pk=encounter.pk).update(
            answers={"emergency-signs": ["none"]},
            completed_groups=["emergency"],
            status=Status.IN_PROGRESS,
        )
        thread = threading.Thread(target=ask_for_a_link)
        thread.start()
        started.wait()
        _wait_until_blocked_on_a_lock(outcome["pid"])  # ... while front desk asks for a link
    thread.join()

    content = outcome["response"].content.decode()
    assert not LINK_IN_PAGE.search(content)
    assert REFUSED in content
    encounter.refresh_from_db()
    assert encounter.token_hash is None
    assert not AccessEvent.objects.filter(action="link").exists()
