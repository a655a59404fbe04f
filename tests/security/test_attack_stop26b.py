"""An outside attack on the changes after stop 26 (the session save's outage, the link page's
language switch, the sent link's page, refused and idle typing kept, the doubling link lock,
the add page's address, the search indexes). The add page's far-off times became two cases of
``test_attack_stop26``'s test of dates in that page's address.

Each test failed on the code before its fix; its docstring says what a patient, a host or
someone with a crafted address did, what went wrong, and what happens instead.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import OperationalError
from django.test import Client, override_settings

from tests.factories import birth_date_boxes, issue, make_encounter, page_data, routine_answers
from tests.security.patient import bound_client
from tests.test_idle import _idle_for as idle_for
from twitch_intake.checks import check_wiring

pytestmark = pytest.mark.django_db

PAGE = "/intake/page/{}/"
CONTINUE = "/intake/continue/"
UNAVAILABLE = "twitch_intake.middleware.DatabaseUnavailableMiddleware"


def test_a_session_save_outage_is_never_swallowed_wherever_the_middleware_sits(
    monkeypatch,
):
    """A host wires the app as its system check says: E026's hint for
    ``DatabaseUnavailableMiddleware`` is "add it anywhere in MIDDLEWARE", so the host appends
    it at the end (inside ``SessionMiddleware``), and ``check`` reports nothing. The database
    then goes away while ``SessionMiddleware`` saves a patient's session after a page
    answered (here, a refused page's draft: what the patient typed and why it was refused).

    ``note_outage_on_save`` now wraps that save and *swallows* the outage, trusting
    ``DatabaseUnavailableMiddleware`` to turn the note into a 503; but placed inside the
    session middleware it has already returned, so nobody reads the note. The 303 goes out
    as if all was well, nothing is logged, the draft was never written (the patient's
    typing is silently lost, the opposite of "nothing typed is lost"), and a new session's
    cookie names a session that does not exist (``sessionid=None`` for a walk-in). Before
    today's change the same outage was at least a loud 500.

    The outage should be answered (the calm 503, or the old 500) wherever the check lets the
    middleware sit, or the check should refuse an order in which it cannot work."""
    encounter = make_encounter()
    client = bound_client(encounter)
    client.raise_request_exception = False
    assert client.post(PAGE.format("emergency"), page_data("emergency", routine_answers()))

    appended = [m for m in settings.MIDDLEWARE if m != UNAVAILABLE] + [UNAVAILABLE]
    with override_settings(MIDDLEWARE=appended):
        found = check_wiring()
        assert not [e for e in found if e.is_serious()], "the check accepts this order"
        assert "twitch_intake.W008" in {e.id for e in found}, "but warns of it"

        def down(*args, **kwargs):
            raise OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr(SessionStore, "save", down)
        # The same browser (its cookies), through a handler built with this MIDDLEWARE.
        browser = Client(raise_request_exception=False)
        browser.cookies = client.cookies
        response = browser.post(PAGE.format("history"), {"onset": "not-a-code"})
        monkeypatch.undo()

    assert response.status_code >= 500, (
        f"the session could not be saved, yet the patient got a {response.status_code} "
        "as if their typing was kept"
    )


def _course(html: str) -> set[str]:
    """The values of the "course" radio buttons that are ticked on a page."""
    ticked = set()
    for tag in re.findall(r"<input[^>]*>", html):
        if 'name="course"' in tag and re.search(r"\schecked\b", tag):
            match = re.search(r'value="([^"]*)"', tag)
            if match:
                ticked.add(match.group(1))
    return ticked


def test_typing_kept_after_the_idle_limit_gives_way_once_the_page_is_saved_elsewhere():
    """A patient's phone session goes idle on the history page; they answer "Got better",
    press Continue, give their date of birth again and see the page with that answer, kept
    for them. They then finish the page on their laptop (the same link, another session) and
    change their mind: "Got worse", saved. Back on the phone the tab is reloaded (or they
    come to the page by "Change" from the review): it still shows "Got better", with the
    notice that it was kept for them, over the answer the clinic now has. Pressing Continue
    there writes the older answer over the newer one.

    Today the typing stays "until that page is saved" (``idle.saved``), but only a save in
    the same session clears it; before today it was shown once, so the reload showed the
    saved answer. Typing kept from before the pause should not outlive a save of that page,
    wherever it was made (e.g. drop it when the page's stored answers changed since it was
    kept), so the page shows what was saved."""
    encounter = make_encounter()
    token = issue(encounter)
    link = f"/intake/link/{token}/"
    phone, laptop = Client(), Client()
    dob = {"date_of_birth": encounter.date_of_birth.isoformat()}
    assert phone.post(link, dob).status_code == 302
    assert phone.post(PAGE.format("emergency"), page_data("emergency", routine_answers()))

    idle_for(phone, minutes=60)
    typed = phone.post(PAGE.format("history"), page_data("history", routine_answers()))
    assert typed.status_code == 303 and typed["Location"] == CONTINUE
    back_in = phone.post(CONTINUE, birth_date_boxes())
    assert back_in["Location"] == PAGE.format("history")
    assert _course(phone.get(PAGE.format("history")).content.decode()) == {"better"}

    assert laptop.post(link, dob).status_code == 302
    saved = laptop.post(
        PAGE.format("history"), page_data("history", routine_answers(course="worse"))
    )
    assert saved.status_code == 302
    encounter.refresh_from_db()
    assert encounter.answers["course"] == "worse"

    reloaded = phone.get(PAGE.format("history")).content.decode()
    assert _course(reloaded) == {"worse"}, (
        "the phone shows the typing from before the pause over the answer saved since"
    )
