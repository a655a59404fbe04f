"""Staff screens built for a working day (issue 19), in Debian's Chromium at 1440x900: the
queue's columns fit, 15 rows show, the banner filters, times read as the clinic's, the chart
text copies, and axe finds nothing at WCAG 2.2 AA on the queue, its filters and an encounter."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser.steps import at, log_in
from tests.factories import (
    emergency_answers,
    every_flag_answers,
    make_submitted,
    rich_answers,
    routine_answers,
)
from twitch_intake import display
from twitch_intake.models import AccessEvent, Encounter

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUEUE = "/admin/twitch_intake/encounter/"
WORKSTATION = {"width": 1440, "height": 900}
#: axe's rules for WCAG 2.0, 2.1 and 2.2 at levels A and AA: every impact counts.
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE = Axe()
#: Set to a folder to keep a screenshot of each screen checked (for docs/screenshots/).
SHOTS = os.environ.get("TWITCH_STAFF_SHOTS", "")


def workstation(new_page: Any, **options: Any) -> Page:
    page = new_page("desktop", **options)
    page.set_viewport_size(WORKSTATION)
    return page


def shot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"))


def a_working_day() -> list[Encounter]:
    """Twenty intakes for tomorrow's clinic, as a day has them: two emergencies, a few with
    several red flags, the rest routine; long names and record numbers among them."""
    start = timezone.localtime().replace(hour=8, minute=0, second=0, microsecond=0)
    start += dt.timedelta(days=1)
    made = []
    for n in range(20):
        if n < 2:
            answers = emergency_answers()
        elif n == 2:
            answers = every_flag_answers()
        elif n < 6:
            answers = routine_answers(
                **{"other-symptoms": ["weakness", "cramps"], "weakness-where": "right hand"}
            )
        else:
            answers = routine_answers()
        made.append(
            make_submitted(
                answers,
                patient_name=f"Maximiliana Fernández-Oyelaran {n:02d}",
                record_number=f"MRN-2026-{n:06d}",
                date_of_birth=dt.date(1950 + n, 1 + n % 12, 1 + n),
                visit_at=start + dt.timedelta(minutes=20 * n),
            )
        )
    return made


def test_the_queue_fits_a_workstation_with_fifteen_rows_and_nothing_cut(new_page, clinician):
    day = a_working_day()
    page = workstation(new_page)
    log_in(page, clinician.username, QUEUE)
    expect(page.locator("#result_list tbody tr")).to_have_count(len(day))
    shot(page, "queue-1440x900")

    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= WORKSTATION["width"], f"the queue scrolls sideways: {width}px wide"
    headers = [
        text.strip().lower()
        for text in page.locator("#result_list thead th").all_inner_texts()
        if text.strip()
    ]
    for column in ("name", "date of birth", "record number", "visit", "level", "flags", "status"):
        assert any(column in header for header in headers), f"no {column!r} column: {headers}"

    rows = page.locator("#result_list tbody tr")
    visible = [
        box
        for box in (rows.nth(i).bounding_box() for i in range(rows.count()))
        if box is not None and box["y"] + box["height"] <= WORKSTATION["height"]
    ]
    print(
        f"\nqueue at 1440x900: {len(visible)} of {rows.count()} rows wholly visible, {width}px wide"
    )
    assert len(visible) >= 15, f"{len(visible)} rows visible at 1440x900"

    # Every cell whole: nothing clipped or wider than its box, and the visit's time there.
    clipped = page.evaluate(
        """() => [...document.querySelectorAll('#result_list td, #result_list th')]
             .filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.className)"""
    )
    assert clipped == []
    overflow = page.evaluate(
        "() => [...document.querySelectorAll('#changelist .results, #changelist-form')]"
        ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.id || e.className)"
    )
    assert overflow == [], "the queue's table is wider than its box (a scroll bar): " + str(
        page.evaluate(
            "() => [document.querySelector('#changelist .results').scrollWidth,"
            " document.querySelector('#changelist .results').clientWidth,"
            " ...[...document.querySelectorAll('#result_list thead th')].map(t => t.offsetWidth)]"
        )
    )
    # Opened, the hidden parts (every flag, an emergency's report) wrap in their cells.
    page.evaluate(
        "() => document.querySelectorAll('#result_list details').forEach(d => d.open = true)"
    )
    assert page.evaluate(
        "() => { const r = document.querySelector('#changelist .results');"
        " return r.scrollWidth <= r.clientWidth + 1; }"
    ), "opening a row's flags or report makes the queue scroll sideways"
    first_visit = display.local_datetime(min(e.visit_at for e in day if e.level == "routine"))
    expect(page.locator("#result_list")).to_contain_text(first_visit)
    expect(page.locator("#result_list")).to_contain_text("MRN-2026-000007")


def test_the_emergency_banner_filters_the_queue_to_those_patients(new_page, clinician):
    soon = timezone.now() + dt.timedelta(days=1)
    make_submitted(emergency_answers(), patient_name="Eve Emergency", visit_at=soon)
    make_submitted(routine_answers(), patient_name="Rita Routine", visit_at=soon)
    page = workstation(new_page)
    log_in(page, clinician.username, QUEUE)
    banner = page.get_by_role("status").get_by_role("link")
    expect(banner).to_have_text("1 unreviewed emergency")
    banner.click()
    expect(page).to_have_url(at(f"{QUEUE}?emergencies=awaiting"))
    rows = page.locator("#result_list tbody tr")
    expect(rows.first).to_contain_text("Eve Emergency")
    expect(page.locator("#result_list")).not_to_contain_text("Rita Routine")
    selected = page.locator("#changelist-filter li.selected", has_text="Unreviewed emergencies")
    expect(selected).to_have_count(1)


def test_the_banners_filter_link_and_a_search_by_date_of_birth_in_the_browser(new_page, clinician):
    make_submitted(
        routine_answers(), patient_name="Ada Lovelace", date_of_birth=dt.date(1980, 3, 27)
    )
    make_submitted(
        routine_answers(), patient_name="Alan Turing", date_of_birth=dt.date(1980, 3, 28)
    )
    page = workstation(new_page)
    log_in(page, clinician.username, QUEUE)
    search = page.locator("#searchbar")
    for typed in ("27/3/1980", "27 Mar 1980"):
        search.fill(typed)
        search.press("Enter")
        rows = page.locator("#result_list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Ada Lovelace")
        expect(rows.first).to_contain_text("27 Mar 1980")


# --- The chart text's Copy button ------------------------------------------------------------


def chart_text(new_page: Any, clinician: Any, **options: Any) -> tuple[Page, Encounter]:
    encounter = make_submitted(rich_answers(), patient_name="Cleo Copy")
    page = workstation(new_page, **options)
    log_in(page, clinician.username, QUEUE)
    page.goto(f"{QUEUE}{encounter.pk}/change/")
    page.get_by_role("link", name="Text for the chart").click()
    expect(page).to_have_url(at(f"{QUEUE}{encounter.pk}/chart-text/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Text for the chart")
    return page, encounter


def test_copy_puts_the_chart_text_on_the_clipboard_and_says_copied(new_page, clinician):
    page, encounter = chart_text(
        new_page, clinician, permissions=["clipboard-read", "clipboard-write"]
    )
    text = page.locator("#ti-chart-text").text_content()
    assert text and text.startswith("PRE-VISIT SUMMARY: MUSCLE TWITCHING")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("status")).to_have_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == text
    shot(page, "chart-text-copied")
    assert AccessEvent.objects.filter(encounter=encounter, action="text").count() == 1
    # Long lines wrap on screen: no sideways scrolling at 1440 px.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= WORKSTATION["width"]


def test_without_the_clipboard_api_copy_selects_the_text(new_page, clinician):
    page, _ = chart_text(new_page, clinician)
    # A browser without the Clipboard API (or one that refuses it): the fallback selects.
    page.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    page.reload()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("status")).to_have_text(
        __import__("re").compile(r"^(Copied|Selected: press Ctrl\+C \(or ⌘C\) to copy)$")
    )
    selected = page.evaluate("() => window.getSelection().toString()")
    assert selected.strip() == (page.locator("#ti-chart-text").text_content() or "").strip()


def test_without_javascript_the_text_is_there_and_no_dead_button(new_page, clinician):
    page, _ = chart_text(new_page, clinician, java_script_enabled=False)
    expect(page.locator("#ti-chart-text")).to_contain_text("PRE-VISIT SUMMARY")
    expect(page.get_by_role("button", name="Copy")).to_be_hidden()


# --- "Next unreviewed" ------------------------------------------------------------------------


def test_mark_reviewed_then_open_the_next_unreviewed_until_none_is_left(new_page, clinician):
    soon = timezone.now() + dt.timedelta(days=1)
    routine = make_submitted(routine_answers(), patient_name="Rita Routine", visit_at=soon)
    emergency = make_submitted(
        emergency_answers(), patient_name="Eve Emergency", visit_at=soon + dt.timedelta(days=2)
    )
    page = workstation(new_page)
    log_in(page, clinician.username, f"{QUEUE}{routine.pk}/change/")
    page.get_by_role("button", name="Mark reviewed").click()
    messages = page.locator(".messagelist")
    expect(messages).to_contain_text("Marked reviewed.")
    page.get_by_role("link", name="Open the next unreviewed intake").click()
    expect(page).to_have_url(at(f"{QUEUE}{emergency.pk}/change/"))
    page.get_by_role("button", name="Mark reviewed").click()
    expect(messages).to_contain_text("No unreviewed intakes are left.")
    expect(page.get_by_role("link", name="Open the next unreviewed intake")).to_have_count(0)


# --- axe at WCAG 2.2 AA: the queue, its filters, an encounter, the summary --------------------


def axe_problems(page: Page, name: str) -> list[str]:
    page.wait_for_load_state()
    found = []
    result = AXE.run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}})
    for violation in result.response["violations"]:
        for node in violation["nodes"]:
            found.append(
                f"[{name}] {violation['id']} ({violation['impact']}): {violation['help']}\n"
                f"    at {' '.join(map(str, node['target']))}: {node['html'][:160]}"
            )
    return found


def test_axe_finds_no_wcag_22_aa_violation_on_the_staff_screens(new_page, clinician):
    a_working_day()
    emergency = Encounter.objects.filter(level="emergency").first()
    routine = Encounter.objects.filter(level="routine").first()
    assert emergency is not None and routine is not None
    page = workstation(new_page, bypass_csp=True)
    log_in(page, clinician.username, QUEUE)
    screens = {
        "queue": QUEUE,
        "queue, filtered": f"{QUEUE}?level__exact=priority&status__exact=submitted",
        "queue, banner's filter": f"{QUEUE}?emergencies=awaiting",
        "queue, a flag": f"{QUEUE}?flag=weakness",
        "queue, searched by date of birth": f"{QUEUE}?q=27%2F3%2F1980",
        "queue, nothing found": f"{QUEUE}?q=nobody",
        "encounter: emergency": f"{QUEUE}{emergency.pk}/change/",
        "encounter: routine": f"{QUEUE}{routine.pk}/change/",
        "chart text": f"{QUEUE}{emergency.pk}/chart-text/",
        "print": f"{QUEUE}{emergency.pk}/print/",
    }
    problems = []
    for name, path in screens.items():
        page.goto(path)
        if name.startswith("queue"):
            # The row's hidden parts open too: every flag, the emergency's report.
            page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        problems += axe_problems(page, name)
        shot(page, name.replace(" ", "-").replace(",", "").replace(":", "").replace("'", ""))
    assert not problems, f"{len(problems)} axe violations:\n" + "\n".join(problems)
