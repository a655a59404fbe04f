"""One round trip per page for intake.js (``twitch_intake.follow``): a POST it sends is answered
with the page the redirect names; every other client still gets the redirect."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import (
    PAGE_IDS,
    birth_date_boxes,
    emergency_answers,
    issue,
    make_encounter,
    page_data,
    routine_answers,
)
from tests.test_idle import _idle_for
from tests.test_views import PAGE_URL, REVIEW_URL, THANKS_URL, answer_pages, sign_in
from twitch_intake import follow, views
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = pytest.mark.django_db

FOLLOW = {follow.REQUEST_HEADER: "1"}


def _title(response) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", response.content.decode(), re.S)
    assert found, "no heading on the page"
    return found.group(1).strip()


def _headers_text(response) -> str:
    return "\n".join(f"{k}: {v}" for k, v in response.items()) + str(response.cookies)


def test_a_saved_page_is_answered_with_the_next_page_and_its_path():
    client = Client()
    encounter = make_encounter()
    sign_in(client, encounter)
    data = page_data("emergency", routine_answers())

    response = client.post(PAGE_URL.format("emergency"), data, headers=FOLLOW)

    assert response.status_code == 200
    assert response[follow.LOCATION_HEADER] == PAGE_URL.format("history")
    assert _title(response) == TWITCH_INTAKE.page("history").title
    assert "Location" not in response
    encounter.refresh_from_db()
    assert encounter.answers["emergency-signs"] == ["none"]
    # The page drawn in place carries the app's headers, as its own GET would.
    assert response["Cache-Control"].startswith("max-age=0")
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_without_the_header_every_post_is_still_a_redirect():
    client = Client()
    sign_in(client, make_encounter())
    data = page_data("emergency", routine_answers())

    response = client.post(PAGE_URL.format("emergency"), data)

    assert response.status_code == 302
    assert response["Location"] == PAGE_URL.format("history")
    assert follow.LOCATION_HEADER not in response


def test_a_get_with_the_header_is_an_ordinary_get():
    client = Client()
    sign_in(client, make_encounter())
    response = client.get(PAGE_URL.format("emergency"), headers=FOLLOW)
    assert response.status_code == 200
    assert follow.LOCATION_HEADER not in response


def test_a_refused_page_comes_back_with_its_errors_and_what_was_typed_and_saves_nothing():
    client = Client()
    encounter = make_encounter()
    sign_in(client, encounter)
    answer_pages(client, routine_answers(), PAGE_IDS[: PAGE_IDS.index("background")])
    typed = {**page_data("background", routine_answers()), "medications": "x" * 2001}

    response = client.post(PAGE_URL.format("background"), typed, headers=FOLLOW)

    assert response.status_code == 200
    assert response[follow.LOCATION_HEADER] == PAGE_URL.format("background")
    body = response.content.decode()
    assert "There is a problem" in body
    assert "x" * 2001 in body  # what was typed, back in its box
    encounter.refresh_from_db()
    assert "medications" not in encounter.answers
    # What the address bar then holds is the page's GET, which a refresh repeats, typing kept.
    again = client.get(response[follow.LOCATION_HEADER])
    assert "x" * 2001 in again.content.decode()


def test_the_date_of_birth_opens_the_first_page_with_no_token_in_any_header():
    client = Client()
    encounter = make_encounter()
    token = issue(encounter)

    response = client.post(f"/intake/link/{token}/", birth_date_boxes(), headers=FOLLOW)

    assert response.status_code == 200
    assert response[follow.LOCATION_HEADER] == PAGE_URL.format(PAGE_IDS[0])
    assert token not in _headers_text(response)
    assert _title(response) == TWITCH_INTAKE.page(PAGE_IDS[0]).title
    # The new page says when the form closes, as the GET after the redirect would.
    assert "this form closes after" in response.content.decode()
    # The session is bound: the next page posts as any other.
    saved = client.post(
        PAGE_URL.format("emergency"), page_data("emergency", routine_answers()), headers=FOLLOW
    )
    assert saved[follow.LOCATION_HEADER] == PAGE_URL.format("history")


def test_an_intake_begun_in_spanish_carries_on_in_spanish_from_the_first_page():
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    encounter = make_encounter(language="es")
    token = issue(encounter)

    response = client.post(f"/intake/link/{token}/", birth_date_boxes(), headers=FOLLOW)

    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    assert response["Content-Language"] == "es"
    assert '<html lang="es">' in response.content.decode()


def test_a_wrong_date_is_not_drawn_in_place_so_no_header_holds_the_token():
    client = Client()
    token = issue(make_encounter())

    response = client.post(f"/intake/link/{token}/", birth_date_boxes(day="18"), headers=FOLLOW)

    assert response.status_code == 303
    assert response["Location"] == "./"
    assert token not in _headers_text(response)


def test_the_language_switch_is_not_followed():
    client = Client()
    sign_in(client, make_encounter())
    response = client.post(
        "/intake/language/",
        {"language": "es", "next": PAGE_URL.format("emergency")},
        headers=FOLLOW,
    )
    assert response.status_code == 302
    assert follow.LOCATION_HEADER not in response


def test_an_emergency_sign_is_answered_with_the_get_care_page_at_once():
    client = Client()
    encounter = make_encounter()
    sign_in(client, encounter)

    response = client.post(
        PAGE_URL.format("emergency"), page_data("emergency", emergency_answers()), headers=FOLLOW
    )

    assert response[follow.LOCATION_HEADER] == "/intake/get-care-now/"
    assert "Call" in response.content.decode()
    encounter.refresh_from_db()
    assert encounter.emergency_reported_at is not None


def test_send_is_answered_with_the_thank_you_page():
    client = Client()
    encounter = make_encounter()
    sign_in(client, encounter)
    answer_pages(client, routine_answers(), PAGE_IDS)
    review = client.get(REVIEW_URL)
    assert review.status_code == 200

    response = client.post("/intake/submit/", headers=FOLLOW)

    assert response[follow.LOCATION_HEADER] == THANKS_URL
    encounter.refresh_from_db()
    assert encounter.is_submitted


def test_the_header_does_not_get_past_the_csrf_check():
    client = Client(enforce_csrf_checks=True)
    encounter = make_encounter()
    token = issue(encounter)
    client.get(f"/intake/link/{token}/")

    response = client.post(f"/intake/link/{token}/", birth_date_boxes(), headers=FOLLOW)

    assert response.status_code == 403
    assert follow.LOCATION_HEADER not in response


def test_the_page_drawn_in_place_holds_a_csrf_token_that_the_next_post_passes_with():
    client = Client(enforce_csrf_checks=True)
    encounter = make_encounter()
    token = issue(encounter)
    link = client.get(f"/intake/link/{token}/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', link.content.decode())
    assert csrf
    first = client.post(
        f"/intake/link/{token}/",
        {"csrfmiddlewaretoken": csrf.group(1), **birth_date_boxes()},
        headers=FOLLOW,
    )
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', first.content.decode())
    assert csrf

    saved = client.post(
        PAGE_URL.format("emergency"),
        {"csrfmiddlewaretoken": csrf.group(1), **page_data("emergency", routine_answers())},
        headers=FOLLOW,
    )

    assert saved.status_code == 200
    assert saved[follow.LOCATION_HEADER] == PAGE_URL.format("history")


def test_a_post_after_the_idle_limit_is_answered_with_the_date_of_birth_page():
    client = Client()
    encounter = make_encounter()
    sign_in(client, encounter)
    _idle_for(client, 31)

    response = client.post(
        PAGE_URL.format("emergency"), page_data("emergency", routine_answers()), headers=FOLLOW
    )

    assert response.status_code == 200
    assert response[follow.LOCATION_HEADER] == "/intake/continue/"
    assert "date of birth" in response.content.decode().lower()
    assert "emergency-signs" not in Encounter.objects.get(pk=encounter.pk).answers


def test_a_post_with_no_session_is_the_closed_page_where_it_was_posted():
    response = Client().post(
        PAGE_URL.format("emergency"), page_data("emergency", routine_answers()), headers=FOLLOW
    )
    assert response.status_code == 403
    assert follow.LOCATION_HEADER not in response


def test_the_page_after_a_save_is_drawn_from_the_row_the_save_left():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = Client()
    sign_in(client, make_encounter())
    data = page_data("emergency", routine_answers())

    with CaptureQueriesContext(connection) as captured:
        response = client.post(PAGE_URL.format("emergency"), data, headers=FOLLOW)

    assert response[follow.LOCATION_HEADER] == PAGE_URL.format("history")
    reads = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith("SELECT") and 'FROM "twitch_intake_encounter"' in q["sql"]
    ]
    # The view's own read and the save's locked one; the page drawn next reads neither again.
    assert len(reads) == 2, reads
    assert sum("FOR UPDATE" in sql for sql in reads) == 1


def test_a_page_that_fails_to_draw_leaves_the_save_done_and_the_redirect_to_follow(
    monkeypatch, caplog
):
    client = Client()
    encounter = make_encounter()
    token = issue(encounter)

    def broken(*args, **kwargs):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(views, "_render_page", broken)
    signed_in = client.post(f"/intake/link/{token}/", birth_date_boxes(), headers=FOLLOW)
    saved = client.post(
        PAGE_URL.format("emergency"), page_data("emergency", routine_answers()), headers=FOLLOW
    )

    # What the POST did stands, and says so: the sign-in's session cookie is set, the page is
    # saved, and the browser is sent on as without the script, to GET the page itself.
    assert signed_in.status_code == 302
    assert signed_in["Location"] == PAGE_URL.format("emergency")
    assert settings.SESSION_COOKIE_NAME in signed_in.cookies
    assert saved.status_code == 302
    assert saved["Location"] == PAGE_URL.format("history")
    encounter.refresh_from_db()
    assert encounter.answers["emergency-signs"] == ["none"]
    assert "RuntimeError" in caplog.text
    assert token not in caplog.text
    monkeypatch.undo()
    assert client.get(saved["Location"]).status_code == 200


def test_the_drawn_page_renews_the_csrf_cookie_as_its_own_get_would():
    client = Client()
    sign_in(client, make_encounter())
    plain = client.get(PAGE_URL.format("emergency"))
    assert settings.CSRF_COOKIE_NAME in plain.cookies  # what the GET after a redirect sends

    drawn = client.post(
        PAGE_URL.format("emergency"), page_data("emergency", routine_answers()), headers=FOLLOW
    )

    assert drawn[follow.LOCATION_HEADER] == PAGE_URL.format("history")
    assert settings.CSRF_COOKIE_NAME in drawn.cookies
