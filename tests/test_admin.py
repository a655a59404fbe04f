"""The clinician's admin: the queue, the encounter page, its extra views, roles and the access log."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.sessions.models import Session
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    emergency_answers,
    issue,
    make_encounter,
    make_submitted,
    rich_answers,
    routine_answers,
)
from twitch_intake import questionnaire, services
from twitch_intake.middleware import IdleSessionMiddleware
from twitch_intake.models import AccessEvent, Encounter, Status, hash_token, queue_rank

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
CHANGELIST = "/admin/twitch_intake/encounter/"
LINK_IN_PAGE = re.compile(r"https?://[^\s\"'<>]+/intake/link/([A-Za-z0-9_-]+)/")


# --- Users in each role --------------------------------------------------------------------------


def _staff(username: str, *groups: str, **fields: Any) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True, **fields)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


@pytest.fixture
def no_permission() -> User:
    """Staff, so the admin lets them in, but in no group and with no permission."""
    return _staff("idle-staff")


@pytest.fixture
def front_desk() -> User:
    return _staff("front", "Front desk")


@pytest.fixture
def clinician() -> User:
    return _staff("doctor", "Clinicians")


@pytest.fixture
def superuser() -> User:
    return User.objects.create_superuser("root", "root@clinic.test", PASSWORD)


ROLES = ("anonymous", "no_permission", "front_desk", "clinician", "superuser")


@pytest.fixture
def as_role(client, request):
    """``as_role("clinician")``: the test client logged in as that role (or nobody)."""

    def login(role: str):
        if role != "anonymous":
            client.force_login(request.getfixturevalue(role))
        return client

    return login


# --- Helpers -----------------------------------------------------------------------------------


def url(name: str, encounter: Encounter | None = None) -> str:
    args = [encounter.pk] if encounter is not None else []
    return reverse(f"admin:twitch_intake_encounter_{name}", args=args)


def at(day: int, hour: int = 9) -> dt.datetime:
    """A visit time, in the clinic's time zone, in a fixed month far from today."""
    return dt.datetime(2031, 3, day, hour, tzinfo=timezone.get_current_timezone())


def queue(response) -> list[str]:
    assert response.status_code == 200
    return [encounter.patient_name for encounter in response.context["cl"].result_list]


def reviewed(encounter: Encounter, by: User) -> Encounter:
    return services.mark_reviewed(encounter.pk, by)


def change_form_data(encounter: Encounter, **overrides: Any) -> dict[str, Any]:
    local = timezone.localtime(encounter.visit_at)
    data = {
        "patient_name": encounter.patient_name,
        "date_of_birth": encounter.date_of_birth.isoformat(),
        "record_number": encounter.record_number,
        "visit_at_0": local.date().isoformat(),
        "visit_at_1": local.strftime("%H:%M:%S"),
    }
    data.update(overrides)
    return data


# --- The queue ---------------------------------------------------------------------------------


def test_queue_orders_by_level_then_unreviewed_then_red_flags_then_visit_time(client, clinician):
    # Visit times are chosen against the expected order wherever a stronger key should win.
    make_encounter(patient_name="invited", visit_at=at(1))
    make_encounter(patient_name="in progress", visit_at=at(1, 8), status=Status.IN_PROGRESS)
    make_submitted(routine_answers(), patient_name="routine, no flag", visit_at=at(1))
    make_submitted(
        routine_answers(triggers=["caffeine"]), patient_name="routine, context flag", visit_at=at(9)
    )
    reviewed(
        make_submitted(
            routine_answers(severity="severe"), patient_name="priority, reviewed", visit_at=at(1)
        ),
        clinician,
    )
    make_submitted(
        routine_answers(severity="severe"), patient_name="priority, 1 flag, later", visit_at=at(5)
    )
    make_submitted(
        routine_answers(severity="severe"), patient_name="priority, 1 flag, sooner", visit_at=at(4)
    )
    make_submitted(
        routine_answers(severity="severe", duration="long-term"),
        patient_name="priority, 2 flags",
        visit_at=at(20),
    )
    reviewed(
        make_submitted(
            rich_answers(), patient_name="emergency, reviewed, 10 flags", visit_at=at(1)
        ),
        clinician,
    )
    make_submitted(emergency_answers(), patient_name="emergency, 1 flag", visit_at=at(20))
    make_submitted(rich_answers(), patient_name="emergency, 10 flags", visit_at=at(28))

    client.force_login(clinician)
    names = queue(client.get(CHANGELIST))

    assert names[:9] == [
        "emergency, 10 flags",
        "emergency, 1 flag",
        "emergency, reviewed, 10 flags",
        "priority, 2 flags",
        "priority, 1 flag, sooner",
        "priority, 1 flag, later",
        "priority, reviewed",
        # Context flags never raise rank (CLINICAL.md, "The queue"): the sooner visit first.
        "routine, no flag",
        "routine, context flag",
    ]
    assert set(names[9:]) == {"invited", "in progress"}


@pytest.mark.parametrize(
    ("level", "status", "rank"),
    [
        ("emergency", Status.SUBMITTED, 0),
        ("emergency", Status.REVIEWED, 1),
        ("priority", Status.SUBMITTED, 2),
        ("priority", Status.REVIEWED, 3),
        ("routine", Status.SUBMITTED, 4),
        ("routine", Status.REVIEWED, 5),
        (None, Status.IN_PROGRESS, 6),
        (None, Status.INVITED, 6),
    ],
)
def test_queue_rank_is_declared_not_alphabetical(level, status, rank):
    # Alphabetically "reviewed" < "submitted" and "in_progress" < "invited": neither counts.
    fields = {"level": level, "status": status}
    if level is not None:
        fields.update(submitted_at=timezone.now(), reviewed_at=timezone.now())
    encounter = make_encounter(**fields)
    ranked = Encounter.objects.annotate(rank=queue_rank()).get(pk=encounter.pk)
    assert ranked.rank == rank


def test_the_queue_is_the_querysets_queue_order(client, clinician):
    make_encounter(patient_name="invited, later", visit_at=at(9))
    make_encounter(patient_name="in progress, sooner", visit_at=at(2), status=Status.IN_PROGRESS)
    make_submitted(routine_answers(), patient_name="routine", visit_at=at(1))
    make_submitted(routine_answers(severity="severe"), patient_name="priority", visit_at=at(3))
    reviewed(make_submitted(emergency_answers(), patient_name="seen", visit_at=at(1)), clinician)
    make_submitted(emergency_answers(), patient_name="emergency", visit_at=at(5))
    expected = ["emergency", "seen", "priority", "routine", "in progress, sooner", "invited, later"]

    client.force_login(clinician)

    assert [e.patient_name for e in Encounter.objects.in_queue_order()] == expected
    assert queue(client.get(CHANGELIST)) == expected
    # The level column (the fifth: name, date of birth, record number, visit, level) sorts by
    # the same rank, either way; the default order is visit time.
    assert queue(client.get(CHANGELIST, {"o": "4"})) == expected
    reversed_level = queue(client.get(CHANGELIST, {"o": "-4"}))
    assert reversed_level[:3] == ["in progress, sooner", "invited, later", "routine"]
    assert [e.patient_name for e in Encounter.objects.all()][:2] == ["routine", "seen"]


def test_front_desk_queue_is_in_visit_order_so_it_reveals_no_level(client, front_desk):
    make_submitted(emergency_answers(), patient_name="emergency", visit_at=at(10))
    make_submitted(routine_answers(), patient_name="routine", visit_at=at(2))
    make_encounter(patient_name="invited", visit_at=at(5))

    client.force_login(front_desk)

    assert queue(client.get(CHANGELIST)) == ["routine", "invited", "emergency"]


def test_queue_counts_unreviewed_emergencies_at_the_top(client, clinician):
    make_submitted(emergency_answers(), patient_name="e1")
    make_submitted(rich_answers(), patient_name="e2")
    reviewed(make_submitted(emergency_answers(), patient_name="e3"), clinician)
    make_submitted(routine_answers(severity="severe"), patient_name="priority")

    client.force_login(clinician)
    response = client.get(CHANGELIST)

    assert response.context["unreviewed_emergencies"] == 2
    content = response.content.decode()
    assert "2 unreviewed emergencies" in content
    assert "ti-queue-alert-on" in content
    # It sits above the list of encounters.
    assert content.index("2 unreviewed emergencies") < content.index('id="result_list"')


def test_queue_says_when_no_emergency_waits(client, clinician):
    reviewed(make_submitted(emergency_answers()), clinician)

    client.force_login(clinician)
    response = client.get(CHANGELIST)

    assert response.context["unreviewed_emergencies"] == 0
    assert "0 unreviewed emergencies" in response.content.decode()
    assert "ti-queue-alert-on" not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("level__exact=emergency", {"rich", "emergency"}),
        ("level__exact=priority", {"severe"}),
        ("level__exact=routine", {"routine"}),
        ("flag=weakness", {"rich"}),
        ("flag=emergency-signs", {"rich", "emergency"}),
        ("flag=severe", {"rich", "severe"}),
        ("status__exact=submitted", {"emergency", "severe", "routine"}),
        ("status__exact=reviewed", {"rich"}),
        ("status__exact=invited", {"invited"}),
        # The links DateFieldListFilter makes: aware midnights.
        (
            "visit_at__gte=2031-03-10+00:00:00-04:00&visit_at__lt=2031-03-20+00:00:00-04:00",
            {"severe", "invited"},
        ),
        ("visit_at__year=2031&visit_at__month=3&visit_at__day=25", {"routine"}),
        ("q=Severe", {"severe"}),
        ("q=MRN-0042", {"emergency"}),
    ],
)
def test_queue_filters_and_search(client, clinician, query, expected):
    reviewed(make_submitted(rich_answers(), patient_name="rich", visit_at=at(1)), clinician)
    make_submitted(
        emergency_answers(), patient_name="emergency", record_number="MRN-0042", visit_at=at(5)
    )
    make_submitted(routine_answers(severity="severe"), patient_name="severe", visit_at=at(12))
    make_submitted(routine_answers(), patient_name="routine", visit_at=at(25))
    make_encounter(patient_name="invited", visit_at=at(19, 23))

    client.force_login(clinician)

    assert set(queue(client.get(f"{CHANGELIST}?{query}"))) == expected


def test_flag_filter_uses_the_array_containment_the_gin_index_serves(client, clinician):
    make_submitted(rich_answers(), patient_name="rich")
    client.force_login(clinician)

    with CaptureQueriesContext(connection) as queries:
        names = queue(client.get(f"{CHANGELIST}?flag=weakness"))

    assert names == ["rich"]
    assert any('"flags" @> ' in q["sql"] for q in queries.captured_queries)


def test_flag_filter_ignores_an_unknown_flag(client, clinician):
    make_submitted(rich_answers(), patient_name="rich")
    make_submitted(routine_answers(), patient_name="routine")
    client.force_login(clinician)

    assert set(queue(client.get(f"{CHANGELIST}?flag=nonsense"))) == {"rich", "routine"}


def test_a_stored_flag_of_a_retired_rule_breaks_neither_queue_nor_summary(client, clinician):
    """Flags are the rules' of the day they were stored; the database does not pin the codes."""
    encounter = make_submitted(rich_answers(), patient_name="older rules")
    stored = [*encounter.flags, "retired-rule"]
    Encounter.objects.filter(pk=encounter.pk).update(flags=stored, flag_count=len(stored))
    client.force_login(clinician)

    response = client.get(CHANGELIST)
    assert queue(response) == ["older rules"]
    assert (
        'class="ti-chip ti-chip-context" data-flag="retired-rule">retired-rule<'
        in response.content.decode()
    )
    for view in ("change", "print", "text", "fhir"):
        assert client.get(url(view, encounter)).status_code == 200, view


@pytest.mark.parametrize(
    "query",
    [
        "level__exact=emergency",
        "level__isnull=False",
        "flag=weakness",
        "flags__contains=weakness",
        "flag_count__gt=0",
        "alerted_at__isnull=False",
        "answers__has_key=notes",
    ],
)
def test_front_desk_cannot_filter_by_anything_taken_from_the_answers(client, front_desk, query):
    make_submitted(emergency_answers())
    client.force_login(front_desk)

    response = client.get(f"{CHANGELIST}?{query}")

    assert response.status_code == 400


def test_front_desk_can_filter_and_search_by_patient_details(client, front_desk):
    make_submitted(
        routine_answers(), patient_name="Zed Zulu", record_number="MRN-7", visit_at=at(3)
    )
    make_encounter(patient_name="Amy Alpha", visit_at=at(20))
    client.force_login(front_desk)

    assert queue(client.get(f"{CHANGELIST}?q=zulu")) == ["Zed Zulu"]
    assert queue(client.get(f"{CHANGELIST}?q=MRN-7")) == ["Zed Zulu"]
    assert queue(client.get(f"{CHANGELIST}?status__exact=invited")) == ["Amy Alpha"]
    visit_range = "visit_at__gte=2031-03-10+00:00:00-04:00&visit_at__lt=2031-03-30+00:00:00-04:00"
    assert queue(client.get(f"{CHANGELIST}?{visit_range}")) == ["Amy Alpha"]


@pytest.mark.parametrize("role", ["clinician", "front_desk"])
def test_queue_query_count_does_not_grow_with_rows(as_role, clinician, role):
    def make(count: int) -> None:
        for i in range(count):
            answers = [routine_answers(), emergency_answers(), rich_answers()][i % 3]
            encounter = make_submitted(answers, patient_name=f"p{i}", visit_at=at(1 + i % 28))
            if i % 4 == 0:
                reviewed(encounter, clinician)

    def measure() -> tuple[int, int]:
        client.get(CHANGELIST)  # the first request after login touches the session
        with CaptureQueriesContext(connection) as queries:
            rows = len(queue(client.get(CHANGELIST)))
        return rows, len(queries)

    client = as_role(role)
    make(5)
    rows_5, queries_5 = measure()
    make(45)
    rows_50, queries_50 = measure()

    assert (rows_5, rows_50) == (5, 50)
    assert queries_50 == queries_5


# --- Who sees what -----------------------------------------------------------------------------


def test_front_desk_queue_shows_no_level_or_flags(client, front_desk):
    make_submitted(rich_answers(), patient_name="rich")
    client.force_login(front_desk)

    response = client.get(CHANGELIST)
    content = response.content.decode()

    assert queue(response) == ["rich"]
    assert "level_badge" not in response.context["cl"].list_display
    assert "flag_chips" not in response.context["cl"].list_display
    assert [f.title for f in response.context["cl"].filter_specs] == ["messages", "status", "visit"]
    assert "ti-level" not in content
    assert "ti-chip" not in content
    assert "unreviewed emergenc" not in content


def test_clinician_queue_shows_level_and_flags(client, clinician):
    make_submitted(rich_answers(), patient_name="rich")
    client.force_login(clinician)

    content = client.get(CHANGELIST).content.decode()

    assert 'class="ti-level ti-level-emergency"' in content
    assert 'class="ti-chip ti-chip-highlight" data-flag="weakness"' in content


def test_front_desk_change_page_shows_patient_details_and_nothing_from_the_answers(
    client, front_desk
):
    encounter = make_submitted(rich_answers(), patient_name="Rich Patient")
    client.force_login(front_desk)

    response = client.get(url("change", encounter))
    content = response.content.decode()

    assert response.status_code == 200
    assert "Rich Patient" in content
    assert "summary" not in response.context
    assert "answer_sections" not in response.context
    for health_detail in (
        "Worse after night shifts.",
        "left big toe",
        "Sertraline",
        "ti-summary",
        "ti-answers",
        "Emergency",
        "emergency",
    ):
        assert health_detail not in content
    for view in ("print", "text", "fhir"):
        assert url(view, encounter) not in content
    assert url("review", encounter) not in content


def test_clinician_change_page_shows_summary_and_answers_by_group(client, clinician):
    encounter = make_submitted(rich_answers(), patient_name="Rich Patient")
    client.force_login(clinician)

    response = client.get(url("change", encounter))
    content = response.content.decode()

    assert response.status_code == 200
    assert response.context["summary"].encounter_id == encounter.pk
    assert 'class="ti-summary"' in content
    # The text for the chart is linked as its page with a Copy button (issue 19).
    for view in ("print", "chart_text", "fhir", "review"):
        assert url(view, encounter) in content
    # The read-only answers: one fieldset per questionnaire group, in the questionnaire's order,
    # each answer under its own group.
    answers_html = content[content.index('id="ti-answers-title"') :]
    answers_html = answers_html[: answers_html.index("</section>")]
    fieldsets = answers_html.split("<fieldset")[1:]
    titles = [re.search(r"<h2>(.*?)</h2>", f).group(1) for f in fieldsets]
    assert titles == [str(g.title) for g in questionnaire.TWITCH_INTAKE.groups]
    by_title = dict(zip(titles, fieldsets, strict=True))
    assert "left big toe" in by_title["About your twitching"]
    assert "right hand" in by_title["Other symptoms"]
    assert "Sertraline 50 mg<br>Vitamin D" in by_title["Medicines, health and recent habits"]
    assert "Worse after night shifts." in by_title["Anything else"]
    assert "Worse after night shifts." not in by_title["About your twitching"]


def test_change_page_of_an_unanswered_encounter_says_so_and_logs_nothing(client, clinician):
    encounter = make_encounter()
    client.force_login(clinician)

    response = client.get(url("change", encounter))

    assert "The patient has not answered any questions yet." in response.content.decode()
    assert "summary" not in response.context
    assert not AccessEvent.objects.exists()


def test_clinician_cannot_change_an_encounter(client, clinician):
    encounter = make_submitted(patient_name="Before")
    client.force_login(clinician)

    response = client.post(
        url("change", encounter), change_form_data(encounter, patient_name="After")
    )

    assert response.status_code == 403
    encounter.refresh_from_db()
    assert encounter.patient_name == "Before"
    assert not AccessEvent.objects.exists()


@pytest.mark.parametrize("role", ["superuser", "front_desk"])
def test_answers_are_never_editable(as_role, role):
    encounter = make_encounter(
        answers={"emergency-signs": ["none"]}, status=Status.IN_PROGRESS, patient_name="Before"
    )
    client = as_role(role)

    form = client.get(url("change", encounter)).context["adminform"].form
    assert "answers" not in form.fields
    response = client.post(
        url("change", encounter),
        change_form_data(
            encounter, patient_name="After", answers=json.dumps({"emergency-signs": ["seizure"]})
        ),
    )

    assert response.status_code == 302  # saved
    encounter.refresh_from_db()
    assert encounter.patient_name == "After"
    assert encounter.answers == {"emergency-signs": ["none"]}


def test_submitted_answers_survive_a_superuser_save(client, superuser):
    encounter = make_submitted(rich_answers())
    answers, digest = encounter.answers, encounter.answers_digest
    client.force_login(superuser)

    response = client.post(
        url("change", encounter),
        change_form_data(
            encounter,
            answers=json.dumps(routine_answers()),
            level="routine",
            flags="",
            status="invited",
        ),
    )

    assert response.status_code == 302
    encounter.refresh_from_db()
    assert encounter.answers == answers
    assert services.answers_digest(encounter.answers) == digest
    assert (encounter.level, encounter.status, encounter.flag_count) == (
        "emergency",
        Status.SUBMITTED,
        10,
    )


# --- The permission matrix -----------------------------------------------------------------------

LOGIN = "login"
TO_CHANGE = "change page"
#: The link sent by the queue, and back to the invited encounter's page.
SENT = "sent"

#: view -> (method, expected result for each role in ROLES)
MATRIX: dict[str, tuple[str, tuple[Any, ...]]] = {
    "changelist": ("get", (LOGIN, 403, 200, 200, 200)),
    "change": ("get", (LOGIN, 403, 200, 200, 200)),
    "add": ("get", (LOGIN, 403, 200, 403, 200)),
    "print": ("get", (LOGIN, 403, 403, 200, 200)),
    "text": ("get", (LOGIN, 403, 403, 200, 200)),
    "fhir": ("get", (LOGIN, 403, 403, 200, 200)),
    "review": ("post", (LOGIN, 403, 403, TO_CHANGE, TO_CHANGE)),
    "link": ("post", (LOGIN, 403, SENT, 403, SENT)),
    "letter": ("post", (LOGIN, 403, 200, 403, 200)),
    "accessevent": ("get", (LOGIN, 403, 403, 403, 200)),
}


@pytest.mark.parametrize(
    ("view", "role", "expected"),
    [
        pytest.param(view, role, expected, id=f"{view}-{role}")
        for view, (_, results) in MATRIX.items()
        for role, expected in zip(ROLES, results, strict=True)
    ],
)
def test_permission_matrix(as_role, view, role, expected):
    submitted = make_submitted(rich_answers())
    invited = make_encounter(email="ada@example.test", preferred_channel="email")
    if view == "accessevent":
        target = reverse("admin:twitch_intake_accessevent_changelist")
    elif view in {"changelist", "add"}:
        target = url(view)
    else:
        target = url(view, invited if view in {"link", "letter"} else submitted)
    client = as_role(role)

    response = getattr(client, MATRIX[view][0])(target)

    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=")
    elif expected == SENT:
        assert response.status_code == 302
        assert response["Location"] == url("change", invited)
    elif expected == TO_CHANGE:
        assert response.status_code == 302
        assert response["Location"] == url("change", submitted)
        submitted.refresh_from_db()
        assert submitted.status == Status.REVIEWED
    else:
        assert response.status_code == expected
    if expected != TO_CHANGE:
        submitted.refresh_from_db()
        assert submitted.status == Status.SUBMITTED
    if view in {"link", "letter"}:
        invited.refresh_from_db()
        assert (invited.token_hash is not None) == (expected in {200, SENT})
        assert invited.messages.exists() == (expected == SENT)


# --- Review ------------------------------------------------------------------------------------


def test_review_records_who_and_when(client, clinician):
    encounter = make_submitted(emergency_answers())
    client.force_login(clinician)

    before = timezone.now()
    response = client.post(url("review", encounter))
    after = timezone.now()

    assert response.status_code == 302
    encounter.refresh_from_db()
    assert encounter.status == Status.REVIEWED
    assert encounter.reviewed_by == clinician
    assert before <= encounter.reviewed_at <= after
    page = client.get(response["Location"]).content.decode()
    assert "Marked reviewed." in page
    assert "Reviewed by doctor on" in page
    assert url("review", encounter) not in page  # no second "Mark reviewed" button


def test_review_refuses_get(client, clinician):
    encounter = make_submitted()
    client.force_login(clinician)

    response = client.get(url("review", encounter))

    assert response.status_code == 405
    encounter.refresh_from_db()
    assert (encounter.status, encounter.reviewed_at, encounter.reviewed_by) == (
        Status.SUBMITTED,
        None,
        None,
    )


@pytest.mark.parametrize("status", [Status.INVITED, Status.IN_PROGRESS])
def test_review_needs_a_submitted_encounter(client, clinician, status):
    encounter = make_encounter(status=status)
    client.force_login(clinician)

    response = client.post(url("review", encounter), follow=True)

    assert "Only a submitted intake can be marked reviewed." in response.content.decode()
    encounter.refresh_from_db()
    assert (encounter.status, encounter.reviewed_at, encounter.reviewed_by) == (status, None, None)


def test_review_keeps_the_first_reviewer(client, clinician, superuser):
    encounter = reviewed(make_submitted(), clinician)
    first_at = encounter.reviewed_at
    client.force_login(superuser)

    client.post(url("review", encounter))

    encounter.refresh_from_db()
    assert (encounter.reviewed_by, encounter.reviewed_at) == (clinician, first_at)


def test_review_of_a_missing_encounter_is_404(client, clinician):
    client.force_login(clinician)

    assert (
        client.post(reverse("admin:twitch_intake_encounter_review", args=[999999])).status_code
        == 404
    )


# --- Access events -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("view", "action"),
    [
        ("change", AccessEvent.Action.VIEW),
        ("print", AccessEvent.Action.PRINT),
        ("text", AccessEvent.Action.TEXT),
        ("fhir", AccessEvent.Action.EXPORT),
    ],
)
def test_each_look_at_the_answers_writes_one_access_event(client, clinician, view, action):
    encounter = make_submitted(rich_answers())
    other = make_submitted(rich_answers())
    client.force_login(clinician)

    assert client.get(url(view, encounter)).status_code == 200
    event = AccessEvent.objects.get()
    assert (event.encounter, event.user, event.action) == (encounter, clinician, action)
    assert event.client_address == "127.0.0.1"

    client.get(url(view, encounter))
    client.get(url(view, other))
    assert AccessEvent.objects.filter(encounter=encounter, action=action).count() == 2
    assert AccessEvent.objects.filter(encounter=other).count() == 1


def test_the_queue_writes_no_access_event(client, clinician):
    make_submitted(rich_answers())
    client.force_login(clinician)

    assert client.get(CHANGELIST).status_code == 200
    assert client.get(f"{CHANGELIST}?flag=weakness").status_code == 200

    assert not AccessEvent.objects.exists()


def test_front_desk_views_write_no_access_event_but_for_the_link_they_issue(client, front_desk):
    encounter = make_submitted(rich_answers())
    invited = make_encounter(email="ada@example.test", preferred_channel="email")
    client.force_login(front_desk)

    client.get(CHANGELIST)
    client.get(url("change", encounter))
    client.post(url("change", encounter), change_form_data(encounter))
    for view in ("print", "text", "fhir"):
        client.get(url(view, encounter))
    client.post(url("link", invited))

    assert list(AccessEvent.objects.values_list("encounter", "action")) == [(invited.pk, "link")]


def test_saving_the_change_form_writes_no_access_event(client, superuser):
    encounter = make_submitted(rich_answers())
    client.force_login(superuser)

    assert client.post(url("change", encounter), change_form_data(encounter)).status_code == 302

    assert not AccessEvent.objects.exists()


def test_access_events_hold_no_health_data(client, clinician):
    encounter = make_submitted(rich_answers(), patient_name="Rich Patient", record_number="MRN-99")
    client.force_login(clinician)
    for view in ("change", "print", "text", "fhir"):
        client.get(url(view, encounter))

    fields = {f.name for f in AccessEvent._meta.concrete_fields}
    assert fields == {"id", "encounter", "user", "action", "at", "client_address"}
    stored = json.dumps(list(AccessEvent.objects.values()), default=str)
    for detail in (
        "Rich Patient",
        "MRN-99",
        "1980",
        "Worse after night shifts.",
        "emergency-signs",
        "weakness",
    ):
        assert detail not in stored


@pytest.fixture
def access_event(clinician):
    return AccessEvent.objects.create(
        encounter=make_submitted(), user=clinician, action=AccessEvent.Action.VIEW
    )


PROTECTED = "Cannot update or delete rows"


def _table() -> str:
    return connection.ops.quote_name(AccessEvent._meta.db_table)


def test_access_event_cannot_be_updated_even_with_raw_sql(access_event):
    with (
        pytest.raises(DatabaseError, match=PROTECTED),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"UPDATE {_table()} SET action = 'print' WHERE id = %s", [access_event.pk])

    access_event.refresh_from_db()
    assert access_event.action == AccessEvent.Action.VIEW


def test_access_event_cannot_be_deleted_even_with_raw_sql(access_event):
    with (
        pytest.raises(DatabaseError, match=PROTECTED),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {_table()} WHERE id = %s", [access_event.pk])

    assert AccessEvent.objects.filter(pk=access_event.pk).exists()


def test_access_event_cannot_be_changed_through_the_orm(access_event):
    with pytest.raises(DatabaseError, match=PROTECTED), transaction.atomic():
        AccessEvent.objects.filter(pk=access_event.pk).update(action=AccessEvent.Action.EXPORT)
    with pytest.raises(DatabaseError, match=PROTECTED), transaction.atomic():
        access_event.delete()

    assert AccessEvent.objects.get(pk=access_event.pk).action == AccessEvent.Action.VIEW


def test_access_log_is_read_only_for_the_superuser(client, superuser, access_event):
    client.force_login(superuser)
    change = reverse("admin:twitch_intake_accessevent_change", args=[access_event.pk])

    listing = client.get(reverse("admin:twitch_intake_accessevent_changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [access_event]
    assert client.get(reverse("admin:twitch_intake_accessevent_add")).status_code == 403
    assert client.post(change, {"action": "export"}).status_code == 403
    delete = reverse("admin:twitch_intake_accessevent_delete", args=[access_event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AccessEvent.objects.get().action == AccessEvent.Action.VIEW


# --- The summary views -------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["change", "print", "text", "fhir"])
def test_summary_pages_are_not_cached(client, clinician, view):
    encounter = make_submitted(rich_answers())
    client.force_login(clinician)

    response = client.get(url(view, encounter))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_print_text_and_fhir_views_show_this_encounter(client, clinician):
    encounter = make_submitted(rich_answers(), patient_name="Rich Patient")
    make_submitted(routine_answers(), patient_name="Other Patient")
    client.force_login(clinician)

    printed = client.get(url("print", encounter))
    text = client.get(url("text", encounter))
    exported = client.get(url("fhir", encounter))

    assert "Rich Patient" in printed.content.decode()
    assert "Other Patient" not in printed.content.decode()
    assert text["Content-Type"].startswith("text/plain")
    assert "Rich Patient" in text.content.decode()
    assert "left big toe" in text.content.decode()
    assert exported["Content-Type"].startswith("application/fhir+json")
    assert (
        exported["Content-Disposition"]
        == f'attachment; filename="questionnaire-response-{encounter.pk}.json"'
    )
    assert json.loads(exported.content)["resourceType"] == "QuestionnaireResponse"


@pytest.mark.parametrize("view", ["print", "text", "fhir"])
def test_summary_views_of_a_missing_encounter_are_404(client, clinician, view):
    client.force_login(clinician)

    response = client.get(reverse(f"admin:twitch_intake_encounter_{view}", args=[999999]))

    assert response.status_code == 404
    assert not AccessEvent.objects.exists()


# --- Patient links -----------------------------------------------------------------------------


def _no_link_in(response) -> None:
    assert not LINK_IN_PAGE.search(response.content.decode())
    assert "/intake/link/" not in response.content.decode()


def test_send_new_link_queues_it_by_the_channel_and_never_shows_it(client, front_desk):
    encounter = make_encounter(email="ada@example.test", preferred_channel="email")
    old_token = issue(encounter)
    client.force_login(front_desk)

    response = client.post(url("link", encounter))

    assert response.status_code == 302  # after the POST, a redirect: a reload sends nothing
    assert response["Location"] == url("change", encounter)
    page = client.get(response["Location"])
    _no_link_in(page)
    assert "on its way to the patient by email" in page.content.decode()
    encounter.refresh_from_db()
    assert encounter.token_hash != hash_token(old_token)
    assert encounter.token_expires_at > timezone.now()
    [invitation] = encounter.messages.filter(kind="invitation")
    assert (invitation.channel, invitation.status) == ("email", "queued")
    assert client.get(url("link", encounter)).status_code == 405
    # The old link is dead.
    client.logout()
    assert client.get(reverse("twitch_intake:link", args=[old_token])).status_code == 404


def test_each_new_link_revokes_the_one_before(client, front_desk):
    # A visit in 30 days: the invitation now, reminders 7 and 3 days before.
    encounter = make_encounter(
        email="ada@example.test",
        preferred_channel="email",
        visit_at=timezone.now() + dt.timedelta(days=30),
    )
    client.force_login(front_desk)

    client.post(url("link", encounter))
    first = Encounter.objects.get(pk=encounter.pk).token_hash
    first_batch = set(encounter.messages.values_list("pk", flat=True))
    client.post(url("link", encounter))
    second = Encounter.objects.get(pk=encounter.pk)

    assert first != second.token_hash
    assert second.current_link(timezone.now()) is not None
    assert len(first_batch) == 3
    # The first invitation's messages wait no more: one set of messages per patient.
    assert set(second.messages.filter(status="queued").values_list("pk", flat=True)).isdisjoint(
        first_batch
    )
    assert second.messages.filter(status="queued").count() == 3


def test_no_new_link_for_a_submitted_encounter(client, front_desk):
    encounter = make_submitted(email="ada@example.test", preferred_channel="email")
    client.force_login(front_desk)

    response = client.post(url("link", encounter), follow=True)

    assert "already sent" in response.content.decode()
    _no_link_in(response)
    encounter.refresh_from_db()
    assert encounter.token_hash is None
    assert not encounter.messages.exists()


def test_front_desk_change_page_offers_sending_only_before_submission(client, front_desk):
    invited = make_encounter(email="ada@example.test", preferred_channel="email")
    no_contact = make_encounter()
    submitted = make_submitted(email="ada@example.test", preferred_channel="email")
    client.force_login(front_desk)

    page = client.get(url("change", invited)).content.decode()
    assert url("link", invited) in page and "Send invitation" in page
    assert url("letter", invited) in page
    page = client.get(url("change", no_contact)).content.decode()
    assert url("link", no_contact) not in page
    assert "enter their email or mobile number" in page
    page = client.get(url("change", submitted)).content.decode()
    assert url("link", submitted) not in page and url("letter", submitted) not in page


def test_creating_an_encounter_as_front_desk_sends_its_invitation(client, front_desk):
    client.force_login(front_desk)

    response = client.post(
        url("add"),
        {
            "patient_name": "New Patient",
            "date_of_birth": "1975-02-03",
            "record_number": "MRN-1",
            # A new visit is within three years (tests/security/test_date_ranges.py).
            "visit_at_0": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
            "visit_at_1": "10:30:00",
            "email": "new.patient@example.test",
            "preferred_channel": "email",
        },
    )

    encounter = Encounter.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("change", encounter)
    _no_link_in(client.get(response["Location"]))
    assert (encounter.patient_name, encounter.date_of_birth) == ("New Patient", dt.date(1975, 2, 3))
    assert encounter.status == Status.INVITED
    assert encounter.token_hash is not None
    assert encounter.messages.get(kind="invitation").status == "queued"


# --- Staff login hardening ---------------------------------------------------------------------


def _login(client, username: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_four_failed_logins_still_allow_the_right_password(client, clinician):
    for _ in range(4):
        assert _login(client, clinician.username, "wrong").status_code == 200

    response = _login(client, clinician.username, PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.session["_auth_user_id"] == str(clinician.pk)


def test_five_failed_logins_lock_out_the_sixth_even_with_the_right_password(client, clinician):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = _login(client, clinician.username, "wrong")
        assert "_auth_user_id" not in client.session

    response = _login(client, clinician.username, PASSWORD)

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still not signed in


# --- Idle sessions -----------------------------------------------------------------------------


def _session_row(client) -> Session:
    return Session.objects.get(session_key=client.session.session_key)


def _idle_for(client, minutes: float) -> None:
    """Pretend the last request of this signed-in session was ``minutes`` ago."""
    session = client.session
    session[IdleSessionMiddleware.KEY] = int(time.time() - minutes * 60)
    session.save()
    Session.objects.filter(session_key=session.session_key).update(
        expire_date=timezone.now()
        + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE - minutes * 60)
    )


def test_sessions_last_thirty_idle_minutes(client, clinician):
    client.force_login(clinician)

    before = timezone.now()
    client.get("/admin/")

    assert settings.SESSION_COOKIE_AGE == 30 * 60
    expires = _session_row(client).expire_date
    assert before + dt.timedelta(minutes=29) < expires <= timezone.now() + dt.timedelta(minutes=30)


def test_activity_slides_the_session_expiry(client, clinician):
    client.force_login(clinician)
    _idle_for(client, 25)
    assert _session_row(client).expire_date < timezone.now() + dt.timedelta(minutes=6)

    response = client.get("/admin/")

    assert response.status_code == 200
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 1800
    assert _session_row(client).expire_date > timezone.now() + dt.timedelta(minutes=29)
    assert client.session[IdleSessionMiddleware.KEY] >= int(time.time()) - 5


def test_session_is_touched_at_most_once_a_minute(client, clinician):
    client.force_login(clinician)
    _idle_for(client, 0.25)
    expires = _session_row(client).expire_date

    response = client.get("/admin/")

    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert _session_row(client).expire_date == expires


def test_session_idle_past_thirty_minutes_is_signed_out(client, clinician):
    client.force_login(clinician)
    _idle_for(client, 31)

    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_anonymous_visitors_get_no_session(client):
    response = client.get("/admin/login/")

    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert not Session.objects.exists()
