"""An outsider's attack on issue 19 (date boxes, tries left and the lock page, the idle session
that keeps a typed page, drafts of refused pages, check answers, the staff screens).

Tests named ``test_finding_*`` demonstrate a problem and FAIL on the code as it stands; the
others check a property that was attacked and holds (they pass).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import time
import zlib
from typing import Any
from urllib.parse import urljoin

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    GET_CARE_URL,
    birth_date_boxes,
    emergency_answers,
    issue,
    make_encounter,
    make_submitted,
    page_data,
    refused_post,
    routine_answers,
)
from tests.test_views import PAGE_IDS, PAGE_URL, REVIEW_URL, SUBMIT_URL, Page, answer_pages
from twitch_intake.middleware import IdleSessionMiddleware
from twitch_intake.models import AccessEvent, Encounter
from twitch_intake.views import SESSION_KEY

pytestmark = pytest.mark.django_db

CONTINUE_URL = "/intake/continue/"
A_MEDICINES = "ADA SECRET clozapine 200 mg, lithium 400 mg"
PASSWORD = "correct horse battery staple"
QUEUE = "/admin/twitch_intake/encounter/"


# --- helpers ----------------------------------------------------------------------------------


def _sign_in(client: Client, encounter: Encounter, dob: dt.date | None = None) -> str:
    token = issue(encounter)
    born = dob or encounter.date_of_birth
    response = client.post(
        f"/intake/link/{token}/",
        birth_date_boxes(str(born.day), str(born.month), str(born.year)),
    )
    assert response.status_code == 302, response.status_code
    return token


def _idle_for(client: Client, minutes: float) -> None:
    session = client.session
    session[IdleSessionMiddleware.KEY] = int(time.time() - minutes * 60)
    session.save()


def _stored_session(client: Client) -> dict[str, Any]:
    return Session.objects.get(session_key=client.session.session_key).get_decoded()


def _session_row_size(client: Client) -> int:
    return len(Session.objects.get(session_key=client.session.session_key).session_data)


def _at(client: Client, slug: str) -> None:
    """Answer every page before ``slug``."""
    answer_pages(client, routine_answers(), PAGE_IDS[: PAGE_IDS.index(slug)])


def _staff(username: str, group: str) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def _normalised(html: str, token: str) -> str:
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)
    return html.replace(token, "TOKEN")


def _decode_messages_cookie(value: str) -> str:
    """The plain text of Django's signed messages cookie (signed, not encrypted)."""
    payload = value.split(":")[0]
    compressed = payload.startswith(".")
    payload = payload.lstrip(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    if compressed:
        raw = zlib.decompress(raw)
    return raw.decode()


# === FINDINGS (these fail) =====================================================================


@pytest.mark.parametrize("how", ["link", "self-start"])
def test_finding_page_kept_after_idle_is_shown_to_the_next_patient_on_the_same_browser(how):
    """HIGH. A's session goes idle; A (or whoever picked up the phone) presses Continue on the
    medicines page: it is kept in the session (idle.TYPED_KEY). A walks away. B, on the same
    tablet, opens their own link (or starts as a walk-in): ``_bind`` forgets the suspension
    but not the kept page, so B's medicines page comes up filled with A's medicines, and
    B's Continue would save them into B's record."""
    browser = Client()
    ada = make_encounter(patient_name="Ada A")
    _sign_in(browser, ada)
    _at(browser, "background")
    _idle_for(browser, 31)
    typed = page_data("background", routine_answers(medications=A_MEDICINES))
    assert browser.post(PAGE_URL.format("background"), typed)["Location"] == CONTINUE_URL

    if how == "link":
        bea = make_encounter(patient_name="Bea B", date_of_birth=dt.date(1991, 2, 3))
        _sign_in(browser, bea)
    else:
        visit = timezone.localdate() + dt.timedelta(days=1)
        started = browser.post(
            "/intake/start/",
            {
                "patient_name": "Bea Walk-in",
                **birth_date_boxes("3", "2", "1991"),
                "visit_date": visit.isoformat(),
            },
        )
        assert started.status_code == 302
        bea = Encounter.objects.get(patient_name="Bea Walk-in")
    _at(browser, "background")

    page = browser.get(PAGE_URL.format("background"))
    assert page.status_code == 200
    assert A_MEDICINES not in page.content.decode(), "B is shown A's typed medicines"
    # Nor does A's page wait in B's session at all.
    assert A_MEDICINES not in json.dumps(_stored_session(browser))
    assert Encounter.objects.get(pk=bea.pk).answers.get("medications") != A_MEDICINES


def test_finding_page_kept_after_idle_is_unbounded_any_field_any_size_any_slug():
    """LOW. A refused page's draft keeps only the page's own fields, each cut at
    DRAFT_LIMIT; but a page posted to a suspended session is kept whole by
    ``idle.keep_typed``: every posted field (of any page, or none), at any length (up to
    Django's 2.5 MB body limit), under any slug (even one that is no page), in the session
    row, for the 4 hours the suspended session lives."""
    browser = Client()
    _sign_in(browser, make_encounter())
    _idle_for(browser, 31)
    # Random text (sessions are stored compressed): 1.8 MB that cannot shrink.
    huge = base64.b64encode(os.urandom(1_350_000)).decode()
    response = browser.post(
        "/intake/page/no-such-page/",
        {"medications": huge, "emergency-signs": "seizure", "anything": "y" * 1_000},
    )
    assert response.status_code == 303  # kept, not refused
    kept = json.dumps(_stored_session(browser))
    size = _session_row_size(browser)
    problems = [
        *(["a slug that is no page is kept"] if "no-such-page" in kept else []),
        *(["a field of no page is kept"] if "anything" in kept else []),
        *([f"{size} bytes kept in the session row"] if size > 100_000 else []),
    ]
    assert not problems, problems


@pytest.mark.parametrize("where", ["link", "continue", "get-care", "self-start"])
def test_finding_a_refused_post_is_answered_with_a_page_not_a_redirect(where):
    """MEDIUM (usability, and it costs tries). Issue 19: "refresh after any POST never shows a
    resubmission prompt (redirect after every POST, including invalid ones)". The question
    pages do; these four answer a refused POST with a page of their own (200, or 400 on the
    get-care page), so Refresh shows "Confirm Form Resubmission". On the link and the continue
    page, confirming it sends the same wrong date again and uses up another try."""
    browser = Client()
    encounter = make_encounter()
    if where == "link":
        token = issue(encounter)
        response = browser.post(f"/intake/link/{token}/", birth_date_boxes("18", "5", "1980"))
    elif where == "continue":
        _sign_in(browser, encounter)
        _idle_for(browser, 31)
        browser.get(PAGE_URL.format("emergency"))
        response = browser.post(CONTINUE_URL, birth_date_boxes("18", "5", "1980"))
    elif where == "get-care":
        _sign_in(browser, encounter)
        saved = browser.post(
            PAGE_URL.format("emergency"), page_data("emergency", emergency_answers())
        )
        assert saved["Location"] == GET_CARE_URL
        response = browser.post(GET_CARE_URL, {"emergency-action": "not-a-choice"})
    else:
        response = browser.post(
            "/intake/start/", {"patient_name": "", **birth_date_boxes("", "", "")}
        )
    assert response.status_code in {302, 303}, (
        f"{where}: a refused POST answered {response.status_code} with a page: Refresh resubmits"
    )


def test_finding_refreshing_the_wrong_date_page_uses_up_a_try():
    """The consequence of the above on the link page: a patient who refreshes after "does not
    match" (and confirms the browser's prompt) is charged a second wrong try.

    After a redirect-after-POST a browser's refresh is a GET of the page it was sent to: the
    wrong POST is answered 303, the browser GETs the page, and a refresh GETs it again."""
    browser = Client()
    encounter = make_encounter()
    token = issue(encounter)
    link = f"/intake/link/{token}/"
    response = browser.post(link, birth_date_boxes("18", "5", "1980"))
    assert response.status_code == 303 and urljoin(link, response["Location"]) == link
    browser.get(link)
    refreshed = browser.get(link)  # Refresh
    assert Encounter.objects.get(pk=encounter.pk).dob_failures == 1
    assert "You have 4 more tries." in refreshed.content.decode()


def test_finding_admin_save_puts_the_patients_name_in_the_messages_cookie(client):
    """LOW. ``_next_unreviewed`` keeps names out of messages because they "travel in a cookie";
    but the admin's own "The encounter “Ada Lovelace (…)” was changed successfully." (Encounter's
    __str__ holds the patient's name) goes into the same signed-not-encrypted messages cookie
    whenever the front desk saves an encounter."""
    encounter = make_encounter(patient_name="Ada Lovelace", email="ada@example.test")
    desk = _staff("front", "Front desk")
    client.force_login(desk)
    change = reverse("admin:twitch_intake_encounter_change", args=[encounter.pk])
    form = client.get(change).context["adminform"].form
    data = {
        name: ("" if value is None else value)
        for name, value in form.initial.items()
        if name in form.fields
    }
    data.update(
        {
            "patient_name": "Ada Lovelace",
            "date_of_birth": "1980-05-17",
            "visit_at_0": timezone.localtime(encounter.visit_at).date().isoformat(),
            "visit_at_1": "10:00",
            "email": "ada.new@example.test",
        }
    )
    data = {k: v for k, v in data.items() if v is not None}
    response = client.post(change, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    cookie = response.cookies.get("messages")
    assert cookie is None or "Lovelace" not in _decode_messages_cookie(cookie.value)
    # The message itself is still there for the next page, kept on the server.
    shown = [str(m) for m in client.get(change).context["messages"]]
    assert any("Lovelace" in message for message in shown), shown


def _csrf(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_finding_a_page_left_open_for_one_patient_saves_into_the_next_patients_intake():
    """MEDIUM. A page's form says nothing of whose intake it was drawn for, and binding a new
    patient's link rotates the session id but not the CSRF token. On a shared tablet, A's
    medicines page is left open in one tab; B opens their own link in another (or after A's
    session went idle). A's Continue then passes the CSRF check and saves A's typed medicines
    into B's record (with real CSRF enforcement)."""
    browser = Client(enforce_csrf_checks=True)
    ada = make_encounter(patient_name="Ada A")
    bea = make_encounter(patient_name="Bea B", date_of_birth=dt.date(1991, 2, 3))
    for who, pages in ((ada, PAGE_IDS[: PAGE_IDS.index("background")]), (bea, [])):
        token = issue(who)
        link = f"/intake/link/{token}/"
        born = who.date_of_birth
        signed = browser.post(
            link,
            {
                "csrfmiddlewaretoken": _csrf(browser.get(link).content.decode()),
                **birth_date_boxes(str(born.day), str(born.month), str(born.year)),
            },
        )
        assert signed.status_code == 302
        for slug in pages:
            form = browser.get(PAGE_URL.format(slug)).content.decode()
            data = {**page_data(slug, routine_answers()), "csrfmiddlewaretoken": _csrf(form)}
            assert browser.post(PAGE_URL.format(slug), data).status_code == 302
        if who is ada:
            # Tab 1: A's medicines page, drawn for A, left on screen.
            drawn = browser.get(PAGE_URL.format("background")).content.decode()
            ada_tab = _csrf(drawn)
            # A browser posts every field of the form, the hidden ones included.
            ada_for = re.search(r'name="_for" value="([^"]+)"', drawn)
    # Tab 2 signed B in. B completes the pages before background in B's own tab.
    for slug in PAGE_IDS[: PAGE_IDS.index("background")]:
        form = browser.get(PAGE_URL.format(slug)).content.decode()
        data = {**page_data(slug, routine_answers()), "csrfmiddlewaretoken": _csrf(form)}
        browser.post(PAGE_URL.format(slug), data)
    # A presses Continue in tab 1.
    posted = browser.post(
        PAGE_URL.format("background"),
        {
            **page_data("background", routine_answers(medications=A_MEDICINES)),
            "csrfmiddlewaretoken": ada_tab,
            **({"_for": ada_for.group(1)} if ada_for else {}),
        },
    )
    # Refused (303 back to the page, drawn now for B), and nothing of it saved into B's intake.
    assert posted.status_code == 303 and posted["Location"] == PAGE_URL.format("background")
    assert Encounter.objects.get(pk=bea.pk).answers.get("medications") != A_MEDICINES, (
        "A's medicines were saved into B's intake"
    )


def test_finding_a_refused_draft_outlives_submission_and_the_next_patients_sign_in():
    """LOW (retention, server-side only: nothing is shown). A patient changes an answer from
    check-answers, it is refused (a control character), they go back and submit. What they
    typed stays in the session row after the intake is sent (and, as drafts are replaced only
    when another encounter's page is refused, after the next patient signs in on the same
    browser too)."""
    browser = Client()
    ada = make_encounter()
    _sign_in(browser, ada)
    answer_pages(browser, routine_answers())
    bad = page_data("background", routine_answers(medications=A_MEDICINES + "\x07"))
    assert browser.post(PAGE_URL.format("background"), bad).status_code == 303
    assert browser.post(SUBMIT_URL)["Location"] == "/intake/thanks/"
    assert Encounter.objects.get(pk=ada.pk).is_submitted
    assert A_MEDICINES not in json.dumps(_stored_session(browser)), "kept after submission"


def test_finding_the_get_care_answer_posted_after_the_idle_limit_is_lost_without_a_word():
    """MEDIUM (usability, on the emergency page). "Never lose typed work" covers the question
    pages only: ``_session_closed`` keeps a POST only when the URL has a page slug. A patient
    who reads the get-care page for more than 30 minutes and then says what they are doing
    ("getting care now") is asked for their date of birth under "The answers on the pages you
    finished are saved", and then sent on to the next question page: the answer is neither
    saved nor kept nor asked again until Submit bounces them back."""
    browser = Client()
    encounter = make_encounter()
    _sign_in(browser, encounter)
    saved = browser.post(PAGE_URL.format("emergency"), page_data("emergency", emergency_answers()))
    assert saved["Location"] == GET_CARE_URL
    _idle_for(browser, 31)
    response = browser.post(GET_CARE_URL, {"emergency-action": "getting-care-now"})
    assert response["Location"] == CONTINUE_URL
    welcome = Page(browser.get(CONTINUE_URL)).text()
    back = browser.post(CONTINUE_URL, birth_date_boxes())
    kept_or_asked = (
        Encounter.objects.get(pk=encounter.pk).answers.get("emergency-action") is not None
        or back["Location"] == GET_CARE_URL
        or "is kept" in welcome
    )
    assert kept_or_asked, f"lost; sent on to {back['Location']}; page said: {welcome[:200]}"


@pytest.mark.parametrize("host_page", ["/admin/", "/admin/login/"])
def test_finding_a_host_page_revives_an_idle_patient_session_past_the_limit(host_page):
    """HIGH. The idle limit is checked only on the app's own pages (``_close_if_idle`` returns
    at once when ``headers.is_ours`` is false), but the same middleware's response half stamps
    "seen now" on any request whose view read the session, the host's pages included. So
    whoever picks up a phone left idle for 40 minutes opens /admin/ (or any host page that
    reads the session: request.user does) once, and then /intake/review/ shows every answer
    with no date of birth asked for."""
    browser = Client()
    encounter = make_encounter()
    _sign_in(browser, encounter)
    answer_pages(browser, routine_answers(medications=A_MEDICINES))
    _idle_for(browser, 40)
    browser.get(host_page)
    review = browser.get(REVIEW_URL)
    assert review.status_code != 200 or A_MEDICINES not in Page(review).text(), (
        "the answers are shown 40 minutes after the last use, without the date of birth"
    )
    assert SESSION_KEY not in browser.session


def test_finding_a_suspended_session_and_its_kept_page_outlive_keep_for_if_poked():
    """LOW. idle.py: what is kept lives "only for KEEP_FOR after the limit; after that the
    session is gone". But every request to a suspended session (the continue page, any page
    that redirects to it) stamps it as seen now and moves its expiry another
    IDLE_TIMEOUT + KEEP_FOR on: opened once every few hours, the typed page is kept forever
    (until the link expires)."""
    from twitch_intake import idle

    browser = Client()
    _sign_in(browser, make_encounter())
    _at(browser, "background")
    _idle_for(browser, 31)
    typed = page_data("background", routine_answers(medications=A_MEDICINES))
    browser.post(PAGE_URL.format("background"), typed)
    # Four hours and ten minutes after the last use: 20 minutes of KEEP_FOR left.
    _idle_for(browser, 250)
    deadline = timezone.now() + dt.timedelta(minutes=20)
    # As the row would stand had no test written it since: it ends at the deadline.
    key = browser.session.session_key
    Session.objects.filter(session_key=key).update(expire_date=deadline)
    assert browser.get(CONTINUE_URL).status_code == 200
    row = Session.objects.get(session_key=browser.session.session_key)
    assert idle.TYPED_KEY in row.get_decoded()
    assert row.expire_date <= deadline + dt.timedelta(minutes=1), (
        f"kept until {row.expire_date}, past {deadline}"
    )


# === PROPERTIES THAT HOLD (these pass) =========================================================


HOSTILE_BOXES = [
    ("٣", "٥", "١٩٨٠"),  # Arabic-Indic digits
    ("１７", "５", "１９８０"),  # full-width digits
    ("-17", "5", "1980"),
    ("17", "-5", "1980"),
    ("17", "5", "-1980"),
    ("99999999999999999999", "5", "1980"),
    ("17", "5", "99999999999999999999"),
    ("17", "5", "1980" * 2500),  # 10,000 characters
    ("1" * 10_000, "5", "1980"),
    ("17\x00", "5", "1980"),
    (" 17 ", " 5 ", " 1980 "),
    ("17", "may.", "1980"),
    ("17", "MAY", "1980"),
    ("0", "5", "1980"),
    ("32", "5", "1980"),
    ("29", "2", "1981"),
    ("17", "5", "0000"),
    ("17", "5", "0980"),
    ("17", "13", "1980"),
    ("17", "5", "1e3"),
    ("1_7", "5", "1980"),
    ("17.0", "5", "1980"),
    ("\u202e17", "5", "1980"),
    ("17", "5", "1980\n"),
]


@pytest.mark.parametrize("boxes", HOSTILE_BOXES)
def test_hostile_date_boxes_never_500_and_open_only_with_the_real_date(boxes):
    encounter = make_encounter()
    token = issue(encounter)
    browser = Client()
    link = f"/intake/link/{token}/"
    response = browser.post(link, birth_date_boxes(*boxes))
    assert response.status_code in {302, 303}
    if response.status_code == 303:  # refused: the page it shows again never 500s either
        assert urljoin(link, response["Location"]) == link
        assert browser.get(link).status_code in {200, 404}
    opened = response.status_code == 302
    if opened:
        # Only forms of 17 May 1980 may open.
        assert boxes in {
            (" 17 ", " 5 ", " 1980 "),
            ("17", "may.", "1980"),
            ("17", "MAY", "1980"),
            ("17", "5", "1980\n"),
        }
        assert browser.get(PAGE_URL.format("emergency")).status_code == 200


def test_arrays_and_the_old_single_field_in_the_date_boxes_never_500():
    encounter = make_encounter()
    token = issue(encounter)
    browser = Client()
    for data in (
        {
            "date_of_birth_day": ["17", "18"],
            "date_of_birth_month": ["5", "6"],
            "date_of_birth_year": ["1980", "1981"],
        },
        {"date_of_birth": ["1980-05-17", "x" * 10_000]},
        {"date_of_birth": "0000-00-00"},
        {"date_of_birth": "9999-99-99"},
        {"date_of_birth": "x" * 10_000},
        {"date_of_birth": "1980-05-17", "date_of_birth_day": ""},
    ):
        response = browser.post(f"/intake/link/{token}/", data, follow=True)
        assert response.status_code in {200, 404}, data
        assert [status for _, status in response.redirect_chain] in ([], [302], [303]), data


def test_the_continue_page_cannot_guess_beyond_the_lock():
    browser = Client()
    encounter = make_encounter()
    _sign_in(browser, encounter)
    _idle_for(browser, 31)
    browser.get(PAGE_URL.format("emergency"))
    for day in range(1, 6):
        browser.post(CONTINUE_URL, birth_date_boxes(str(day), "1", "1990"))
    assert Encounter.objects.get(pk=encounter.pk).locked_until is not None
    # Locked now: the right date does not open it, on the continue page or the link.
    right = refused_post(browser, CONTINUE_URL, birth_date_boxes())
    assert right.status_code == 404
    assert SESSION_KEY not in browser.session
    assert browser.get(PAGE_URL.format("emergency")).status_code in {302, 303, 403}
    assert "Location" not in browser.get(PAGE_URL.format("emergency")) or (
        browser.get(PAGE_URL.format("emergency"))["Location"] == CONTINUE_URL
    )


def test_a_suspended_session_opens_nothing_without_the_date_of_birth():
    browser = Client()
    encounter = make_encounter()
    _sign_in(browser, encounter)
    answer_pages(browser, routine_answers())
    _idle_for(browser, 31)
    for url in [*(PAGE_URL.format(s) for s in PAGE_IDS), REVIEW_URL, "/intake/", GET_CARE_URL]:
        response = browser.get(url)
        assert response.status_code in {303, 403}, url
    browser.post("/intake/language/", {"language": "es", "next": REVIEW_URL})
    assert browser.post(SUBMIT_URL).status_code in {303, 403}
    assert not Encounter.objects.get(pk=encounter.pk).is_submitted
    # Another patient's date of birth does not resume it either.
    assert (
        refused_post(browser, CONTINUE_URL, birth_date_boxes("3", "2", "1991")).status_code == 200
    )
    assert SESSION_KEY not in browser.session


def test_a_draft_of_one_encounter_is_never_shown_to_another():
    browser = Client()
    ada = make_encounter()
    _sign_in(browser, ada)
    _at(browser, "background")
    # Refused (too long): the draft is kept for Ada's encounter.
    bad = page_data("background", routine_answers(medications=A_MEDICINES + "\x07"))
    assert browser.post(PAGE_URL.format("background"), bad).status_code == 303
    bea = make_encounter(patient_name="Bea", date_of_birth=dt.date(1991, 2, 3))
    _sign_in(browser, bea)
    _at(browser, "background")
    assert A_MEDICINES not in browser.get(PAGE_URL.format("background")).content.decode()


def test_a_draft_is_cut_and_holds_only_the_pages_own_fields():
    browser = Client()
    _sign_in(browser, make_encounter())
    _at(browser, "background")
    data = page_data("background", routine_answers())
    random_text = base64.b64encode(os.urandom(750_000)).decode()  # 1 MB that cannot compress
    data.update({"medications": random_text, "emergency-signs": "seizure", "x-junk": "j" * 50})
    assert browser.post(PAGE_URL.format("background"), data).status_code == 303
    kept = json.dumps(_stored_session(browser))
    # Markers base64 cannot spell ("-" is not in its alphabet): "junk" alone turned up in the
    # random text about once in 1,600 runs.
    assert "x-junk" not in kept and '"emergency-signs"' not in kept
    assert _session_row_size(browser) < 60_000


def test_a_crafted_return_address_on_change_links_opens_nothing_and_skips_nothing():
    browser = Client()
    encounter = make_encounter()
    _sign_in(browser, encounter)
    answer_pages(browser, routine_answers())
    for query in ("?next=https://evil.test/", "?return=//evil.test", "?return_to=/admin/"):
        response = browser.post(
            PAGE_URL.format("emergency") + query, page_data("emergency", routine_answers())
        )
        assert response["Location"] == REVIEW_URL, query
    # Changing the signs to an emergency goes to the get-care page, and Submit cannot skip it.
    response = browser.post(
        PAGE_URL.format("emergency") + "?next=" + REVIEW_URL,
        page_data("emergency", emergency_answers()),
    )
    assert response["Location"] == GET_CARE_URL
    assert browser.post(SUBMIT_URL)["Location"] == GET_CARE_URL
    assert not Encounter.objects.get(pk=encounter.pk).is_submitted


def test_the_language_switch_is_no_open_redirect():
    browser = Client()
    for target in ("https://evil.test/", "//evil.test/", "/\\evil.test", "\\\\evil.test"):
        response = browser.post("/intake/language/", {"language": "es", "next": target})
        assert response["Location"] == "/intake/", target


def test_the_lock_page_is_for_the_browser_that_tried_only():
    encounter = make_encounter()
    token = issue(encounter)
    guesser = Client()
    for _ in range(5):
        guesser.post(f"/intake/link/{token}/", birth_date_boxes("1", "1", "2001"))
    locked = guesser.get(f"/intake/link/{token}/").content.decode()
    assert "This link is paused for a while" in locked
    stranger = Client()
    unknown = stranger.get("/intake/link/not-a-real-token/").content.decode()
    for response in (
        stranger.get(f"/intake/link/{token}/"),
        refused_post(stranger, f"/intake/link/{token}/", birth_date_boxes("1", "1", "2001")),
        refused_post(stranger, f"/intake/link/{token}/", birth_date_boxes("17", "5", "1980")),
    ):
        assert response.status_code == 404
        html = response.content.decode()
        assert "This link is paused for a while" not in html
        assert "Try again in" not in html and "more tr" not in html
        assert _normalised(html, token) == _normalised(unknown, "not-a-real-token")


@pytest.mark.parametrize(
    "q",
    [
        "٢٧/٣/١٩٨٠",
        "27/3/" + "9" * 5000,
        "-1/-1/-1980",
        "1980-02-30",
        "27 " + "a" * 12 + " 1980",
        "27/3/1980\x00",
        "x" * 10_000,
        "27\u00a0Mar\u00a01980",
        "27/3/1980 OR 1=1",
    ],
)
def test_date_of_birth_search_never_500(client, q):
    make_submitted(routine_answers(), patient_name="Rita", date_of_birth=dt.date(1980, 3, 27))
    client.force_login(_staff("doctor", "Clinicians"))
    assert client.get(QUEUE, {"q": q}).status_code in {200, 400}


def test_date_of_birth_search_is_for_staff_only(client):
    make_submitted(routine_answers(), patient_name="Rita", date_of_birth=dt.date(1980, 3, 27))
    plain = User.objects.create_user("plain", password=PASSWORD, is_staff=True)
    client.force_login(plain)
    response = client.get(QUEUE, {"q": "27/3/1980"})
    assert response.status_code == 403
    assert b"Rita" not in response.content


@pytest.mark.parametrize("method", ["get", "head", "options", "put", "delete", "trace", "patch"])
def test_every_way_to_the_chart_text_is_logged_or_refused(client, method):
    encounter = make_submitted(routine_answers(notes="Secret note"))
    doctor = _staff("doctor", "Clinicians")
    client.force_login(doctor)
    for name in ("chart_text", "text", "print", "change"):
        before = AccessEvent.objects.filter(user=doctor).count()
        url = reverse(f"admin:twitch_intake_encounter_{name}", args=[encounter.pk])
        response = getattr(client, method)(url)
        shown = b"Secret note" in response.content or (
            method == "head" and response.status_code == 200
        )
        if shown:
            assert AccessEvent.objects.filter(user=doctor).count() > before, (name, method)


def test_next_unreviewed_message_holds_no_name(client):
    first = make_submitted(routine_answers(), patient_name="First Patient")
    make_submitted(routine_answers(), patient_name="Second Patient")
    client.force_login(_staff("doctor", "Clinicians"))
    response = client.post(reverse("admin:twitch_intake_encounter_review", args=[first.pk]))
    # Kept on the server (MESSAGE_STORAGE): no cookie; and the messages name no patient.
    assert response.cookies.get("messages") is None
    shown = [str(m) for m in client.get(response["Location"]).context["messages"]]
    assert any("next unreviewed" in message for message in shown), shown
    assert not any("Patient" in message for message in shown), shown


def test_nothing_typed_on_a_kept_page_reaches_a_url_or_the_log(caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    browser = Client()
    encounter = make_encounter()
    token = _sign_in(browser, encounter)
    _at(browser, "background")
    _idle_for(browser, 31)
    response = browser.post(
        PAGE_URL.format("background"),
        page_data("background", routine_answers(medications=A_MEDICINES)),
    )
    assert A_MEDICINES not in response["Location"]
    browser.post(CONTINUE_URL, birth_date_boxes("18", "5", "1980"))
    browser.post(CONTINUE_URL, birth_date_boxes())
    for record in caplog.records:
        assert A_MEDICINES not in record.getMessage()
        assert token not in record.getMessage()
    assert "clozapine" not in " ".join(v.value for v in browser.cookies.values())


def test_a_page_kept_after_idle_cannot_skip_the_emergency_page():
    browser = Client()
    encounter = make_encounter()
    _sign_in(browser, encounter)
    _idle_for(browser, 31)
    # Posted to the last page while only the first was ever opened.
    last = PAGE_IDS[-1]
    assert browser.post(PAGE_URL.format(last), {"notes": "x"})["Location"] == CONTINUE_URL
    back = browser.post(CONTINUE_URL, birth_date_boxes())
    landed = browser.get(back["Location"])
    if landed.status_code == 302:
        landed = browser.get(landed["Location"])
    assert landed.status_code == 200
    assert landed.request["PATH_INFO"] == PAGE_URL.format("emergency")
    assert Encounter.objects.get(pk=encounter.pk).answers == {}


XSS = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def test_hostile_date_boxes_are_escaped_when_shown_again():
    encounter = make_encounter()
    token = issue(encounter)
    browser = Client()
    for url in (f"/intake/link/{token}/", "/intake/start/"):
        response = refused_post(browser, url, birth_date_boxes(XSS, XSS, XSS))
        assert response.status_code in {200, 404}
        assert b"<script>alert(1)" not in response.content
        assert b"<img src=x" not in response.content


def test_a_kept_page_is_escaped_when_shown_again():
    browser = Client()
    _sign_in(browser, make_encounter())
    _at(browser, "background")
    _idle_for(browser, 31)
    typed = page_data("background", routine_answers(medications=XSS))
    typed["_revealed"] = XSS
    browser.post(PAGE_URL.format("background"), typed)
    browser.post(CONTINUE_URL, birth_date_boxes())
    page = browser.get(PAGE_URL.format("background"))
    assert b"<script>alert(1)" not in page.content
    assert Page(page).value("medications") == XSS


@pytest.mark.parametrize("language", ["en", "es"])
def test_tries_left_lock_and_continue_pages_render_in_every_language(settings, language):
    encounter = make_encounter()
    token = issue(encounter)
    browser = Client()
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    link = f"/intake/link/{token}/"
    for _ in range(4):
        response = refused_post(browser, link, birth_date_boxes("1", "1", "2001"))
        assert response.status_code == 200
        assert "twitch_intake/confirm.html" in [t.name for t in response.templates]
    locked = refused_post(browser, link, birth_date_boxes("1", "1", "2001"))
    assert locked.status_code == 404
    assert "twitch_intake/link_locked.html" in [t.name for t in locked.templates]
    again = browser.get(f"/intake/link/{token}/")
    assert again.status_code == 404
    Encounter.objects.filter(pk=encounter.pk).update(locked_until=None, dob_failures=0)
    other = Client()
    other.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    _sign_in(other, encounter)
    _idle_for(other, 31)
    assert other.get(PAGE_URL.format("emergency"))["Location"] == CONTINUE_URL
    assert other.get(CONTINUE_URL).status_code == 200
    assert refused_post(other, CONTINUE_URL, birth_date_boxes("1", "1", "2001")).status_code == 200
    assert refused_post(other, CONTINUE_URL, birth_date_boxes("", "13", "x")).status_code == 200


def test_a_review_left_open_for_one_patient_never_sends_the_next_patients_intake():
    """The same as a page left open, on check answers: A's "Accept and send", pressed after B
    opened their own link in this browser, must not send B's intake unseen."""
    browser = Client(enforce_csrf_checks=True)
    ada = make_encounter(patient_name="Ada A")
    bea = make_encounter(patient_name="Bea B", date_of_birth=dt.date(1991, 2, 3))

    def sign_in_with_link(who: Encounter) -> None:
        link = f"/intake/link/{issue(who)}/"
        born = who.date_of_birth
        signed = browser.post(
            link,
            {
                "csrfmiddlewaretoken": _csrf(browser.get(link).content.decode()),
                **birth_date_boxes(str(born.day), str(born.month), str(born.year)),
            },
        )
        assert signed.status_code == 302

    def answer_all() -> None:
        for slug in PAGE_IDS:
            form = browser.get(PAGE_URL.format(slug)).content.decode()
            data = {**page_data(slug, routine_answers()), "csrfmiddlewaretoken": _csrf(form)}
            assert browser.post(PAGE_URL.format(slug), data).status_code == 302

    sign_in_with_link(ada)
    answer_all()
    review = browser.get(REVIEW_URL).content.decode()
    drawn_for = re.search(r'name="_for" value="([^"]+)"', review)
    assert drawn_for, "the review's form says which intake it was drawn for"
    sign_in_with_link(bea)
    answer_all()
    sent = browser.post(
        SUBMIT_URL, {"csrfmiddlewaretoken": _csrf(review), "_for": drawn_for.group(1)}
    )
    assert sent.status_code == 303 and sent["Location"] == REVIEW_URL
    assert not Encounter.objects.get(pk=bea.pk).is_submitted
