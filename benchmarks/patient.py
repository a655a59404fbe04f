"""Simulated patients against the real server: the full intake, and the floor form."""

from __future__ import annotations

import html
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from twitch_intake.questionnaire import TWITCH_INTAKE

from .client import Browser, Response, Sample, UnexpectedResponse, expect
from .data import page_form

_CONTINUE = re.compile(r'<a class="[^"]*" href="([^"]+)">')
#: The get-care page still asks what the patient is doing (its form is shown).
_ASKS_ACTION = re.compile(r'name="emergency-action"')


@dataclass
class Patient:
    token: str
    date_of_birth: str  # YYYY-MM-DD
    answers: dict[str, Any]


@dataclass
class Visit:
    """What one intake saw: every response, by the page it came from (for the page weights)."""

    pages: dict[str, Any] = field(default_factory=dict)


def birth_date_boxes(iso: str) -> dict[str, str]:
    """The date of birth as a patient types it: day, month and year boxes ("3", not "03")."""
    year, month, day = iso.split("-")
    return {
        "date_of_birth_day": str(int(day)),
        "date_of_birth_month": str(int(month)),
        "date_of_birth_year": year,
    }


# --- what the patient posts: one helper per form, so a change to a form is a change here -----
# With ``js`` a form is posted as intake.js posts it: the answer is the next page itself (200);
# without, it is a redirect (302) whose page the driver then fetches.


def _sent(browser: Browser, path: str, form: Any, js: bool) -> Response:
    return expect(browser.post(path, form, follow=js), 200 if js else 302)


def post_birth_date(
    browser: Browser, path: str, page: Response, patient: Patient, js: bool = False
) -> Response:
    """The link page's date-of-birth form, answered right."""
    form = {"csrfmiddlewaretoken": page.csrf(), **birth_date_boxes(patient.date_of_birth)}
    return _sent(browser, path, form, js)


def post_page(
    browser: Browser, path: str, page: Response, patient: Patient, js: bool = False
) -> Response:
    """One page of the patient form (``/intake/page/<slug>/``), answered as the patient would."""
    form_page = TWITCH_INTAKE.page(path.rstrip("/").rsplit("/", 1)[1])
    form = [("csrfmiddlewaretoken", page.csrf()), *page_form(form_page, patient.answers)]
    return _sent(browser, path, form, js)


def post_get_care(
    browser: Browser, path: str, page: Response, patient: Patient, js: bool = False
) -> Response:
    """The get-care page's own question (what the patient is doing about the signs)."""
    form = [("csrfmiddlewaretoken", page.csrf())]
    for question in TWITCH_INTAKE.emergency_responses():
        if question.link_id in patient.answers:
            form.append((question.link_id, str(patient.answers[question.link_id])))
    return _sent(browser, path, form, js)


def post_submit(browser: Browser, page: Response, js: bool = False) -> Response:
    """The review page's Send button."""
    return _sent(browser, "/intake/submit/", {"csrfmiddlewaretoken": page.csrf()}, js)


def continue_url(page: Response) -> str:
    """The get-care page's "Continue the form" link (the last link into the intake)."""
    found = [h for h in _CONTINUE.findall(page.text) if h.startswith("/intake/")]
    if not found:
        raise UnexpectedResponse(page, "no way on from the emergency page")
    return html.unescape(found[-1])


def intake(
    browser: Browser, patient: Patient, visit: Visit | None = None, *, js: bool = True
) -> None:
    """Link -> date of birth -> every page -> (get care now) -> review -> submit -> thanks.

    With ``js`` (what a phone runs) each form is posted as intake.js posts it, and its answer
    is the next page; without, each is posted, redirected and the next page fetched.
    """
    browser.forget()
    link = f"/intake/link/{patient.token}/"

    def seen(name: str, response: Response) -> Response:
        if visit is not None:
            visit.pages[name] = response
        return response

    def after(posted: Response) -> tuple[Response, str]:
        """The page a POST led to, and its path."""
        if js:
            if not posted.shown_at:
                raise UnexpectedResponse(posted, "the next page was not drawn in place")
            return seen(posted.shown_at, posted), posted.shown_at
        return opened(posted.location)

    def opened(where: str) -> tuple[Response, str]:
        return seen(where, expect(browser.get(where), 200)), where

    page = seen(link, expect(browser.get(link), 200))
    page, where = after(post_birth_date(browser, link, page, patient, js))
    told_clinic = False
    for _ in range(3 * len(TWITCH_INTAKE.pages()) + 8):
        if where.startswith("/intake/page/"):
            page, where = after(post_page(browser, where, page, patient, js))
        elif where == "/intake/get-care-now/":
            if not told_clinic and _ASKS_ACTION.search(page.text):
                told_clinic = True
                page, where = after(post_get_care(browser, where, page, patient, js))
            else:
                page, where = opened(continue_url(page))  # a link: a GET, with or without JS
        elif where == "/intake/review/":
            page, where = after(post_submit(browser, page, js))
        elif where == "/intake/thanks/":
            return
        else:
            raise UnexpectedResponse(page, f"unexpected page {where}")
    raise UnexpectedResponse(None, "the intake never reached the thank-you page")


def intake_without_javascript(browser: Browser, patient: Patient) -> None:
    """The same intake with JavaScript off: every form posted, redirected, the page fetched."""
    intake(browser, patient, js=False)


# --- the peer: the same questionnaire as a formtools wizard (benchmarks.wizard) -------------

_WIZARD_STEP = re.compile(r'name="peer_wizard-current_step" value="([^"]*)"')


def _wizard_step(page: Response) -> str:
    found = _WIZARD_STEP.search(page.text)
    return found.group(1) if found else ""


def post_wizard_step(
    browser: Browser, page: Response, step: str, fields: list[tuple[str, str]]
) -> Response:
    """One wizard step posted (formtools prefixes each field with the step's name); the answer
    is the next step, rendered at once (no redirect), which is checked."""
    from . import wizard  # imports models: only once Django is set up

    form = [
        ("csrfmiddlewaretoken", page.csrf()),
        (f"{wizard.PREFIX}-current_step", step),
        *((f"{step}-{name}", value) for name, value in fields),
    ]
    response = expect(browser.post("/bench/wizard/", form), 200)
    response.sample.key = f"POST wizard/{step}"
    return response


def wizard_intake(browser: Browser, patient: Patient) -> None:
    """Link -> date of birth -> one step per group -> review -> done (the thank-you page)."""
    from . import wizard

    browser.forget()
    page = expect(browser.get(f"/bench/wizard/link/{patient.token}/"), 200)
    page.sample.key = "GET wizard/link"
    steps = [wizard.IDENTIFY, *(g.link_id for g in TWITCH_INTAKE.groups), wizard.REVIEW]
    for step, following in zip(steps, [*steps[1:], None], strict=True):
        if _wizard_step(page) != step:
            raise UnexpectedResponse(page, f"the wizard is not at {step}")
        if step == wizard.IDENTIFY:
            fields = list(birth_date_boxes(patient.date_of_birth).items())
        elif step == wizard.REVIEW:
            fields = []
        else:
            group = wizard.group_page(TWITCH_INTAKE.group(step))
            fields = page_form(group, patient.answers)
        page = post_wizard_step(browser, page, step, fields)
        if following is None and _wizard_step(page):
            raise UnexpectedResponse(page, "the wizard did not finish")


FLOOR_FORM = {
    "name": "Ada Example",
    "email": "ada@example.org",
    "phone": "555-0199",
    "born": "1980-05-17",
    "visit": "2030-01-15",
    "age": "45",
    "colour": "blue",
    "severity": "moderate",
    "consent": "on",
    "notes": "Nothing else.",
}


def floor(browser: Browser) -> None:
    """GET the floor form, POST it valid (one row inserted, then a redirect)."""
    page = expect(browser.get("/bench/floor/"), 200)
    expect(browser.post("/bench/floor/", {"csrfmiddlewaretoken": page.csrf(), **FLOOR_FORM}), 302)


@dataclass
class LoadResult:
    done: int
    errors: list[str]
    seconds: float
    samples: list[Sample]
    #: Jobs never started because the phase ran out of time (0 on any reasonable machine).
    skipped: int = 0


def run_load(
    jobs: Iterable[Any],
    work: Callable[[Browser, Any], None],
    *,
    clients: int,
    host: str,
    port: int,
    max_seconds: float | None = None,
    make_browser: Callable[[], Browser] | None = None,
) -> LoadResult:
    """``clients`` threads, each one browser, take jobs until none are left.

    Past ``max_seconds`` no new job starts, so that a slow or busy machine still ends the run in
    time; what was skipped is reported. ``make_browser`` makes each thread's browser (one that
    spreads its requests over several servers, say); by default a :class:`Browser` on
    ``host:port``.
    """
    todo: queue.Queue[Any] = queue.Queue()
    for job in jobs:
        todo.put(job)
    browsers = [make_browser() if make_browser else Browser(host, port) for _ in range(clients)]
    errors: list[str] = []
    done = [0] * clients
    start_line = threading.Barrier(clients + 1)

    def loop(index: int) -> None:
        browser = browsers[index]
        start_line.wait()
        while True:
            if deadline is not None and time.perf_counter() > deadline:
                break
            try:
                job = todo.get_nowait()
            except queue.Empty:
                break
            try:
                work(browser, job)
                done[index] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
                errors.append(f"{type(exc).__name__}: {exc}")
        browser.close()

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline = None if max_seconds is None else time.perf_counter() + max_seconds
    start_line.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    samples = [s for b in browsers for s in b.samples]
    return LoadResult(sum(done), errors, seconds, samples, skipped=todo.qsize())
