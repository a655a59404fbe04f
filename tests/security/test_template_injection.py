"""Finding 1 (critical): request data reached a template *source*.

The show-when state of a page travelled as ``_revealed`` and came back inside a crispy ``HTML()``
object, which crispy compiles as a Django template with the page's whole context: a patient
could run template code on any page that re-renders (an error, a newly revealed follow-up).
Whatever is posted, the page shows it as inert text, or not at all.
"""

from __future__ import annotations

import re

import pytest

from tests.factories import make_encounter, routine_answers
from tests.security.patient import bound_client
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = pytest.mark.django_db

PAGES = [p.slug for p in TWITCH_INTAKE.pages()]

#: Evaluated, ``{{"zq"|add:"xw"}}`` renders as ``zqxw``; as text it never contains it. Without
#: spaces, because the old code split the value on whitespace (and sorted the pieces).
MARKER = '{{"zq"|add:"xw"}}'
EVALUATED = "zqxw"

#: Pages that re-render with the posted ``_revealed``: a required answer missing (an error), and
#: an answer that opens a follow-up with JavaScript off.
RE_RENDERS = {
    "error": ("symptoms", {}),
    "newly revealed": ("symptoms", {"other-symptoms": ["weakness"]}),
    "error, locations": ("locations", {"locations": ["other"]}),
    "newly revealed, recent signs": ("recent-emergency", {"recent-emergency": "yes"}),
}


def _patient(**fields) -> Encounter:
    """Every page done, so any page may be posted again."""
    return make_encounter(answers=routine_answers(), completed_groups=PAGES, **fields)


def _post(encounter: Encounter, page: str, data: dict, revealed: str):
    """Post the page, and follow its redirect back to itself: every post is redirected, and
    the page drawn again (with an error or a newly opened question) is the GET after it."""
    client = bound_client(encounter)
    url = f"/intake/page/{page}/"
    response = client.post(url, {**data, "_revealed": revealed})
    assert response.status_code in (302, 303), response.status_code
    if response["Location"] == url:
        response = client.get(url)
    return client, response


@pytest.mark.parametrize("case", RE_RENDERS)
def test_posted_template_syntax_is_never_evaluated(case):
    page, data = RE_RENDERS[case]
    encounter = _patient()
    _, response = _post(encounter, page, data, f"episode-length {MARKER}")
    assert response.status_code == 200
    if case.startswith("newly revealed"):
        assert "one more question" in response.content.decode() or "opened this question" in (
            response.content.decode()
        )
    assert EVALUATED not in response.content.decode()


def test_page_context_cannot_be_read_through_the_revealed_state():
    encounter = _patient(patient_name="Zelda Quux", record_number="MRN-77821")
    probe = (
        "{{encounter.token_hash}} {{encounter.record_number}} {{request.session.items}}"
        " {{encounter.patient_name}}"
    )
    _, response = _post(encounter, "symptoms", {}, probe)
    body = response.content.decode()
    encounter.refresh_from_db()
    assert encounter.token_hash not in body
    assert "MRN-77821" not in body
    assert "Zelda Quux" not in body
    assert "twitch_intake" not in body.split("<form", 1)[1]  # the session's key


def test_template_tags_are_not_run(settings):
    settings.DEBUG = True  # {% debug %} prints the context and sys.modules only in DEBUG
    encounter = _patient()
    _, response = _post(encounter, "symptoms", {}, '{%debug%}zq{{"xw"}}')
    body = response.content.decode()
    assert "&lt;module" not in body and "<module" not in body
    assert EVALUATED not in body


def test_unparsable_template_syntax_is_not_a_500():
    encounter = _patient()
    _, response = _post(encounter, "symptoms", {}, "{%load%} {%if%} {{}}")
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()


def test_the_revealed_state_keeps_only_the_pages_own_follow_ups():
    """Parsed to known linkIds: a follow-up of this page stays, anything else is dropped."""
    encounter = _patient()
    _, response = _post(
        encounter,
        "symptoms",
        {},
        'weakness-where duration "><script>alert(1)</script> ' + MARKER,
    )
    body = response.content.decode()
    # Drawn again from what the page shows (no follow-up: nothing was ticked), never from the
    # posted value.
    (hidden,) = re.findall(r'<input type="hidden" name="_revealed"[^>]*>', body)
    assert "value=" not in hidden, hidden
    assert "<script>alert(1)" not in body
    assert Encounter.objects.get(pk=encounter.pk).answers == routine_answers()
