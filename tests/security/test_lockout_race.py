"""Finding 5: the date-of-birth lockout and the rate limits hold when guesses arrive in parallel.

Every guess runs in its own thread on its own database connection, as on app servers with many
workers: a check-then-write (read the lock, then count) lets a burst through where one at a time
would not.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

import pytest
from django.db import connection, connections, transaction
from django.test import Client, RequestFactory
from django.utils import timezone

from tests.factories import make_encounter
from twitch_intake import models, ratelimit, refused, services
from twitch_intake.conf import app_settings
from twitch_intake.models import Encounter, hash_token

pytestmark = pytest.mark.django_db(transaction=True)

RIGHT = "1980-05-17"  # make_encounter's date of birth
WRONG = "1999-09-09"
MISMATCH = "does not match what the clinic has"
FIRST_PAGE = "/intake/page/emergency/"


def in_parallel(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; each closes its connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def issue(encounter: Encounter) -> str:
    token = encounter.issue_link()
    encounter.save()
    return token


def outcome(client: Client, url: str, response: Any) -> str:
    """What the try was told: a refused try is a 303 back to the link (redirect after POST),
    and the page is the GET that follows it. A wrong date that was checked left its tries in
    the session: by the time of the GET, a later try may have locked the link, and then this
    browser (which tried) is shown the lock page instead."""
    if response.status_code == 303:
        assert urljoin(url, response["Location"]) == url
        kept = client.session.get(refused.SESSION_KEY)
        response = client.get(url)
        if isinstance(kept, dict) and kept.get("tries_left"):
            locked = "twitch_intake/link_locked.html" in [t.name for t in response.templates]
            assert locked or MISMATCH in response.content.decode()
            return "mismatch"
    if response.status_code == 200 and MISMATCH in response.content.decode():
        return "mismatch"
    return {404: "unusable", 429: "limited", 302: "session"}.get(response.status_code, "other")


def test_parallel_wrong_dates_check_no_more_than_the_allowed_tries():
    encounter = make_encounter()
    token = issue(encounter)
    url = f"/intake/link/{token}/"

    def guess(index: int) -> tuple[Client, Any]:
        # One address each: only the link's own lockout stands between them and the date.
        client = Client(REMOTE_ADDR=f"10.1.0.{index + 1}")
        return client, client.post(url, {"date_of_birth": WRONG})

    seen = Counter(outcome(client, url, posted) for client, posted in in_parallel(24, guess))

    # Tries 1 to 4 say "does not match"; the 5th locks the link; the other 19 are not checked.
    attempts = app_settings.DOB_ATTEMPTS
    assert seen == {"mismatch": attempts - 1, "unusable": 24 - (attempts - 1)}
    locked = Encounter.objects.get(pk=encounter.pk)
    assert locked.locked_until is not None and locked.locked_until > timezone.now()
    assert locked.dob_failures == 0  # nothing counted after the lock: a fresh budget when it ends

    # The right date on the locked link: the same page as a wrong one, and no session.
    patient = Client(REMOTE_ADDR="10.2.0.1")
    response = patient.post(url, {"date_of_birth": RIGHT})
    assert outcome(patient, url, response) == "unusable"
    assert patient.get(FIRST_PAGE).status_code == 403


def test_a_guess_waits_for_the_lock_being_taken_and_then_sees_it():
    """The 5th wrong guess is locking the link when the right date arrives: no session.

    The lock is taken here by hand (as the 5th guess's transaction would) and held until the
    patient's request is waiting for the row, or has finished without waiting (today's bug).
    """
    encounter = make_encounter()
    token = issue(encounter)
    patient = Client(REMOTE_ADDR="10.3.0.1")
    holding, release = threading.Event(), threading.Event()
    result: dict[str, Any] = {}

    def lock_the_link() -> None:
        try:
            with transaction.atomic():
                row = Encounter.objects.select_for_update().get(pk=encounter.pk)
                row.locked_until = timezone.now() + app_settings.LOCKOUT
                row.save(update_fields=["locked_until"])
                holding.set()
                release.wait(timeout=60)
        finally:
            connections.close_all()

    def answer() -> None:
        try:
            result["response"] = patient.post(f"/intake/link/{token}/", {"date_of_birth": RIGHT})
        finally:
            connections.close_all()

    locker = threading.Thread(target=lock_the_link)
    locker.start()
    assert holding.wait(timeout=60)
    asker = threading.Thread(target=answer)
    asker.start()
    while asker.is_alive() and not _someone_waits_for_a_row_lock():
        asker.join(timeout=0.05)
    release.set()
    locker.join()
    asker.join()

    assert outcome(patient, f"/intake/link/{token}/", result["response"]) == "unusable"
    assert patient.get(FIRST_PAGE).status_code == 403


def _someone_waits_for_a_row_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def test_the_birth_date_service_counts_each_wrong_date_under_the_row_lock():
    encounter = make_encounter()
    token = issue(encounter)
    now = timezone.now()

    def check(_: int) -> services.BirthDate:
        return services.check_birth_date(hash_token(token), dt.date(1999, 9, 9), now).outcome

    seen = Counter(in_parallel(24, check))

    attempts = app_settings.DOB_ATTEMPTS
    assert seen == {services.BirthDate.WRONG: attempts, services.BirthDate.UNUSABLE: 24 - attempts}
    right = services.check_birth_date(hash_token(token), dt.date(1980, 5, 17), now)
    assert right.outcome == services.BirthDate.UNUSABLE and right.encounter is None


def test_the_birth_date_service_says_how_many_tries_are_left_and_resets_on_success():
    encounter = make_encounter()
    token_hash = hash_token(issue(encounter))
    now = timezone.now()
    first = services.check_birth_date(token_hash, dt.date(1999, 9, 9), now)
    second = services.check_birth_date(token_hash, dt.date(1999, 9, 9), now)
    assert (first.outcome, first.tries_left) == (services.BirthDate.WRONG, 4)
    assert (second.outcome, second.tries_left) == (services.BirthDate.WRONG, 3)
    matched = services.check_birth_date(token_hash, dt.date(1980, 5, 17), now)
    assert matched.outcome == services.BirthDate.MATCHED and matched.encounter.pk == encounter.pk
    assert Encounter.objects.get(pk=encounter.pk).dob_failures == 0
    unknown = services.check_birth_date(hash_token("no-such-link"), dt.date(1980, 5, 17), now)
    assert unknown.outcome == services.BirthDate.UNUSABLE


def test_parallel_failures_from_one_address_are_all_counted_and_no_more_are_allowed():
    limit = app_settings.RATE_LIMIT
    links = [issue(make_encounter()) for _ in range(40)]  # one guess each: no link locks

    def guess(index: int) -> tuple[Client, Any]:
        client = Client(REMOTE_ADDR="10.9.9.9")
        return client, client.post(f"/intake/link/{links[index]}/", {"date_of_birth": WRONG})

    posted = in_parallel(40, guess)
    # Counted before the pages are looked at (the GET of a limited client counts too).
    assert ratelimit.attempts(_request_from("10.9.9.9"), "link") == 40
    assert sum(Encounter.objects.values_list("dob_failures", flat=True)) == limit

    seen = Counter(
        outcome(client, f"/intake/link/{links[index]}/", response)
        for index, (client, response) in enumerate(posted)
    )
    assert seen == {"mismatch": limit, "limited": 40 - limit}


def _request_from(address: str) -> Any:
    return RequestFactory().post("/", REMOTE_ADDR=address)


def test_a_right_date_gives_its_attempt_back():
    encounter = make_encounter()
    token = issue(encounter)
    client = Client(REMOTE_ADDR="10.4.0.1")
    client.post(f"/intake/link/{token}/", {"date_of_birth": WRONG})
    assert client.post(f"/intake/link/{token}/", {"date_of_birth": RIGHT}).status_code == 302
    assert ratelimit.attempts(_request_from("10.4.0.1"), "link") == 1  # the wrong one only


def test_counters_hold_no_address_and_restart_when_their_window_has_passed():
    request = _request_from("10.5.0.1")
    assert ratelimit.hit(request, "link") == 1
    assert ratelimit.hit(request, "link") == 2
    (key,) = models.RateLimitCounter.objects.values_list("key", flat=True)
    assert "10.5.0.1" not in key and "10-5-0-1" not in key

    # A window that has passed counts from one again, and clears every other expired counter.
    old = timezone.now() - app_settings.RATE_WINDOW - dt.timedelta(seconds=1)
    models.RateLimitCounter.objects.update(window_start=old)
    models.RateLimitCounter.objects.create(key="link:someone-else", window_start=old, count=7)
    assert ratelimit.attempts(request, "link") == 0
    assert not ratelimit.is_limited(request, "link")
    assert ratelimit.hit(request, "link") == 1
    assert list(models.RateLimitCounter.objects.values_list("key", flat=True)) == [key]


def test_a_count_given_back_does_not_clear_the_table_again_only_a_new_window_does():
    request = _request_from("10.6.0.1")
    assert ratelimit.hit(request, "link") == 1  # a new window: expired counters go
    old = timezone.now() - app_settings.RATE_WINDOW - dt.timedelta(seconds=1)
    models.RateLimitCounter.objects.create(key="link:someone-else", window_start=old, count=7)
    ratelimit.give_back(request, "link")  # the link opened: the try is given back

    assert ratelimit.hit(request, "link") == 1  # back at 1, in the same window

    # Left for the next new window: a good link open is not a DELETE over the table.
    assert models.RateLimitCounter.objects.filter(key="link:someone-else").exists()
