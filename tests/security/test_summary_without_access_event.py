"""Finding 3: a summary could be read without an access event.

The event was written only for GET, so OPTIONS, TRACE, PUT, PATCH, DELETE and a superuser's
invalid POST re-rendered the summary unlogged, and a clinician could filter the queue on answer
content (``?answers__emergency-signs__contains=seizure``) and learn it from which rows remained.
Now each admin view takes only the methods it needs (405 otherwise, nothing rendered), every
response that renders a summary or answers writes exactly one event whatever the method, and the
queue takes only the lookups its own filters and date hierarchy make.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import issue, make_encounter, make_submitted, rich_answers
from twitch_intake.models import AccessEvent, Encounter

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/twitch_intake/encounter/"
METHODS = ("get", "head", "options", "trace", "put", "patch", "delete", "post")
#: The views that render a summary or answers, and the methods each one takes.
SUMMARY_VIEWS = {
    "change": {"get", "head", "post"},
    "print": {"get", "head"},
    "text": {"get", "head"},
    "fhir": {"get", "head"},
}
#: Answers and details the responses must not carry when nothing was logged.
SECRETS = ("Worse after night shifts.", "left big toe", "Sertraline", "Rich Patient")


def _clinician() -> User:
    user = User.objects.create_user("doctor", password="x" * 20, is_staff=True)
    user.groups.add(Group.objects.get(name="Clinicians"))
    return user


def _front_desk() -> User:
    user = User.objects.create_user("front", password="x" * 20, is_staff=True)
    user.groups.add(Group.objects.get(name="Front desk"))
    return user


def _superuser() -> User:
    return User.objects.create_superuser("root", "root@clinic.test", "x" * 20)


def _url(view: str, encounter: Encounter) -> str:
    return reverse(f"admin:twitch_intake_encounter_{view}", args=[encounter.pk])


def _client(user: User) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", ["clinician", "superuser"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("view", SUMMARY_VIEWS)
def test_every_method_on_every_summary_url_logs_what_it_renders(view, method, role):
    user = _clinician() if role == "clinician" else _superuser()
    encounter = make_submitted(rich_answers(), patient_name="Rich Patient")
    client = _client(user)

    # An empty POST is an invalid change form: the superuser gets the page back, summary and all.
    response = getattr(client, method)(_url(view, encounter))

    events = list(AccessEvent.objects.values_list("encounter", "user", "action"))
    content = response.content.decode(errors="replace")
    if method not in SUMMARY_VIEWS[view]:
        assert response.status_code == 405
        assert sorted(response["Allow"].lower().split(", ")) == sorted(SUMMARY_VIEWS[view])
        assert events == []
    elif response.status_code in {200, 400}:  # 400: the invalid form, with the summary
        action = {"change": "view", "print": "print", "text": "text", "fhir": "export"}[view]
        assert events == [(encounter.pk, user.pk, action)]
    else:
        # A clinician may not post the change form: refused before anything renders.
        assert (view, method, role, response.status_code) == ("change", "post", "clinician", 403)
        assert events == []
    if not events:
        for secret in SECRETS:
            assert secret not in content


def test_a_superusers_invalid_post_renders_the_summary_and_logs_it():
    superuser = _superuser()
    encounter = make_submitted(rich_answers(), patient_name="Rich Patient")
    client = _client(superuser)

    response = client.post(_url("change", encounter), {"patient_name": ""})

    assert response.status_code == 400
    assert "Worse after night shifts." in response.content.decode()
    assert list(AccessEvent.objects.values_list("action", flat=True)) == ["view"]


def test_a_superusers_valid_save_renders_nothing_and_logs_nothing():
    superuser = _superuser()
    encounter = make_submitted(rich_answers(), patient_name="Rich Patient")
    client = _client(superuser)

    response = client.post(
        _url("change", encounter),
        {
            "patient_name": "Rich Patient",
            "date_of_birth": "1980-05-17",
            "record_number": "",
            "visit_at_0": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
            "visit_at_1": "09:00:00",
        },
    )

    assert response.status_code == 302
    assert not AccessEvent.objects.exists()


@pytest.mark.parametrize("method", [m for m in METHODS if m != "post"])
@pytest.mark.parametrize("view", ["review", "link"])
def test_review_and_link_take_only_post(view, method):
    encounter = make_submitted(rich_answers()) if view == "review" else make_encounter()
    client = _client(_superuser())

    response = getattr(client, method)(_url(view, encounter))

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    encounter.refresh_from_db()
    assert encounter.reviewed_at is None
    assert encounter.token_hash is None
    assert not AccessEvent.objects.exists()


ANSWER_LOOKUPS = [
    "answers__emergency-signs__contains=seizure",
    "answers__emergency-signs__icontains=seiz",
    "answers__has_key=notes",
    "answers__notes__startswith=Worse",
    "answers__contains=%7B%7D",
    "answers_digest={digest}",
    "answers_digest__startswith={digest_start}",
    "token_hash__startswith={token_start}",
    "token_hash__isnull=False",
    "completed_groups__contains=emergency",
    "language=en",
    "dob_failures=0",
    "locked_until__isnull=True",
    "alerted_at__isnull=False",
    "flags__contains=weakness",
    "flag_count__gte=3",
    "reviewed_by__password__startswith=pbkdf2",
    "reviewed_by__username=doctor",
    "access_events__user__username=doctor",
    "submitted_at__isnull=False",
]


@pytest.mark.parametrize("role", ["clinician", "superuser"])
@pytest.mark.parametrize("query", ANSWER_LOOKUPS)
def test_queue_refuses_lookups_into_answers_and_other_fields(role, query):
    user = _clinician() if role == "clinician" else _superuser()
    encounter = make_submitted(rich_answers(), patient_name="Rich Patient")
    issue(encounter)
    make_submitted(patient_name="Routine Patient")
    client = _client(user)
    query = query.format(
        digest=encounter.answers_digest,
        digest_start=encounter.answers_digest[:4],
        token_start=encounter.token_hash[:2],
    )

    response = client.get(f"{CHANGELIST}?{query}")

    assert response.status_code == 400
    assert "Rich Patient" not in response.content.decode()
    assert not AccessEvent.objects.exists()


def test_front_desk_is_refused_the_same_lookups():
    _front_desk()
    client = _client(User.objects.get(username="front"))
    make_submitted(rich_answers())

    for query in ("answers__has_key=notes", "patient_name__regex=.", "date_of_birth=1980-05-17"):
        assert client.get(f"{CHANGELIST}?{query}").status_code == 400, query
