"""Screenshots for the docs: every patient page at phone size, and the clinician's summaries.

``make screenshots`` runs this with ``TWITCH_SCREENSHOTS=docs/screenshots``; without that
variable nothing is written, but every page must still render.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import at, confirm, fill, heading, log_in, next_page, page_url, send
from tests.factories import make_submitted, rich_answers, routine_answers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shoot(page: Page, name: str) -> None:
    expect(page.locator("main, #content").first).to_be_visible()
    folder = os.environ.get("TWITCH_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(folder) / f"{name}.png", full_page=True, animations="disabled")


def test_screenshots_of_every_page(new_page, invite, clinician):
    _, link = invite()
    page = new_page("phone")
    page.goto(link)
    expect(heading(page)).to_have_text("Your form before your visit")
    shoot(page, "confirm")
    confirm(page)
    expect(page).to_have_url(page_url("emergency"))
    shoot(page, "page-1-emergency")
    page.get_by_label("A severe headache").check()
    next_page(page)
    expect(heading(page)).to_have_text("Get medical care now")
    shoot(page, "get-care-now")
    page.get_by_role("link", name="Continue the form").click()

    answers = {**rich_answers(), "emergency-signs": ["severe-headache"]}
    expect(page).to_have_url(page_url("history"))
    next_page(page)
    expect(page.locator(".error-summary")).to_be_focused()
    shoot(page, "page-2-history-errors")
    for number, group in enumerate(["history", "symptoms", "background", "closing"], start=2):
        expect(page).to_have_url(page_url(group))
        fill(page, answers)
        shoot(page, f"page-{number}-{group}")
        next_page(page)
    expect(page).to_have_url(at("/intake/review/"))
    shoot(page, "review")
    send(page)
    shoot(page, "thanks")

    walk_in = new_page("phone")
    walk_in.goto("/intake/start/")
    expect(heading(walk_in)).to_have_text("Start your form")
    shoot(walk_in, "self-start")

    emergency = make_submitted(rich_answers(), patient_name="Eve Example", record_number="MRN-1042")
    routine = make_submitted(routine_answers(), patient_name="Rita Example")
    admin = new_page("desktop")
    log_in(admin, clinician.username, "/admin/twitch_intake/encounter/")
    shoot(admin, "queue")
    for encounter, name in ((emergency, "summary-emergency"), (routine, "summary-routine")):
        admin.goto(f"/admin/twitch_intake/encounter/{encounter.pk}/change/")
        expect(admin.locator(".ti-summary")).to_contain_text(encounter.patient_name)
        shoot(admin, name)
