"""Outside review of twitch_intake.follow (X-Intake-Follow): server-side guards.

These passed on the reviewed code; they pin what an attacker would try first."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client, override_settings
from django.test.utils import override_script_prefix

from tests.factories import birth_date_boxes, issue, make_encounter, page_data, routine_answers
from tests.test_idle import _idle_for
from tests.test_views import PAGE_URL, sign_in
from twitch_intake import follow

pytestmark = pytest.mark.django_db

FOLLOW = {follow.REQUEST_HEADER: "1"}
HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options")


def _everything_but_the_body(response) -> str:
    return "\n".join(f"{k}: {v}" for k, v in response.items()) + response.cookies.output()


def test_the_session_key_is_cycled_and_the_old_one_dead_when_the_page_is_drawn_in_place():
    client = Client()
    encounter = make_encounter()
    token = issue(encounter)
    client.get(f"/intake/link/{token}/")
    session = client.session
    session["planted"] = 1  # a session an attacker could have fixed in this browser
    session.save()
    planted = client.cookies[settings.SESSION_COOKIE_NAME].value

    response = client.post(f"/intake/link/{token}/", birth_date_boxes(), headers=FOLLOW)

    assert response.status_code == 200
    assert response.cookies[settings.SESSION_COOKIE_NAME].value != planted
    assert not Session.objects.filter(session_key=planted).exists()
    assert (
        Client(cookies={settings.SESSION_COOKIE_NAME: planted})
        .get(PAGE_URL.format("emergency"))
        .status_code
        == 403
    )


def test_no_link_token_in_a_header_a_cookie_or_a_log_line_of_a_followed_flow(caplog):
    caplog.set_level(logging.DEBUG)
    client = Client()
    encounter = make_encounter()
    token = issue(encounter)
    answers = [
        client.post(f"/intake/link/{token}/", birth_date_boxes(day="3"), headers=FOLLOW),
        client.post(f"/intake/link/{token}/", birth_date_boxes(), headers=FOLLOW),
        client.post(
            PAGE_URL.format("emergency"), page_data("emergency", routine_answers()), headers=FOLLOW
        ),
    ]
    for response in answers:
        assert token not in _everything_but_the_body(response)
        assert "/link/" not in response.get(follow.LOCATION_HEADER, "")
    assert all(token not in record.getMessage() for record in caplog.records)


def test_a_followed_page_under_a_script_name_keeps_the_prefix_and_every_header():
    client = Client(SCRIPT_NAME="/clinic")
    encounter = make_encounter()
    token = issue(encounter)
    with override_script_prefix("/clinic/"):
        client.post(f"/intake/link/{token}/", birth_date_boxes(), headers=FOLLOW)
        response = client.post(
            PAGE_URL.format("emergency"),
            page_data("emergency", routine_answers()),
            headers=FOLLOW,
        )
    assert response[follow.LOCATION_HEADER] == "/clinic/intake/page/history/"
    assert all(response.has_header(name) for name in HEADERS)
    assert "no-store" in response["Cache-Control"]


@override_settings(ROOT_URLCONF="tests.host_urls")
def test_under_a_host_prefix_and_namespace_only_the_intake_is_drawn():
    client = Client()
    encounter = make_encounter()
    token = issue(encounter)
    response = client.post(f"/patients/link/{token}/", birth_date_boxes(), headers=FOLLOW)
    assert response[follow.LOCATION_HEADER] == "/patients/page/emergency/"
    assert all(response.has_header(name) for name in HEADERS)


def test_the_continue_page_locks_after_the_same_tries_with_and_without_the_header():
    def tries(headers) -> list[int]:
        client = Client()
        sign_in(client, make_encounter())
        _idle_for(client, 31)
        seen = []
        for _ in range(6):
            response = client.post(
                "/intake/continue/", birth_date_boxes(day="3"), follow=True, headers=headers
            )
            seen.append(response.status_code)
        return seen

    assert tries(FOLLOW) == tries({})


def test_the_header_from_another_site_without_a_token_is_refused():
    signed_in = Client()
    sign_in(signed_in, encounter := make_encounter())
    client = Client(enforce_csrf_checks=True)
    client.cookies = signed_in.cookies  # the patient's own browser, its session open
    assert client.get(PAGE_URL.format("emergency")).status_code == 200
    response = client.post(
        PAGE_URL.format("emergency"),
        page_data("emergency", routine_answers()),
        headers={**FOLLOW, "Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert follow.LOCATION_HEADER not in response
    encounter.refresh_from_db()
    assert "emergency-signs" not in encounter.answers
