"""Accessibility in a real browser: axe-core on every page, the keyboard alone, errors announced.

axe is injected with ``page.evaluate``, which the Content-Security-Policy (no inline script)
would block, so the axe runs use a context that bypasses the CSP; every other test keeps it.
"""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.steps import (
    answer_get_care,
    answer_pages,
    at,
    confirm,
    fill,
    heading,
    log_in,
    next_page,
    page_url,
    send,
    settle,
)
from tests.factories import PAGE_IDS, make_submitted, rich_answers, routine_answers
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Axe()
BLOCKING = {"serious", "critical"}
#: Django's own admin breadcrumbs: white links in pale blue text, not underlined (axe's
#: link-in-text-block). Stock admin styling, not this app's (Django ticket #34041 and #34917).
DJANGO_ADMIN_CHROME = {"exclude": [[".breadcrumbs"]]}

#: What the focused element looks like, and what it is, for the failure message.
FOCUS_STYLE = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
    shadow: style.boxShadow !== "none",
    tag: el.outerHTML.slice(0, 120),
  };
}"""


class AxeScan:
    """Runs axe on page after page and keeps every serious or critical violation."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.scanned: list[str] = []

    def __call__(self, page: Page, name: str, context: dict[str, Any] | None = None) -> None:
        page.wait_for_load_state()
        settle(page)
        self.scanned.append(name)
        for violation in AXE.run(page, context=context).response["violations"]:
            if violation["impact"] not in BLOCKING:
                continue
            for node in violation["nodes"]:
                self.problems.append(
                    f"[{name}] {violation['id']} ({violation['impact']}): {violation['help']}\n"
                    f"    at {' '.join(map(str, node['target']))}: {node['html'][:160]}\n"
                    f"    {node.get('failureSummary', '')}".rstrip()
                )

    def assert_clean(self) -> None:
        assert not self.problems, (
            f"{len(self.problems)} serious or critical axe violations "
            f"on {len(self.scanned)} pages:\n" + "\n".join(self.problems)
        )


def test_axe_finds_nothing_serious_on_any_patient_page(new_page, invite):
    scan = AxeScan()
    encounter, link = invite()
    page = new_page("phone", bypass_csp=True)
    page.goto(link)
    scan(page, "confirm")
    page.get_by_role("button", name="Start").click()
    expect(page.locator(".error-summary")).to_be_visible()
    scan(page, "confirm, no date")
    confirm(page)
    expect(page).to_have_url(page_url("emergency"))
    scan(page, "page 1: emergency")
    next_page(page)
    expect(page.locator(".error-summary")).to_be_visible()
    scan(page, "page 1: emergency, nothing ticked")

    severe_headache = TWITCH_INTAKE.question("emergency-signs").label("severe-headache")
    page.get_by_label(str(severe_headache)).check()
    next_page(page)
    expect(page).to_have_url(at("/intake/get-care-now/"))
    scan(page, "get care now")
    page.get_by_role("button", name="Save my answer").click()
    expect(page.locator(".error-summary")).to_be_visible()
    scan(page, "get care now, nothing chosen")
    answer_get_care(page, "already-seen")
    scan(page, "get care now, answer saved")
    page.get_by_role("link", name="Continue the form").click()

    answers = rich_answers() | {"recent-emergency": True, "recent-emergency-signs": ["seizure"]}
    for number, slug in enumerate(PAGE_IDS[1:], start=2):
        expect(page).to_have_url(page_url(slug))
        scan(page, f"page {number}: {slug}")
        if slug == "history":
            next_page(page)
            expect(page.locator(".error-summary")).to_be_visible()
            scan(page, "page 2: history, nothing answered")
        fill(page, answers)
        if any(q.show_when for q in TWITCH_INTAKE.page(slug).questions):
            scan(page, f"page {number}: {slug}, follow-up questions open")
        next_page(page)
    expect(page).to_have_url(at("/intake/review/"))
    scan(page, "review")
    send(page)
    scan(page, "thanks")
    page.goto(link)
    scan(page, "already sent")

    other = new_page("phone", bypass_csp=True)
    other.goto("/intake/start/")
    scan(other, "self-start")
    other.get_by_role("button", name="Start").click()
    expect(other.locator(".error-summary")).to_be_visible()
    scan(other, "self-start, nothing filled in")
    other.goto("/intake/link/not-a-real-link/")
    scan(other, "link cannot be used")
    other.goto("/intake/page/history/")
    scan(other, "session ended")

    scan.assert_clean()


def test_axe_finds_nothing_serious_on_the_admin_summary(new_page, clinician):
    scan = AxeScan()
    emergency = make_submitted(rich_answers(), patient_name="Eve Emergency")
    routine = make_submitted(routine_answers(), patient_name="Rita Routine")
    page = new_page("desktop", bypass_csp=True)
    log_in(page, clinician.username, "/admin/twitch_intake/encounter/")
    scan(page, "admin queue", DJANGO_ADMIN_CHROME)
    for encounter in (emergency, routine):
        page.goto(f"/admin/twitch_intake/encounter/{encounter.pk}/change/")
        expect(page.locator(".ti-summary")).to_be_visible()
        scan(page, f"admin summary: {encounter.level}", DJANGO_ADMIN_CHROME)
    scan.assert_clean()


# --- The keyboard alone ---------------------------------------------------------------------


class Keyboard:
    """Tab, Space and Enter only; every stop on the way must show where the focus is."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.stops: list[dict[str, Any]] = []

    def tab_to(self, selector: str, limit: int = 80) -> None:
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            focus = self.page.evaluate(FOCUS_STYLE)
            # Tab inside a date field moves between its day, month and year parts: the same
            # element again, whose visible focus was checked when Tab first reached it.
            if not (self.stops and focus["tag"] == self.stops[-1]["tag"]):
                assert focus["outline"] or focus["shadow"], f"no visible focus on {focus['tag']}"
                self.stops.append(focus)
            if self.page.evaluate("s => document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"{selector} not reached with {limit} presses of Tab")

    def tick(self, selector: str) -> None:
        self.tab_to(selector)
        self.page.keyboard.press("Space")
        expect(self.page.locator(selector)).to_be_checked()

    def press(self, selector: str) -> None:
        """Enter on a link or button; then wait until the next page's script has run, so that
        a show-when question it reveals is there to tab to."""
        self.tab_to(selector)
        with self.page.expect_navigation(wait_until="load"):
            self.page.keyboard.press("Enter")


NEXT = "form.intake-form button[type=submit]"
BIRTH_DATE_BOXES = ("date_of_birth_day", "date_of_birth_month", "date_of_birth_year")


def test_the_whole_intake_with_the_keyboard_alone(new_page, invite):
    """Radio buttons are taken with Tab and Space only, so each is the first of its group."""
    encounter, link = invite()
    page = new_page("desktop")
    keys = Keyboard(page)
    page.goto(link)
    keys.tab_to("#id_date_of_birth_day")
    page.keyboard.type("17")
    page.keyboard.press("Tab")
    page.keyboard.type("5")
    page.keyboard.press("Tab")
    page.keyboard.type("1980")
    keys.press("button[type=submit]")
    expect(page).to_have_url(page_url("emergency"))

    keys.tick("#div_id_emergency-signs input[value=none]")
    keys.press(NEXT)
    expect(page).to_have_url(page_url("history"))
    for question in ("duration", "onset", "course", "severity"):
        keys.tick(f"#id_{question}_0")
    keys.press(NEXT)
    expect(page).to_have_url(page_url("frequency"))
    keys.tick("#id_frequency_0")
    keys.tick("#div_id_movement input[value=flicker]")
    keys.press(NEXT)
    expect(page).to_have_url(page_url("locations"))
    keys.tick("#div_id_locations input[value=eyelid]")
    keys.tick("#div_id_locations input[value=calf]")
    keys.tick("#div_id_locations input[value=other]")
    keys.tab_to("#id_locations-other")  # opened by ticking "Somewhere else"
    page.keyboard.type("left big toe")
    keys.tick("#id_side_0")
    keys.tick("#id_more-than-one-location_0")
    keys.press(NEXT)
    expect(page).to_have_url(page_url("pattern"))
    keys.tick("#id_pattern_0")
    keys.press(NEXT)
    expect(page).to_have_url(page_url("symptoms"))
    keys.tick("#div_id_other-symptoms input[value=none]")
    keys.press(NEXT)
    expect(page).to_have_url(page_url("recent-emergency"))
    keys.tick("#id_recent-emergency_0")  # yes: the signs open below
    keys.tick("#div_id_recent-emergency-signs input[value=seizure]")
    keys.tick("#id_family-history_0")
    keys.press(NEXT)
    expect(page).to_have_url(page_url("background"))
    keys.tick("#div_id_medication-flags input[value=none]")
    keys.press(NEXT)
    expect(page).to_have_url(page_url("conditions"))
    keys.tick("#div_id_condition-flags input[value=none]")
    keys.press(NEXT)
    expect(page).to_have_url(page_url("pregnancy"))
    keys.tick("#div_id_triggers input[value=none]")
    keys.press(NEXT)
    expect(page).to_have_url(page_url("closing"))
    keys.tab_to("#id_notes")
    page.keyboard.type("Typed without a mouse.")
    keys.tick("#id_answered-by_0")
    keys.press(NEXT)
    expect(page).to_have_url(at("/intake/review/"))

    keys.press("a[href$='/intake/page/closing/']")  # Change "Anything else"
    expect(page).to_have_url(page_url("closing"))
    keys.press(NEXT)
    expect(page).to_have_url(at("/intake/review/"))
    keys.press("form[action$='/intake/submit/'] button")
    expect(heading(page)).to_have_text("Thank you: your answers were sent")

    encounter.refresh_from_db()
    assert encounter.status == Encounter.Status.SUBMITTED
    assert encounter.answers["locations"] == ["eyelid", "calf", "other"]
    assert encounter.answers["locations-other"] == "left big toe"
    assert encounter.answers["notes"] == "Typed without a mouse."
    assert encounter.answers["recent-emergency-signs"] == ["seizure"]
    kinds = {stop["tag"].split()[0] for stop in keys.stops}
    assert {"<a", "<button", "<input", "<textarea"} <= kinds, kinds


def test_the_skip_link_is_the_first_stop_and_shows(new_page, invite):
    _, link = invite()
    page = new_page("phone")
    page.goto(link)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the form")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


# --- Errors announced -----------------------------------------------------------------------

#: Each invalid field, and the text of what describes it or its fieldset.
DESCRIPTIONS = """() => Array.from(document.querySelectorAll('[aria-invalid="true"]')).map(el => {
  const ids = [el, el.closest("fieldset")]
    .filter(Boolean)
    .flatMap(node => (node.getAttribute("aria-describedby") || "").split(/\\s+/))
    .filter(Boolean);
  return {
    field: el.name,
    described: ids.map(id => document.getElementById(id)).filter(Boolean).map(n => n.innerText),
  };
})"""


def _assert_errors_announced(page: Page, expected_fields: set[str]) -> None:
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_have_attribute("role", "alert")
    # Each line of the summary is a link saying what is wrong, then the question.
    errors = [" ".join(text.split()) for text in summary.locator("li a").all_inner_texts()]
    invalid = page.evaluate(DESCRIPTIONS)
    assert {field["field"] for field in invalid} == expected_fields
    for field in invalid:
        described = " ".join(" ".join(field["described"]).split())
        assert any(error in described for error in errors), (field, errors)
    for href in summary.locator("a").evaluate_all("links => links.map(a => a.hash)"):
        expect(page.locator(href)).to_be_visible()


def test_errors_are_focused_and_tied_to_their_fields(new_page, invite):
    _, link = invite()
    page = new_page("phone")
    page.goto(link)
    page.get_by_role("button", name="Start").click()
    _assert_errors_announced(page, set(BIRTH_DATE_BOXES))

    confirm(page)
    expect(page).to_have_url(page_url("emergency"))
    fill(page, routine_answers())
    next_page(page)
    expect(page).to_have_url(page_url("history"))
    next_page(page)
    _assert_errors_announced(page, {"duration", "onset", "course", "severity"})
    answer_pages(page, routine_answers())  # and the page can still be put right

    start = new_page("phone")
    start.goto("/intake/start/")
    start.get_by_role("button", name="Start").click()
    _assert_errors_announced(start, {"patient_name", *BIRTH_DATE_BOXES, "visit_date"})


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_axe_finds_nothing_serious_on_the_question_pages_states(new_page, invite, javascript):
    """Issue 19's states: errors on choices and on a text box, a follow-up an answer opened
    (the note of a page drawn again without JavaScript), check answers; JavaScript on and off.

    axe is JavaScript itself, so "off" here is the app's script refused (``intake.js`` never
    loads): the server then draws exactly the pages a browser without JavaScript gets (the
    follow-ups hidden until posted, the page drawn again with the note), which axe can read.
    """
    scan = AxeScan()
    _, link = invite()
    page = new_page("phone", bypass_csp=True)
    if not javascript:
        page.route("**/intake.js", lambda route: route.abort())
    page.goto(link)
    confirm(page)
    answers = rich_answers() | {"recent-emergency": True, "recent-emergency-signs": ["seizure"]}
    answers["emergency-signs"] = ["none"]
    fill(page, answers)
    next_page(page)
    expect(page).to_have_url(page_url("history"))
    next_page(page)
    expect(page.locator(".error-summary")).to_be_visible()
    scan(page, "history, nothing answered")
    while not page.url.endswith("/intake/page/closing/"):
        url = page.url
        fill(page, answers)
        with page.expect_navigation():
            next_page(page)
        if page.url == url:  # drawn again with the question an answer opened
            expect(page.locator(".opened-note")).to_be_visible()
            scan(page, f"{url.rsplit('/', 2)[-2]}, a follow-up opened")
            fill(page, answers)
            next_page(page)
    page.get_by_label("Is there anything else", exact=False).fill("x" * 2001)
    next_page(page)
    expect(page.locator("#id_notes_error")).to_be_visible()
    scan(page, "closing, a text box in error")
    fill(page, answers)
    next_page(page)
    expect(page).to_have_url(at("/intake/review/"))
    scan(page, "check answers")
    if not javascript:
        assert any("a follow-up opened" in name for name in scan.scanned), scan.scanned
    scan.assert_clean()
