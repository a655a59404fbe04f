"""The clinician's side in a real browser: log in, the queue, the summary, review, print."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.steps import at, log_in
from tests.factories import emergency_answers, make_submitted, routine_answers
from twitch_intake.models import AccessEvent, Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUEUE = "/admin/twitch_intake/encounter/"
SEIZURE = str(TWITCH_INTAKE.question("emergency-signs").label("seizure"))


def test_clinician_reviews_the_emergency_first_and_prints_it(new_page, clinician):
    soon = timezone.now() + dt.timedelta(days=1)
    make_submitted(routine_answers(), patient_name="Rita Routine", visit_at=soon)
    make_submitted(routine_answers(), patient_name="Rob Routine", visit_at=soon)
    emergency = make_submitted(
        emergency_answers(), patient_name="Eve Emergency", visit_at=soon + dt.timedelta(days=5)
    )
    page = new_page("desktop")
    log_in(page, clinician.username, QUEUE)

    expect(page.get_by_role("status")).to_contain_text("1 unreviewed emergency")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Eve Emergency")
    expect(rows.first).to_contain_text("Emergency")

    rows.first.get_by_role("link", name="Eve Emergency").click()
    expect(page).to_have_url(at(f"{QUEUE}{emergency.pk}/change/"))
    summary = page.locator(".ti-summary")
    expect(summary.get_by_role("alert")).to_contain_text("Emergency signs reported")
    expect(summary).to_contain_text(SEIZURE)
    expect(summary).to_contain_text("Eve Emergency")

    page.get_by_role("button", name="Mark reviewed").click()
    expect(page.locator(".messagelist")).to_contain_text("Marked reviewed.")
    expect(page.locator(".ti-reviewed")).to_contain_text("Reviewed by doctor")
    expect(page.get_by_role("button", name="Mark reviewed")).to_have_count(0)

    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Print view").click()
    printed = opened.value
    expect(printed).to_have_url(at(f"{QUEUE}{emergency.pk}/print/"))
    expect(printed.locator(".ti-summary")).to_contain_text("Pre-visit summary: muscle twitching")
    expect(printed.locator(".ti-emergency")).to_contain_text(SEIZURE)

    emergency.refresh_from_db()
    assert emergency.status == Encounter.Status.REVIEWED
    assert emergency.reviewed_by == clinician
    assert sorted(AccessEvent.objects.filter(user=clinician).values_list("action", flat=True)) == [
        "print",
        "view",
        "view",  # the page again after "Mark reviewed"
    ]

    page.goto(QUEUE)
    expect(page.get_by_role("status")).to_contain_text("0 unreviewed emergencies")
