"""The answer history (pghistory), the provisional emergency level and withdrawn signs, walked
through the real views on real PostgreSQL (``shared/CLINICAL.md``, "Rules": a saved sign makes
the intake an emergency at once and keeps it one; a sign taken back stays in the summary)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from procrastinate.contrib.django.models import ProcrastinateJob

from tests.factories import make_encounter, make_submitted, page_data, rich_answers
from tests.security import test_access_log_append_only as access_log
from tests.test_views import (
    GROUP_IDS,
    PAGE_URL,
    SUBMIT_URL,
    THANKS_URL,
    IntakeClient,
    answer_pages,
    sign_in,
)
from twitch_intake import history, services, summary, triage
from twitch_intake.models import Encounter, EncounterHistory, Status
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = pytest.mark.django_db

#: A role made for one test with what ``twitch_intake_grant_runtime_role`` grants.
runtime_role = access_log.runtime_role
acting_as = access_log.acting_as

SIGNS = "emergency-signs"
HISTORY_TABLE = EncounterHistory._meta.db_table
TRACKING_TRIGGERS = (
    "pgtrigger_insert_insert_e336d",
    "pgtrigger_update_update_75d21",
    "pgtrigger_delete_delete_7bb09",
)
PROTECTION_TRIGGERS = (
    "encounter_history_append_only",
    "encounter_history_no_truncate",
    "encounter_history_not_skipped",
)


def label(link_id: str, code: str) -> str:
    return str(TWITCH_INTAKE.question(link_id).label(code))


def clock(at: Any) -> str:
    """How the evidence gives a time: local, always with its date."""
    return date_format(timezone.localtime(at), "Y-m-d H:i")


def run(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.fixture
def client() -> IntakeClient:
    return IntakeClient()


@pytest.fixture
def encounter() -> Encounter:
    return make_encounter()


@pytest.fixture
def clinician_client(client: IntakeClient) -> IntakeClient:
    staff = IntakeClient()
    staff.force_login(User.objects.create_superuser("root", "root@clinic.test", "x" * 20))
    return staff


def history_rows(encounter: Encounter) -> list[EncounterHistory]:
    return list(EncounterHistory.objects.filter(pgh_obj_id=encounter.pk).order_by("pgh_id"))


# --- The provisional level ------------------------------------------------------------------


def test_a_sign_saved_on_page_one_makes_an_emergency_at_once(client, encounter):
    """The patient ticks a sign and leaves: the queue sees an emergency, not 'in progress'."""
    sign_in(client, encounter)
    before = timezone.now()
    response = client.post(
        PAGE_URL.format("emergency"), page_data("emergency", {SIGNS: ["seizure"]})
    )
    assert response.status_code == 302

    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.status == Status.IN_PROGRESS
    assert stored.level == Encounter.Level.EMERGENCY
    assert stored.flags == [triage.rule(SIGNS).code]
    assert stored.flag_count == 1
    assert stored.emergency_reported_at is not None and stored.emergency_reported_at >= before
    assert stored.alerted_at == stored.emergency_reported_at
    assert ProcrastinateJob.objects.count() == 1


def test_an_intake_in_progress_without_a_sign_has_no_level(client, encounter):
    sign_in(client, encounter)
    answer_pages(client, rich_answers() | {SIGNS: ["none"]}, GROUP_IDS[:3])
    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.status == Status.IN_PROGRESS
    assert (stored.level, stored.flags, stored.flag_count) == (None, [], 0)
    assert stored.emergency_reported_at is None


def test_the_level_stays_emergency_while_in_progress_after_the_sign_is_withdrawn(client, encounter):
    sign_in(client, encounter)
    client.post(PAGE_URL.format("emergency"), page_data("emergency", {SIGNS: ["vomiting"]}))
    first = Encounter.objects.get(pk=encounter.pk).emergency_reported_at
    client.post(PAGE_URL.format("emergency"), page_data("emergency", {SIGNS: ["none"]}))
    client.post(PAGE_URL.format("emergency"), page_data("emergency", {SIGNS: ["paralysis"]}))
    client.post(PAGE_URL.format("emergency"), page_data("emergency", {SIGNS: ["none"]}))

    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.level == Encounter.Level.EMERGENCY
    assert stored.flags == [triage.rule(SIGNS).code]
    assert stored.emergency_reported_at == first  # the first report, never moved
    assert ProcrastinateJob.objects.count() == 1  # one alert per encounter


# --- Withdrawn signs, through to the summary ------------------------------------------------


def test_a_withdrawn_sign_stays_in_the_submitted_summary_with_its_times(
    client, encounter, clinician_client
):
    sign_in(client, encounter)
    client.post(PAGE_URL.format("emergency"), page_data("emergency", {SIGNS: ["seizure"]}))
    answers = rich_answers() | {SIGNS: ["none"]}
    answer_pages(client, answers)  # back to page 1, "None of these", then every page
    assert client.post(SUBMIT_URL)["Location"] == THANKS_URL

    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.status == Status.SUBMITTED
    assert stored.answers[SIGNS] == ["none"]
    assert stored.level == Encounter.Level.EMERGENCY
    assert stored.flags[0] == triage.rule(SIGNS).code
    assert ProcrastinateJob.objects.count() == 1  # the save's alert, not dropped nor doubled

    saves = history.earlier_answers(stored.pk)[SIGNS]
    assert [value for _at, value in saves] == [["seizure"], ["none"]]
    expected = (
        f"reported at {clock(saves[0][0])}: {label(SIGNS, 'seizure')}; changed to "
        f"“{label(SIGNS, 'none')}” at {clock(saves[1][0])}: ask the patient"
    )

    built = summary.build(stored)
    assert built.is_emergency and built.emergency_signs == ()
    assert built.triage_notice == ""  # the stored level and flags are the recomputed ones
    assert [str(w.evidence) for w in built.withdrawn_signs] == [expected]
    assert str(built.emergency_flag.evidence) == expected

    change = reverse("admin:twitch_intake_encounter_change", args=[stored.pk])
    html = clinician_client.get(change).content.decode()
    assert "ti-withdrawn-signs" in html
    assert expected.replace("“", "&ldquo;").replace("”", "&rdquo;") in html or expected in html
    text = clinician_client.get(
        reverse("admin:twitch_intake_encounter_text", args=[stored.pk])
    ).content.decode()
    assert f"- {expected}" in text
    assert "taken back by the patient" in text


def test_a_sign_withdrawn_in_spanish_is_worded_in_the_readers_language(encounter):
    group = TWITCH_INTAKE.group("emergency")
    services.save_page(encounter.pk, group, {SIGNS: ["high-fever"]})
    services.save_page(encounter.pk, group, {SIGNS: ["none"]})
    assessment = triage.assess(
        Encounter.objects.get(pk=encounter.pk).answers,
        earlier=history.earlier_answers(encounter.pk),
    )
    from django.utils import translation

    with translation.override("es"):
        worded = str(assessment.flag(SIGNS).evidence)
    assert worded.startswith("notificado a las ")
    assert "pregunte al paciente" in worded


def test_retriage_keeps_a_withdrawn_emergency(encounter):
    group = TWITCH_INTAKE.group("emergency")
    services.save_page(encounter.pk, group, {SIGNS: ["seizure"]})
    for group_id in GROUP_IDS:
        services.save_page(
            encounter.pk,
            TWITCH_INTAKE.group(group_id),
            {
                q.link_id: v
                for q in TWITCH_INTAKE.group(group_id).questions
                if (v := (rich_answers() | {SIGNS: ["none"]}).get(q.link_id)) is not None
            },
        )
    assert services.submit(encounter.pk).ok
    report = services.retriage()
    assert report.changed == []
    assert Encounter.objects.get(pk=encounter.pk).level == Encounter.Level.EMERGENCY


# --- The history itself ---------------------------------------------------------------------


def test_every_answer_change_is_recorded_with_the_patients_hashed_session(client, encounter):
    token = sign_in(client, encounter)
    session_key = client.session.session_key
    client.post(PAGE_URL.format("emergency"), page_data("emergency", {SIGNS: ["seizure"]}))
    client.post(PAGE_URL.format("emergency"), page_data("emergency", {SIGNS: ["none"]}))

    rows = history_rows(encounter)
    assert [row.pgh_label for row in rows] == ["insert", "update", "update"]
    assert [row.answers.get(SIGNS) for row in rows] == [None, ["seizure"], ["none"]]
    for row in rows[1:]:
        assert row.pgh_context["session"] == history.session_hash(session_key)
        assert "user" not in row.pgh_context
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT row_to_json(h)::text FROM {HISTORY_TABLE} h")
        stored = " ".join(text for (text,) in cursor.fetchall())
    assert session_key not in stored
    assert token not in stored


def test_an_identity_change_after_submission_is_recorded_with_the_superuser(encounter):
    submitted = make_submitted(rich_answers(), patient_name="Ada Example")
    root = User.objects.create_superuser("root2", "root2@clinic.test", "x" * 20)
    client = IntakeClient()
    client.force_login(root)
    local = timezone.localtime(submitted.visit_at)
    response = client.post(
        reverse("admin:twitch_intake_encounter_change", args=[submitted.pk]),
        {
            "patient_name": "Someone Else",
            "date_of_birth": submitted.date_of_birth.isoformat(),
            "record_number": submitted.record_number,
            "visit_at_0": local.date().isoformat(),
            "visit_at_1": local.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302
    last = history_rows(submitted)[-1]
    assert last.pgh_label == "update"
    assert last.patient_name == "Someone Else"
    assert last.pgh_context["user"] == root.pk
    assert history_rows(submitted)[-2].patient_name == "Ada Example"  # the old value
    # pghistory's own view of the rows: old and new values side by side, with who.
    import pghistory.models

    (diff,) = pghistory.models.Events.objects.tracks(submitted).filter(pgh_label="update")
    assert diff.pgh_diff == {"patient_name": ["Ada Example", "Someone Else"]}
    assert diff.pgh_context["user"] == root.pk


def test_an_encounter_added_in_the_admin_is_recorded_with_who_added_it():
    import datetime as dt

    from django.contrib.auth.models import Group

    front = User.objects.create_user("front", password="x" * 20, is_staff=True)
    front.groups.add(Group.objects.get(name="Front desk"))
    client = IntakeClient()
    client.force_login(front)
    response = client.post(
        reverse("admin:twitch_intake_encounter_add"),
        {
            "patient_name": "New Patient",
            "date_of_birth": "1975-02-03",
            "record_number": "",
            "visit_at_0": (timezone.localdate() + dt.timedelta(days=30)).isoformat(),
            "visit_at_1": "10:30:00",
        },
    )
    assert response.status_code == 302  # to the new encounter (its invitation, if any, queued)
    (row,) = history_rows(Encounter.objects.get())
    assert (row.pgh_label, row.patient_name, row.pgh_context["user"]) == (
        "insert",
        "New Patient",
        front.pk,
    )


@pytest.mark.parametrize(
    "statement",
    [
        f"UPDATE {HISTORY_TABLE} SET answers = '{{}}'::jsonb",
        f"DELETE FROM {HISTORY_TABLE}",
        f"TRUNCATE {HISTORY_TABLE}",
    ],
)
@pytest.mark.parametrize(
    "setup",
    [
        "",
        "SET LOCAL session_replication_role = replica",
        "SET LOCAL pgtrigger.ignore = 'twitch_intake_encounterhistory:append_only'",
    ],
)
def test_the_history_cannot_be_changed_or_emptied_by_raw_sql(encounter, statement, setup):
    services.save_page(encounter.pk, TWITCH_INTAKE.group("emergency"), {SIGNS: ["seizure"]})
    assert len(history_rows(encounter)) == 2
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        if setup:
            run(setup)
        run(statement)
    assert [row.answers.get(SIGNS) for row in history_rows(encounter)] == [None, ["seizure"]]


def test_the_history_is_written_even_under_replication_role_replica(encounter):
    with transaction.atomic():
        run("SET LOCAL session_replication_role = replica")
        run(
            f"UPDATE {Encounter._meta.db_table} SET answers = %s::jsonb WHERE id = %s",
            ['{"emergency-signs": ["paralysis"]}', encounter.pk],
        )
    assert history_rows(encounter)[-1].answers == {SIGNS: ["paralysis"]}


def test_pgtriggers_ignore_cannot_skip_the_history(encounter):
    """pgtrigger's tracking triggers obey ``pgtrigger.ignore``; the guard refuses the write."""
    import pgtrigger

    rows = len(history_rows(encounter))
    for name in ("insert_insert", "update_update", "delete_delete"):
        with (
            pytest.raises(DatabaseError, match="Cannot skip the answer history"),
            pgtrigger.ignore(f"twitch_intake.Encounter:{name}"),
            transaction.atomic(),
        ):
            Encounter.objects.filter(pk=encounter.pk).update(answers={SIGNS: ["seizure"]})
    with pytest.raises(DatabaseError, match="Cannot skip"), transaction.atomic():
        run(f"SET LOCAL pgtrigger.ignore = '{{{TRACKING_TRIGGERS[1]}}}'")
        run(f"UPDATE {Encounter._meta.db_table} SET answers = '{{}}'::jsonb")
    assert len(history_rows(encounter)) == rows
    assert Encounter.objects.get(pk=encounter.pk).answers == {}
    with transaction.atomic():  # naming another trigger changes nothing
        run("SET LOCAL pgtrigger.ignore = '{some_other_trigger}'")
        Encounter.objects.filter(pk=encounter.pk).update(answers={SIGNS: ["none"]})
    assert history_rows(encounter)[-1].answers == {SIGNS: ["none"]}


def test_every_history_trigger_fires_always():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgname = ANY(%s)",
            [[*TRACKING_TRIGGERS, *PROTECTION_TRIGGERS]],
        )
        enabled = dict(cursor.fetchall())
    assert enabled == dict.fromkeys([*TRACKING_TRIGGERS, *PROTECTION_TRIGGERS], "A")


# --- Triage, pure ---------------------------------------------------------------------------


def test_assess_without_history_is_unchanged():
    answers = rich_answers() | {SIGNS: ["none"]}
    assert triage.assess(answers).level is not triage.Level.EMERGENCY
    assert triage.assess(answers, earlier={}).flags == triage.assess(answers).flags


def test_a_none_or_a_sign_ticked_again_is_not_withdrawn():
    t = [timezone.now() + timezone.timedelta(minutes=i) for i in range(3)]
    answers = rich_answers() | {SIGNS: ["seizure"]}
    earlier = {SIGNS: [(t[0], ["seizure"]), (t[1], ["none"]), (t[2], ["seizure"])]}
    flag = triage.assess(answers, earlier=earlier).flag(SIGNS)
    assert flag is not None and flag.withdrawn == ()
    only_none = {SIGNS: [(t[0], ["none"])]}
    assert triage.assess(rich_answers() | {SIGNS: ["none"]}, earlier=only_none).flag(SIGNS) is None


def test_current_and_withdrawn_signs_are_told_apart():
    t = [timezone.now() + timezone.timedelta(minutes=i) for i in range(3)]
    answers = rich_answers() | {SIGNS: ["vomiting"]}
    earlier = {
        SIGNS: [(t[0], ["seizure", "paralysis"]), (t[1], ["paralysis"]), (t[2], ["vomiting"])]
    }
    assessment = triage.assess(answers, earlier=earlier)
    assert assessment.is_emergency
    assert assessment.emergency_signs == (TWITCH_INTAKE.question(SIGNS).label("vomiting"),)
    withdrawn = assessment.withdrawn_signs
    assert [(w.reported_at, w.changed_at) for w in withdrawn] == [(t[0], t[1]), (t[0], t[2])]
    assert [[str(a) for a in w.answers] for w in withdrawn] == [
        [label(SIGNS, "seizure")],
        [label(SIGNS, "paralysis")],
    ]
    evidence = str(assessment.flag(SIGNS).evidence)
    assert evidence.startswith(f"ticked: {label(SIGNS, 'vomiting')}; reported at ")
    assert f"changed to “{label(SIGNS, 'paralysis')}” at {clock(t[1])}" in evidence


# --- The site's runtime role ----------------------------------------------------------------


def test_the_runtime_role_records_history_but_cannot_change_it(encounter, runtime_role):
    """The triggers run as whoever writes: the runtime role must be able to add history rows
    (INSERT, the sequence) and must not be able to change, delete or empty them."""
    with acting_as(runtime_role):
        services.save_page(encounter.pk, TWITCH_INTAKE.group("emergency"), {SIGNS: ["seizure"]})
        assert history_rows(encounter)[-1].answers == {SIGNS: ["seizure"]}
        for statement in (
            f"UPDATE {HISTORY_TABLE} SET answers = '{{}}'::jsonb",
            f"DELETE FROM {HISTORY_TABLE}",
            f"TRUNCATE {HISTORY_TABLE}",
        ):
            with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
                run(statement)
        with pytest.raises(DatabaseError, match="must be owner"), transaction.atomic():
            run(f"ALTER TABLE {HISTORY_TABLE} DISABLE TRIGGER encounter_history_append_only")
    assert [row.answers.get(SIGNS) for row in history_rows(encounter)] == [None, ["seizure"]]
