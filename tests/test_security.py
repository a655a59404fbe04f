"""What the app promises a clinic's security review: headers, no leaks, no 5xx, no half-saves."""

from __future__ import annotations

import logging
import threading

import pytest
from django.db import OperationalError, connection, connections
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.factories import (
    PAGE_IDS,
    answer_get_care,
    make_encounter,
    make_submitted,
    page_data,
    rich_answers,
    routine_answers,
)
from twitch_intake.models import AccessEvent, Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = pytest.mark.django_db

PAGES = PAGE_IDS


def bound_client(encounter: Encounter) -> Client:
    token = encounter.issue_link()
    encounter.save()
    client = Client()
    response = client.post(
        f"/intake/link/{token}/", {"date_of_birth": encounter.date_of_birth.isoformat()}
    )
    assert response.status_code == 302
    return client


def clone(client: Client) -> Client:
    """Another browser tab: the same session cookie, its own connection when used in a thread."""
    twin = Client()
    twin.cookies = client.cookies
    return twin


def intake_urls():
    return [f"/intake/page/{p}/" for p in PAGES] + ["/intake/review/", "/intake/get-care-now/"]


def test_security_headers_on_every_intake_url():
    encounter = make_encounter(
        answers=routine_answers(**{"emergency-signs": ["seizure"]}), completed_groups=PAGES
    )
    client = bound_client(encounter)
    token = Encounter.objects.get(pk=encounter.pk)
    urls = [*intake_urls(), "/intake/start/", "/intake/link/not-a-token/", "/intake/thanks/"]
    for url in urls:
        response = client.get(url)
        assert response.status_code < 500, url
        csp = response["Content-Security-Policy"]
        for directive in (
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "script-src 'self'",
        ):
            assert directive in csp, (url, directive)
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert response["X-Frame-Options"] == "DENY", url
        assert response["Referrer-Policy"] == "same-origin", url
        assert "no-store" in response["Cache-Control"], url
    assert token.token_hash  # the link stayed valid throughout


def test_no_inline_script_in_any_patient_page():
    encounter = make_encounter(answers=routine_answers(), completed_groups=PAGES)
    client = bound_client(encounter)
    for url in intake_urls():
        html = client.get(url, follow=True).content.decode()
        for chunk in html.split("<script")[1:]:
            assert chunk.lstrip().startswith("src="), url


def test_no_patient_data_in_logs_headers_or_access_events(caplog, django_user_model):
    marker = "ZQXJ-MARKER-7731"
    caplog.set_level(logging.DEBUG)
    encounter = make_encounter(patient_name=f"Name {marker}", record_number=marker)
    token = encounter.issue_link()
    encounter.save()
    client = Client()
    responses = [
        client.get(f"/intake/link/{token}/"),
        client.post(f"/intake/link/{token}/", {"date_of_birth": "1901-01-01"}),
        client.post(f"/intake/link/{token}/", {"date_of_birth": "1980-05-17"}),
    ]
    text = {
        q: f"{marker} {q}"
        for q in ["locations-other", "weakness-where", "medications", "conditions", "notes"]
    }
    answers = routine_answers(
        **{
            "emergency-signs": ["seizure"],
            "emergency-action": "already-seen",
            "duration": "months",
            "severity": "severe",
            "locations": ["calf", "other"],
            "more-than-one-location": True,
            "pattern": "constant",
            "episode-length": None,
            "other-symptoms": ["weakness"],
            "recent-emergency": True,
            "recent-emergency-signs": ["vomiting"],
            **text,
        }
    )
    posts = [(slug, page_data(slug, answers)) for slug in PAGE_IDS]
    # A failure path before the last page is saved: a NUL in the notes.
    posts.insert(
        -1, ("closing", {**page_data("closing", answers), "notes": text["notes"] + "\x00"})
    )
    for page, data in posts:
        responses.append(client.post(f"/intake/page/{page}/", data))
        answered = answer_get_care(client, responses[-1], answers)
        if answered is not None:
            responses.append(answered)
    responses.append(client.post("/intake/submit/"))
    responses.append(client.post("/intake/submit/"))
    responses.append(Client().get(f"/intake/link/{token}x/"))

    admin = django_user_model.objects.create_superuser("boss", "boss@clinic.test", "pw")
    staff = Client()
    staff.force_login(admin)
    for suffix in ("change/", "print/", "text/", "fhir/"):
        assert (
            staff.get(f"/admin/twitch_intake/encounter/{encounter.pk}/{suffix}").status_code == 200
        )

    assert Encounter.objects.get(pk=encounter.pk).is_submitted
    secrets = [marker, "1980-05-17", token]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets:
        assert secret not in logged
        for response in responses:
            assert secret not in str(response.headers), response
            assert secret not in response.get("Location", "")
    for event in AccessEvent.objects.values():
        assert not any(secret in str(value) for value in event.values() for secret in secrets)


def test_error_pages_show_nothing_internal(client):
    response = client.get("/intake/page/not-a-page/")
    assert response.status_code in (403, 404)
    body = response.content.decode()
    assert "Traceback" not in body and "settings" not in body.lower()


hostile_text = st.text(min_size=0, max_size=300) | st.sampled_from(
    ["\x00", "\x07x", "A" * 5000, "é" * 2001]
)
hostile_value = st.one_of(hostile_text, st.lists(hostile_text, max_size=5))
hostile_form = st.dictionaries(
    st.sampled_from(
        [
            *(q.link_id for q in TWITCH_INTAKE.questions()),
            "_revealed",
            "unknown",
            "csrfmiddlewaretoken",
        ]
    )
    | hostile_text,
    hostile_value,
    max_size=12,
)


@hsettings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(page=st.sampled_from(PAGES), data=hostile_form)
def test_hostile_posts_never_5xx_and_never_half_save(page, data):
    saved = routine_answers()
    encounter = make_encounter(answers=saved, completed_groups=PAGES)
    client = bound_client(encounter)
    response = client.post(f"/intake/page/{page}/", data)
    # 400: a body Django itself will not read (a field name over its header limit, say).
    assert response.status_code in (302, 303, 400), response.status_code
    after = Encounter.objects.get(pk=encounter.pk)
    if response.status_code != 302:  # 303: refused, see the page again
        assert after.answers == saved  # nothing partial
    if response.status_code == 303:
        assert client.get(response["Location"]).status_code == 200  # nor a 5xx drawing it


def test_more_than_a_thousand_fields_is_refused_calmly():
    encounter = make_encounter()
    client = bound_client(encounter)
    data = {f"field{i}": "x" for i in range(1200)}
    response = client.post("/intake/page/emergency/", data)
    assert response.status_code == 400
    assert Encounter.objects.get(pk=encounter.pk).answers == {}


def test_oversize_body_is_refused_calmly(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    encounter = make_encounter()
    client = bound_client(encounter)
    response = client.post(
        "/intake/page/emergency/", {"emergency-signs": ["none"], "pad": "x" * 20_000}
    )
    assert response.status_code == 400
    assert Encounter.objects.get(pk=encounter.pk).answers == {}


def test_database_down_gives_503_with_retry_after(monkeypatch):
    encounter = make_encounter(answers=routine_answers(), completed_groups=PAGES)
    client = bound_client(encounter)

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    # The encounter read, which every patient page makes first.
    monkeypatch.setattr("twitch_intake.views.Encounter.objects.by_pk", refuse)
    response = client.get("/intake/review/")
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert "Traceback" not in response.content.decode()
    monkeypatch.undo()
    assert client.get("/intake/review/").status_code == 200  # recovers by itself


@pytest.mark.django_db(transaction=True)
def test_ten_parallel_submits_leave_one_consistent_encounter():
    encounter = make_encounter(answers=rich_answers(), completed_groups=PAGES)
    client = bound_client(encounter)
    statuses: list[int] = []
    barrier = threading.Barrier(10)

    def submit(client):
        barrier.wait()
        try:
            statuses.append(client.post("/intake/submit/").status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(clone(client),)) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302] * 10
    after = Encounter.objects.get(pk=encounter.pk)
    assert after.status == "submitted" and after.level == "emergency"
    assert after.flag_count == len(after.flags)


@pytest.mark.django_db(transaction=True)
def test_the_same_page_posted_from_two_threads_at_once():
    encounter = make_encounter()
    client = bound_client(encounter)
    statuses: list[int] = []
    barrier = threading.Barrier(2)
    data = [{"emergency-signs": ["none"]}, {"emergency-signs": ["vomiting"]}]

    def post(payload):
        barrier.wait()
        try:
            statuses.append(clone(client).post("/intake/page/emergency/", payload).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(d,)) for d in data]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302, 302]
    after = Encounter.objects.get(pk=encounter.pk)
    assert after.answers["emergency-signs"] in (["none"], ["vomiting"])
    assert after.completed_groups == ["emergency"]


@pytest.mark.django_db(transaction=True)
def test_connection_killed_mid_submit_leaves_no_partial_row(monkeypatch):
    encounter = make_encounter(answers=routine_answers(), completed_groups=PAGES)
    client = bound_client(encounter)
    from twitch_intake import services

    real_assess = services.triage.assess

    def assess_then_die(answers, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        killer = connections.create_connection("default")
        killer.cursor().execute("SELECT pg_terminate_backend(%s)", [pid])
        killer.close()
        return real_assess(answers, **kwargs)

    monkeypatch.setattr(services.triage, "assess", assess_then_die)
    response = client.post("/intake/submit/")
    assert response.status_code == 503
    assert response["Retry-After"]
    monkeypatch.undo()
    connection.close()
    after = Encounter.objects.get(pk=encounter.pk)
    assert after.status == encounter.status and after.level is None and after.submitted_at is None
    assert after.answers == routine_answers()  # everything confirmed saved is still there
    assert client.post("/intake/submit/").status_code == 302  # the patient simply tries again
    assert Encounter.objects.get(pk=encounter.pk).status == "submitted"


def test_integrity_digest_detects_tampering():
    from twitch_intake.services import digest_matches

    encounter = make_submitted(routine_answers())
    assert digest_matches(encounter)
    Encounter.objects.filter(pk=encounter.pk).update(
        answers={**encounter.answers, "severity": "severe"}
    )
    assert not digest_matches(Encounter.objects.get(pk=encounter.pk))


def _csrf_client(encounter: Encounter) -> tuple[Client, str]:
    client = bound_client(encounter)
    client.handler.enforce_csrf_checks = True
    page = client.get("/intake/page/emergency/").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    return client, token


def test_intake_forms_post_with_their_own_origin_from_a_same_origin_page():
    encounter = make_encounter()
    client, token = _csrf_client(encounter)
    response = client.post(
        "/intake/page/emergency/",
        {"emergency-signs": ["none"], "csrfmiddlewaretoken": token},
        HTTP_ORIGIN="http://testserver",
    )
    assert response.status_code == 302
    assert Encounter.objects.get(pk=encounter.pk).answers == {"emergency-signs": ["none"]}


@pytest.mark.parametrize(
    ("origin", "with_token"), [("null", False), ("https://evil.example", True)]
)
def test_csrf_still_refuses_a_missing_token_or_a_foreign_origin(origin, with_token):
    encounter = make_encounter()
    client, token = _csrf_client(encounter)
    data = {"emergency-signs": ["none"]}
    if with_token:
        data["csrfmiddlewaretoken"] = token
    response = client.post("/intake/page/emergency/", data, HTTP_ORIGIN=origin)
    assert response.status_code == 403
    assert Encounter.objects.get(pk=encounter.pk).answers == {}


def test_origin_null_is_not_accepted_outside_the_intake(django_user_model):
    admin_user = django_user_model.objects.create_superuser("root", "r@clinic.test", "pw")
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    page = client.get("/admin/twitch_intake/encounter/add/").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response = client.post(
        "/admin/twitch_intake/encounter/add/", {"csrfmiddlewaretoken": token}, HTTP_ORIGIN="null"
    )
    assert response.status_code == 403


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4)
    ),
    max_leaves=20,
)


def _answer_items(draw_value):
    return st.lists(
        st.fixed_dictionaries(
            {
                "linkId": st.sampled_from([*PAGES, "emergency-signs", "notes", "duration", "nope"])
                | hostile_text
            },
            optional={
                "answer": st.lists(
                    st.dictionaries(
                        st.sampled_from(
                            ["valueCoding", "valueString", "valueBoolean", "valueInteger"]
                        ),
                        draw_value,
                        max_size=2,
                    ),
                    max_size=3,
                ),
                "item": st.just([]),
            },
        ),
        max_size=6,
    )


hostile_response = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(["QuestionnaireResponse", "Patient"]) | hostile_text},
    optional={
        "status": st.sampled_from(["completed", "in-progress"]) | hostile_text,
        "contained": st.lists(json_values, max_size=2),
        "subject": json_values,
        "authored": hostile_text,
        "questionnaire": hostile_text,
        "item": _answer_items(json_values),
    },
)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resource=hostile_response | json_values)
def test_hostile_fhir_imports_are_refused_whole_without_an_exception(resource):
    from twitch_intake import fhir

    before = Encounter.objects.count()
    result = fhir.import_response(resource)
    assert result.encounter is None and result.problems
    assert all(isinstance(problem, str) and problem for problem in result.problems)
    assert Encounter.objects.count() == before


def test_admin_pages_carry_the_same_security_headers(django_user_model):
    admin_user = django_user_model.objects.create_superuser("root", "r@clinic.test", "pw")
    encounter = make_submitted(routine_answers())
    client = Client()
    for url in ("/admin/login/", "/admin/"):
        # The host's own admin pages keep the host's headers (tests/test_headers.py).
        response = client.get(url, follow=True)
        assert "Content-Security-Policy" not in response, url
    client.force_login(admin_user)
    base = f"/admin/twitch_intake/encounter/{encounter.pk}/"
    for url in (
        "/admin/twitch_intake/",
        "/admin/twitch_intake/encounter/",
        base + "change/",
        base + "print/",
        base + "text/",
        base + "fhir/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "object-src 'none'" in response["Content-Security-Policy"], url
        assert response["X-Frame-Options"] == "DENY", url
    for url in (base + "change/", base + "print/", base + "text/", base + "fhir/"):
        assert "no-store" in client.get(url)["Cache-Control"], url


@pytest.mark.parametrize("method", ["link", "refused page", "refused page, with JavaScript"])
def test_a_session_that_cannot_be_saved_gives_the_calm_503_not_a_500(monkeypatch, method, caplog):
    """The database goes away after the view has answered, while the session is being saved (the
    sign-in's binding, or a refused page's draft): SessionMiddleware's save is outside every
    view, so its error used to be Django's 500. The patient is told to try again, as for any
    outage, and nothing the view saved is lost."""
    from django.contrib.sessions.backends.db import SessionStore

    encounter = make_encounter()
    client = Client(raise_request_exception=False)  # as a browser sees it, not re-raised
    if method == "link":
        token = encounter.issue_link()
        encounter.save()
        url = f"/intake/link/{token}/"
        data = {"date_of_birth": encounter.date_of_birth.isoformat()}
        client.get(url)
    else:
        client = bound_client(encounter)
        client.raise_request_exception = False
        url, data = "/intake/page/history/", {"onset": "not-a-code"}
        client.post("/intake/page/emergency/", {"emergency-signs": ["none"]})

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(SessionStore, "save", down)
    follow = {"HTTP_X_INTAKE_FOLLOW": "1"} if "JavaScript" in method else {}
    response = client.post(url, data, **follow)
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert "try again" in response.content.decode().lower()
    assert not [r for r in caplog.records if r.exc_info], "an outage, not a bug: no traceback"
    monkeypatch.undo()
    if method != "link":
        after = Encounter.objects.get(pk=encounter.pk)
        assert after.answers["emergency-signs"] == ["none"]  # what was saved before stays
