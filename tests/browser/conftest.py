"""Browser tests: one headless Debian Chromium per session, a fresh context per test.

Playwright's own browser download cannot work on a closed network, so these tests drive
``/usr/bin/chromium`` (``tests/browser_setup.py`` installs it where it can). Without it every
test here is skipped with a loud notice, except in CI, where a missing browser fails the run.

The live server answers from another thread, so the tests use a transactional database: each
test module is marked ``django_db(transaction=True)``, and what a test makes is flushed after it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Error, Page, expect, sync_playwright

from tests.browser.steps import PASSWORD, VIEWPORTS
from tests.browser_setup import CHROMIUM
from tests.factories import make_encounter, staff_group
from twitch_intake.models import Encounter

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse the
# ORM calls the tests make between two page actions.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

#: Long enough for a slow CI machine, short enough that a wrong selector fails fast.
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

_skipped: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped:
        banner = "!" * 78
        terminalreporter.write_line(
            f"{banner}\n!! BROWSER TESTS SKIPPED: {_skipped[0]}.\n"
            f"!! Install it with: sudo apt-get install chromium\n{banner}",
            red=True,
            bold=True,
        )


def _no_browser(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and CI is set: the browser tests must run", pytrace=False)
    _skipped.append(reason)
    pytest.skip(f"BROWSER TESTS SKIPPED: {reason}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        _no_browser(f"{CHROMIUM} is missing")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        except Error as error:
            _no_browser(f"{CHROMIUM} did not start: {error.message.splitlines()[0]}")
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Browser, live_server: Any) -> Iterator[Callable[..., Page]]:
    """Open a page in a new browser context (no cookies); ``viewport`` is phone or desktop."""
    contexts = []

    def open_page(viewport: str = "phone", **options: Any) -> Page:
        context = browser.new_context(
            base_url=live_server.url, viewport=VIEWPORTS[viewport], locale="en-US", **options
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def invite() -> Callable[..., tuple[Encounter, str]]:
    """An encounter and the path of its patient link."""

    def make(**fields: Any) -> tuple[Encounter, str]:
        encounter = make_encounter(**fields)
        token = encounter.issue_link()
        encounter.save()
        return encounter, f"/intake/link/{token}/"

    return make


@pytest.fixture
def clinician() -> User:
    """A member of the migration's Clinicians group, with its password set."""
    group = staff_group("Clinicians")
    user = User.objects.create_user("doctor", password=PASSWORD, is_staff=True)
    user.groups.add(group)
    return user
