"""Outside review of intake.js's one-round-trip posts (twitch_intake.follow), in Chromium.

Each test states the behaviour a patient needs, and each failed on the first version of the
script: a server error or a proxy's replaced the form (and what was typed), and a post that
hung left Continue doing nothing."""

from __future__ import annotations

import contextlib
import re

import pytest
from django.db import OperationalError
from playwright.sync_api import Error, Page, Route, expect

from tests.browser.steps import open_at_page, page_url, type_closing
from twitch_intake import services
from twitch_intake.models import Encounter

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TYPED = "Typed on the last page: twitching in both calves since March"


def _on_closing_page(new_page, invite) -> tuple[Encounter, Page]:
    encounter, link = invite()
    page = new_page("phone")
    open_at_page(page, link, "closing")
    return encounter, page


def test_a_post_the_app_refuses_with_its_503_keeps_what_was_typed(new_page, invite, monkeypatch):
    """The database is down for a moment: the app answers the POST with its calm 503 ("wait a
    minute, then reload this page"). Without JavaScript that reload resends the form, so the
    typing is saved; with intake.js the 503 page replaces the form and the address bar keeps
    the page's GET URL, so the reload the page asks for loses everything typed."""
    encounter, page = _on_closing_page(new_page, invite)
    notes = type_closing(page, TYPED)

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "save_page", down)
    page.get_by_role("button", name="Continue", exact=True).click()
    page.wait_for_function("() => !document.querySelector('form[aria-busy]')")

    assert "notes" not in Encounter.objects.get(pk=encounter.pk).answers
    # Nothing was saved, so what was typed must still be there to send again.
    expect(notes).to_have_value(TYPED, timeout=3000)


def test_a_gateway_error_from_a_proxy_keeps_what_was_typed(new_page, invite):
    """A 502 from the proxy in front: the POST never reached the app, so it is "not sent":
    the page and the typing stay (the first script put the proxy's page in place of the
    form, and the typing was gone)."""
    encounter, page = _on_closing_page(new_page, invite)
    notes = type_closing(page, TYPED)

    def bad_gateway(route: Route) -> None:
        route.fulfill(
            status=502,
            content_type="text/html",
            body="<html><head><title>502 Bad Gateway</title></head>"
            "<body><h1>502 Bad Gateway</h1></body></html>",
        )

    page.route("**/intake/page/closing/", bad_gateway)
    page.get_by_role("button", name="Continue", exact=True).click()

    # The answer came (the message says so) and left the page as it was.
    expect(page.get_by_role("alert").filter(has_text="This may not have been sent")).to_be_visible()
    expect(page).to_have_url(page_url("closing"))
    expect(notes).to_have_value(TYPED, timeout=3000)
    assert "notes" not in Encounter.objects.get(pk=encounter.pk).answers


def test_a_post_that_hangs_is_given_up_so_the_patient_can_send_again(new_page, invite):
    """A connection that stalls (no reset, no answer): the first script had no time limit and
    swallowed every further tap while "sending", so Continue did nothing, for minutes, with
    no sign of anything happening. Now it gives up after 20 s, says so, and Continue sends
    again."""
    encounter, page = _on_closing_page(new_page, invite)
    type_closing(page, TYPED)
    held: list[Route] = []
    page.route("**/intake/page/closing/", lambda route: held.append(route))
    button = page.get_by_role("button", name="Continue", exact=True)
    button.click()
    expect(page.locator("[data-sending-status]")).to_have_text("Sending…")
    message = page.get_by_role("alert").filter(has_text="This may not have been sent")
    expect(message).to_be_visible(timeout=30_000)
    expect(page.locator("form[aria-busy]")).to_have_count(0)

    page.unroute("**/intake/page/closing/")
    for route in held:
        with contextlib.suppress(Error):  # already given up by the page
            route.abort()
    button.click()  # back online: the same button sends it
    expect(page).to_have_url(re.compile(r"/intake/review/$"))
    assert Encounter.objects.get(pk=encounter.pk).answers["notes"] == TYPED
