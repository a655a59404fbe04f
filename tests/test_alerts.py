"""The emergency alert on the real queue: queued with the answers, retried with backoff until a
real (test) SMTP server on 127.0.0.1 accepts it, once per encounter, after a worker dies too.

Workers read committed rows, so the tests that run one use the ``queue`` fixture
(``transactional_db``, and the queue emptied afterwards).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction
from django.test import Client, override_settings
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from tests.alerting import SMTPServer, make_retries_due, run_on_the_worker_connector, run_workers
from tests.factories import (
    answer_get_care,
    emergency_answers,
    issue,
    make_encounter,
    page_data,
    routine_answers,
)
from twitch_intake import services, tasks
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

ROOT = Path(__file__).resolve().parent.parent
TASK = "twitch_intake.send_emergency_alert"
EMERGENCY = TWITCH_INTAKE.group("emergency")


def alert_jobs(encounter: Encounter) -> list[ProcrastinateJob]:
    return list(
        ProcrastinateJob.objects.filter(task_name=TASK, args={"encounter_id": encounter.pk})
    )


def fresh(encounter: Encounter) -> Encounter:
    return Encounter.objects.get(pk=encounter.pk)


def submit_emergency(**fields: Any) -> Encounter:
    encounter = make_encounter(answers=emergency_answers(), **fields)
    assert services.submit(encounter.pk).ok
    return encounter


# --- Queued with the answers -----------------------------------------------------------------


@pytest.mark.django_db
def test_the_save_that_stores_a_sign_queues_the_alert_and_nothing_is_sent_in_the_request():
    encounter = make_encounter()
    services.save_page(encounter.pk, EMERGENCY, {"emergency-signs": ["seizure"]})
    [job] = alert_jobs(encounter)
    assert job.status == "todo"
    assert job.lock == job.queueing_lock == f"twitch_intake.alert:{encounter.pk}"
    stored = fresh(encounter)
    assert stored.alerted_at is not None
    assert stored.alert_sent_at is None and stored.alert_attempts == 0

    # Saving the page again with the same sign, and submitting, queue nothing more.
    services.save_page(encounter.pk, EMERGENCY, {"emergency-signs": ["seizure"]})
    Encounter.objects.filter(pk=encounter.pk).update(answers=emergency_answers())
    assert services.submit(encounter.pk).ok
    assert len(alert_jobs(encounter)) == 1
    assert fresh(encounter).alerted_at == stored.alerted_at


@pytest.mark.django_db
def test_the_alert_job_commits_with_the_answers_or_not_at_all():
    encounter = make_encounter()

    class Crash(Exception):
        pass

    with pytest.raises(Crash), transaction.atomic():
        services.save_page(encounter.pk, EMERGENCY, {"emergency-signs": ["seizure"]})
        assert len(alert_jobs(encounter)) == 1  # written through the same connection
        raise Crash  # e.g. the app server dies before the commit
    assert alert_jobs(encounter) == []
    assert fresh(encounter).alerted_at is None and fresh(encounter).answers == {}


@pytest.mark.django_db
def test_no_sign_no_job():
    encounter = make_encounter(answers=routine_answers())
    services.save_page(encounter.pk, EMERGENCY, {"emergency-signs": ["none"]})
    assert services.submit(encounter.pk).ok
    assert alert_jobs(encounter) == []


@pytest.mark.django_db
def test_a_second_alert_job_for_the_same_encounter_is_refused_by_the_queue():
    """The database's own guard behind the row lock: one waiting alert job per encounter, and
    the refusal does not undo the caller's transaction."""
    encounter = submit_emergency()
    with transaction.atomic():
        tasks.queue_emergency_alert(encounter.pk)
        Encounter.objects.filter(pk=encounter.pk).update(record_number="still saved")
    assert len(alert_jobs(encounter)) == 1
    assert fresh(encounter).record_number == "still saved"


@pytest.mark.django_db
def test_the_workers_run_the_stalled_job_recovery_every_minute():
    periodic = {task.task.name: task for task in app.periodic_registry.periodic_tasks.values()}
    assert periodic["twitch_intake.retry_stalled_jobs"].cron == "* * * * *"
    assert periodic["twitch_intake.remove_old_jobs"].cron == "17 3 * * *"


# --- Delivered by the worker -------------------------------------------------------------------


@pytest.mark.usefixtures("queue")
def test_refused_then_rejected_then_accepted_delivers_exactly_one_email(caplog):
    encounter = submit_emergency(patient_name="Zed Quill")
    with SMTPServer("refuse") as smtp, override_settings(**smtp.settings()):
        run_workers()
        [job] = alert_jobs(encounter)
        assert job.status == "todo" and job.attempts == 1
        assert job.scheduled_at > timezone.now()  # a retry, after a backoff
        stored = fresh(encounter)
        assert stored.alert_sent_at is None
        assert stored.alert_attempts == 1
        assert stored.alert_last_error.startswith("SMTPConnectError: 421 4.3.2")

        run_workers()  # not due yet: the backoff is respected
        assert fresh(encounter).alert_attempts == 1

        smtp.mode = "reject"
        make_retries_due()
        run_workers()
        assert fresh(encounter).alert_last_error.startswith("SMTPDataError: 554 5.3.0")
        assert fresh(encounter).alert_attempts == 2
        [job] = alert_jobs(encounter)
        assert job.scheduled_at - timezone.now() > timezone.timedelta(seconds=15)  # it backs off

        smtp.mode = "accept"
        make_retries_due()
        run_workers()
        assert len(smtp.messages) == 1
        [job] = alert_jobs(encounter)
        assert job.status == "succeeded"
        stored = fresh(encounter)
        assert stored.alert_sent_at is not None
        assert stored.alert_attempts == 3 and stored.alert_last_error == ""

        # Another run for an alert already accepted (a job re-queued after the mark) sends
        # nothing more.
        tasks.queue_emergency_alert(encounter.pk)
        assert len(alert_jobs(encounter)) == 2
        run_workers()
        assert len(smtp.messages) == 1
        assert fresh(encounter).alert_sent_at == stored.alert_sent_at

    message = smtp.messages[0].subject + "\n" + smtp.messages[0].body
    assert (
        f"https://intake.clinic.test/admin/twitch_intake/encounter/{encounter.pk}/change/"
        in message
    )
    for private in ("Zed", "Quill", "1980", "seizure", "headache"):
        assert private.lower() not in message.lower()
        assert private.lower() not in caplog.text.lower()


@pytest.mark.usefixtures("queue")
def test_the_patients_pages_work_while_mail_is_down():
    encounter = make_encounter()
    client = Client()
    token = issue(encounter)
    assert client.post(f"/intake/link/{token}/", {"date_of_birth": "1980-05-17"}).status_code == 302
    with SMTPServer("refuse") as smtp, override_settings(**smtp.settings()):
        response = client.post(
            "/intake/page/emergency/", page_data("emergency", emergency_answers())
        )
        assert response["Location"] == "/intake/get-care-now/"
        assert client.get("/intake/get-care-now/").status_code == 200
        assert smtp.connections == 0  # the request never waited on the mail server
    assert len(alert_jobs(encounter)) == 1


@pytest.mark.usefixtures("queue")
def test_no_alert_addresses_is_recorded_as_no_alert_route_not_as_sent(settings):
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "ALERT_EMAILS": []}
    encounter = submit_emergency()
    with SMTPServer("accept") as smtp, override_settings(**smtp.settings()):
        run_workers()
    stored = fresh(encounter)
    assert stored.alert_sent_at is None
    assert stored.alert_last_error == services.NO_ALERT_ROUTE
    assert stored.alert_attempts == 1
    assert smtp.connections == 0
    [job] = alert_jobs(encounter)
    assert job.status == "succeeded"  # nothing a retry could change


@pytest.mark.usefixtures("queue")
def test_an_imported_emergency_is_delivered_by_the_queue():
    result = services.create_submitted(
        patient_name="Ada Example",
        date_of_birth=timezone.now().date().replace(year=1980),
        answers=emergency_answers(),
    )
    assert result.ok
    with SMTPServer("accept") as smtp, override_settings(**smtp.settings()):
        run_workers()
    assert len(smtp.messages) == 1
    assert fresh(result.encounter).alert_sent_at is not None


@pytest.mark.usefixtures("queue")
def test_the_job_shows_in_the_admin_for_a_superuser():
    encounter = submit_emergency()
    admin = User.objects.create_superuser("root", "root@clinic.test", "a-long-test-password")
    client = Client()
    client.force_login(admin)
    response = client.get("/admin/procrastinate/procrastinatejob/")
    assert response.status_code == 200
    assert TASK in response.content.decode()
    assert len(alert_jobs(encounter)) == 1


# --- Races and crashes -------------------------------------------------------------------------


def _in_parallel(*calls: Any) -> list[Any]:
    """Run the calls at the same moment, each in its own thread with its own connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Any) -> None:
        try:
            barrier.wait(30)
            results[index] = call()
        except Exception as error:  # reported by the assertion below
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(isinstance(r, Exception) for r in results), results
    return results


@pytest.mark.usefixtures("queue")
def test_two_tabs_and_a_double_tap_give_one_email():
    encounter = make_encounter()
    first = Client()
    token = issue(encounter)
    assert first.post(f"/intake/link/{token}/", {"date_of_birth": "1980-05-17"}).status_code == 302
    second = Client()
    second.cookies = first.cookies  # the same browser, another tab
    answers = emergency_answers()
    page_one = page_data("emergency", answers)

    responses = _in_parallel(
        lambda: first.post("/intake/page/emergency/", page_one),
        lambda: second.post("/intake/page/emergency/", page_one),
    )
    assert [r.status_code for r in responses] == [302, 302]
    answer_get_care(first, responses[0], answers)
    for page in TWITCH_INTAKE.pages()[1:]:
        assert (
            first.post(f"/intake/page/{page.slug}/", page_data(page.slug, answers)).status_code
            == 302
        )
    responses = _in_parallel(
        lambda: first.post("/intake/submit/"), lambda: second.post("/intake/submit/")
    )
    assert [r["Location"] for r in responses] == ["/intake/thanks/"] * 2

    assert len(alert_jobs(encounter)) == 1
    with SMTPServer("accept") as smtp, override_settings(**smtp.settings()):
        run_workers(count=2)  # two workers, e.g. on two machines
        run_workers()
    assert len(smtp.messages) == 1


@pytest.mark.usefixtures("queue")
def test_a_worker_killed_mid_send_leaves_the_job_to_run_again_after_a_restart():
    encounter = submit_emergency()
    # The test database, reached as the tests reach theirs (TCP or the embedded server's socket).
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
            reached = smtp.stalled.wait(60)  # the worker is inside the send, talking to SMTP
        finally:
            worker.kill()  # SIGKILL: no shutdown, no heartbeat removal, no "failed" mark
            worker.wait(30)
        log.seek(0)
        assert reached, log.read().decode(errors="replace")

        [job] = alert_jobs(encounter)
        assert job.status == "doing"  # left behind by the dead worker
        assert fresh(encounter).alert_attempts == 0 and fresh(encounter).alert_sent_at is None

        # The dead worker's heartbeat stops; after 30 s its jobs count as stalled. Move its last
        # heartbeat back that far rather than wait, then run what every worker runs each minute.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 minute' "
                "WHERE id = %s",
                [job.worker_id],
            )
        _run_periodic_stalled_job_recovery()
        [job] = alert_jobs(encounter)
        assert job.status == "todo"

        smtp.mode = "accept"
        with override_settings(**smtp.settings()):
            run_workers()  # a worker started again
    assert len(smtp.messages) == 1
    assert fresh(encounter).alert_sent_at is not None
    assert alert_jobs(encounter)[0].status == "succeeded"


def _run_periodic_stalled_job_recovery() -> None:
    async def run() -> None:
        async with app.open_async():
            await tasks.retry_stalled_jobs(timestamp=int(time.time()))

    run_on_the_worker_connector(run)
