"""The question pages to GOV.UK's patterns in a real browser (issue 19): phone and desktop, with
JavaScript on and off. Each test failed on the code before issue 19."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import answer_pages, at, confirm, fill, next_page, page_url
from tests.factories import routine_answers
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

both_sizes = pytest.mark.parametrize("viewport", ["phone", "desktop"])
scripts = pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])

SEVERITY = str(TWITCH_INTAKE.question("severity").text)


def _to_history(page: Page, link: str) -> None:
    page.goto(link)
    confirm(page)
    expect(page).to_have_url(page_url("emergency"))
    fill(page, routine_answers())
    next_page(page)
    expect(page).to_have_url(page_url("history"))


def _methods(page: Page) -> list[tuple[str, str]]:
    """Each page the browser asks for (a document, or a page intake.js fetches), with its
    method, as they happen."""
    seen: list[tuple[str, str]] = []
    page.on(
        "request",
        lambda request: (
            seen.append((request.method, request.url.split("/", 3)[-1]))
            if request.resource_type in ("document", "fetch")
            else None
        ),
    )
    return seen


@both_sizes
def test_the_error_summary_link_moves_focus_to_the_questions_first_option(
    new_page, invite, viewport
):
    _, link = invite()
    page = new_page(viewport)
    _to_history(page, link)
    fill(page, {k: v for k, v in routine_answers().items() if k != "severity"})
    next_page(page)
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text("There is a problem")
    expect(page).to_have_title(re.compile(r"^Error: "))
    summary.get_by_role("link").click()
    first = page.locator("#id_severity_0")
    expect(first).to_be_focused()  # the input itself, not its box
    expect(page.locator("#div_id_severity legend")).to_be_in_viewport()  # its question shows
    expect(first).to_be_in_viewport()


@both_sizes
def test_without_javascript_the_summary_link_still_jumps_to_the_first_option(
    new_page, invite, viewport
):
    _, link = invite()
    page = new_page(viewport, java_script_enabled=False)
    _to_history(page, link)
    fill(page, {k: v for k, v in routine_answers().items() if k != "severity"})
    next_page(page)
    page.locator(".error-summary").get_by_role("link").click()
    expect(page).to_have_url(at("/intake/page/history/#id_severity_0"))
    expect(page.locator("#id_severity_0")).to_be_in_viewport()


@both_sizes
def test_the_message_is_above_the_options_and_only_the_question_is_marked(
    new_page, invite, viewport
):
    _, link = invite()
    page = new_page(viewport)
    _to_history(page, link)
    fill(page, {k: v for k, v in routine_answers().items() if k != "severity"})
    next_page(page)
    group = page.locator("#div_id_severity")
    message = page.locator("#id_severity_error")
    expect(message).to_have_text("Error: Choose an answer.")
    legend_box = group.locator("legend").bounding_box()
    message_box = message.bounding_box()
    first_box = page.locator("#id_severity_0").bounding_box()
    assert legend_box and message_box and first_box
    assert legend_box["y"] < message_box["y"] < first_box["y"]  # above the first option
    style = group.evaluate(
        "el => ({left: parseFloat(getComputedStyle(el).borderLeftWidth),"
        " top: parseFloat(getComputedStyle(el).borderTopWidth)})"
    )
    assert style["left"] >= 4 > style["top"], style  # the question's group, on its left
    colour = "el => getComputedStyle(el).color"
    marked = group.locator(".form-check-label").first.evaluate(colour)
    unmarked = page.locator("#div_id_duration .form-check-label").first.evaluate(colour)
    assert marked == unmarked  # labels do not turn red
    assert page.locator(".form-group-error").count() == 1


@scripts
def test_refresh_and_back_after_an_error_never_send_the_form_again(new_page, invite, javascript):
    encounter, link = invite()
    page = new_page("phone", java_script_enabled=javascript)
    page.goto(link)
    confirm(page)
    _answer_without_javascript(page, routine_answers(), until="/intake/page/closing/")
    requests = _methods(page)
    page.get_by_label("Is there anything else", exact=False).fill("Typed on the last page")
    next_page(page)  # "Who is filling in this form?" left out
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page).to_have_url(page_url("closing"))

    page.reload()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.get_by_label("Is there anything else", exact=False)).to_have_value(
        "Typed on the last page"
    )  # nothing typed is lost
    # Back: the page as it was before Continue, which shows what was typed since (a GET);
    # Back again, the page before it; and forward to the page again.
    page.go_back()
    expect(page).to_have_url(page_url("closing"))
    expect(page.get_by_label("Is there anything else", exact=False)).to_have_value(
        "Typed on the last page"
    )
    page.go_back()
    expect(page).to_have_url(page_url("pregnancy"))
    page.go_forward()
    page.go_forward()
    expect(page).to_have_url(page_url("closing"))
    expect(page.locator(".error-summary")).to_be_visible()
    posts = [r for r in requests if r[0] == "POST"]
    assert posts == [("POST", "intake/page/closing/")], requests  # only the one Continue
    encounter.refresh_from_db()
    assert "notes" not in encounter.answers  # refused: nothing saved, nothing lost

    fill(page, routine_answers(notes="Typed on the last page"))
    next_page(page)
    expect(page).to_have_url(at("/intake/review/"))


@scripts
def test_check_answers_lists_each_ticked_answer_on_its_own_line(new_page, invite, javascript):
    encounter, link = invite()
    page = new_page("desktop", java_script_enabled=javascript)
    page.goto(link)
    confirm(page)
    answers: dict[str, Any] = routine_answers(
        **{
            "recent-emergency": True,
            "recent-emergency-signs": ["diminished-pulse", "consciousness-change"],
        }
    )
    answer_pages(page, answers) if javascript else _answer_without_javascript(page, answers)
    question = TWITCH_INTAKE.question("recent-emergency-signs")
    row = page.locator(".summary-list-row", has_text=str(question.text))
    items = row.locator("li")
    expect(items).to_have_text(
        [str(question.label(c)) for c in ("diminished-pulse", "consciousness-change")]
    )
    row.get_by_role("link", name=f"Change {question.text}").click()
    expect(page).to_have_url(page_url("recent-emergency"))
    next_page(page)
    expect(page).to_have_url(at("/intake/review/"))  # straight back, not through later pages
    assert Encounter.objects.get(pk=encounter.pk).answers["recent-emergency-signs"]


def _answer_without_javascript(
    page: Page, answers: dict[str, Any], until: str = "/intake/review/"
) -> None:
    """As :func:`answer_pages`, where a page comes back once with the question its answer
    opened (JavaScript off); up to the page ``until``."""
    while not page.url.endswith(until):
        url = page.url
        fill(page, answers)
        with page.expect_navigation():
            next_page(page)
        if page.url == url:
            expect(page.locator(".error-summary")).to_have_count(0)
            fill(page, answers)
            next_page(page)
        expect(page).not_to_have_url(url)
