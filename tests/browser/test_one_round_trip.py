"""One round trip per page with JavaScript on (``twitch_intake.follow`` and ``intake.js``), in a
real browser: Continue is one request, the address bar, Back, Forward and refresh behave as after
a redirect, and a post that never arrives loses nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Request, Route, expect

from tests.browser.steps import (
    answer_pages,
    at,
    confirm,
    fill,
    heading,
    next_page,
    open_at_page,
    page_url,
    send,
    type_closing,
)
from tests.factories import routine_answers
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _requests(page: Page) -> list[tuple[str, str, str]]:
    """Each page the browser asks for: (method, path, document or fetch), as they happen."""
    seen: list[tuple[str, str, str]] = []

    def note(request: Request) -> None:
        if request.resource_type in ("document", "fetch"):
            path = "/" + request.url.split("/", 3)[-1]
            seen.append((request.method, path, request.resource_type))

    page.on("request", note)
    return seen


def test_each_continue_is_one_request_from_the_link_to_the_thank_you_page(new_page, invite):
    encounter, link = invite()
    page = new_page("phone")
    requests = _requests(page)
    page.goto(link)
    confirm(page)
    expect(page).to_have_url(page_url("emergency"))
    answer_pages(page, routine_answers())
    send(page)

    pages = len(TWITCH_INTAKE.pages())
    assert requests[0] == ("GET", link, "document")
    # After the link's page: one POST per Start, Continue and Send, and nothing else.
    assert [method for method, _, _ in requests[1:]] == ["POST"] * (pages + 2), requests
    assert {kind for _, _, kind in requests[1:]} == {"fetch"}
    assert Encounter.objects.get(pk=encounter.pk).is_submitted


def test_the_new_page_has_its_title_and_focus_and_back_forward_and_refresh_work(new_page, invite):
    _, link = invite()
    page = new_page("phone")
    page.goto(link)
    confirm(page)
    expect(page).to_have_url(page_url("emergency"))
    fill(page, routine_answers())
    next_page(page)

    history = TWITCH_INTAKE.page("history")
    expect(page).to_have_url(page_url("history"))
    expect(page).to_have_title(re.compile("^" + re.escape(str(history.title)) + " · "))
    expect(heading(page)).to_be_focused()  # a screen reader starts at the new page's heading

    page.go_back()
    expect(page).to_have_url(page_url("emergency"))
    expect(heading(page)).to_have_text(str(TWITCH_INTAKE.page("emergency").title))
    page.go_forward()
    expect(page).to_have_url(page_url("history"))
    expect(heading(page)).to_have_text(str(history.title))

    requests = _requests(page)
    page.reload()
    expect(heading(page)).to_have_text(str(history.title))
    assert requests == [("GET", "/intake/page/history/", "document")]  # no form sent again


def test_a_post_that_never_arrives_keeps_what_was_typed_and_says_so(new_page, invite):
    encounter, link = invite()
    page = new_page("phone")
    open_at_page(page, link, "closing")

    def offline(route: Route) -> None:
        route.abort("internetdisconnected")

    page.route("**/intake/page/closing/", offline)
    notes = type_closing(page, "Typed while the train went into a tunnel")
    page.get_by_role("button", name="Continue", exact=True).click()

    message = page.get_by_role("alert").filter(has_text="This may not have been sent")
    expect(message).to_be_visible()
    expect(message).to_be_focused()
    expect(page).to_have_url(page_url("closing"))
    expect(notes).to_have_value("Typed while the train went into a tunnel")
    assert "notes" not in Encounter.objects.get(pk=encounter.pk).answers

    page.unroute("**/intake/page/closing/")
    next_page(page)  # the same button again, back online
    expect(page).to_have_url(at("/intake/review/"))
    assert Encounter.objects.get(pk=encounter.pk).answers["notes"] == (
        "Typed while the train went into a tunnel"
    )


def test_a_second_tap_on_continue_sends_nothing_more(new_page, invite):
    _, link = invite()
    page = new_page("phone")
    page.goto(link)
    confirm(page)
    fill(page, routine_answers())
    requests = _requests(page)
    held: list[Route] = []
    page.route("**/intake/page/emergency/", lambda route: held.append(route))
    button = page.get_by_role("button", name="Continue", exact=True)
    button.click()
    button.click()  # the first is still on its way
    expect(page.locator("form[aria-busy]")).to_have_count(1)
    for _ in range(100):  # the route's callback runs as the request is made
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    held[0].continue_()
    expect(page).to_have_url(page_url("history"))
    assert [r for r in requests if r[0] == "POST"] == [("POST", "/intake/page/emergency/", "fetch")]
