"""Never lose typed work: a patient's session that went idle keeps the page they then posted,
asks for the date of birth again, and shows that page with what they typed (issue 19)."""

from __future__ import annotations

import logging
import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from tests.factories import (
    birth_date_boxes,
    issue,
    make_encounter,
    page_data,
    refused_post,
    routine_answers,
)
from tests.test_views import PAGE_IDS, PAGE_URL, Page, answer_pages, sign_in
from twitch_intake.middleware import IdleSessionMiddleware
from twitch_intake.models import Encounter
from twitch_intake.views import SESSION_KEY

pytestmark = pytest.mark.django_db

CONTINUE_URL = "/intake/continue/"
MEDICINES = "propranolol 10 mg, magnesium glycinate, sertraline 50 mg"


def _idle_for(client: Client, minutes: float) -> None:
    """Pretend the session's last request was ``minutes`` ago (its row still stands: the
    session outlives the idle limit by ``idle.KEEP_FOR``)."""
    session = client.session
    session[IdleSessionMiddleware.KEY] = int(time.time() - minutes * 60)
    session.save()


def _dicts(session: dict[str, object]) -> list[dict[str, dict[str, object]]]:
    """The session's values that are dicts (where a kept page would be)."""
    return [value for value in session.values() if isinstance(value, dict)]


def _at_background(client: Client) -> Encounter:
    encounter = make_encounter()
    sign_in(client, encounter)
    answer_pages(client, routine_answers(), PAGE_IDS[: PAGE_IDS.index("background")])
    return encounter


def _typed() -> dict[str, object]:
    return page_data("background", routine_answers(medications=MEDICINES))


def test_next_after_the_idle_limit_keeps_the_page_and_shows_it_after_the_date_of_birth(caplog):
    client = Client()
    encounter = _at_background(client)
    _idle_for(client, 31)
    caplog.set_level(logging.DEBUG)

    response = client.post(PAGE_URL.format("background"), _typed())
    # Not saved on the patient's behalf, not lost, and not in the URL.
    assert response.status_code == 303
    assert response["Location"] == CONTINUE_URL
    assert "medications" not in Encounter.objects.get(pk=encounter.pk).answers
    assert SESSION_KEY not in client.session
    kept = Session.objects.get(session_key=client.session.session_key).get_decoded()
    assert [MEDICINES] in [v.get("data", {}).get("medications") for v in _dicts(kept)]

    # Closed: the page does not open, and the date of birth is asked for.
    assert client.get(PAGE_URL.format("background"))["Location"] == CONTINUE_URL
    page = Page(client.get(CONTINUE_URL))
    assert "What you typed on the last page is kept" in page.text()
    assert MEDICINES not in page.text()
    assert page.inputs("date_of_birth_day")

    wrong = Page(refused_post(client, CONTINUE_URL, birth_date_boxes("18", "5", "1980")))
    assert "You have 4 more tries." in (wrong.error("date_of_birth") or "")
    assert wrong.value("date_of_birth_day") == "18"
    assert "What you typed on the last page is kept" in wrong.text()
    # A refresh is a GET: the same message again, and no try used up.
    again = Page(client.get(CONTINUE_URL))
    assert "You have 4 more tries." in (again.error("date_of_birth") or "")
    assert Encounter.objects.get(pk=encounter.pk).dob_failures == 1
    refused_post(client, CONTINUE_URL, birth_date_boxes("", "5", "1980"))  # not a try either
    assert Encounter.objects.get(pk=encounter.pk).dob_failures == 1

    response = client.post(CONTINUE_URL, birth_date_boxes())
    assert response["Location"] == PAGE_URL.format("background")
    page = Page(client.get(PAGE_URL.format("background")))
    assert page.value("medications") == MEDICINES
    assert "What you typed on this page is shown again" in page.text()
    assert "medications" not in Encounter.objects.get(pk=encounter.pk).answers

    # Shown once: Next saves it as any page.
    response = client.post(PAGE_URL.format("background"), _typed())
    assert response["Location"] == PAGE_URL.format("conditions")
    assert Encounter.objects.get(pk=encounter.pk).answers["medications"] == MEDICINES
    assert "shown again" not in Page(client.get(PAGE_URL.format("background"))).text()
    assert all(MEDICINES not in record.getMessage() for record in caplog.records)


def test_an_active_session_is_not_closed_and_each_page_says_when_it_would_close():
    client = Client()
    _at_background(client)
    _idle_for(client, 29)
    page = Page(client.get(PAGE_URL.format("background")))
    assert page.inputs("medications")
    assert "this form closes after 30 minutes without use" in page.text()
    assert client.post(PAGE_URL.format("background"), _typed()).status_code == 302


def test_a_replaced_link_leaves_no_way_back_and_says_so():
    client = Client()
    encounter = _at_background(client)
    _idle_for(client, 31)
    client.post(PAGE_URL.format("background"), _typed())
    encounter.refresh_from_db()
    issue(encounter)  # the clinic sent a new link: sessions of the old one end
    response = refused_post(client, CONTINUE_URL, birth_date_boxes())
    assert response.status_code == 403
    assert "Please open your link again" in Page(response).text()
    assert all("medications" not in v.get("data", {}) for v in _dicts(dict(client.session)))
    assert client.get(PAGE_URL.format("background")).status_code == 403


def test_with_no_session_at_all_the_page_says_plainly_what_was_lost():
    sent = Page(Client().post(PAGE_URL.format("background"), _typed()))
    assert "Your form has closed" in sent.text()
    assert "What you typed on the last page could not be kept" in sent.text()
    assert "Your answers so far are saved" not in sent.text()
    opened = Page(Client().get(PAGE_URL.format("background")))
    assert "could not be kept" not in opened.text()
    assert "The answers on the pages you finished are saved." in opened.text()


def test_the_continue_page_without_a_closed_session_opens_nothing():
    response = Client().post(CONTINUE_URL, birth_date_boxes())
    assert response.status_code == 403
    assert "Please open your link again" in Page(response).text()


def test_the_kept_page_is_only_for_the_page_it_was_typed_on():
    client = Client()
    encounter = _at_background(client)
    _idle_for(client, 31)
    assert client.post(PAGE_URL.format("background"), _typed())["Location"] == CONTINUE_URL
    assert client.post(CONTINUE_URL, birth_date_boxes())["Location"] == PAGE_URL.format(
        "background"
    )
    # Another page first: nothing of the kept one shows there, and it waits for its own.
    history = Page(client.get(PAGE_URL.format("history")))
    assert MEDICINES not in history.text()
    assert Page(client.get(PAGE_URL.format("background"))).value("medications") == MEDICINES
    assert Encounter.objects.get(pk=encounter.pk).dob_failures == 0
