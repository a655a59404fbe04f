"""What a patient or a clinician does in the browser, by label, as a person would find it."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext
from playwright.sync_api import Locator, Page, expect

from tests.factories import routine_answers
from twitch_intake.questionnaire import TWITCH_INTAKE, ItemType

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
DATE_OF_BIRTH = "1980-05-17"  # make_encounter's
PASSWORD = "correct horse battery staple"
PAGE_IDS = [p.slug for p in TWITCH_INTAKE.pages()]


def at(path: str) -> re.Pattern[str]:
    """A URL pattern for ``expect(page).to_have_url``: this path on the live server."""
    return re.compile("^https?://[^/]+" + re.escape(path) + "$")


def page_url(slug: str) -> re.Pattern[str]:
    return at(f"/intake/page/{slug}/")


def heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


def current_page(page: Page) -> str:
    match = re.search(r"/intake/page/([a-z-]+)/$", page.url)
    assert match, f"not on a page of the intake: {page.url}"
    return match.group(1)


# --- The patient ----------------------------------------------------------------------------


def type_birth_date(
    page: Page, date_of_birth: str = DATE_OF_BIRTH, question: str = "Your date of birth"
) -> None:
    """Type a date of birth (ISO, as the factories hold it) into the day, month and year
    boxes of ``question`` (in the page's language), as a patient would: "5", not "05"."""
    year, month, day = date_of_birth.split("-")
    boxes = page.get_by_role("group", name=question)
    boxes.get_by_label(gettext("Day"), exact=True).fill(str(int(day)))
    boxes.get_by_label(gettext("Month"), exact=True).fill(str(int(month)))
    boxes.get_by_label(gettext("Year"), exact=True).fill(year)


def confirm(page: Page, date_of_birth: str = DATE_OF_BIRTH) -> None:
    """On the link's page: give the date of birth and press Start."""
    type_birth_date(page, date_of_birth)
    page.get_by_role("button", name="Start").click()
    settle(page)


def fill(page: Page, answers: dict[str, Any], next_button: str = "Continue") -> None:
    """Answer the questions the current page shows, by their labels (in the active language:
    ``next_button`` is its word for Continue)."""
    page.wait_for_load_state("domcontentloaded")
    expect(page.get_by_role("button", name=next_button)).to_be_visible()  # the whole form is there
    for question in TWITCH_INTAKE.page(current_page(page)).questions:
        block = page.locator(f"#div_id_{question.link_id}")
        if question.link_id not in answers or not block.is_visible():
            continue
        value = answers[question.link_id]
        if question.type is ItemType.BOOLEAN:
            block.get_by_label(gettext("Yes") if value else gettext("No"), exact=True).check()
        elif question.type is ItemType.CHOICE:
            for code in value if question.repeats else [value]:
                block.get_by_label(str(question.label(code)), exact=True).check()
        else:
            block.get_by_label(str(question.text)).fill(value)


def settle(page: Page) -> None:
    """Wait until a form intake.js posts has been answered and its page shown (nothing to wait
    for without JavaScript: the click waited for the page to load)."""
    page.wait_for_function("() => !document.querySelector('form[aria-busy]')")


def next_page(page: Page) -> None:
    page.get_by_role("button", name="Continue", exact=True).click()
    settle(page)


def answer_pages(page: Page, answers: dict[str, Any]) -> None:
    """From the current page of the intake, answer each page and go on to the review."""
    while not page.url.endswith("/intake/review/"):
        slug = current_page(page)
        fill(page, answers)
        next_page(page)
        expect(page).not_to_have_url(page_url(slug))
    expect(heading(page)).to_have_text("Check your answers")


def answer_pages_until(page: Page, slug: str, answers: dict[str, Any] | None = None) -> None:
    """Answer each page from the current one until ``slug`` is shown."""
    while not page.url.endswith(f"/intake/page/{slug}/"):
        current = page.url
        fill(page, answers or routine_answers())
        next_page(page)
        expect(page).not_to_have_url(current)


def open_at_page(page: Page, link: str, slug: str) -> None:
    """Open the link, confirm, and answer the routine intake up to page ``slug``."""
    page.goto(link)
    confirm(page)
    answer_pages_until(page, slug)


def type_closing(page: Page, notes: str) -> Locator:
    """On the last page: type ``notes`` and answer the rest routinely; returns the notes box."""
    box = page.get_by_label("Is there anything else", exact=False)
    box.fill(notes)
    fill(page, {k: v for k, v in routine_answers().items() if k != "notes"})
    return box


def answer_get_care(page: Page, code: str) -> None:
    """On the get-care page: say what you are doing about the signs, and save it."""
    expect(page).to_have_url(at("/intake/get-care-now/"))
    [question] = TWITCH_INTAKE.emergency_responses()
    page.get_by_label(str(question.label(code)), exact=True).check()
    page.get_by_role("button", name="Save my answer").click()
    expect(page).to_have_url(at("/intake/get-care-now/"))
    expect(page.get_by_role("status")).to_contain_text("Your answer is saved")


def send(page: Page) -> None:
    """On the review page: send the answers and land on the thank-you page."""
    page.get_by_role("button", name="Accept and send").click()
    expect(page).to_have_url(at("/intake/thanks/"))
    expect(heading(page)).to_have_text("Thank you: your answers were sent")


# --- The clinician --------------------------------------------------------------------------


def log_in(page: Page, username: str, next_url: str = "/admin/") -> None:
    """Through the admin's own login form."""
    page.goto(f"/admin/login/?next={next_url}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(at(next_url))
