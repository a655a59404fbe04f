"""An outside attack on invitations and reminders (issue 18), each finding a test before its fix.

The attacker printed a letter and watched the next reminder revoke its link, read patients'
addresses (and a working link) in the worker log and the delivery record, sent a started
intake's link to an address of their own, invited a visit that was over, texted a landline and
kept "phone them" on after the intake was sent.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import traceback

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_encounter, make_submitted, routine_answers, staff_group
from twitch_intake import services, sms
from twitch_intake.models import Encounter, PatientMessage, hash_token

pytestmark = pytest.mark.django_db

ADDRESS = "pat@example.test"


def front_desk() -> User:
    user = User.objects.create_user("front-attack", password="x" * 20, is_staff=True)
    user.groups.add(staff_group("Front desk"))
    return user


def invited(**fields) -> tuple[Encounter, PatientMessage]:
    encounter = make_encounter(
        email=ADDRESS,
        preferred_channel="email",
        visit_at=timezone.now() + dt.timedelta(days=20),
        **fields,
    )
    result = services.send_invitation(encounter.pk, front_desk(), "127.0.0.1")
    assert result.message is not None
    return Encounter.objects.get(pk=encounter.pk), result.message


def test_a_printed_letter_keeps_working_after_the_next_reminder():
    encounter, invitation = invited()
    printed = services.issue_link(encounter.pk, User.objects.get(), "127.0.0.1").token
    assert printed is not None
    encounter.refresh_from_db()
    assert encounter.current_link(timezone.now()) == printed
    assert encounter.token_hash == hash_token(printed)


def test_a_refused_address_reaches_neither_the_record_nor_the_log(monkeypatch):
    encounter, invitation = invited()

    def refuse(*args, **kwargs):
        raise smtplib.SMTPRecipientsRefused(
            {ADDRESS: (451, b"4.7.1 try later " + ADDRESS.encode())}
        )

    monkeypatch.setattr(services, "send_mail", refuse)
    with pytest.raises(services.MessageNotSent) as raised:
        services.deliver_patient_message(invitation.pk)
    logged = "".join(traceback.format_exception(raised.value))
    assert ADDRESS not in logged and "example" not in logged
    record = PatientMessage.objects.get(pk=invitation.pk)
    assert record.status == PatientMessage.Status.QUEUED
    assert ADDRESS not in record.last_error and "451" in record.last_error


def test_a_mail_server_refusing_an_address_for_good_fails_at_once(monkeypatch):
    encounter, invitation = invited()

    def refuse(*args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({ADDRESS: (550, b"5.1.1 no such user")})

    monkeypatch.setattr(services, "send_mail", refuse)
    services.deliver_patient_message(invitation.pk)  # no retry: nothing raised
    record = PatientMessage.objects.get(pk=invitation.pk)
    assert record.status == PatientMessage.Status.FAILED and record.attempts == 1


def test_a_provider_error_quoting_the_message_never_shows_the_link(monkeypatch, settings):
    settings.TWITCH_INTAKE = {
        **settings.TWITCH_INTAKE,
        "SMS_BACKEND": "twitch_intake.sms.backends.locmem.SMSBackend",
    }
    encounter = make_encounter(
        mobile="+12025550143",
        preferred_channel="sms",
        visit_at=timezone.now() + dt.timedelta(days=20),
    )
    invitation = services.send_invitation(encounter.pk, front_desk(), "127.0.0.1").message
    assert invitation is not None

    def leaky(to, body):
        raise ConnectionError(f"provider down while sending to {to}: {body}")

    monkeypatch.setattr(sms, "send_sms", leaky)
    with pytest.raises(services.MessageNotSent) as raised:
        services.deliver_patient_message(invitation.pk)
    record = PatientMessage.objects.get(pk=invitation.pk)
    shown = record.last_error + "".join(traceback.format_exception(raised.value))
    assert "/intake/link/" not in shown and "2025550143" not in shown
    assert record.last_error == "ConnectionError"


def test_front_desk_cannot_send_a_started_intakes_link_to_another_address():
    encounter = make_encounter(
        email=ADDRESS,
        preferred_channel="email",
        answers=routine_answers(),
        visit_at=timezone.now() + dt.timedelta(days=20),
    )
    desk = Client()
    desk.force_login(front_desk())
    url = reverse("admin:twitch_intake_encounter_change", args=[encounter.pk])
    page = desk.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert "email" not in form.fields and "mobile" not in form.fields  # shown, not editable
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(
        {
            "email": "frontdesk@evil.test",
            "visit_at_0": timezone.localtime(encounter.visit_at).date().isoformat(),
            "visit_at_1": "10:30:00",
            "date_of_birth": encounter.date_of_birth.isoformat(),
        }
    )
    desk.post(url, data)
    assert Encounter.objects.get(pk=encounter.pk).email == ADDRESS


def test_a_visit_that_is_over_is_not_invited():
    encounter = make_encounter(
        email=ADDRESS, preferred_channel="email", visit_at=timezone.now() - dt.timedelta(hours=2)
    )
    result = services.send_invitation(encounter.pk, front_desk(), "127.0.0.1")
    assert result.refused == services.InviteRefused.VISIT_PASSED
    assert not PatientMessage.objects.filter(encounter=encounter).exists()


@pytest.mark.parametrize(
    ("region", "number"),
    [("GB", "020 7946 0018"), ("US", "1-800-555-0199"), ("GB", "09098 790 123")],
)
def test_a_number_that_cannot_receive_a_text_is_refused_beside_the_field(settings, region, number):
    settings.TWITCH_INTAKE = {
        **settings.TWITCH_INTAKE,
        "PHONE_REGION": region,
        "SMS_BACKEND": "twitch_intake.sms.backends.locmem.SMSBackend",
    }
    desk = Client()
    desk.force_login(front_desk())
    response = desk.post(
        reverse("admin:twitch_intake_encounter_add"),
        {
            "patient_name": "Zed Quill",
            "date_of_birth": "1975-02-03",
            "record_number": "",
            "visit_at_0": (timezone.localdate() + dt.timedelta(days=9)).isoformat(),
            "visit_at_1": "10:30:00",
            "email": "",
            "mobile": number,
            "preferred_channel": "sms",
            "language": "",
        },
    )
    assert response.status_code == 400
    assert "not a mobile number" in response.content.decode()
    assert not Encounter.objects.filter(patient_name="Zed Quill").exists()


def test_phone_them_is_not_asked_once_the_intake_is_sent(monkeypatch):
    encounter, invitation = invited()
    PatientMessage.objects.filter(pk=invitation.pk).update(status=PatientMessage.Status.FAILED)
    assert Encounter.objects.filter(services.undelivered(), pk=encounter.pk).exists()
    Encounter.objects.filter(pk=encounter.pk).update(visit_at=timezone.now() - dt.timedelta(days=1))
    assert not Encounter.objects.filter(services.undelivered(), pk=encounter.pk).exists()
    sent = make_submitted(email=ADDRESS, visit_at=timezone.now() + dt.timedelta(days=5))
    PatientMessage.objects.create(
        encounter=sent,
        kind="invitation",
        channel="email",
        due_at=timezone.now(),
        status=PatientMessage.Status.FAILED,
    )
    assert not Encounter.objects.filter(services.undelivered(), pk=sent.pk).exists()


def waiting(encounter: Encounter) -> list[tuple[str, str]]:
    return list(
        PatientMessage.objects.filter(encounter=encounter, status=PatientMessage.Status.QUEUED)
        .order_by("due_at")
        .values_list("kind", "channel")
    )


def test_switching_to_a_letter_drops_the_reminders_waiting_by_email():
    encounter, invitation = invited()
    assert ("reminder", "email") in waiting(encounter)
    Encounter.objects.filter(pk=encounter.pk).update(preferred_channel="letter")
    services.replan_messages(encounter.pk, None)
    assert waiting(encounter) == []


def test_a_moved_visit_moves_its_reminders():
    encounter, invitation = invited()
    before = sorted(
        PatientMessage.objects.filter(
            encounter=encounter, kind="reminder", status="queued"
        ).values_list("due_at", flat=True)
    )
    moved = encounter.visit_at + dt.timedelta(days=10)
    Encounter.objects.filter(pk=encounter.pk).update(visit_at=moved)
    services.replan_messages(encounter.pk, None)
    after = sorted(
        PatientMessage.objects.filter(
            encounter=encounter, kind="reminder", status="queued"
        ).values_list("due_at", flat=True)
    )
    assert len(after) == len(before) == 2
    assert all(a - b >= dt.timedelta(days=9) for a, b in zip(after, before, strict=True))
    assert all(moved - due <= dt.timedelta(days=7, hours=12) for due in after)
