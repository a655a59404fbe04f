"""Work that must happen even when the outside world is down: jobs on a PostgreSQL queue.

The queue is procrastinate's: a job is a row in the same database as the answers, so the alert
is deferred inside the transaction that stores the emergency sign (it commits with the answers
or not at all), survives restarts, and is run by any number of workers
(``manage.py procrastinate worker``) on any machine that reaches the database. Messages to
patients (invitations, reminders) are jobs too, deferred with their delivery record and
scheduled for when they are due.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.contrib.django import app
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import Job

from . import services


class UntilAccepted(BaseRetryStrategy):
    """Try again after every failure, for as long as it takes, waiting 10 s, 20 s, 40 s … and
    never more than 5 minutes: a clinic's mail server that is down for an hour gets its alert
    within minutes of coming back, and a long outage costs one connection every 5 minutes."""

    first_wait = 10
    max_wait = 5 * 60

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision:
        wait = min(self.max_wait, self.first_wait * 2 ** min(job.attempts, 16))
        return RetryDecision(retry_in={"seconds": wait})


@app.task(name="twitch_intake.send_emergency_alert", retry=UntilAccepted())
def send_emergency_alert(encounter_id: int) -> None:
    """The clinic's one email for an emergency sign; raises (so the queue retries) until the
    mail server accepts it. See :func:`services.deliver_emergency_alert`."""
    services.deliver_emergency_alert(encounter_id)


def queue_emergency_alert(encounter_id: int) -> None:
    """Put the alert in the queue, in the caller's transaction (the Django connector writes the
    job through Django's own connection): if the answers roll back, so does the job.

    The caller holds the encounter's row lock and queues only when ``alerted_at`` is empty, so
    two tabs or two app servers queue one job. The queueing lock is the database's second
    guard (one waiting alert job per encounter), and the lock keeps two of them from ever
    running at once. Both name only the id: locks show in the jobs table and the logs.
    """
    lock = f"twitch_intake.alert:{encounter_id}"
    try:
        with transaction.atomic():  # a savepoint: a refused duplicate must not undo the answers
            send_emergency_alert.configure(lock=lock, queueing_lock=lock).defer(
                encounter_id=encounter_id
            )
    except AlreadyEnqueued:
        pass  # an alert job for this encounter is already waiting: it sends the one email


class Backoff(BaseRetryStrategy):
    """A patient's message: 1, 2, 4 … minutes and never more than an hour between tries. The
    message's own record stops it (``MESSAGE_ATTEMPTS``, or a refusal for good), so with the
    default of 8 tries a provider has about two hours to come back before staff are asked to
    phone the patient."""

    first_wait = 60
    max_wait = 60 * 60

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision:
        wait = min(self.max_wait, self.first_wait * 2 ** min(job.attempts, 16))
        return RetryDecision(retry_in={"seconds": wait})


@app.task(name="twitch_intake.send_patient_message", retry=Backoff())
def send_patient_message(message_id: int) -> None:
    """One invitation or reminder; see :func:`services.deliver_patient_message`."""
    services.deliver_patient_message(message_id)


def queue_patient_message(message_id: int, encounter_id: int, due_at: datetime) -> None:
    """Put a message's job in the queue for ``due_at``, in the caller's transaction.

    The lock is the encounter's, so two messages to one patient never run at once (and the
    at-most-one-a-day rule reads what the other sent); the queueing lock keeps one waiting job
    per message. Both name only ids.
    """
    try:
        with transaction.atomic():
            send_patient_message.configure(
                lock=f"twitch_intake.message:{encounter_id}",
                queueing_lock=f"twitch_intake.message-job:{message_id}",
                schedule_at=due_at,
            ).defer(message_id=message_id)
    except AlreadyEnqueued:
        pass  # its job is already waiting


@app.periodic(cron="* * * * *")
@app.task(name="twitch_intake.retry_stalled_jobs", queueing_lock="twitch_intake.retry_stalled_jobs")
async def retry_stalled_jobs(timestamp: int) -> None:
    """Put back in the queue the jobs of a worker that died mid-job (killed, out of memory,
    machine lost): its heartbeat stops, and after 30 s any running worker retries its jobs.
    Without this a job left "doing" by a dead worker would never run again (procrastinate's
    documented recipe, run every minute)."""
    stalled = await app.job_manager.get_stalled_jobs()
    for job in stalled:
        await app.job_manager.retry_job(job)


@app.periodic(cron="17 3 * * *")
@app.task(name="twitch_intake.remove_old_jobs", queueing_lock="twitch_intake.remove_old_jobs")
async def remove_old_jobs(timestamp: int) -> None:
    """Remove jobs that succeeded more than a week ago: the every-minute recovery alone adds
    10,000 rows a week. Failed jobs stay; an alert's own record is on its encounter."""
    await app.job_manager.delete_old_jobs(nb_hours=7 * 24)
