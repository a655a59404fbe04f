"""An outside attack after issue 20 (patient flow, self-start, the follow header, the staff
admin), with every value posted or put in an address treated as hostile.

Each test failed on the code before its fix, and its docstring says what a patient, a walk-in
or someone holding a link did, what went wrong, and what happens instead.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from unittest import mock
from urllib.parse import urljoin

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client, override_settings
from django.utils import timezone

from tests.factories import (
    birth_date_boxes,
    emergency_answers,
    issue,
    make_encounter,
    make_submitted,
    page_data,
    routine_answers,
)
from tests.security.patient import bound_client
from tests.test_idle import _idle_for as idle_for

pytestmark = pytest.mark.django_db

PAGE = "/intake/page/{}/"
START = "/intake/start/"
CONTINUE = "/intake/continue/"
LANGUAGE = "/intake/language/"


def _language_form(html: str, page_url: str) -> tuple[str, dict[str, str]]:
    """Where the page's language switch posts (resolved as a browser would) and its hidden
    fields, as the browser would send them with the "Español" button."""
    form = re.search(r'<form class="intake-language" action="([^"]*)"(.*?)</form>', html, re.S)
    assert form is not None, "the language switch's form is on the page"
    fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
    return urljoin(page_url, form.group(1)), {**fields, "language": "es"}


def test_switching_language_on_the_link_page_names_the_token_in_no_header():
    """A patient opens their link and taps "Español" on the date-of-birth page (the language
    switch is on every patient page). Its form posted ``next=/intake/link/<token>/`` to
    ``/intake/language/``, which answered with ``Location: /intake/link/<token>/``: the link
    token, the key to the patient's intake, in a response header that proxies, CDNs and
    browser tooling may record. The app goes out of its way elsewhere never to put the token
    in a header (``views.SAME_LINK = "./"`` for every refused try, ``follow`` never draws the
    link page). The switch should come back to the link without naming the token, and still
    switch: the page after it is in Spanish, and no date-of-birth try was used up."""
    encounter = make_encounter()
    token = issue(encounter)
    client = Client(enforce_csrf_checks=True)
    url = f"/intake/link/{token}/"
    page = client.get(url)
    assert page.status_code == 200

    action, fields = _language_form(page.content.decode(), url)
    response = client.post(action, fields)

    assert response.status_code in {302, 303}
    for name, value in response.headers.items():
        assert token not in value, f"the link token is in the {name} header: {value}"
    after = client.get(urljoin(action, response["Location"]))
    assert after.status_code == 200 and after["Content-Language"] == "es"
    encounter.refresh_from_db()
    assert encounter.dob_failures == 0


@override_settings(SESSION_COOKIE_AGE=1_209_600)  # Django's default: the README's host keeps it
def test_a_refused_self_start_is_not_shown_to_the_next_walk_in_after_the_idle_limit():
    """On a clinic's shared tablet (``SELF_START``), a walk-in types their full name and date
    of birth but leaves the visit date empty, gets the error page and gives up. Hours later
    the next walk-in picks up the tablet and opens the start page: it comes back filled in
    with the first person's name and date of birth. The refused post is kept in the session
    with no time limit (``refused.keep`` for ``"start"`` stays "until a POST succeeds") and
    such a session is not a patient session, so ``IDLE_TIMEOUT`` never closes it; the
    idle-limit promise ("a phone left on a waiting-room chair must not show ... whoever picks
    it up") does not cover it. What was typed should not outlive the idle limit: after
    ``IDLE_TIMEOUT`` without activity the start page should come back empty.

    (The test site sets ``SESSION_COOKIE_AGE`` to 30 minutes, which hides this; the README's
    settings leave the host's, Django's default two weeks, and say the app sets none.)"""
    client = Client()
    refused = client.post(
        START,
        {
            "patient_name": "Zelda Walkinsecret",
            **birth_date_boxes("3", "4", "1970"),
            "visit_date": "",
        },
    )
    assert refused.status_code == 303

    later = time.time() + 5 * 3600  # past IDLE_TIMEOUT and the 4 hours a session is kept
    with (
        mock.patch("time.time", return_value=later),
        mock.patch(
            "django.utils.timezone.now", return_value=timezone.now() + dt.timedelta(hours=5)
        ),
    ):
        next_walk_in = client.get(START)

    assert next_walk_in.status_code == 200
    html = next_walk_in.content.decode()
    assert "Walkinsecret" not in html, "the previous walk-in's name is shown to the next one"
    assert "1970" not in html, "the previous walk-in's date of birth is shown to the next one"


def test_a_page_typed_after_the_idle_limit_survives_a_reload_until_it_is_saved():
    """A patient leaves their phone, comes back after ``IDLE_TIMEOUT``, answers the emergency
    page and presses Continue: the app keeps what they typed, asks for the date of birth on
    the continue page and then shows the page again with their answer, for them to check
    and send. If that page is loaded again before they press Continue (a refresh, Back then
    Forward, the phone's browser reloading a tab it discarded, or intake.js re-posting the
    continue page after a lost answer), the answer is gone: ``idle.take_typed`` deletes it on
    the first GET. A refused page's draft survives a reload ("Typed values stay until the page
    is saved (a refresh shows them again)"); this typing should too, until the page is
    saved, so that "nothing typed is lost" holds."""
    encounter = make_encounter()
    client = bound_client(encounter)
    idle_for(client, minutes=60)

    typed = client.post(PAGE.format("emergency"), page_data("emergency", routine_answers()))
    assert typed.status_code == 303 and typed["Location"] == CONTINUE
    back_in = client.post(CONTINUE, birth_date_boxes())
    assert back_in.status_code == 302 and back_in["Location"] == PAGE.format("emergency")

    ticked = re.compile(r'<input[^>]*name="emergency-signs"[^>]*value="none"[^>]*checked')
    first = client.get(PAGE.format("emergency"))
    assert ticked.search(first.content.decode()), "the typed answer is shown once"

    reloaded = client.get(PAGE.format("emergency"))
    assert ticked.search(reloaded.content.decode()), (
        "a reload of the restored page lost what the patient typed"
    )


@pytest.mark.parametrize(
    "query",
    [
        "visit_at=2026-12-01",
        "visit_at=tomorrow",
        "visit_at=2026-13-45",
        "date_of_birth=tomorrow",
        # Real times, but none in the clinic's zone (found in the second attack, 26b).
        "visit_at=0001-01-01T00:00:00%2B14:00",
        "visit_at=9999-12-31T23:59:00-12:00",
    ],
)
def test_a_date_in_the_add_page_address_is_read_or_left_out_never_a_500(query):
    """Front desk opens "Add encounter" with the visit filled in from the address, as the
    Django admin allows for any field (``?visit_at=2026-12-01``; a scheduling system's or a
    colleague's link, or a crafted one sent to the desk). The page is a 500: the visit's
    split date/time widget is given the raw string as its initial value and calls
    ``.utcoffset()`` on it (``AttributeError``). A value in the address is hostile input like
    any other, and the queue already refuses a malformed address calmly; the add page should
    too: the form with the value ignored (or parsed), or a 400, never a server error (which
    also mails the site's admins a report carrying the address's query)."""
    front_desk = User.objects.create_user("frontdesk26", password="x" * 20, is_staff=True)
    front_desk.groups.add(Group.objects.get(name="Front desk"))
    client = Client(raise_request_exception=False)
    client.force_login(front_desk)

    response = client.get(f"/admin/twitch_intake/encounter/add/?{query}")

    assert response.status_code == 200, response.status_code
    visit_date = re.search(r'<input[^>]*name="visit_at_0"[^>]*>', response.content.decode())
    assert visit_date is not None, "the form is drawn, with its visit's date box"
    if query.endswith("2026-12-01"):  # a date its field reads: filled in
        assert 'value="2026-12-01"' in visit_date.group(0), visit_date.group(0)
    else:  # not a date: left out, not shown back
        assert "value=" not in visit_date.group(0), visit_date.group(0)


def _sent_page(encounter) -> str:
    token = issue(encounter)
    html = Client().get(f"/intake/link/{token}/").content.decode()
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def test_the_link_of_a_sent_intake_looks_the_same_whatever_was_reported():
    """Someone who gets hold of a patient's link (a forwarded or shared email, a family
    member's phone, a mail scanner) but not their date of birth opens it after the patient
    has sent the form. The app shows "Your form was sent" without asking the date of birth,
    and that page differs by the patient's triage level: for a routine intake the footer
    offers "Questions? Call the clinic at 555-0100", for an emergency it does not
    (``_no_office_line(emergency)`` in ``_open_link``). So the link alone tells a stranger
    whether the patient reported an emergency sign, health information the date-of-birth
    check exists to protect. Before the date of birth is given, the sent page should be the
    same whatever the answers (e.g. the emergency-safe version for everyone, or the level
    told only after the date of birth)."""
    routine = make_submitted(routine_answers(), patient_name="Routine Patient")
    emergency = make_submitted(emergency_answers(), patient_name="Emergency Patient")

    assert _sent_page(routine) == _sent_page(emergency), (
        "the page a link shows without the date of birth differs by triage level"
    )
