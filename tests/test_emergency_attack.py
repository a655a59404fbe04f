"""An outside attack on issue 15 (emergency safety): each finding first failed here, then was fixed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from tests.factories import (
    GET_CARE_URL,
    emergency_answers,
    make_encounter,
    make_submitted,
    page_data,
)
from tests.test_views import PAGE_URL, sign_in
from twitch_intake import history, services
from twitch_intake.models import AccessEvent, Encounter, EncounterHistory, Status

pytestmark = pytest.mark.django_db

SIGNS = "emergency-signs"
CHANGELIST = "/admin/twitch_intake/encounter/"


def staff(username: str, *groups: str) -> User:
    user = User.objects.create_user(username, password="x" * 20, is_staff=True)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


def rows(encounter: Encounter) -> list[EncounterHistory]:
    return list(EncounterHistory.objects.filter(pgh_obj_id=encounter.pk).order_by("pgh_id"))


def test_the_get_care_answer_is_recorded_with_the_patients_session():
    """Every answer change is recorded with the patient's hashed session: the get-care form too."""
    client = Client()
    encounter = make_encounter()
    sign_in(client, encounter)
    key = client.session.session_key
    r = client.post(PAGE_URL.format("emergency"), page_data("emergency", {SIGNS: ["seizure"]}))
    assert r["Location"] == GET_CARE_URL
    r = client.post(GET_CARE_URL, {"emergency-action": "getting-care-now"})
    assert r.status_code == 302
    last = rows(encounter)[-1]
    assert last.answers.get("emergency-action") == "getting-care-now"
    assert last.pgh_context.get("session") == history.session_hash(key), last.pgh_context


def test_tick_withdraw_retick_one_alert_stays_emergency(django_capture_on_commit_callbacks):
    client = Client()
    encounter = make_encounter()
    sign_in(client, encounter)
    url = PAGE_URL.format("emergency")
    client.post(url, page_data("emergency", {SIGNS: ["seizure"]}))
    first = Encounter.objects.get(pk=encounter.pk)
    client.post(url, page_data("emergency", {SIGNS: ["none"]}))
    client.post(url, page_data("emergency", {SIGNS: ["seizure"]}))
    again = Encounter.objects.get(pk=encounter.pk)
    assert again.level == "emergency"
    assert again.alerted_at == first.alerted_at  # the same sign again is no new report
    assert again.emergency_reported_at == first.emergency_reported_at
    client.post(url, page_data("emergency", {SIGNS: ["vomiting"]}))
    now = Encounter.objects.get(pk=encounter.pk)
    assert now.level == "emergency"
    assert now.alerted_at > first.alerted_at  # a sign never reported before: told again
    assert now.emergency_reported_at == first.emergency_reported_at


def test_acknowledge_http_methods_and_front_desk():
    encounter = make_submitted(emergency_answers())
    assert encounter.level == "emergency"
    desk = staff("desk", "Front desk")
    client = Client()
    client.force_login(desk)
    url = reverse("admin:twitch_intake_encounter_acknowledge", args=[encounter.pk])
    assert client.post(url, {"kind": "contacted"}).status_code in (403, 302)
    assert client.head(url).status_code == 405
    assert client.put(url).status_code == 405
    r = client.get(CHANGELIST + "?emergencies=awaiting")
    assert r.status_code in (400, 302), r.status_code  # not a filtered list for the front desk
    assert Encounter.objects.get(pk=encounter.pk).emergency_acknowledged_at is None


def test_acknowledge_non_emergency_and_twice():
    doctor = staff("doc", "Clinicians")
    routine = make_submitted()
    assert services.acknowledge_emergency(routine.pk, doctor, "contacted", "", None).refused
    e = make_submitted(emergency_answers())
    assert not services.acknowledge_emergency(e.pk, doctor, "contacted", "", None).refused
    assert services.acknowledge_emergency(e.pk, doctor, "in_care", "x", None).refused
    assert (
        AccessEvent.objects.filter(encounter=e, action=AccessEvent.Action.ACKNOWLEDGE).count() == 1
    )


def test_an_in_progress_emergency_is_counted_and_first():
    doctor = staff("doc2", "Clinicians")
    client = Client()
    patient = Client()
    encounter = make_encounter(patient_name="Zed")
    sign_in(patient, encounter)
    patient.post(PAGE_URL.format("emergency"), page_data("emergency", {SIGNS: ["seizure"]}))
    make_submitted(emergency_answers(), patient_name="Amy")
    assert Encounter.objects.awaiting_emergency().count() == 2
    assert Encounter.objects.get(pk=encounter.pk).status == Status.IN_PROGRESS
    ids = list(Encounter.objects.in_queue_order().values_list("patient_name", flat=True))
    assert ids[0] in ("Zed", "Amy") and set(ids[:2]) == {"Zed", "Amy"}
    del doctor, client


def test_retriage_that_makes_an_intake_an_emergency_alerts_the_clinic():
    """A rule change (retriage) that turns a submitted intake into an emergency puts it at the
    top of the queue; the clinic must be told as for any emergency, and when it was reported."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    encounter = make_submitted(emergency_answers())
    # As triaged under older rules that did not read these signs: routine, no alert.
    Encounter.objects.filter(pk=encounter.pk).update(
        level="routine",
        flags=[],
        flag_count=0,
        red_flag_count=0,
        alerted_at=None,
        emergency_reported_at=None,
    )
    ProcrastinateJob.objects.all().delete()
    report = services.retriage()
    stored = Encounter.objects.get(pk=encounter.pk)
    assert [c.encounter_id for c in report.changed] == [encounter.pk]
    assert stored.level == "emergency"
    assert Encounter.objects.awaiting_emergency().filter(pk=encounter.pk).exists()
    assert stored.alerted_at is not None, "emergency on the queue and nobody alerted"
    assert stored.emergency_reported_at is not None, "emergency with no 'reported at'"
    assert (
        ProcrastinateJob.objects.filter(task_name="twitch_intake.send_emergency_alert").count() == 1
    )


def test_front_desk_change_page_does_not_say_emergency():
    encounter = make_submitted(emergency_answers())
    desk = staff("desk2", "Front desk")
    client = Client()
    client.force_login(desk)
    r = client.get(reverse("admin:twitch_intake_encounter_change", args=[encounter.pk]))
    assert r.status_code == 200
    page = r.content.decode()
    for word in ("mergenc", "seizure", "Seizure", "acknowledge"):
        assert word not in page, word
    assert not AccessEvent.objects.filter(encounter=encounter, user=desk).exists()


def test_a_withdrawn_emergency_keeps_the_patients_get_care_answer_in_the_header():
    """The intake stays an emergency after the sign is withdrawn, and the clinician reconciles
    it: what the patient said they were doing ("a doctor has already seen me") is the reason
    to call, and it must still be shown beside the emergency."""
    from twitch_intake import summary

    client = Client()
    encounter = make_encounter()
    sign_in(client, encounter)
    url = PAGE_URL.format("emergency")
    client.post(url, page_data("emergency", {SIGNS: ["seizure"]}))
    assert client.post(GET_CARE_URL, {"emergency-action": "already-seen"}).status_code == 302
    client.post(url, page_data("emergency", {SIGNS: ["none"]}))
    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.level == "emergency"
    report = summary.build(stored).header.emergency
    assert report is not None
    assert [str(r) for r in report.response] == [
        "A doctor has already seen me for this (answered before the sign was taken back)"
    ], "the get-care answer of a still-emergency intake is gone"
    # The queue's rows read no history for it (one query per row otherwise).
    assert summary.emergency_report(stored).response == ()


@pytest.mark.parametrize(
    "data",
    [
        {"emergency-action": ["getting-care-now", "already-seen"]},
        {"emergency-action": "x" * 5000},
        {"emergency-action": "getting-care-now\x00"},
        {"emergency-action": ""},
        {"emergency-signs": "none", "emergency-action": "getting-care-now"},
        {"emergency-action": "<script>alert(1)</script>"},
    ],
)
def test_hostile_get_care_posts_never_500_and_never_lose_the_sign(data):
    client = Client()
    encounter = make_encounter()
    sign_in(client, encounter)
    client.post(PAGE_URL.format("emergency"), page_data("emergency", {SIGNS: ["seizure"]}))
    r = client.post(GET_CARE_URL, data)
    assert r.status_code in (302, 303, 400), r.status_code
    shown = client.get(GET_CARE_URL)  # a refused post is shown on the GET after
    assert shown.status_code == 200
    assert "<script>alert(1)</script>" not in shown.content.decode()
    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.answers[SIGNS] == ["seizure"] and stored.level == "emergency"


def test_patient_pages_refuse_put_and_head_is_harmless():
    client = Client()
    encounter = make_encounter()
    sign_in(client, encounter)
    client.post(PAGE_URL.format("emergency"), page_data("emergency", {SIGNS: ["seizure"]}))
    assert client.put(GET_CARE_URL).status_code == 405
    assert client.head(GET_CARE_URL).status_code in (200, 405)


@pytest.mark.parametrize("note", ["a\x00b", "x" * 100000, "line\r\nbreak", "\u202e"])
def test_hostile_acknowledgement_notes_never_500(note):
    encounter = make_submitted(emergency_answers())
    doctor = staff("doc3", "Clinicians")
    client = Client()
    client.force_login(doctor)
    # second factor: as the existing tests do, if the settings ask for it
    url = reverse("admin:twitch_intake_encounter_acknowledge", args=[encounter.pk])
    r = client.post(url, {"kind": "something_else", "note": note})
    assert r.status_code in (302, 400), r.status_code
    assert Encounter.objects.get(pk=encounter.pk).emergency_acknowledged_at is None


def test_a_plain_acknowledgement_goes_through_the_same_way():
    encounter = make_submitted(emergency_answers())
    doctor = staff("doc4", "Clinicians")
    client = Client()
    client.force_login(doctor)
    url = reverse("admin:twitch_intake_encounter_acknowledge", args=[encounter.pk])
    assert client.post(url, {"kind": "something_else", "note": "rang"}).status_code == 302
    assert client.post(url, {"kind": "contacted", "note": ""}).status_code == 302
    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.emergency_acknowledgement_note == "rang"


def test_js_off_ticking_a_sign_goes_straight_to_get_care():
    client = Client()
    encounter = make_encounter()
    sign_in(client, encounter)
    data = page_data("emergency", {SIGNS: ["seizure"]})
    data.pop("_revealed")
    r = client.post(PAGE_URL.format("emergency"), data)
    assert r.status_code == 302 and r["Location"] == GET_CARE_URL
    # Refresh of the get-care page and Back to the form then forward again: still one alert.
    assert client.get(GET_CARE_URL).status_code == 200
    r = client.post(PAGE_URL.format("emergency"), data)
    assert r["Location"] == GET_CARE_URL


from django.db import ProgrammingError, connection, transaction  # noqa: E402

from tests.security import test_access_log_append_only as access_log  # noqa: E402

runtime_role = access_log.runtime_role


def test_the_runtime_role_cannot_forge_a_backdated_history_row(runtime_role):  # noqa: F811
    """Append-only is not enough: the history is evidence (a withdrawn sign, who changed the
    identity). The site's role may add rows only through the encounter's triggers, never a row
    of its own making, backdated and put in another's name."""
    from twitch_intake import triage

    encounter = make_submitted()  # routine, nothing ever ticked
    table = EncounterHistory._meta.db_table
    with (
        pytest.raises(ProgrammingError, match="rows come only from the encounter"),
        access_log.acting_as(runtime_role),
        transaction.atomic(),
        connection.cursor() as c,
    ):
        c.execute(
            f"INSERT INTO {table} (pgh_created_at, pgh_label, pgh_obj_id, pgh_context,"
            " answers, patient_name, date_of_birth, record_number)"
            " VALUES (now() - interval '1 day', 'update', %s, '{\"user\": 1}'::jsonb,"
            " '{\"emergency-signs\": [\"seizure\"]}'::jsonb, 'Forged', '2000-01-01', '')",
            [encounter.pk],
        )
    earlier = history.earlier_answers(encounter.pk)
    forged = triage.assess(encounter.answers, earlier=earlier)
    assert not forged.is_emergency, (
        "a hand-written history row turned a routine intake into an emergency"
    )


def test_a_new_sign_after_the_acknowledgement_is_not_silent():
    """A clinician acknowledges "already being cared for" a seizure; the patient, still in the
    form, then adds breathing difficulty. The get-care page tells them the clinic was told, but
    nobody is told of the new sign: it is neither back in the banner nor alerted again."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    doctor = staff("doc5", "Clinicians")
    client = Client()
    encounter = make_encounter()
    sign_in(client, encounter)
    url = PAGE_URL.format("emergency")
    client.post(url, page_data("emergency", {SIGNS: ["seizure"]}))
    client.post(GET_CARE_URL, {"emergency-action": "already-seen"})
    assert not services.acknowledge_emergency(encounter.pk, doctor, "in_care", "", None).refused
    jobs = ProcrastinateJob.objects.filter(task_name="twitch_intake.send_emergency_alert").count()
    r = client.post(
        url,
        page_data(
            "emergency",
            {SIGNS: ["seizure", "breathing-difficulty"], "emergency-action": "already-seen"},
        ),
    )
    assert r["Location"] == GET_CARE_URL
    told = "We have told the clinic" in client.get(GET_CARE_URL).content.decode()
    back_in_banner = Encounter.objects.awaiting_emergency().filter(pk=encounter.pk).exists()
    alerted_again = (
        ProcrastinateJob.objects.filter(task_name="twitch_intake.send_emergency_alert").count()
        > jobs
    )
    assert not told or back_in_banner or alerted_again, (
        "patient told the clinic knows; the new sign is in no banner and no alert"
    )


def test_banner_count_matches_the_filtered_rows_and_put_is_refused():
    doctor = staff("doc6", "Clinicians")
    patient = Client()
    encounter = make_encounter(patient_name="Zed")
    sign_in(patient, encounter)
    patient.post(PAGE_URL.format("emergency"), page_data("emergency", {SIGNS: ["seizure"]}))
    make_submitted(emergency_answers(), patient_name="Amy")
    make_submitted(patient_name="Routine")
    client = Client()
    client.force_login(doctor)
    r = client.get(CHANGELIST + "?emergencies=awaiting")
    assert r.status_code == 200
    shown = [e.patient_name for e in r.context["cl"].result_list]
    assert r.context["unreviewed_emergencies"] == len(shown) == 2
    change = reverse("admin:twitch_intake_encounter_change", args=[encounter.pk])
    before = AccessEvent.objects.count()
    assert client.put(change).status_code == 405
    assert client.options(change).status_code == 405
    assert AccessEvent.objects.count() == before
    assert client.head(change).status_code == 200
    assert AccessEvent.objects.count() == before + 1


def test_get_care_form_needs_csrf_and_a_sign():
    plain = Client()
    encounter = make_encounter()
    sign_in(plain, encounter)
    plain.post(PAGE_URL.format("emergency"), page_data("emergency", {SIGNS: ["seizure"]}))
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = plain.cookies
    assert strict.post(GET_CARE_URL, {"emergency-action": "already-seen"}).status_code == 403
    assert "emergency-action" not in Encounter.objects.get(pk=encounter.pk).answers
    other = Client()
    sign_in(other, make_encounter())
    r = other.post(GET_CARE_URL, {"emergency-action": "already-seen"})
    assert r.status_code == 302
    assert r["Location"] != GET_CARE_URL
