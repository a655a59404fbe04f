"""The date of birth in day, month and year boxes (GOV.UK date input), the tries left after a
wrong one, and the page that says how long a locked link waits."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from tests.factories import birth_date_boxes, issue, make_encounter, refused_post
from tests.test_views import PAGE_URL, Page
from twitch_intake import services
from twitch_intake.forms import ConfirmBirthDateForm, SelfStartForm
from twitch_intake.models import Encounter, RateLimitCounter

BOXES = ("date_of_birth_day", "date_of_birth_month", "date_of_birth_year")


# --- The form: GOV.UK's messages, only the wrong boxes marked, what was typed kept ----------


def _marked(form: ConfirmBirthDateForm) -> set[str]:
    html = form.as_div() if not hasattr(form, "helper") else _render(form)
    page = Page(type("R", (), {"content": html.encode()})())
    return {name for name in BOXES if page.inputs(name)[0].attrs.get("aria-invalid") == "true"}


def _render(form: ConfirmBirthDateForm) -> str:
    from crispy_forms.utils import render_crispy_form

    return str(render_crispy_form(form))


@pytest.mark.parametrize(
    ("typed", "message", "marked"),
    [
        (("", "", ""), "Enter your date of birth.", set(BOXES)),
        (("3", "", "1980"), "Date of birth must include a month", {"date_of_birth_month"}),
        (
            ("", "", "1980"),
            "Date of birth must include a day and month",
            {"date_of_birth_day", "date_of_birth_month"},
        ),
        (("3", "3", "80"), "Year must include 4 numbers", {"date_of_birth_year"}),
        (("3", "13", "1980"), "Date of birth must be a real date", {"date_of_birth_month"}),
        (("31", "2", "1980"), "Date of birth must be a real date", set(BOXES)),
        (("1", "1", "2999"), "Date of birth must be in the past", set(BOXES)),
        (("31", "12", "1899"), "must be the same as or after 1 January 1900", set(BOXES)),
    ],
)
def test_each_problem_is_told_as_gov_uk_does_and_marks_only_its_boxes(typed, message, marked):
    form = ConfirmBirthDateForm(birth_date_boxes(*typed))
    assert not form.is_valid()
    assert message in form.errors["date_of_birth"][0]
    assert _marked(form) == marked
    page = Page(type("R", (), {"content": _render(form).encode()})())
    # What was typed comes back as typed, in its own box.
    assert [page.value(name) for name in BOXES] == list(typed)
    assert message in (page.error("date_of_birth") or "")


def test_the_boxes_are_labelled_numeric_and_autofilled_as_a_birthday():
    page = Page(type("R", (), {"content": _render(ConfirmBirthDateForm()).encode()})())
    for name, part, width in zip(BOXES, ("day", "month", "year"), (2, 2, 4), strict=True):
        (box,) = page.inputs(name)
        assert box.attrs["type"] == "text"
        assert box.attrs["inputmode"] == "numeric"
        assert box.attrs["autocomplete"] == f"bday-{part}"
        assert f"date-input-{width}" in box.classes()
        labels = [n for n in page.root.iter() if n.tag == "label" and n.attrs.get("for")]
        assert any(label.attrs["for"] == box.attrs["id"] for label in labels)
    assert "For example, 27 3 1980" in page.text()
    legend = [n for n in page.root.iter() if n.tag == "legend"]
    assert legend and "Your date of birth" in legend[0].text()


def test_self_start_asks_for_the_date_of_birth_in_boxes_too():
    form = SelfStartForm(
        {"patient_name": "Walk In", "visit_date": timezone.localdate().isoformat()}
        | birth_date_boxes("4", "mar", "1975")
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["date_of_birth"] == dt.date(1975, 3, 4)
    form = SelfStartForm({"patient_name": "Walk In"} | birth_date_boxes("4", "", "1975"))
    assert not form.is_valid()
    assert form.errors["date_of_birth"] == ["Date of birth must include a month"]


# --- The link: tries left, and how long it is locked ----------------------------------------


@pytest.mark.django_db
def test_the_link_page_takes_the_boxes_and_signs_in():
    encounter = make_encounter()
    token = issue(encounter)
    client = Client()
    page = Page(client.get(f"/intake/link/{token}/"))
    assert all(page.inputs(name) for name in BOXES)
    response = client.post(f"/intake/link/{token}/", birth_date_boxes("17", "May", "1980"))
    assert response["Location"] == PAGE_URL.format("emergency")


@pytest.mark.django_db
def test_a_wrong_date_says_how_many_tries_are_left_and_keeps_what_was_typed(settings):
    encounter = make_encounter()
    token = issue(encounter)
    client = Client()
    for left in (4, 3, 2, 1):
        response = refused_post(
            client, f"/intake/link/{token}/", birth_date_boxes("18", "5", "1980")
        )
        page = Page(response)
        word = "try" if left == 1 else "tries"
        assert f"You have {left} more {word}." in (page.error("date_of_birth") or "")
        assert [page.value(name) for name in BOXES] == ["18", "5", "1980"]
    # A date the form refuses ("must be in the past") is not a try against the link.
    future = refused_post(client, f"/intake/link/{token}/", birth_date_boxes("1", "1", "2999"))
    assert "must be in the past" in (Page(future).error("date_of_birth") or "")
    assert [Page(future).value(name) for name in BOXES] == ["1", "1", "2999"]
    assert Encounter.objects.get(pk=encounter.pk).dob_failures == 4


@pytest.mark.django_db
def test_a_wrong_date_is_shown_again_only_to_its_browser_and_only_on_its_link():
    """What a refused try typed waits in the session under the link's hash: another browser,
    or this one on another link, sees the empty form; the token is in no kept value."""
    encounter, other_encounter = make_encounter(), make_encounter()
    token, other_token = issue(encounter), issue(other_encounter)
    client = Client()
    refused_post(client, f"/intake/link/{token}/", birth_date_boxes("18", "5", "1980"))
    for who, link in ((Client(), token), (client, other_token)):
        page = Page(who.get(f"/intake/link/{link}/"))
        assert page.error("date_of_birth") is None
        assert [page.value(name) for name in BOXES] == ["", "", ""]
    assert token not in str(dict(client.session.items()))
    # Back on its own link: still there (a refresh), until the right date is accepted.
    again = Page(client.get(f"/intake/link/{token}/"))
    assert "You have 4 more tries." in (again.error("date_of_birth") or "")
    assert client.post(f"/intake/link/{token}/", birth_date_boxes()).status_code == 302
    assert "twitch_intake_refused" not in client.session


@pytest.mark.django_db
def test_the_lock_page_says_how_long_right_after_the_last_try_and_later():
    encounter = make_encounter()
    token = issue(encounter)
    client = Client()
    for _ in range(4):
        client.post(f"/intake/link/{token}/", birth_date_boxes("18", "5", "1980"))
    response = refused_post(client, f"/intake/link/{token}/", birth_date_boxes("18", "5", "1980"))
    assert response.status_code == 404
    text = Page(response).text()
    assert "paused" in text
    assert "Try again in 15 minutes" in text
    locked_until = Encounter.objects.get(pk=encounter.pk).locked_until
    assert locked_until is not None
    clock = timezone.localtime(locked_until)
    assert f"after {clock.strftime('%-I:%M')}" in text  # in the clinic's zone, not UTC

    # Later, the same browser opening the link again: the time left, rounded up.
    Encounter.objects.filter(pk=encounter.pk).update(
        locked_until=timezone.now() + dt.timedelta(minutes=6, seconds=10)
    )
    text = Page(client.get(f"/intake/link/{token}/")).text()
    assert "Try again in 7 minutes" in text
    # ... and the right date while locked: still the lock page, and no session.
    response = refused_post(client, f"/intake/link/{token}/", birth_date_boxes())
    assert "Try again in 7 minutes" in Page(response).text()
    assert client.get(PAGE_URL.format("emergency")).status_code == 403

    # Once the lock ends, the right date works again.
    Encounter.objects.filter(pk=encounter.pk).update(
        locked_until=timezone.now() - dt.timedelta(seconds=1)
    )
    response = client.post(f"/intake/link/{token}/", birth_date_boxes())
    assert response["Location"] == PAGE_URL.format("emergency")


@pytest.mark.django_db
def test_a_browser_that_made_no_wrong_try_sees_a_locked_link_as_any_unusable_link():
    encounter = make_encounter()
    token = issue(encounter)
    guesser = Client()
    for _ in range(5):
        guesser.post(f"/intake/link/{token}/", birth_date_boxes("18", "5", "1980"))
    other = Client()
    locked = other.get(f"/intake/link/{token}/")
    unknown = other.get("/intake/link/not-a-real-token/")
    assert locked.status_code == unknown.status_code == 404
    assert "Try again in" not in Page(locked).text()
    assert "twitch_intake/link_unusable.html" in [t.name for t in locked.templates]


@pytest.mark.django_db
def test_a_locked_link_that_has_also_expired_has_nothing_to_wait_for():
    encounter = make_encounter()
    token = issue(encounter)
    client = Client()
    for _ in range(5):
        client.post(f"/intake/link/{token}/", birth_date_boxes("18", "5", "1980"))
    Encounter.objects.filter(pk=encounter.pk).update(
        token_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    for response in (
        client.get(f"/intake/link/{token}/"),
        refused_post(client, f"/intake/link/{token}/", birth_date_boxes()),
    ):
        assert "twitch_intake/link_unusable.html" in [t.name for t in response.templates]
        assert "Try again in" not in Page(response).text()


@pytest.mark.django_db
def test_each_lock_lasts_twice_the_one_before_up_to_a_day_until_the_right_date(settings):
    """Someone holding a link (a forwarded email) guesses dates of birth. With a lock of the same
    15 minutes every time, five guesses a quarter hour for the link's two weeks were 6,720
    dates: every day of a decade. Each lock now lasts twice the one before, up to a day, so
    the same two weeks give about a hundred; the right date resets it for the patient."""
    encounter = make_encounter()
    token = issue(encounter)
    client = Client()
    url = f"/intake/link/{token}/"
    wrong = birth_date_boxes("18", "5", "1980")

    def lock_once() -> dt.timedelta:
        # From a new address each time, as a guesser would: the client's own rate limit
        # (20 tries a quarter hour) is not what is tested here.
        RateLimitCounter.objects.all().delete()
        for _ in range(5):
            client.post(url, wrong)
        locked = Encounter.objects.get(pk=encounter.pk).locked_until
        assert locked is not None
        length = locked - timezone.now()
        # The lock has ended (as if waited out): the next five guesses may be made.
        Encounter.objects.filter(pk=encounter.pk).update(
            locked_until=timezone.now() - dt.timedelta(seconds=1)
        )
        return length

    minutes = [round(lock_once().total_seconds() / 60) for _ in range(9)]
    assert minutes == [15, 30, 60, 120, 240, 480, 960, 1440, 1440]

    # The lock page of a long lock names the time and the day, not a count of minutes.
    RateLimitCounter.objects.all().delete()
    for _ in range(5):
        client.post(url, wrong)
    locked_until = timezone.localtime(Encounter.objects.get(pk=encounter.pk).locked_until)
    text = Page(client.get(url)).text()
    assert "Try again after" in text and "minutes" not in text
    assert locked_until.strftime("%-I:%M") in text
    assert f"{locked_until.strftime('%b')}. {locked_until.day}," in text or (
        f"{locked_until.strftime('%B')} {locked_until.day}," in text
    )

    # The right date, once the lock ends: the patient is in, and the next lock is short again.
    Encounter.objects.filter(pk=encounter.pk).update(
        locked_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert client.post(url, birth_date_boxes())["Location"] == PAGE_URL.format("emergency")
    assert Encounter.objects.get(pk=encounter.pk).dob_lockouts == 0
    assert round(lock_once().total_seconds() / 60) == 15


@pytest.mark.django_db
def test_a_new_link_starts_with_a_short_lock_again():
    encounter = make_encounter()
    token = issue(encounter)
    client = Client()
    for _ in range(10):  # two locks, each waited out
        client.post(f"/intake/link/{token}/", birth_date_boxes("18", "5", "1980"))
        Encounter.objects.filter(pk=encounter.pk).update(locked_until=None)
    assert Encounter.objects.get(pk=encounter.pk).dob_lockouts == 2
    new_token = issue(Encounter.objects.get(pk=encounter.pk))  # as staff send a new one
    assert new_token != token
    assert Encounter.objects.get(pk=encounter.pk).dob_lockouts == 0


@pytest.mark.django_db
def test_a_date_of_birth_corrected_by_the_clinic_opens_a_locked_link():
    """The clinic had the date wrong: the patient's five true dates locked the link, they call,
    front desk corrects the date in the admin. The link opens again at once (the tries were
    against a date that was not theirs), and its next lock is a short one."""
    encounter = make_encounter(date_of_birth=dt.date(1980, 5, 18))  # the clinic's typo
    token = issue(encounter)
    client = Client()
    for _ in range(10):  # two locks, the first waited out
        client.post(f"/intake/link/{token}/", birth_date_boxes())  # the true date, 17 May
        if Encounter.objects.get(pk=encounter.pk).dob_lockouts == 1:
            Encounter.objects.filter(pk=encounter.pk).update(locked_until=None)
    locked = Encounter.objects.get(pk=encounter.pk)
    assert locked.locked_until is not None and locked.dob_lockouts == 2

    desk = User.objects.create_user("desk-dob", is_staff=True)
    locked.date_of_birth = dt.date(1980, 5, 17)
    services.save_patient_details(locked, ["date_of_birth"], desk, None, may_change_identity=False)
    after = Encounter.objects.get(pk=encounter.pk)
    assert (after.locked_until, after.dob_lockouts, after.dob_failures) == (None, 0, 0)
    response = client.post(f"/intake/link/{token}/", birth_date_boxes())
    assert response["Location"] == PAGE_URL.format("emergency")


@pytest.mark.django_db
def test_other_details_saved_by_the_clinic_leave_a_lock_alone():
    encounter = make_encounter()
    token = issue(encounter)
    for _ in range(5):
        Client().post(f"/intake/link/{token}/", birth_date_boxes("18", "5", "1980"))
    locked = Encounter.objects.get(pk=encounter.pk)
    until = locked.locked_until
    assert until is not None
    locked.patient_name = "Renamed Patient"
    desk = User.objects.create_user("desk-name", is_staff=True)
    services.save_patient_details(locked, ["patient_name"], desk, None, may_change_identity=False)
    assert Encounter.objects.get(pk=encounter.pk).locked_until == until


@pytest.mark.django_db
def test_front_desk_sees_until_when_a_link_is_paused(client):
    """A patient calls: "my link says it is paused". The encounter's page tells front desk until
    when, so they can say so, correct the date of birth or send a new link."""
    encounter = make_encounter()
    token = issue(encounter)
    desk = User.objects.create_user("desk-paused", password="x" * 20, is_staff=True)
    desk.groups.add(Group.objects.get(name="Front desk"))
    client.force_login(desk)
    page = f"/admin/twitch_intake/encounter/{encounter.pk}/change/"
    assert "paused until" not in client.get(page).content.decode()

    for _ in range(5):
        Client().post(f"/intake/link/{token}/", birth_date_boxes("18", "5", "1980"))
    locked_until = Encounter.objects.get(pk=encounter.pk).locked_until
    assert locked_until is not None
    html = client.get(page).content.decode()
    until = timezone.localtime(locked_until).strftime("%H:%M")
    assert "paused until" in html and until in html
