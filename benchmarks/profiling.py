"""Where the time goes: cProfile of the intake, the queue or triage, in-process.

    DATABASE_URL=$(.venv/bin/python -m clinic.devdb) .venv/bin/python -m benchmarks.profiling intake
    ... -m benchmarks.profiling queue --size 100000
    ... -m benchmarks.profiling triage

Profiles count CPU time only (``time.process_time``): waiting on PostgreSQL is left out, so what
shows is Python's own work. Uses its own database (``twitch_bench_profile``), made afresh. The intake goes through the same
patient flow as ``make bench`` but with Django's test client instead of HTTP, so the profile is
the app and its middleware only; ``--queries`` lists each request's SQL for one intake.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from typing import Any

from .run import setup_django


class ClientBrowser:
    """The :class:`benchmarks.client.Browser` interface over ``django.test.Client``."""

    def __init__(self) -> None:
        from django.test import Client

        self.client = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
        self.log: list[tuple[str, str, int]] = []

    def forget(self) -> None:
        self.client.cookies.clear()

    def get(self, path: str, **_: Any) -> Any:
        return self._wrap("GET", path, self.client.get(path))

    def post(self, path: str, form: Any) -> Any:
        from urllib.parse import urlencode

        body = urlencode(form, doseq=True)
        response = self.client.post(path, body, content_type="application/x-www-form-urlencoded")
        return self._wrap("POST", path, response)

    def _wrap(self, method: str, path: str, response: Any) -> Any:
        from urllib.parse import urlsplit

        from .client import _CSRF, Sample

        class Wrapped:
            status = response.status_code
            location = urlsplit(response.get("Location", "")).path
            text = response.content.decode()
            sample = Sample(f"{method} {path}", response.status_code, 0.0)

            def csrf(self) -> str:
                return _CSRF.search(self.text).group(1)

        self.log.append((method, path, response.status_code))
        return Wrapped()


DUMP: str | None = None


def _print(profile: cProfile.Profile, limit: int) -> None:
    if DUMP:
        profile.dump_stats(DUMP)
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(limit)
    stats.sort_stats("tottime").print_stats(limit)


def profile_intake(count: int, limit: int, queries: bool) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from . import data, patient
    from .run import make_patients

    patients = make_patients(count + 4, data.answer_mix(count + 4, seed=8))
    browser = ClientBrowser()
    for p in patients[:3]:  # warm: templates compiled, URLconf loaded
        patient.intake(browser, p)
    if queries:
        with CaptureQueriesContext(connection) as captured:
            patient.intake(browser, patients[3])
        for q in captured.captured_queries:
            print(f"{q['time']}s  {q['sql'][:160]}")
    profile = cProfile.Profile(time.process_time)
    start = time.process_time()
    profile.enable()
    for p in patients[4:]:
        patient.intake(browser, p)
    profile.disable()
    cpu = (time.process_time() - start) * 1000 / count
    _print(profile, limit)
    print(
        f"{count} intakes, {cpu:.1f} ms CPU each under cProfile (about twice the unprofiled cost)"
    )


def profile_queue(size: int, limit: int, queries: bool) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from twitch_intake.models import Encounter

    from . import clinician

    user = get_user_model().objects.create_superuser("bench-profile", "p@clinic.example", None)
    clinician.prepare(user.pk)
    clinician.grow_to(size)
    client = Client()
    client.force_login(user)
    pk = Encounter.objects.filter(status="submitted").values_list("pk", flat=True).first()
    for url in ("/admin/twitch_intake/encounter/", f"/admin/twitch_intake/encounter/{pk}/change/"):
        client.get(url)
        if queries:
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                client.get(url)
                wall = (time.perf_counter() - start) * 1000
            sql = sum(float(q["time"]) for q in captured.captured_queries) * 1000
            print(f"==== {url}: {wall:.1f} ms, of which SQL {sql:.1f} ms")
            for q in captured.captured_queries:
                print(f"{float(q['time']) * 1000:7.1f} ms  {q['sql'][:220]}")
            with connection.cursor() as cursor:
                for q in captured.captured_queries:
                    if q["sql"].startswith("SELECT") and "django_session" not in q["sql"]:
                        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + q["sql"])
                        print("\n".join(r[0] for r in cursor.fetchall()) + "\n")
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for _ in range(5):
            client.get(url)
        profile.disable()
        print(f"==== {url} x5")
        _print(profile, limit)


def profile_triage(limit: int) -> None:
    from django.utils import translation

    from twitch_intake import triage

    from .data import answer_mix

    mix = answer_mix(1000, seed=4)
    with translation.override("en"):
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for _ in range(5):
            for answers in mix:
                triage.assess(answers)
        profile.disable()
    _print(profile, limit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["intake", "queue", "triage"])
    parser.add_argument("--count", type=int, default=30, help="intakes to profile")
    parser.add_argument("--size", type=int, default=100_000, help="encounters in the queue")
    parser.add_argument("--limit", type=int, default=35, help="functions listed")
    parser.add_argument(
        "--queries",
        action="store_true",
        help="list the SQL (intake: one intake's; queue: each page's, with EXPLAIN ANALYZE)",
    )
    parser.add_argument("--dump", help="also write the (last) profile here, for pstats or snakeviz")
    args = parser.parse_args(argv)
    global DUMP
    DUMP = args.dump
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        print("DATABASE_URL is not set.", file=sys.stderr)
        return 2
    setup_django(server_url, "twitch_bench_profile")
    if args.what == "intake":
        profile_intake(args.count, args.limit, args.queries)
    elif args.what == "queue":
        profile_queue(args.size, args.limit, args.queries)
    else:
        profile_triage(args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
