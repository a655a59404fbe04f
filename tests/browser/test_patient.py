"""The patient's intake in a real browser, at phone size and on a desktop."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.alerting import run_workers
from tests.browser.steps import (
    answer_get_care,
    answer_pages,
    at,
    confirm,
    fill,
    heading,
    next_page,
    page_url,
    send,
)
from tests.factories import routine_answers
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

SEIZURE = str(TWITCH_INTAKE.question("emergency-signs").label("seizure"))
SEVERE = str(TWITCH_INTAKE.question("severity").label("severe"))

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

both_sizes = pytest.mark.parametrize("viewport", ["phone", "desktop"])
# The longer walks run at one size each, so that the suite stays quick.
on_desktop = pytest.mark.parametrize("viewport", ["desktop"])
on_a_phone = pytest.mark.parametrize("viewport", ["phone"])


@both_sizes
def test_routine_intake_with_a_change_from_the_review(new_page, invite, viewport):
    encounter, link = invite()
    page = new_page(viewport)
    page.goto(link)
    expect(heading(page)).to_have_text("Your form before your visit")
    confirm(page)
    expect(page).to_have_url(page_url("emergency"))
    expect(page.get_by_text("Step 1 of 11")).to_be_visible()

    answer_pages(page, routine_answers(notes="Worse after coffee."))
    review = page.locator("main")
    expect(review).to_contain_text("Mild: I notice them, but they don't bother me")
    expect(review).to_contain_text("Worse after coffee.")

    severity = str(TWITCH_INTAKE.question("severity").text)
    page.get_by_role("link", name=f"Change {severity}", exact=True).click()
    expect(page).to_have_url(page_url("history"))
    expect(page.get_by_label("Mild: I notice them", exact=False)).to_be_checked()
    page.get_by_label("Moderate: they bother me", exact=False).check()
    next_page(page)
    expect(page).to_have_url(at("/intake/review/"))  # every other page is done: straight back
    expect(review).to_contain_text("Moderate: they bother me, but I still do my usual things")
    expect(review).not_to_contain_text("Mild: I notice them")

    send(page)
    encounter.refresh_from_db()
    assert encounter.status == Encounter.Status.SUBMITTED
    assert encounter.answers["severity"] == "moderate"
    assert encounter.answers["notes"] == "Worse after coffee."
    assert encounter.level == "routine"


@both_sizes
def test_an_emergency_sign_shows_get_care_now_at_once(new_page, invite, viewport):
    encounter, link = invite()
    page = new_page(viewport)
    page.goto(link)
    confirm(page)
    page.get_by_label(SEIZURE).check()
    next_page(page)

    expect(page).to_have_url(at("/intake/get-care-now/"))
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Get medical care now")
    expect(alert).to_contain_text(SEIZURE)
    expect(alert.get_by_role("link", name="Call 911 now")).to_have_attribute("href", "tel:911")
    expect(alert).to_contain_text("Do not drive yourself.")
    expect(alert).to_contain_text("We have told the clinic. They may not see it straight away")
    run_workers()  # the alert was queued when the page was saved; a worker sends it
    assert len(mail.outbox) == 1

    # What the patient is doing: a missing answer is said on the page, then saved.
    page.get_by_role("button", name="Save my answer").click()
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator("#id_emergency-action_error")).to_have_text(
        "Error: Choose what you are doing about this."  # "Error:" is for screen readers
    )
    expect(page.locator("section.get-care")).to_contain_text("Call 911 now")
    answer_get_care(page, "getting-care-now")

    page.get_by_role("link", name="Continue the form").click()
    expect(page).to_have_url(page_url("history"))
    reminder = f"You told us about: {SEIZURE}. If you have not got care yet, call 911 now."
    expect(page.locator(".emergency-reminder")).to_have_text(re.compile(re.escape(reminder)))
    answer_pages(page, routine_answers(**{"emergency-signs": ["seizure"]}))
    expect(page.locator(".emergency-reminder")).to_contain_text(reminder)
    send(page)
    expect(page.locator(".emergency-reminder")).to_contain_text(reminder)
    expect(page.locator("main")).not_to_contain_text("will contact you")
    encounter.refresh_from_db()
    assert encounter.level == "emergency"
    assert encounter.answers["emergency-signs"] == ["seizure"]
    assert encounter.answers["emergency-action"] == "getting-care-now"
    assert len(mail.outbox) == 1  # once, not again on submit


@on_desktop
def test_closing_the_page_and_reopening_the_link_resumes(new_page, invite, viewport):
    encounter, link = invite()
    first = new_page(viewport)
    first.goto(link)
    confirm(first)
    fill(first, routine_answers())
    next_page(first)
    expect(first).to_have_url(page_url("history"))
    fill(first, routine_answers(severity="severe"))
    next_page(first)
    expect(first).to_have_url(page_url("frequency"))
    first.context.close()  # the patient closes the browser

    later = new_page(viewport)  # a new browser: no cookies
    later.goto("/intake/page/frequency/")
    expect(heading(later)).to_have_text("Please open your link again")
    later.goto(link)
    confirm(later)
    expect(later).to_have_url(page_url("frequency"))
    expect(later.get_by_text("Step 3 of 11")).to_be_visible()

    later.get_by_role("link", name="Back").click()
    expect(later).to_have_url(page_url("history"))
    expect(later.get_by_label(SEVERE, exact=True)).to_be_checked()
    next_page(later)
    expect(later).to_have_url(page_url("frequency"))
    answer_pages(later, routine_answers(severity="severe"))
    send(later)
    encounter.refresh_from_db()
    assert encounter.answers["severity"] == "severe"


@on_a_phone
def test_without_javascript_the_whole_intake_completes(new_page, invite, viewport):
    encounter, link = invite()
    page = new_page(viewport, java_script_enabled=False)
    page.goto(link)
    confirm(page)
    fill(page, routine_answers())
    next_page(page)
    expect(page).to_have_url(page_url("history"))
    answers = routine_answers(
        **{
            "locations": ["eyelid", "other"],
            "locations-other": "left big toe",
            "recent-emergency": True,
            "recent-emergency-signs": ["vomiting"],
        }
    )
    for slug in ("history", "frequency"):
        expect(page).to_have_url(page_url(slug))
        fill(page, answers)
        next_page(page)

    # The follow-up questions are hidden until the server has seen the answers that open them.
    expect(page).to_have_url(page_url("locations"))
    where_else = page.get_by_label("Where else?")
    expect(where_else).to_be_hidden()
    fill(page, answers)
    next_page(page)
    expect(page).to_have_url(page_url("locations"))  # drawn again, now asking
    expect(where_else).to_be_visible()
    # Asked, not scolded: no error for a question the patient had not seen.
    expect(page.locator(".error-summary, .error-message, .form-group-error")).to_have_count(0)
    expect(page.locator(".opened-note")).to_contain_text("Please answer it too")
    expect(page.get_by_label("Somewhere else")).to_be_checked()
    fill(page, answers)
    next_page(page)

    expect(page).to_have_url(page_url("pattern"))
    how_long = page.locator("#div_id_episode-length")
    expect(how_long).to_be_hidden()
    fill(page, answers)
    next_page(page)
    expect(page).to_have_url(page_url("pattern"))
    expect(how_long).to_be_visible()
    expect(page.get_by_label("It comes and goes")).to_be_checked()
    fill(page, answers)
    next_page(page)

    expect(page).to_have_url(page_url("symptoms"))
    fill(page, answers)
    next_page(page)
    expect(page).to_have_url(page_url("recent-emergency"))
    signs = page.locator("#div_id_recent-emergency-signs")
    expect(signs).to_be_hidden()
    fill(page, answers)
    next_page(page)
    expect(page).to_have_url(page_url("recent-emergency"))  # drawn again, now asking
    expect(signs).to_be_visible()
    expect(signs.locator(".error-message")).to_have_count(0)
    expect(page.locator(".opened-note")).to_contain_text("Please answer it too")
    fill(page, answers)
    next_page(page)
    answer_pages(page, answers)
    expect(page.locator("main")).to_contain_text("left big toe")
    send(page)
    encounter.refresh_from_db()
    assert encounter.answers["locations-other"] == "left big toe"
    assert encounter.answers["episode-length"] == "seconds"
    assert encounter.answers["recent-emergency-signs"] == ["vomiting"]
    assert encounter.status == Encounter.Status.SUBMITTED


@on_a_phone
def test_intake_js_shows_an_other_than_question_once_any_sign_but_none_is_ticked(
    new_page, invite, viewport, monkeypatch
):
    """``ShowWhen(other_than=True)`` in the browser: a questionnaire that asks what the patient
    is doing on the first page itself (no such page today) shows it for a sign, not for none."""
    import dataclasses

    from twitch_intake import questionnaire

    intake = questionnaire.TWITCH_INTAKE
    action = dataclasses.replace(
        intake.question("emergency-action"), emergency_response=False, required=False
    )
    groups = tuple(
        dataclasses.replace(
            g,
            questions=tuple(action if q.link_id == action.link_id else q for q in g.questions),
        )
        for g in intake.groups
    )
    monkeypatch.setattr(questionnaire, "TWITCH_INTAKE", dataclasses.replace(intake, groups=groups))

    _, link = invite()
    page = new_page(viewport)
    page.goto(link)
    confirm(page)
    block = page.locator("#div_id_emergency-action")
    expect(block).to_be_hidden()
    page.get_by_label(SEIZURE).check()
    expect(block).to_be_visible()
    page.get_by_label("None of these").check()  # clears the sign: exclusive
    expect(block).to_be_hidden()


@on_a_phone
def test_intake_js_opens_the_recent_signs_on_yes_and_keeps_not_sure_alone(
    new_page, invite, viewport
):
    """The declarations at work in the browser: ``ShowWhen(..., True)`` on a yes/no question,
    and the "Not sure" of ``movement``, which cannot be ticked with another answer."""
    encounter, link = invite()
    page = new_page(viewport)
    page.goto(link)
    confirm(page)
    answers = routine_answers(
        **{"recent-emergency": True, "recent-emergency-signs": ["seizure", "high-fever"]}
    )
    for slug in ("emergency", "history"):
        expect(page).to_have_url(page_url(slug))
        fill(page, answers)
        next_page(page)

    expect(page).to_have_url(page_url("frequency"))
    fill(page, answers)
    movement = TWITCH_INTAKE.question("movement")
    flicker = page.get_by_label(str(movement.label("flicker")), exact=True)
    jerk = page.get_by_label(str(movement.label("jerk")), exact=True)
    not_sure = page.locator("#div_id_movement").get_by_label(
        str(movement.label("not-sure")), exact=True
    )
    flicker.check()
    jerk.check()
    not_sure.check()  # clears the others
    expect(flicker).not_to_be_checked()
    expect(jerk).not_to_be_checked()
    flicker.check()  # and ticking another clears it
    expect(not_sure).not_to_be_checked()
    expect(flicker).to_be_checked()
    next_page(page)

    for slug in ("locations", "pattern", "symptoms"):
        expect(page).to_have_url(page_url(slug))
        fill(page, answers)
        next_page(page)
    expect(page).to_have_url(page_url("recent-emergency"))
    signs = page.locator("#div_id_recent-emergency-signs")
    question = page.locator("#div_id_recent-emergency")
    expect(signs).to_be_hidden()
    question.get_by_label("Yes", exact=True).check()
    expect(signs).to_be_visible()
    question.get_by_label("No", exact=True).check()
    expect(signs).to_be_hidden()
    fill(page, answers)  # yes, and the signs
    expect(signs).to_be_visible()
    next_page(page)
    expect(page).to_have_url(page_url("background"))  # no second drawing with JavaScript on
    answer_pages(page, answers)
    send(page)
    encounter.refresh_from_db()
    assert encounter.answers["movement"] == ["flicker"]
    assert encounter.answers["recent-emergency-signs"] == ["high-fever", "seizure"]
    assert "recent-emergency-signs" in encounter.flags
