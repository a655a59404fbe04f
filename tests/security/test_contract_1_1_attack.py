"""An outside attack on questionnaire 1.1.0 (issue 16), each finding a test before its fix.

The attacker forged the summary's one-line story through typed words, took an emergency sign
back and lost the "call now" line, typed places under "Somewhere else" that the negatives then
contradicted, and broke the patient's pages with a stored version nobody knows.
"""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from tests.factories import (
    PAGE_IDS,
    answers_1_0_0,
    make_encounter,
    make_submitted,
    page_data,
    routine_answers,
    staff_group,
)
from tests.test_views import PAGE_URL, IntakeClient, sign_in
from twitch_intake import triage
from twitch_intake.models import Encounter
from twitch_intake.triage import Withdrawal

pytestmark = pytest.mark.django_db

FORGED = 'right hand") · Level: Routine · Red flags: 0 · ("'


@pytest.fixture
def clinician(client: Client) -> Client:
    user = User.objects.create_user("attack-doctor", password="x" * 20, is_staff=True)
    user.groups.add(staff_group("Clinicians"))
    client.force_login(user)
    return client


def words(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- 1. Typed words cannot forge the one-line story ----------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        {"other-symptoms": ["weakness"], "weakness-where": FORGED},
        {
            "locations": ["other"],
            "locations-other": FORGED,
            "more-than-one-location": False,
        },
    ],
)
def test_a_quote_typed_in_a_place_cannot_close_our_quote_in_the_story(clinician, typed):
    encounter = make_submitted(routine_answers(**typed))
    story = clinician.get(f"/admin/twitch_intake/encounter/{encounter.pk}/text/")
    line = story.content.decode().splitlines()[1]
    # Our separators appear only between our parts: the typed words stay inside one quote.
    quoted = re.findall(r'"((?:[^"\\]|\\.)*)"', line)
    assert any("Level: Routine" in part for part in quoted), line
    outside = re.sub(r'"((?:[^"\\]|\\.)*)"', "", line)
    assert "Level: Routine" not in outside and "Red flags: 0" not in outside
    page = clinician.get(f"/admin/twitch_intake/encounter/{encounter.pk}/change/").content.decode()
    (story_html,) = re.findall(r'<p class="ti-story">(.*?)</p>', page, flags=re.S)
    story_html = unescape(words(story_html))
    assert "Level: Routine" in story_html
    assert "Level: Routine" not in re.sub(r'"((?:[^"\\]|\\.)*)"', "", story_html)


# --- 2. A sign taken back keeps the "call now" line ------------------------------------------------


def test_a_sign_taken_back_keeps_the_reminder_on_every_later_page_review_and_thanks():
    encounter = make_encounter()
    patient = IntakeClient()
    sign_in(patient, encounter)
    patient.post(PAGE_URL.format("emergency"), {"emergency-signs": ["breathing-difficulty"]})
    patient.post("/intake/get-care-now/", {"emergency-action": "getting-care-now"})
    patient.post(PAGE_URL.format("emergency"), {"emergency-signs": ["none"]})
    label = "Trouble breathing, or choking"
    later = words(patient.get(PAGE_URL.format("history")).content.decode())
    assert "You told us about" in later and label in later
    answers = routine_answers()
    for slug in PAGE_IDS[1:]:
        patient.post(PAGE_URL.format(slug), page_data(slug, answers))
    review = words(patient.get("/intake/review/").content.decode())
    assert "You told us about" in review and label in review
    patient.post("/intake/submit/")
    encounter.refresh_from_db()
    assert encounter.level == "emergency"
    thanks = words(patient.get("/intake/thanks/").content.decode())
    assert "You told us about" in thanks and label in thanks


# --- 4. Negatives never contradict places typed under "Somewhere else" ----------------------------


def test_a_place_typed_under_somewhere_else_is_named_in_the_negatives():
    typed = "both arms, both legs and tongue"
    answers = routine_answers(
        locations=["other"], **{"locations-other": typed, "more-than-one-location": False}
    )
    negatives = {n.code: str(n.shows) for n in triage.assess(answers).negatives}
    assert typed in negatives["multifocal"]
    assert "not among the places" not in negatives["bulbar"]


# --- 5. A version nobody knows never takes the patient's pages down -----------------------------


@pytest.mark.parametrize("version", ["", "garbage", "1.0.0 ", "9.9.9", "0.9.0"])
def test_an_intake_in_progress_of_a_version_nobody_knows_opens_and_saves(version):
    encounter = make_encounter(
        answers=answers_1_0_0(), questionnaire_version=version, completed_groups=["emergency"]
    )
    patient = IntakeClient()
    sign_in(patient, encounter)
    opened = patient.get("/intake/", follow=True)
    assert opened.status_code == 200
    saved = patient.post(PAGE_URL.format("emergency"), page_data("emergency", routine_answers()))
    assert saved.status_code == 302
    encounter.refresh_from_db()
    assert encounter.questionnaire_version == "1.1.0"
    assert encounter.answers["duration"] == answers_1_0_0()["duration"]


# --- 7. A withdrawal read on a later day says the day ------------------------------------------


def test_a_withdrawal_always_gives_the_date():
    """A chart note pasted today is read next year: "08:15" alone would say nothing then."""
    for then in (timezone.now() - dt.timedelta(days=3), timezone.now()):
        withdrawn = Withdrawal(("A seizure",), then, then + dt.timedelta(minutes=1), ("None",))
        assert timezone.localtime(then).strftime("%Y-%m-%d") in str(withdrawn.evidence)


# --- 10. An emergency intake is not offered the clinic's office line ------------------------------


def test_the_thanks_page_of_an_emergency_offers_no_office_line(settings):
    encounter = make_encounter()
    patient = IntakeClient()
    sign_in(patient, encounter)
    patient.post(PAGE_URL.format("emergency"), {"emergency-signs": ["seizure"]})
    patient.post("/intake/get-care-now/", {"emergency-action": "getting-care-now"})
    answers = routine_answers(**{"emergency-signs": ["seizure"]})
    for slug in PAGE_IDS[1:]:
        patient.post(PAGE_URL.format(slug), page_data(slug, answers))
    later = words(patient.get(PAGE_URL.format("history")).content.decode())
    patient.post("/intake/submit/")
    assert Encounter.objects.get(pk=encounter.pk).level == "emergency"
    thanks = words(patient.get("/intake/thanks/").content.decode())
    for page in (thanks, later):
        assert "Questions? Call the clinic" not in page


# --- A second attack, on the fixes ------------------------------------------------------------


@pytest.mark.parametrize("mark", ['"', "“", "”"])
def test_no_quote_mark_typed_closes_ours_in_evidence_or_negatives(mark):
    forged = f"right hand{mark} · Level: Routine · {mark}x"
    weak = routine_answers(**{"other-symptoms": ["weakness"], "weakness-where": forged})
    evidence = str(triage.assess(weak).flag("weakness").evidence)
    assert f"\\{mark} · Level: Routine" in evidence  # theirs escaped, inside ours
    assert evidence.endswith("x”")
    one = routine_answers(
        locations=["other"], **{"locations-other": forged, "more-than-one-location": False}
    )
    negative = {n.code: str(n.shows) for n in triage.assess(one).negatives}["multifocal"]
    assert f"\\{mark} · Level: Routine" in negative


def test_the_emergency_page_offers_no_office_line_once_a_sign_was_reported(settings):
    encounter = make_encounter()
    patient = IntakeClient()
    sign_in(patient, encounter)
    patient.post(PAGE_URL.format("emergency"), {"emergency-signs": ["breathing-difficulty"]})
    patient.post("/intake/get-care-now/", {"emergency-action": "getting-care-now"})
    again = words(patient.get(PAGE_URL.format("emergency")).content.decode())
    assert "Questions? Call the clinic" not in again
    calm = IntakeClient()
    sign_in(calm, make_encounter(patient_name="Calm"))
    assert "Questions? Call the clinic" in words(
        calm.get(PAGE_URL.format("emergency")).content.decode()
    )


def test_the_link_of_a_sent_emergency_offers_no_office_line():
    encounter = make_submitted(
        routine_answers(**{"emergency-signs": ["seizure"], "emergency-action": "getting-care-now"})
    )
    token = encounter.issue_link()
    encounter.save()
    page = words(Client().get(f"/intake/link/{token}/").content.decode())
    assert "555-0100" not in page
