"""The attacker's suite: every patient page, every field (hidden ones too), hostile values.

A patient with a valid session is the outsider most likely to try this, so the suite walks each
page the way one would with the test client (the link and its date of birth, self-start, every
group page, the emergency page, review, submit, the language switch) and posts template syntax,
script, SQL, NUL, bidi controls, 10,000 characters and wrong types (a list where one value is
expected, a file, a JSON body) into each field in turn, the page's other fields holding valid
answers so that each hostile value meets its own field's checks. Whatever comes back:

- never a 5xx;
- the template marker never renders evaluated (``{{"zq"|add:"xw"}}`` would print ``zqxw``), and
  the script never comes back as markup;
- a refused page stores nothing (the encounter's answers are compared before and after); an
  accepted one changes only the field posted, to a valid answer, which then shows inertly on
  the page, the review page and the clinician's summary.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from tests.factories import make_encounter, make_submitted, page_data, rich_answers
from tests.security.patient import bound_client
from twitch_intake import validation
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = pytest.mark.django_db

GROUPS = [p.slug for p in TWITCH_INTAKE.pages()]
MARKER = '{{"zq"|add:"xw"}}'
EVALUATED = "zqxw"
SCRIPT = '"><script>alert(1)</script><img src=x onerror=alert(1)>'

#: Each a callable, so that a file is a fresh upload every time.
PAYLOADS: dict[str, Callable[[], Any]] = {
    "template": lambda: MARKER,
    "template, spaced": lambda: '{{ "zq"|add:"xw" }}',
    "template tags": lambda: '{%debug%}zq{{"xw"}}{% if %}{% load nosuch %}',
    "script": lambda: SCRIPT,
    "sql": lambda: "x'); DROP TABLE twitch_intake_encounter; -- \" OR '1'='1",
    "nul": lambda: "a\x00" + MARKER,
    "bidi": lambda: "ok\u202e\u2066" + MARKER + "\u2069\u200b",
    "10,000 characters": lambda: MARKER + "x" * 10_000,
    "list for one value": lambda: ["none", MARKER, SCRIPT],
    "file": lambda: SimpleUploadedFile("answer.txt", MARKER.encode(), "text/plain"),
}
#: Every page's fields: its questions, the hidden show-when state, and what a page does not
#: expect at all.
EXTRA_FIELDS = ["_revealed", "csrfmiddlewaretoken", "unexpected"]
GROUP_FIELDS = [
    (page.slug, field)
    for page in TWITCH_INTAKE.pages()
    for field in [q.link_id for q in page.questions] + EXTRA_FIELDS
]
#: Complete and valid, every follow-up shown: any page may be posted, and submit would succeed.
SAVED = rich_answers()


def assert_inert(response: Any) -> str:
    """No 5xx, nothing evaluated, no markup of ours echoed; returns the body."""
    assert response.status_code < 500, response.status_code
    body = response.content.decode("utf-8", "replace")
    headers = str(response.headers)
    assert EVALUATED not in body and EVALUATED not in headers
    if response.get("Content-Type", "").startswith("text/html"):
        assert "<script>alert(1)" not in body
        assert "<img src=x" not in body
    return body


def post_page(client: Client, url: str, data: Any, **extra: Any) -> Any:
    """Post a page of the form: every post is answered with a redirect; one back to the page
    itself (refused, or a question opened) shows the draft kept from the post, which must be
    as inert as the post's own response."""
    if "content_type" in extra:
        response = client.generic("POST", url, data, **extra)
    else:
        response = client.post(url, data)
    assert_inert(response)
    assert response.status_code in (302, 303), response.status_code
    if response["Location"] == url:
        assert_inert(client.get(url))
    return response


def reset(encounter: Encounter) -> None:
    Encounter.objects.filter(pk=encounter.pk).update(
        answers=SAVED, completed_groups=GROUPS, dob_failures=0, locked_until=None
    )


def answers_of(encounter: Encounter) -> dict[str, Any]:
    return Encounter.objects.get(pk=encounter.pk).answers


@pytest.fixture
def patient() -> tuple[Encounter, Client]:
    encounter = make_encounter(answers=SAVED, completed_groups=GROUPS)
    return encounter, bound_client(encounter)


# --- The pages of the form ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "field"), GROUP_FIELDS, ids=[f"{g}:{f}" for g, f in GROUP_FIELDS]
)
def test_each_field_of_each_page(patient, group, field):
    encounter, client = patient
    for name, payload in PAYLOADS.items():
        reset(encounter)
        response = post_page(
            client, f"/intake/page/{group}/", {**page_data(group, SAVED), field: payload()}
        )
        assert_inert(response)
        after = answers_of(encounter)
        if response.status_code != 302:
            assert after == SAVED, name  # a refused page stores nothing
            continue
        # Accepted: only the field posted changed, and to an answer the questionnaire accepts.
        assert {k: v for k, v in after.items() if k != field} == {
            k: v for k, v in SAVED.items() if k != field
        }, name
        assert validation.validate(after)[1] == [], name
        for shown in (f"/intake/page/{group}/", "/intake/review/"):
            assert_inert(client.get(shown))


@pytest.mark.parametrize("group", GROUPS)  # every page asks a required question
def test_the_hidden_state_on_a_page_drawn_again_with_an_error(patient, group):
    """The page comes back when an answer is missing: the hidden field is drawn again too."""
    encounter, client = patient
    for name, payload in PAYLOADS.items():
        reset(encounter)
        url = f"/intake/page/{group}/"
        response = post_page(client, url, {"_revealed": payload()})
        assert response["Location"] == url, name  # refused: back to the page, drawn again
        assert answers_of(encounter) == SAVED, name


@pytest.mark.parametrize("group", GROUPS)
def test_every_field_of_a_page_at_once(patient, group):
    encounter, client = patient
    fields = [q.link_id for q in TWITCH_INTAKE.page(group).questions] + EXTRA_FIELDS
    for name, payload in PAYLOADS.items():
        reset(encounter)
        url = f"/intake/page/{group}/"
        response = post_page(client, url, {f: payload() for f in fields})
        if response["Location"] == url:
            assert answers_of(encounter) == SAVED, name
        else:  # only a page of optional text can take it, and only as valid text
            assert validation.validate(answers_of(encounter))[1] == [], name


@pytest.mark.parametrize("group", GROUPS)
def test_a_body_that_is_not_a_form(patient, group):
    encounter, client = patient
    url = f"/intake/page/{group}/"
    for body, content_type in [
        (json.dumps(page_data(group, SAVED)), "application/json"),
        (MARKER.encode(), "text/plain"),
        (b"\xff\xfe\x00" + MARKER.encode(), "application/x-www-form-urlencoded"),
        (b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n" + MARKER.encode(), "multipart/form-data; boundary=x"),
    ]:  # fmt: skip
        reset(encounter)
        response = post_page(client, url, body, content_type=content_type)
        # No form data at all: every page asks a required question, so none is saved.
        assert response["Location"] == url
        assert answers_of(encounter) == SAVED


# --- Arriving: the link and self-start ------------------------------------------------------


@pytest.mark.parametrize("field", ["date_of_birth", "csrfmiddlewaretoken", "unexpected"])
def test_the_link_page(field):
    encounter = make_encounter(answers=SAVED, completed_groups=GROUPS)
    token = encounter.issue_link()
    encounter.save()
    for name, payload in PAYLOADS.items():
        reset(encounter)
        client = Client()
        data = {"date_of_birth": "1901-01-01", field: payload()}
        assert_inert(client.post(f"/intake/link/{token}/", data))
        assert client.get("/intake/review/").status_code == 403, name  # no session was bound
        assert answers_of(encounter) == SAVED


def test_hostile_text_in_place_of_the_link_token():
    for payload in PAYLOADS.values():
        value = payload()
        if not isinstance(value, str):
            continue
        url = f"/intake/link/{quote(value[:500], safe='')}/"
        assert_inert(Client().get(url))
        assert_inert(Client().post(url, {"date_of_birth": "1980-05-17"}))


@pytest.mark.parametrize("field", ["patient_name", "date_of_birth", "visit_date", "unexpected"])
def test_the_self_start_page(settings, field):
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "SELF_START": True}
    valid = {"patient_name": "Walk In", "date_of_birth": "1975-03-04"}
    for name, payload in PAYLOADS.items():
        client = Client()
        before = Encounter.objects.count()
        response = client.post(
            "/intake/start/",
            {**valid, "visit_date": timezone.localdate().isoformat(), field: payload()},
        )
        assert_inert(response)
        if response.status_code != 302:
            assert Encounter.objects.count() == before, name
            continue
        created = Encounter.objects.latest("pk")
        assert not validation.has_control_character(created.patient_name), name
        assert_inert(client.get(response["Location"]))


# --- The other patient pages ----------------------------------------------------------------


@pytest.mark.parametrize("field", ["emergency-action", "emergency-signs", *EXTRA_FIELDS])
def test_the_get_care_pages_form(patient, field):
    """Its one question takes only a code it offers; nothing else posted there is stored."""
    encounter, client = patient
    for name, payload in PAYLOADS.items():
        reset(encounter)
        response = client.post(
            "/intake/get-care-now/", {"emergency-action": "already-seen", field: payload()}
        )
        assert_inert(response)
        after = answers_of(encounter)
        if response.status_code != 302:
            assert after == SAVED, name
            continue
        assert after == {**SAVED, "emergency-action": "already-seen"}, name
        assert_inert(client.get("/intake/get-care-now/"))


@pytest.mark.parametrize("url", ["/intake/review/", "/intake/thanks/", "/intake/"])
def test_pages_that_take_no_form(patient, url):
    encounter, client = patient
    Encounter.objects.filter(pk=encounter.pk).update(answers=SAVED)
    for payload in PAYLOADS.values():
        data = {"emergency-signs": payload(), "notes": payload(), "_revealed": payload()}
        assert_inert(client.post(url, data))
        assert_inert(client.get(url, {"q": MARKER, "next": SCRIPT}))
        assert answers_of(encounter) == SAVED


def test_submit_takes_nothing_from_the_post():
    incomplete = {k: v for k, v in SAVED.items() if k != "triggers"}  # submit must refuse
    encounter = make_encounter(answers=incomplete, completed_groups=GROUPS)
    client = bound_client(encounter)
    for name, payload in PAYLOADS.items():
        data = {"triggers": payload(), "answers": payload(), "status": "submitted"}
        response = client.post("/intake/submit/", data)
        assert_inert(response)
        after = Encounter.objects.get(pk=encounter.pk)
        assert (after.answers, after.is_submitted) == (incomplete, False), name


@pytest.mark.parametrize("field", ["language", "next"])
def test_the_language_switch(patient, field):
    encounter, client = patient
    for name, payload in PAYLOADS.items():
        response = client.post(
            "/intake/language/", {"language": "es", "next": "/intake/", field: payload()}
        )
        assert_inert(response)
        location = response.get("Location", "")
        assert location.startswith("/") and not location.startswith("//"), (name, location)
        language = Encounter.objects.get(pk=encounter.pk).language
        assert language in ("", "en", "es"), name
    assert answers_of(encounter) == SAVED
    # ``next`` is a path on this site, never a view name nor another site.
    for target in (
        "admin:index",
        "//evil.example/",
        "https://evil.example/",
        "javascript:alert(1)",
    ):
        response = client.post("/intake/language/", {"language": "en", "next": target})
        assert response["Location"] == "/intake/", target


# --- What was accepted, shown everywhere ----------------------------------------------------


def test_accepted_hostile_text_is_inert_on_every_page_that_shows_it(django_user_model):
    """Template syntax, script and SQL are valid text: stored as typed, shown as typed."""
    hostile = f"{MARKER} {SCRIPT} x'); DROP TABLE twitch_intake_encounter; --"
    text = {"locations-other": hostile[:200], "weakness-where": hostile[:200]}
    text |= {"medications": hostile, "conditions": hostile, "notes": f"{hostile}\n{MARKER}"}
    answers = SAVED | text
    encounter = make_encounter(answers=answers, completed_groups=GROUPS, patient_name=MARKER)
    client = bound_client(encounter)
    for url in [f"/intake/page/{g}/" for g in GROUPS]:
        assert_inert(client.get(url))
    review = assert_inert(client.get("/intake/review/"))
    assert MARKER.replace('"', "&quot;") in review  # shown as typed, escaped
    assert_inert(client.post("/intake/submit/"))
    assert Encounter.objects.get(pk=encounter.pk).is_submitted
    assert_inert(client.get("/intake/thanks/"))

    staff = Client()
    staff.force_login(django_user_model.objects.create_superuser("root", "r@clinic.test", "pw"))
    assert_inert(staff.get("/admin/twitch_intake/encounter/"))  # the queue shows the name
    for view in ("change", "print", "text"):
        body = assert_inert(staff.get(f"/admin/twitch_intake/encounter/{encounter.pk}/{view}/"))
        assert "DROP TABLE twitch_intake_encounter" in body  # the SQL, shown as text
    assert make_submitted(SAVED).answers == SAVED  # the table is still there
