"""Invitations and reminders: the patient's link by email or text message through the real
queue, never on screen; the delivery record, retries and permanent failure; reminders with
quiet hours and at most one a day; the provider backend against a fake provider on 127.0.0.1;
the printed letter's QR code.

Workers read committed rows, so the tests that run one use the ``queue`` fixture.
"""

from __future__ import annotations

import datetime as dt
import html
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from tests.alerting import SMTPServer, make_retries_due, run_workers
from tests.factories import make_encounter, staff_group
from twitch_intake import services, sms
from twitch_intake.checks import check_settings
from twitch_intake.models import AccessEvent, Encounter, PatientMessage, hash_token
from twitch_intake.sms import SMS, SMSError, get_backend

ROOT = Path(__file__).resolve().parent.parent
TASK = "twitch_intake.send_patient_message"
LOCMEM = "twitch_intake.sms.backends.locmem.SMSBackend"
TWILIO = "twitch_intake.sms.backends.twilio.SMSBackend"
NEW_YORK = ZoneInfo("America/New_York")  # tests/settings.py's TIME_ZONE
ADD = "/admin/twitch_intake/encounter/add/"


@pytest.fixture(autouse=True)
def _texts(settings):
    """Text messages by the locmem backend; an empty outbox for each test."""
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "SMS_BACKEND": LOCMEM}
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def front_desk() -> User:
    user = User.objects.create_user("front", password="x" * 20, is_staff=True)
    user.groups.add(staff_group("Front desk"))
    return user


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_url(encounter: Encounter) -> str:
    return reverse("admin:twitch_intake_encounter_change", args=[encounter.pk])


def send_url(encounter: Encounter) -> str:
    return reverse("admin:twitch_intake_encounter_link", args=[encounter.pk])


def fresh(encounter: Encounter) -> Encounter:
    return Encounter.objects.get(pk=encounter.pk)


def jobs() -> list[ProcrastinateJob]:
    return list(ProcrastinateJob.objects.filter(task_name=TASK).order_by("id"))


def add_form(**fields: str) -> dict[str, str]:
    data = {
        "patient_name": "Zed Quill",
        "date_of_birth": "1975-02-03",
        "record_number": "",
        "visit_at_0": (timezone.localdate() + dt.timedelta(days=1)).isoformat(),
        "visit_at_1": "10:30:00",
        "email": "",
        "mobile": "",
        "preferred_channel": "",
        "language": "",
    }
    data.update(fields)
    return data


def tomorrow(**fields: Any) -> Encounter:
    """A visit tomorrow: the invitation goes now, and no reminder fits."""
    return make_encounter(visit_at=timezone.now() + dt.timedelta(days=1), **fields)


def link_in(text: str) -> str:
    start = text.index("https://intake.clinic.test/intake/link/")
    return text[start:].split()[0]


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


# --- Contact details: validated beside the field ---------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"email": "not an address", "preferred_channel": "email"}, "email", "valid email"),
        ({"mobile": "12", "preferred_channel": "sms"}, "mobile", "valid mobile number"),
        ({"mobile": "+1 555", "preferred_channel": "sms"}, "mobile", "valid mobile number"),
        ({"preferred_channel": "email"}, "email", "Enter the email"),
        ({"preferred_channel": "sms"}, "mobile", "Enter the mobile number"),
        ({"preferred_channel": "pigeon"}, "preferred_channel", "Select a valid choice"),
    ],
)
def test_a_bad_contact_is_a_400_with_the_message_beside_the_field(fields, field, message):
    response = signed_in(front_desk()).post(ADD, add_form(**fields))

    assert response.status_code == 400
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert message in response.content.decode()  # shown on the page, beside the field
    assert not Encounter.objects.exists()
    assert not PatientMessage.objects.exists()


@pytest.mark.django_db
def test_text_messages_are_refused_where_the_clinic_sends_none(settings):
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "SMS_BACKEND": ""}
    response = signed_in(front_desk()).post(
        ADD, add_form(mobile="+12025550143", preferred_channel="sms")
    )
    assert response.status_code == 400
    assert "does not send text messages" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("region", "typed", "stored"),
    [("US", "(202) 555-0143", "+12025550143"), ("ES", "612 34 56 78", "+34612345678")],
)
def test_a_local_number_is_read_with_the_clinics_region(settings, region, typed, stored):
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "PHONE_REGION": region}
    response = signed_in(front_desk()).post(ADD, add_form(mobile=typed, preferred_channel="sms"))
    assert response.status_code == 302
    assert str(Encounter.objects.get().mobile) == stored


# --- Sending: never on screen, through the queue ----------------------------------------------


@pytest.mark.django_db
def test_adding_an_encounter_queues_its_invitation_and_the_page_redirects():
    client = signed_in(front_desk())

    response = client.post(ADD, add_form(email="zed@example.test", preferred_channel="email"))

    encounter = Encounter.objects.get()
    assert response.status_code == 302 and response["Location"] == change_url(encounter)
    assert mail.outbox == []  # nothing is sent in the request
    [message] = encounter.messages.all()
    assert (message.kind, message.channel, message.status) == ("invitation", "email", "queued")
    [job] = jobs()
    assert job.args == {"message_id": message.pk}
    assert job.lock == f"twitch_intake.message:{encounter.pk}"
    page = client.get(change_url(encounter)).content.decode()
    assert "/intake/link/" not in page
    assert "Messages to the patient" in page and "Queued" in page
    # A reload of the encounter page re-issues nothing.
    before = fresh(encounter).token_hash
    client.get(change_url(encounter))
    assert fresh(encounter).token_hash == before and len(jobs()) == 1


@pytest.mark.usefixtures("queue")
def test_the_invitation_email_carries_a_working_link_and_no_health_details(caplog):
    encounter = tomorrow(
        patient_name="Zed Quill", email="zed@example.test", preferred_channel="email"
    )
    result = services.send_invitation(encounter.pk, front_desk(), "127.0.0.1")
    assert result.message is not None

    run_workers()

    [email] = mail.outbox
    assert email.to == ["zed@example.test"]
    assert "Test Clinic" in email.subject
    body = email.body
    link = link_in(body)  # built from SITE_URL, not from a request's host
    assert hash_token(token_of(link)) == fresh(encounter).token_hash
    assert "about 10 minutes" in body and "come back" in body and "911" in body
    # Not in the link's random token either, where "zed" turns up about once in 800 runs.
    words = (email.subject + body.replace(link, "")).lower()
    for private in ("Zed", "Quill", "1975", "twitch", "seizure"):
        assert private.lower() not in words
    for private in ("zed@example.test", token_of(link), "Quill"):
        assert private not in caplog.text
    message = PatientMessage.objects.get()
    assert (message.status, message.attempts, message.last_error) == ("sent", 1, "")
    assert message.sent_at is not None
    # The link opens the intake.
    assert Client().get(urlsplit(link).path).status_code == 200


@pytest.mark.usefixtures("queue")
def test_a_text_message_goes_through_the_backend_in_the_patients_language():
    encounter = tomorrow(mobile="+34612345678", preferred_channel="sms", language="es")
    services.send_invitation(encounter.pk, front_desk(), None)

    run_workers()

    [text] = sms.outbox
    assert text.to == "+34612345678"
    assert hash_token(token_of(link_in(text.body))) == fresh(encounter).token_hash
    assert len(text.body) < 320  # two SMS segments at most
    assert PatientMessage.objects.get().status == "sent"


@pytest.mark.usefixtures("queue")
def test_the_mail_server_down_keeps_the_message_queued_and_retries_with_backoff():
    encounter = tomorrow(email="zed@example.test", preferred_channel="email")
    services.send_invitation(encounter.pk, front_desk(), None)
    with SMTPServer("refuse") as smtp, override_settings(**smtp.settings()):
        run_workers()
        message = PatientMessage.objects.get()
        assert (message.status, message.attempts) == ("queued", 1)
        assert message.last_error.startswith("SMTPConnectError: 421")
        [job] = jobs()
        assert job.status == "todo" and job.scheduled_at > timezone.now()  # a backoff

        run_workers()  # not due yet
        assert PatientMessage.objects.get().attempts == 1

        smtp.mode = "accept"
        make_retries_due()
        run_workers()
        assert len(smtp.messages) == 1
    message = PatientMessage.objects.get()
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, "")


@pytest.mark.usefixtures("queue")
def test_a_permanent_failure_shows_in_the_queue_for_staff_to_phone(settings):
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "MESSAGE_ATTEMPTS": 2}
    encounter = tomorrow(email="zed@example.test", preferred_channel="email")
    user = front_desk()
    services.send_invitation(encounter.pk, user, None)
    with SMTPServer("reject") as smtp, override_settings(**smtp.settings()):
        run_workers()
        make_retries_due()
        run_workers()
        make_retries_due()
        run_workers()
    message = PatientMessage.objects.get()
    assert (message.status, message.attempts) == ("failed", 2)
    assert message.last_error.startswith("SMTPDataError: 554")
    assert "zed@example.test" not in message.last_error
    [job] = jobs()
    assert job.status == "succeeded"  # nothing left to retry

    client = signed_in(user)
    queue = client.get("/admin/twitch_intake/encounter/").content.decode()
    assert "1 patient's link could not be delivered: phone them." in queue
    filtered = client.get("/admin/twitch_intake/encounter/?undelivered=1")
    assert [e.pk for e in filtered.context["cl"].result_list] == [encounter.pk]
    page = client.get(change_url(encounter)).content.decode()
    assert "could not be delivered: phone them" in page
    assert "Failed" in page

    # A new link that is delivered clears the notice.
    services.send_invitation(encounter.pk, user, None)
    run_workers()
    assert Encounter.objects.filter(services.undelivered()).count() == 0


@pytest.mark.usefixtures("queue")
def test_a_number_the_provider_refuses_for_good_fails_at_once(settings):
    settings.TWITCH_INTAKE = {
        **settings.TWITCH_INTAKE,
        "SMS_BACKEND": "tests.test_invitations.RefusingBackend",
    }
    encounter = tomorrow(mobile="+12025550143", preferred_channel="sms")
    services.send_invitation(encounter.pk, None, None)
    run_workers()
    message = PatientMessage.objects.get()
    assert (message.status, message.attempts) == ("failed", 1)
    assert message.last_error == "SMSError: Twilio HTTP 400 error 21211"


class RefusingBackend(sms.BaseSMSBackend):
    def send(self, message: SMS) -> None:
        raise SMSError("Twilio HTTP 400 error 21211", permanent=True)


@pytest.mark.usefixtures("queue")
def test_a_worker_killed_mid_send_sends_one_message_after_a_restart():
    encounter = tomorrow(email="zed@example.test", preferred_channel="email")
    services.send_invitation(encounter.pk, None, None)
    test_database = "/" + connection.settings_dict["NAME"]
    url = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=test_database))
    with SMTPServer("stall") as smtp, tempfile.TemporaryFile() as log:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
            "DATABASE_URL": url,
            "TWITCH_TEST_SMTP_PORT": str(smtp.port),
        }
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "procrastinate", "worker", "--concurrency", "1"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            reached = smtp.stalled.wait(60)
        finally:
            worker.kill()
            worker.wait(30)
        log.seek(0)
        assert reached, log.read().decode(errors="replace")
        [job] = jobs()
        assert job.status == "doing"
        assert PatientMessage.objects.get().status == "queued"

        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 minute' "
                "WHERE id = %s",
                [job.worker_id],
            )
        from tests.test_alerts import _run_periodic_stalled_job_recovery

        _run_periodic_stalled_job_recovery()
        smtp.mode = "accept"
        with override_settings(**smtp.settings()):
            run_workers()
            run_workers()
    assert len(smtp.messages) == 1
    assert PatientMessage.objects.get().status == "sent"


# --- Reminders ---------------------------------------------------------------------------------


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2031, 3, day, hour, minute, tzinfo=NEW_YORK)


@pytest.fixture
def quiet_nights(settings):
    settings.TWITCH_INTAKE = {
        **settings.TWITCH_INTAKE,
        "QUIET_HOURS": (dt.time(21), dt.time(8)),
        "REMINDERS": [dt.timedelta(days=7), dt.timedelta(days=3)],
    }


@pytest.mark.usefixtures("quiet_nights")
@pytest.mark.parametrize(
    ("moment", "sent_at"),
    [
        (at(10, 12), at(10, 12)),
        (at(10, 20, 59), at(10, 20, 59)),
        (at(10, 21), at(11, 8)),
        (at(10, 23, 30), at(11, 8)),
        (at(11, 3), at(11, 8)),
        (at(11, 8), at(11, 8)),
    ],
)
def test_nothing_is_sent_between_nine_at_night_and_eight_in_the_morning(moment, sent_at):
    assert services.next_sending_time(moment) == sent_at


@pytest.mark.usefixtures("quiet_nights")
@pytest.mark.parametrize(
    ("visit", "first", "reminders"),
    [
        # A visit in three weeks: reminders 7 and 3 days before, at the visit's hour.
        (at(31, 10), at(10, 12), [at(24, 10), at(28, 10)]),
        # A 7:30 visit: the reminders wait for 8:00.
        (at(31, 7, 30), at(10, 12), [at(24, 8), at(28, 8)]),
        # In five days: the 7-day reminder is past and skipped; the 3-day one goes.
        (at(15, 10), at(10, 12), [at(12, 10)]),
        # Tomorrow: the invitation goes now, no reminder fits.
        (at(11, 10), at(10, 12), []),
        # In three days, invited the same day the 3-day reminder falls: at most one a day.
        (at(13, 18), at(10, 12), []),
    ],
)
def test_reminders_that_no_longer_fit_are_skipped(visit, first, reminders):
    assert services.reminder_times(visit, first) == reminders


@pytest.mark.usefixtures("queue")
def test_reminders_are_scheduled_on_the_queue_and_skipped_once_submitted():
    encounter = make_encounter(
        visit_at=timezone.now() + dt.timedelta(days=20),
        email="zed@example.test",
        preferred_channel="email",
    )
    services.send_invitation(encounter.pk, None, None)
    invitation, *reminders = PatientMessage.objects.order_by("due_at")
    assert [m.kind for m in reminders] == ["reminder", "reminder"]
    scheduled = {job.args["message_id"]: job.scheduled_at for job in jobs()}
    for reminder in reminders:
        assert scheduled[reminder.pk] == reminder.due_at > timezone.now() + dt.timedelta(days=2)

    run_workers()
    assert len(mail.outbox) == 1  # the reminders are not due

    make_submitted_now(encounter)
    make_retries_due()  # the clock reaches the reminders
    run_workers()
    assert len(mail.outbox) == 1
    assert [m.status for m in PatientMessage.objects.order_by("due_at")] == [
        "sent",
        "skipped",
        "skipped",
    ]


def make_submitted_now(encounter: Encounter) -> None:
    from tests.factories import routine_answers

    Encounter.objects.filter(pk=encounter.pk).update(answers=routine_answers())
    assert services.submit(encounter.pk).ok


@pytest.mark.usefixtures("queue")
def test_reminders_off_and_one_message_a_day():
    encounter = make_encounter(
        visit_at=timezone.now() + dt.timedelta(days=20),
        email="zed@example.test",
        preferred_channel="email",
    )
    services.send_invitation(encounter.pk, None, None)
    run_workers()
    # The first reminder becomes due today (the invitation went today): not sent.
    make_retries_due()
    first, second = PatientMessage.objects.filter(kind="reminder").order_by("due_at")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = now() + interval '30 days' "
            "WHERE args->>'message_id' = %s",
            [str(second.pk)],
        )
    run_workers()
    assert len(mail.outbox) == 1
    assert PatientMessage.objects.get(pk=first.pk).status == "skipped"

    Encounter.objects.filter(pk=encounter.pk).update(reminders_off=True)
    services.deliver_patient_message(second.pk)
    assert PatientMessage.objects.get(pk=second.pk).status == "skipped"
    assert len(mail.outbox) == 1


@pytest.mark.usefixtures("queue")
def test_a_reminder_after_the_link_expired_carries_a_new_working_link(settings):
    encounter = make_encounter(
        visit_at=timezone.now() + dt.timedelta(days=40),
        email="zed@example.test",
        preferred_channel="email",
    )
    user = front_desk()
    services.send_invitation(encounter.pk, user, None)
    run_workers()
    old = link_in(mail.outbox[0].body)
    Encounter.objects.filter(pk=encounter.pk).update(
        token_expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    reminder = PatientMessage.objects.filter(kind="reminder").order_by("due_at").first()
    PatientMessage.objects.filter(pk=reminder.pk).update(due_at=timezone.now())
    # Another day than the invitation's.
    PatientMessage.objects.filter(kind="invitation").update(
        sent_at=timezone.now() - dt.timedelta(days=2)
    )
    services.deliver_patient_message(reminder.pk)

    new = link_in(mail.outbox[1].body)
    assert new != old
    assert hash_token(token_of(new)) == fresh(encounter).token_hash
    assert AccessEvent.objects.filter(action="link", user=user).count() == 2


@pytest.mark.django_db
def test_a_reminder_carries_the_link_the_patient_already_has():
    encounter = make_encounter(
        visit_at=timezone.now() + dt.timedelta(days=20),
        email="zed@example.test",
        preferred_channel="email",
    )
    services.send_invitation(encounter.pk, None, None)
    invitation, reminder, _ = PatientMessage.objects.order_by("due_at")
    services.deliver_patient_message(invitation.pk)
    PatientMessage.objects.filter(kind="invitation").update(
        sent_at=timezone.now() - dt.timedelta(days=2)
    )
    services.deliver_patient_message(reminder.pk)
    first, second = (link_in(m.body) for m in mail.outbox)
    assert first == second  # the invitation's link keeps working
    assert "reminder" in mail.outbox[1].subject.lower()


# --- The provider's backend, end to end against a fake provider --------------------------------


class FakeTwilio:
    """Twilio's Messages endpoint on 127.0.0.1: ``accept``, ``refuse`` (a 400 with Twilio's
    error 21211, which quotes the number) or ``stall`` (never answers until the test ends)."""

    def __init__(self, mode: str = "accept") -> None:
        self.mode = mode
        self.requests: list[dict[str, list[str]]] = []
        self.release = threading.Event()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                owner.requests.append({"path": [self.path], **form})
                if owner.mode == "stall":
                    owner.release.wait(30)
                    return
                if owner.mode == "refuse":
                    status, payload = (
                        400,
                        {
                            "code": 21211,
                            "message": f"The 'To' number {form['To'][0]} is not a valid phone number.",
                            "status": 400,
                        },
                    )
                else:
                    status, payload = 201, {"sid": "SM" + "0" * 32, "status": "queued"}
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeTwilio:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def options(self) -> dict[str, Any]:
        return {
            "account_sid": "AC" + "1" * 32,
            "auth_token": "test-token",
            "from_": "+12025550100",
            "api_url": self.url,
            "timeout": 0.5,
        }


def test_the_twilio_backend_sends_through_the_official_client():
    with FakeTwilio("accept") as provider:
        get_backend(TWILIO, **provider.options()).send(SMS("+12025550143", "Hello"))
    [request] = provider.requests
    assert request["path"] == [f"/2010-04-01/Accounts/AC{'1' * 32}/Messages.json"]
    assert (request["To"], request["From"], request["Body"]) == (
        ["+12025550143"],
        ["+12025550100"],
        ["Hello"],
    )


def test_the_twilio_backend_reports_a_refusal_as_permanent_without_the_number():
    with FakeTwilio("refuse") as provider, pytest.raises(SMSError) as raised:
        get_backend(TWILIO, **provider.options()).send(SMS("+12025550143", "Hello"))
    assert raised.value.permanent
    assert str(raised.value) == "Twilio HTTP 400 error 21211"
    assert "2025550143" not in str(raised.value)


def test_the_twilio_backend_gives_up_on_a_stalled_provider_for_a_later_try():
    with FakeTwilio("stall") as provider, pytest.raises(SMSError) as raised:
        get_backend(TWILIO, **provider.options()).send(SMS("+12025550143", "Hello"))
    assert not raised.value.permanent
    assert "Timeout" in str(raised.value)


@pytest.mark.usefixtures("queue")
def test_a_stalled_provider_leaves_the_message_queued_then_it_is_sent(settings):
    with FakeTwilio("stall") as provider:
        settings.TWITCH_INTAKE = {
            **settings.TWITCH_INTAKE,
            "SMS_BACKEND": TWILIO,
            "SMS_OPTIONS": provider.options(),
        }
        encounter = tomorrow(mobile="+12025550143", preferred_channel="sms")
        services.send_invitation(encounter.pk, None, None)
        run_workers()
        message = PatientMessage.objects.get()
        assert (message.status, message.attempts) == ("queued", 1)
        assert message.last_error.startswith("SMSError: Twilio")
        provider.mode = "accept"
        make_retries_due()
        run_workers()
    assert PatientMessage.objects.get().status == "sent"
    body = provider.requests[-1]["Body"][0]
    assert hash_token(token_of(link_in(body))) == fresh(encounter).token_hash


# --- The printed letter ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_letter_shows_the_link_as_a_qr_code_only_before_any_answer():
    encounter = tomorrow()
    client = signed_in(front_desk())
    url = reverse("admin:twitch_intake_encounter_letter", args=[encounter.pk])

    assert client.get(url).status_code == 405
    response = client.post(url)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    link = link_in(html.unescape(page).replace("<", " <"))
    assert hash_token(token_of(link)) == fresh(encounter).token_hash
    assert decode_qr(page) == link

    Encounter.objects.filter(pk=encounter.pk).update(answers={"emergency-signs": ["none"]})
    refused = client.post(url, follow=True).content.decode()
    assert "/intake/link/" not in refused
    assert "cannot be shown here or printed" in refused


def decode_qr(page: str) -> str:
    """Read the letter's QR code back as a phone would: segno's SVG path (one horizontal line
    per run of dark modules) drawn into a bitmap, decoded by zxing-cpp."""
    import zxingcpp

    uri = html.unescape(re.search(r'<img src="(data:image/svg\+xml[^"]+)"', page).group(1))
    svg = urllib.parse.unquote(uri.split(",", 1)[1])
    scale = int(re.search(r"scale\((\d+)\)", svg).group(1))
    size = int(re.search(r"width='(\d+)'", svg).group(1)) // scale
    grid = [[255] * size for _ in range(size)]
    x = y = 0.0
    for command, first, second in re.findall(r"([Mmh])(-?[\d.]+)(?:\s(-?[\d.]+))?", svg):
        if command == "M":
            x, y = float(first), float(second)
        elif command == "m":
            x, y = x + float(first), y + float(second)
        else:
            for column in range(int(x), int(x + float(first))):
                grid[int(y)][column] = 0
            x += float(first)
    pixels = 4
    data = b"".join(
        bytes(value for value in row for _ in range(pixels)) for row in grid for _ in range(pixels)
    )

    class Bitmap:
        __array_interface__: ClassVar[dict[str, Any]] = {
            "shape": (size * pixels, size * pixels),
            "typestr": "|u1",
            "data": data,
            "version": 3,
        }

    result = zxingcpp.read_barcode(Bitmap())
    assert result is not None, "no QR code found"
    return str(result.text)


# --- The checks of the new settings ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "check_id"),
    [
        ("PHONE_REGION", "XX", "twitch_intake.E041"),
        ("PHONE_REGION", 1, "twitch_intake.E041"),
        ("SMS_OPTIONS", "sid", "twitch_intake.E042"),
        ("SMS_BACKEND", "no.such.Backend", "twitch_intake.E043"),
        ("SMS_BACKEND", 3, "twitch_intake.E043"),
        ("SMS_BACKEND", LOCMEM, "twitch_intake.E044"),
        ("SMS_BACKEND", "twitch_intake.sms.backends.console.SMSBackend", "twitch_intake.E044"),
        ("REMINDERS", [3], "twitch_intake.E045"),
        ("REMINDERS", "7d", "twitch_intake.E045"),
        ("QUIET_HOURS", (21, 8), "twitch_intake.E046"),
        ("MESSAGE_ATTEMPTS", 0, "twitch_intake.E047"),
    ],
)
def test_each_new_setting_is_checked(settings, key, value, check_id):
    settings.DEBUG = False
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "SMS_BACKEND": "", key: value}
    assert check_id in [error.id for error in check_settings()]


def test_the_new_settings_as_documented_pass(settings):
    settings.DEBUG = False
    settings.TWITCH_INTAKE = {
        **settings.TWITCH_INTAKE,
        "PHONE_REGION": "es",
        "SMS_BACKEND": TWILIO,
        "SMS_OPTIONS": {"account_sid": "AC1", "auth_token": "t", "from_": "+34600000000"},
        "REMINDERS": [dt.timedelta(days=7), dt.timedelta(days=3)],
        "QUIET_HOURS": (dt.time(21), dt.time(8)),
        "MESSAGE_ATTEMPTS": 8,
    }
    assert [e.id for e in check_settings() if e.id >= "twitch_intake.E041"] == []


def test_development_text_backends_pass_in_development(settings):
    settings.DEBUG = True
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "SMS_BACKEND": LOCMEM}
    assert "twitch_intake.E044" not in [e.id for e in check_settings()]


# --- Development backends ----------------------------------------------------------------------


def test_the_console_and_file_backends_write_the_message(tmp_path, capsys):
    get_backend("twitch_intake.sms.backends.console.SMSBackend").send(SMS("+1202", "Hi"))
    assert "+1202" in capsys.readouterr().out
    get_backend("twitch_intake.sms.backends.file.SMSBackend", file_path=tmp_path).send(
        SMS("+1202", "Hi")
    )
    [written] = tmp_path.iterdir()
    assert json.loads(written.read_text()) == {"to": "+1202", "body": "Hi"}


# --- The completion page -----------------------------------------------------------------------


def test_the_thanks_page_says_answers_are_not_read_in_real_time():
    from django.template.loader import render_to_string

    page = render_to_string("twitch_intake/thanks.html", {"emergency_number": "911", "advice": []})
    assert "not read as soon as you send them" in page
    assert "reads your answers before your visit" in page
    assert "If you feel worse before your visit" in page
    assert "911" in page  # the emergency lines stay


# --- Bulk: a day's schedule --------------------------------------------------------------------


def _day_of_encounters() -> tuple[dt.date, list[Encounter]]:
    day = timezone.localdate() + dt.timedelta(days=10)
    visit = timezone.make_aware(dt.datetime.combine(day, dt.time(10)))
    made = [
        make_encounter(visit_at=visit, email="one@example.test", preferred_channel="email"),
        make_encounter(visit_at=visit, mobile="+12025550143", preferred_channel="sms"),
        make_encounter(visit_at=visit),  # no contact details
        make_encounter(visit_at=visit, preferred_channel="letter"),
        make_encounter(
            visit_at=visit + dt.timedelta(days=1), email="x@example.test", preferred_channel="email"
        ),  # another day
    ]
    return day, made


@pytest.mark.django_db
def test_the_command_invites_a_days_schedule_once_with_a_progress_count(capsys):
    day, made = _day_of_encounters()
    user = front_desk()

    call_command("twitch_intake_invite", day.isoformat(), "--user", user.username)
    out = capsys.readouterr().out
    assert "4/4" in out
    assert "2 invited, 0 invited before, 2 without contact details" in out
    assert {m.encounter_id for m in PatientMessage.objects.filter(kind="invitation")} == {
        made[0].pk,
        made[1].pk,
    }
    for private in ("one@example.test", "2025550143", "Ada", "/intake/link/"):
        assert private not in out

    call_command("twitch_intake_invite", day.isoformat(), "--user", user.username)
    assert "0 invited, 2 invited before" in capsys.readouterr().out
    assert PatientMessage.objects.filter(kind="invitation").count() == 2


@pytest.mark.django_db
def test_the_command_needs_a_day_and_a_user_who_may_send_links():
    with pytest.raises(CommandError):
        call_command("twitch_intake_invite", "10/03/2031", "--user", front_desk().username)
    User.objects.create_user("nobody", password="x" * 20, is_staff=True)
    with pytest.raises(CommandError):
        call_command("twitch_intake_invite", "2031-03-10", "--user", "nobody")


@pytest.mark.django_db
def test_the_admin_action_invites_the_selected_encounters():
    day, made = _day_of_encounters()
    client = signed_in(front_desk())

    response = client.post(
        "/admin/twitch_intake/encounter/",
        {"action": "send_invitations", "_selected_action": [e.pk for e in made[:4]]},
        follow=True,
    )

    assert "2 of 4 invited; 0 invited before; 2 without contact details" in (
        response.content.decode()
    )
    assert PatientMessage.objects.filter(kind="invitation").count() == 2


@pytest.mark.django_db
def test_no_bulk_action_for_those_who_may_not_send_links(django_user_model):
    clinician = django_user_model.objects.create_user("doc", password="x" * 20, is_staff=True)
    clinician.groups.add(staff_group("Clinicians"))
    encounter = make_encounter(email="one@example.test", preferred_channel="email")
    client = signed_in(clinician)
    assert "send_invitations" not in client.get("/admin/twitch_intake/encounter/").content.decode()
    response = client.post(
        "/admin/twitch_intake/encounter/",
        {"action": "send_invitations", "_selected_action": [encounter.pk]},
    )
    assert response.status_code in {200, 302, 403}
    assert not PatientMessage.objects.exists()


@pytest.mark.django_db
def test_a_message_run_inside_the_quiet_hours_waits_for_their_end(settings):
    local = timezone.localtime()
    start = (local - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "QUIET_HOURS": (start, end)}
    encounter = tomorrow(email="zed@example.test", preferred_channel="email")
    services.send_invitation(encounter.pk, None, None)
    message = PatientMessage.objects.get()
    assert message.due_at > timezone.now()  # queued for the end of the quiet hours

    services.deliver_patient_message(message.pk)  # a retry or a late worker, inside them

    assert mail.outbox == []
    message.refresh_from_db()
    assert message.status == "queued"
    assert timezone.localtime(message.due_at).time() == end
    assert [job.scheduled_at for job in jobs() if job.status == "todo"] == [message.due_at]
