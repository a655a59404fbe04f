"""The patient's pages to the visual bar of issue 19, measured in Chromium on every page state:
controls at 3:1 (WCAG 1.4.11, from computed colours), a visible focus, targets of 24x24 px
(WCAG 2.5.8), every phone number tap-to-call, a favicon that loads, nothing off the screen at
320 px with 200% text (WCAG 1.4.4 and 1.4.10), axe clean at WCAG 2.2 AA on the states of the
date of birth, the lock and the idle session, and typed work kept across an idle session."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import Page, expect

from tests.browser.steps import (
    answer_get_care,
    at,
    confirm,
    current_page,
    fill,
    heading,
    next_page,
    page_url,
    send,
    settle,
    type_birth_date,
)
from tests.factories import rich_answers, routine_answers
from twitch_intake.conf import app_settings
from twitch_intake.middleware import IdleSessionMiddleware
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WRONG = "1980-05-18"

#: Every visible control and its boundary: the border (when drawn) or its own fill, each
#: against the first opaque background behind it; and its size.
CONTROLS = """() => {
  const parse = c => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = ({r, g, b}) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (x, y) => {
    const [a, b] = [lum(x), lum(y)].sort((p, q) => q - p);
    return (a + 0.05) / (b + 0.05);
  };
  const behind = el => {
    for (let n = el.parentElement; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c && c.a >= 0.99) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const out = [];
  const selector = "input:not([type=hidden]), select, textarea, button, a.btn";
  for (const el of document.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!box.width || !box.height || style.visibility === "hidden") continue;
    if (el.closest(".visually-hidden-focusable")) continue;
    const back = behind(el);
    const ratios = [];
    if (parseFloat(style.borderTopWidth) > 0 && style.borderTopStyle !== "none") {
      const border = parse(style.borderTopColor);
      if (border && border.a >= 0.99) ratios.push(ratio(border, back));
    }
    const fill = parse(style.backgroundColor);
    if (fill && fill.a >= 0.99) ratios.push(ratio(fill, back));
    out.push({
      what: el.outerHTML.slice(0, 110),
      textOnly: el.classList.contains("btn-link"),
      best: ratios.length ? Math.max(...ratios) : 0,
      width: box.width,
      height: box.height,
    });
  }
  return out;
}"""

#: Text nodes that show a phone number outside a tel: link.
UNLINKED_NUMBERS = """numbers => {
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const number of numbers) {
      if (!node.textContent.includes(number)) continue;
      const link = node.parentElement.closest("a");
      if (!link || !link.getAttribute("href").startsWith("tel:")) {
        bad.push(number + " in " + node.parentElement.outerHTML.slice(0, 120));
      }
    }
  }
  return bad;
}"""

#: Elements whose right edge is past the viewport, and whether the page scrolls sideways.
OFF_SCREEN = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || el.closest(".visually-hidden, .visually-hidden-focusable")) continue;
    if (box.right > width + 0.5 || box.left < -0.5) out.push(el.outerHTML.slice(0, 100));
  }
  return {
    off: out,
    scrolls: document.documentElement.scrollWidth > width,
  };
}"""

FOCUSED = """() => {
  const el = document.activeElement;
  if (el === document.body) return {tag: "body", outline: true, shadow: true};  // past the last
  const style = getComputedStyle(el);
  return {
    tag: el.outerHTML.slice(0, 100),
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
    shadow: style.boxShadow !== "none",
  };
}"""


class Audit:
    """Runs each check on page after page, keeping every failure with where it was."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.pages: list[str] = []
        numbers = [app_settings.EMERGENCY_NUMBER, app_settings.CLINIC_PHONE]
        self.numbers = [n for n in numbers if n]

    def __call__(self, page: Page, name: str) -> None:
        page.wait_for_load_state()
        settle(page)
        self.pages.append(name)
        for control in page.evaluate(CONTROLS):
            if not control["textOnly"] and control["best"] < 3:
                self.problems.append(f"[{name}] contrast {control['best']:.2f}: {control['what']}")
            if control["width"] < 24 or control["height"] < 24:
                self.problems.append(
                    f"[{name}] target {control['width']:.0f}x{control['height']:.0f}: "
                    f"{control['what']}"
                )
        for where in page.evaluate(UNLINKED_NUMBERS, self.numbers):
            self.problems.append(f"[{name}] not tap-to-call: {where}")
        icons = page.locator("link[rel=icon]")
        if icons.count() != 1:
            self.problems.append(f"[{name}] {icons.count()} favicon links")
        else:
            href = icons.get_attribute("href") or ""
            response = page.request.get(href)
            if response.status != 200 or not response.headers["content-type"].startswith("image/"):
                self.problems.append(f"[{name}] favicon {href}: {response.status}")

    def assert_clean(self) -> None:
        assert not self.problems, f"on {len(self.pages)} pages:\n" + "\n".join(self.problems)


def _walk_every_state(page: Page, link: str, check: Callable[[Page, str], None]) -> None:
    """Every page a patient can meet, in the states this branch touched, through ``check``."""
    page.goto(link)
    check(page, "confirm")
    page.get_by_role("button", name="Start").click()
    check(page, "confirm, no date")
    type_birth_date(page, WRONG)
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_text("You have 4 more tries.").first).to_be_visible()
    check(page, "confirm, wrong date, tries left")
    confirm(page)
    expect(page).to_have_url(page_url("emergency"))
    check(page, "page 1")
    next_page(page)
    check(page, "page 1, error")
    severe_headache = TWITCH_INTAKE.question("emergency-signs").label("severe-headache")
    page.get_by_label(str(severe_headache)).check()
    next_page(page)
    check(page, "get care now")
    # The warning itself: white on the emergency red, never white on white.
    warning = page.locator("section.get-care h1")
    expect(warning).to_have_css("color", "rgb(255, 255, 255)")
    expect(page.locator("section.get-care")).not_to_have_css(
        "background-color", "rgb(255, 255, 255)"
    )
    answer_get_care(page, "already-seen")
    page.get_by_role("link", name="Continue the form").click()
    answers = rich_answers() | {"recent-emergency": True, "recent-emergency-signs": ["seizure"]}
    while not page.url.endswith("/intake/review/"):
        slug = current_page(page)
        fill(page, answers)
        check(page, f"page {slug}")
        next_page(page)
        expect(page).not_to_have_url(page_url(slug))
    check(page, "review")
    send(page)
    check(page, "thanks")
    page.goto(link)
    check(page, "already sent")


def _lock_and_end(page: Page, link: str, check: Callable[[Page, str], None]) -> None:
    """The lock page (right after the last try, and later) and the ended session."""
    page.goto(link)
    for _ in range(app_settings.DOB_ATTEMPTS):
        type_birth_date(page, WRONG)
        page.get_by_role("button", name="Start").click()
        settle(page)
    expect(heading(page)).to_have_text("This link is paused for a while")
    check(page, "locked, right after")
    page.goto(link)
    expect(page.get_by_text("Try again in 15 minutes")).to_be_visible()
    check(page, "locked, later")
    page.goto("/intake/page/history/")
    check(page, "session ended")
    page.goto("/intake/link/not-a-real-link/")
    check(page, "link cannot be used")


def test_controls_contrast_targets_phone_links_and_favicon_on_every_page(new_page, invite):
    audit = Audit()
    _, link = invite()
    _walk_every_state(new_page("phone"), link, audit)
    _, other = invite()
    _lock_and_end(new_page("phone"), other, audit)
    start = new_page("phone")
    start.goto("/intake/start/")
    audit(start, "self-start")
    start.get_by_role("button", name="Start").click()
    audit(start, "self-start, errors")
    audit.assert_clean()


def test_every_stop_of_the_keyboard_shows_where_focus_is(new_page, invite):
    _, link = invite()
    page = new_page("desktop")
    page.goto(link)
    confirm(page)
    expect(page).to_have_url(page_url("emergency"))
    page.get_by_role("button", name="Continue").click()  # an error: every kind of control shows
    hidden = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUSED)
        if not (focus["outline"] or focus["shadow"]):
            hidden.append(focus["tag"])
    assert not hidden, "\n".join(hidden)


def test_nothing_leaves_a_320px_screen_with_text_at_200_percent(new_page, invite, settings):
    # A clinic's real name, not "Test Clinic": the header must wrap it beside the language.
    settings.TWITCH_INTAKE = {
        **settings.TWITCH_INTAKE,
        "CLINIC_NAME": "Riverside Neuromuscular Clinic",
    }
    problems: list[str] = []

    def check(page: Page, name: str) -> None:
        page.wait_for_load_state()
        settle(page)
        # Text at 200% (the browser's text-size setting), not a zoom: the layout must reflow.
        page.evaluate("() => { document.documentElement.style.fontSize = '200%'; }")
        found = page.evaluate(OFF_SCREEN)
        problems.extend(f"[{name}] off screen: {html}" for html in found["off"][:5])
        if found["scrolls"]:
            problems.append(f"[{name}] scrolls sideways")

    _, link = invite()
    narrow = {"width": 320, "height": 640}
    page = _narrow(new_page, narrow)
    _walk_every_state(page, link, check)
    _, other = invite()
    _lock_and_end(_narrow(new_page, narrow), other, check)
    assert not problems, "\n".join(problems)


def _narrow(new_page: Callable[..., Page], size: dict[str, int]) -> Page:
    page = new_page("phone")
    page.set_viewport_size(size)
    return page


# --- axe at WCAG 2.2 AA on the states this branch made -------------------------------------

AXE = Axe()
WCAG_22_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}
}


def test_axe_finds_no_wcag_22_aa_violation_on_the_date_lock_and_idle_pages(new_page, invite):
    problems: list[str] = []

    def scan(page: Page, name: str) -> None:
        page.wait_for_load_state()
        settle(page)
        for violation in AXE.run(page, options=WCAG_22_AA).response["violations"]:
            for node in violation["nodes"]:
                problems.append(f"[{name}] {violation['id']}: {node['html'][:120]}")

    encounter, link = invite()
    page = new_page("phone", bypass_csp=True)
    page.goto(link)
    scan(page, "confirm")
    page.get_by_role("button", name="Start").click()
    scan(page, "confirm, no date")
    page.get_by_role("group", name="Your date of birth").get_by_label("Day").fill("3")
    page.get_by_role("button", name="Start").click()
    scan(page, "confirm, a month and year missing")
    type_birth_date(page, WRONG)
    page.get_by_role("button", name="Start").click()
    scan(page, "confirm, wrong date, tries left")
    confirm(page)
    expect(page).to_have_url(page_url("emergency"))
    scan(page, "page 1, with when it closes")
    _go_idle(page)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(at("/intake/continue/"))
    scan(page, "closed for privacy")
    type_birth_date(page)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(page_url("emergency"))
    scan(page, "page 1, shown again after the pause")

    _, other = invite()
    locked = new_page("phone", bypass_csp=True)
    _lock_and_end(locked, other, scan)
    start = new_page("phone", bypass_csp=True)
    start.goto("/intake/start/")
    start.get_by_role("button", name="Start").click()
    scan(start, "self-start, errors")
    assert not problems, "\n".join(problems)


# --- Never lose typed work -------------------------------------------------------------------


def _go_idle(page: Page) -> None:
    """As if the patient had put the phone down for longer than IDLE_TIMEOUT."""
    name = settings.SESSION_COOKIE_NAME
    cookie = next(c for c in page.context.cookies() if c["name"] == name)
    session = SessionStore(session_key=cookie["value"])
    limit = app_settings.IDLE_TIMEOUT.total_seconds()
    session[IdleSessionMiddleware.KEY] = int(time.time() - limit - 60)
    session.save()


def test_a_medicine_list_typed_before_a_long_pause_survives_next(new_page, invite):
    encounter, link = invite()
    page = new_page("phone")
    page.goto(link)
    confirm(page)
    answers = routine_answers()
    while current_page(page) != "background":
        fill(page, answers)
        next_page(page)
        expect(page).to_have_url(page_url(current_page(page)))
    expect(page.get_by_text("this form closes after 30 minutes without use")).to_be_visible()
    medicines = "propranolol 10 mg, magnesium glycinate, sertraline 50 mg"
    fill(page, answers | {"medications": medicines})
    _go_idle(page)
    next_page(page)

    expect(page).to_have_url(at("/intake/continue/"))
    expect(heading(page)).to_have_text("Your form closed for your privacy")
    expect(page.get_by_text("What you typed on the last page is kept")).to_be_visible()
    type_birth_date(page)
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(page_url("background"))
    question = TWITCH_INTAKE.question("medications")
    expect(page.get_by_label(str(question.text))).to_have_value(medicines)
    assert "medications" not in Encounter.objects.get(pk=encounter.pk).answers
    next_page(page)
    expect(page).to_have_url(page_url("conditions"))
    assert Encounter.objects.get(pk=encounter.pk).answers["medications"] == medicines
