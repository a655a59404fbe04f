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

from .client import Browser, Sample, UnexpectedResponse, expect
from .data import page_form

_CONTINUE = re.compile(r'<a class="[^"]*" href="([^"]+)">')


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


def intake(browser: Browser, patient: Patient, visit: Visit | None = None) -> None:
    """Link -> date of birth -> every page -> (get care now) -> review -> submit -> thanks."""
    browser.forget()
    link = f"/intake/link/{patient.token}/"

    def seen(name: str, response: Any) -> Any:
        if visit is not None:
            visit.pages[name] = response
        return response

    page = seen(link, expect(browser.get(link), 200))
    response = expect(
        browser.post(
            link, {"csrfmiddlewaretoken": page.csrf(), **birth_date_boxes(patient.date_of_birth)}
        ),
        302,
    )
    where = response.location
    for _ in range(3 * len(TWITCH_INTAKE.groups) + 6):
        page = seen(where, expect(browser.get(where), 200))
        if where.startswith("/intake/page/"):
            group = TWITCH_INTAKE.group(where.rstrip("/").rsplit("/", 1)[1])
            form = [("csrfmiddlewaretoken", page.csrf()), *page_form(group, patient.answers)]
            where = expect(browser.post(where, form), 302).location
        elif where == "/intake/get-care-now/":
            found = [h for h in _CONTINUE.findall(page.text) if h.startswith("/intake/")]
            if not found:
                raise UnexpectedResponse(page, "no way on from the emergency page")
            where = html.unescape(found[-1])  # "Continue the form"
        elif where == "/intake/review/":
            submitted = browser.post("/intake/submit/", {"csrfmiddlewaretoken": page.csrf()})
            where = expect(submitted, 302).location
        elif where == "/intake/thanks/":
            return
        else:
            raise UnexpectedResponse(page, f"unexpected page {where}")
    raise UnexpectedResponse(None, "the intake never reached the thank-you page")


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
