"""Where the time goes: cProfile of the intake, the queue or triage, in-process.

    DATABASE_URL=$(.venv/bin/python -m clinic.devdb) .venv/bin/python -m benchmarks.profiling intake
    ... -m benchmarks.profiling queue --size 100000
    ... -m benchmarks.profiling triage
    ... -m benchmarks.profiling measure   # no profiler: CPU and queries per kind of request

Profiles count CPU time only (``time.process_time``): waiting on PostgreSQL is left out, so what
shows is Python's own work. Uses its own database (``twitch_bench_profile``, or ``--database``), made afresh. The intake goes through the same
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
    """The :class:`benchmarks.client.Browser` interface over ``django.test.Client``.

    With a ``meter``, each request's cost is recorded there (see :class:`Meter`).
    """

    def __init__(self, meter: Meter | None = None) -> None:
        from django.test import Client

        self.client = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
        self.log: list[tuple[str, str, int]] = []
        self.meter = meter

    def forget(self) -> None:
        self.client.cookies.clear()

    def get(self, path: str, **_: Any) -> Any:
        return self._wrap("GET", path, self._send("GET", path, lambda: self.client.get(path)))

    def post(self, path: str, form: Any, *, follow: bool = False) -> Any:
        from urllib.parse import urlencode

        body = urlencode(form, doseq=True)
        headers = {"X-Intake-Follow": "1"} if follow else {}
        response = self._send(
            "POST",
            path,
            lambda: self.client.post(
                path, body, content_type="application/x-www-form-urlencoded", headers=headers
            ),
        )
        return self._wrap("POST", path, response)

    def _send(self, method: str, path: str, send: Any) -> Any:
        if self.meter is None:
            return send()
        return self.meter.measure(f"{method} {_kind(path)}", send)

    def _wrap(self, method: str, path: str, response: Any) -> Any:
        from urllib.parse import urlsplit

        from .client import _CSRF, Sample

        class Wrapped:
            status = response.status_code
            location = urlsplit(response.get("Location", "")).path
            shown_at = response.get("X-Intake-Location", "")
            text = response.content.decode()
            sample = Sample(f"{method} {path}", response.status_code, 0.0)

            def csrf(self) -> str:
                return _CSRF.search(self.text).group(1)

        self.log.append((method, path, response.status_code))
        return Wrapped()


def _kind(path: str) -> str:
    """The request's kind: ``page`` for every question page, the view's name otherwise."""
    parts = path.strip("/").split("/")
    return parts[1] if len(parts) > 1 else path


class Meter:
    """Per kind of request: the Python process's CPU, the PostgreSQL backend's CPU, queries.

    The test client runs the request in this process, so ``process_time`` around it is the
    worker's CPU (Django's and the app's, all middleware included), as a sync gunicorn worker
    counts it. The backend's CPU is read from ``/proc`` (clock ticks, so only a sum over many
    requests is meaningful), as ``benchmarks.run`` counts it for the server.
    """

    def __init__(self) -> None:
        from collections import defaultdict

        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.backend = cursor.fetchone()[0]
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.kinds: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0, 0])
        self.intakes = 0

    def _backend_cpu(self) -> float:
        try:
            with open(f"/proc/{self.backend}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # another machine's PostgreSQL: its CPU is not counted here
            return 0.0
        return (int(fields[11]) + int(fields[12])) * 1000 / self.ticks

    def measure(self, kind: str, send: Any) -> Any:
        from django.db import connection

        writes = [0]

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            row[3] += 1
            if "django_session" in sql and not sql.startswith("SELECT"):
                writes[0] += 1
            return execute(sql, params, many, context)

        row = self.kinds[kind]
        backend = self._backend_cpu()
        cpu = time.process_time()
        with connection.execute_wrapper(count):
            response = send()
        row[1] += (time.process_time() - cpu) * 1000
        row[2] += self._backend_cpu() - backend
        row[0] += 1
        row[4] += writes[0]
        return response

    def report(self) -> None:
        n = self.intakes
        print(f"per intake, mean of {n} (CPU ms: this process / the PostgreSQL backend)")
        print(f"{'request':<22}{'count':>7}{'app ms':>9}{'pg ms':>8}{'queries':>9}{'sess.w':>8}")
        total = [0.0, 0.0, 0.0, 0.0, 0.0]
        for kind, (calls, cpu, pg, queries, writes) in sorted(self.kinds.items()):
            line = [calls / n, cpu / n, pg / n, queries / n, writes / n]
            total = [a + b for a, b in zip(total, line, strict=True)]
            print(
                f"{kind:<22}{line[0]:7.1f}{line[1]:9.1f}{line[2]:8.1f}{line[3]:9.1f}{line[4]:8.1f}"
                f"   per request: {cpu / calls:.2f} + {pg / calls:.2f} ms, "
                f"{queries / calls:.1f} queries"
            )
        print(
            f"{'whole intake':<22}{total[0]:7.1f}{total[1]:9.1f}{total[2]:8.1f}{total[3]:9.1f}"
            f"{total[4]:8.1f}   server CPU {total[1] + total[2]:.1f} ms per intake"
        )


#: ``--without-javascript``: walk as a browser with JavaScript off (POST, redirect, GET).
JAVASCRIPT = True


def walk_intake(browser: ClientBrowser, patient: Any) -> None:
    """One whole intake, walked as ``make bench`` walks it (``benchmarks.patient.intake``)."""
    from .patient import intake

    intake(browser, patient, js=JAVASCRIPT)  # type: ignore[arg-type]


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

    from . import data
    from .run import make_patients

    patients = make_patients(count + 4, data.answer_mix(count + 4, seed=8))
    browser = ClientBrowser()
    for p in patients[:3]:  # warm: templates compiled, URLconf loaded
        walk_intake(browser, p)
    if queries:
        with CaptureQueriesContext(connection) as captured:
            walk_intake(browser, patients[3])
        for q in captured.captured_queries:
            print(f"{q['time']}s  {q['sql'][:160]}")
    profile = cProfile.Profile(time.process_time)
    start = time.process_time()
    profile.enable()
    for p in patients[4:]:
        walk_intake(browser, p)
    profile.disable()
    cpu = (time.process_time() - start) * 1000 / count
    _print(profile, limit)
    print(
        f"{count} intakes, {cpu:.1f} ms CPU each under cProfile (about twice the unprofiled cost)"
    )


def measure_intake(count: int) -> None:
    """No profiler: what each kind of request costs, in CPU and queries, per whole intake."""
    from . import data
    from .run import make_patients

    patients = make_patients(count + 3, data.answer_mix(count + 3, seed=8))
    for p in patients[:3]:  # warm: templates compiled, URLconf loaded
        walk_intake(ClientBrowser(), p)
    meter = Meter()
    browser = ClientBrowser(meter)
    for p in patients[3:]:
        walk_intake(browser, p)
        meter.intakes += 1
    meter.report()


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
    parser.add_argument("what", choices=["intake", "measure", "queue", "triage"])
    parser.add_argument("--count", type=int, default=30, help="intakes to profile")
    parser.add_argument("--size", type=int, default=100_000, help="encounters in the queue")
    parser.add_argument("--limit", type=int, default=35, help="functions listed")
    parser.add_argument(
        "--queries",
        action="store_true",
        help="list the SQL (intake: one intake's; queue: each page's, with EXPLAIN ANALYZE)",
    )
    parser.add_argument(
        "--without-javascript",
        action="store_true",
        help="intake, measure: post as a browser with JavaScript off (POST, redirect, GET)",
    )
    parser.add_argument("--dump", help="also write the (last) profile here, for pstats or snakeviz")
    parser.add_argument(
        "--database",
        default="twitch_bench_profile",
        help="the database made afresh on DATABASE_URL's server (one of your own)",
    )
    args = parser.parse_args(argv)
    global DUMP, JAVASCRIPT
    DUMP = args.dump
    JAVASCRIPT = not args.without_javascript
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        print("DATABASE_URL is not set.", file=sys.stderr)
        return 2
    setup_django(server_url, args.database)
    if args.what == "intake":
        profile_intake(args.count, args.limit, args.queries)
    elif args.what == "measure":
        measure_intake(args.count)
    elif args.what == "queue":
        profile_queue(args.size, args.limit, args.queries)
    else:
        profile_triage(args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
