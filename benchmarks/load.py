"""``make load``: issue #7, "Load, with zero loss".

N concurrent simulated patients (default 8) each take intakes through the whole flow (link ->
date of birth -> every page -> review -> submit -> thanks) against gunicorn on 127.0.0.1, for a
fixed number of intakes (default 200). Afterwards, with the servers stopped, every acknowledged
intake (the patient saw the thank-you page) is looked up in the database: it must be there
exactly once, submitted, with exactly the answers that patient sent.

Two runs:

1. one app server (gunicorn, 2 sync workers);
2. two app servers (two gunicorn processes on two ports, 2 sync workers each, one PostgreSQL),
   each patient's requests alternating between them with one cookie jar, as behind a
   round-robin load balancer: every form is posted to the other server than the one that
   rendered it, and every page after a save is read from the other server than the one that
   saved it.

One table per run, JSON in ``benchmarks/results/load.json``. The exit status is 1 if any
acknowledged intake was lost, duplicated or stored with other answers, if any response was a
5xx, or if any intake failed; 2 when the run could not be made. Bounded: loopback only, a fixed
count, no new intake after ``--max-seconds`` per run, and a hard ``--time-cap`` for the whole
script; gunicorn is always stopped (on an error, Ctrl-C or SIGTERM too).

Runs against its own database (``twitch_load`` on the server of ``DATABASE_URL``, dropped and
made again each run), never the demo's.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import os
import platform
import signal
import sys
import time
import traceback
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .client import Browser, Response, Sample, UnexpectedResponse
from .run import (
    HOST,
    RESULTS,
    ROOT,
    WORKERS,
    Gunicorn,
    MachineMeter,
    _free_port,
    _order,
    _others,
    database_backends,
    make_patients,
    per_page,
    render,
    setup_django,
)

THANKS = "/intake/thanks/"
THANKS_TEXT = "your answers were sent"


class Alternating:
    """One patient's phone behind a round-robin load balancer: one cookie jar (session, CSRF
    cookie), each request to the next server in turn.

    Each server sees an ``Origin`` that matches its own host, as it would behind a balancer that
    gives them all one public name.
    """

    def __init__(self, host: str, ports: list[int], first: int = 0) -> None:
        self.cookies: dict[str, str] = {}
        self.samples: list[Sample] = []
        self.browsers = [
            Browser(host, port, cookies=self.cookies, samples=self.samples) for port in ports
        ]
        self.requests = [0] * len(ports)
        self._next = first % len(ports)

    def _browser(self) -> Browser:
        index = self._next
        self._next = (index + 1) % len(self.browsers)
        self.requests[index] += 1
        return self.browsers[index]

    def forget(self) -> None:
        self.cookies.clear()

    def get(self, path: str, *, accept: str = "text/html") -> Response:
        return self._browser().get(path, accept=accept)

    def post(self, path: str, form: list[tuple[str, str]] | dict[str, str]) -> Response:
        return self._browser().post(path, form)

    def close(self) -> None:
        for browser in self.browsers:
            browser.close()


def _normal(answers: dict[str, Any]) -> dict[str, Any]:
    """The answers as JSONB gives them back."""
    return json.loads(json.dumps(answers))


def check(
    label: str, patients: list[Any], acknowledged: list[Any], last_pk_before: int
) -> dict[str, Any]:
    """Every acknowledged intake: in the database exactly once, submitted, the answers sent.

    Any encounter row made during the run that is none of its patients' counts as a duplicate
    too.
    """
    from twitch_intake.models import Encounter
    from twitch_intake.services import answers_digest

    names = {p.token: f"{label} {i}" for i, p in enumerate(patients)}
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in Encounter.objects.filter(patient_name__startswith=f"{label} ").values(
        "pk", "patient_name", "status", "answers", "answers_digest"
    ):
        rows[row["patient_name"]].append(row)
    submitted = Encounter.Status.SUBMITTED
    ok, lost, duplicated, mismatched, examples = 0, 0, 0, 0, []
    for p in acknowledged:
        name = names[p.token]
        found = [r for r in rows.get(name, []) if r["status"] == submitted]
        if not found:
            lost += 1
            examples.append({"patient": name, "problem": "lost",
                             "rows": [{"pk": r["pk"], "status": r["status"]} for r in rows.get(name, [])]})  # fmt: skip
            continue
        if len(rows[name]) > 1:
            duplicated += 1
            examples.append(
                {"patient": name, "problem": "duplicated", "rows": [r["pk"] for r in rows[name]]}
            )
            continue
        sent, stored = _normal(p.answers), found[0]["answers"]
        if stored != sent or found[0]["answers_digest"] != answers_digest(sent):
            mismatched += 1
            keys = sorted(k for k in sent.keys() | stored.keys() if sent.get(k) != stored.get(k))
            examples.append({"patient": name, "problem": "mismatched", "pk": found[0]["pk"],
                             "questions": keys or ["(digest only)"]})  # fmt: skip
            continue
        ok += 1
    acked = {names[p.token] for p in acknowledged}
    ours = set(names.values())
    extra = Encounter.objects.filter(pk__gt=last_pk_before).exclude(patient_name__in=ours).count()
    unacknowledged = sum(
        1
        for k, v in rows.items()
        if k in ours and k not in acked and any(r["status"] == submitted for r in v)
    )
    return {
        "acknowledged": len(acknowledged),
        "in_db_exactly_once": ok,
        "lost": lost,
        "duplicated": duplicated + extra,
        "mismatched": mismatched,
        "submitted_not_acknowledged": unacknowledged,
        "encounter_rows_made": len(patients),
        "encounter_rows_not_made_by_the_run": extra,
        "examples": examples[:10],
    }


def one_run(
    servers: int, args: argparse.Namespace, mix: list[dict[str, Any]], log: Any
) -> dict[str, Any]:
    from django.db import close_old_connections
    from django.db.models import Max

    from twitch_intake.models import Encounter

    from . import patient

    label = f"Load run {servers} patient"
    last_pk_before = Encounter.objects.aggregate(pk=Max("pk"))["pk"] or 0
    warm_count = args.patients
    patients = make_patients(warm_count + args.intakes, mix, label=label)
    warm, timed = patients[:warm_count], patients[warm_count:]
    close_old_connections()

    acknowledged: list[Any] = []

    def intake(browser: Any, one: Any) -> None:
        visit = patient.Visit()
        patient.intake(browser, one, visit)
        thanks = visit.pages.get(THANKS)
        if thanks is None or THANKS_TEXT not in thanks.text:
            raise UnexpectedResponse(thanks, "the thank-you page did not say the answers were sent")
        acknowledged.append(one)

    browsers: list[Alternating] = []
    result: dict[str, Any] = {
        "servers": servers,
        "workers_per_server": WORKERS,
        "patients": args.patients,
    }
    with contextlib.ExitStack() as stack:
        started = []
        for n in range(servers):
            server = Gunicorn(_free_port(), RESULTS / f"gunicorn-load-{servers}-{n + 1}.log")
            stack.callback(server.stop)
            started.append(server)
        for server in started:
            server.wait_ready()
        ports = [s.port for s in started]
        result["ports"] = ports
        log(
            f"run {servers}: gunicorn on {', '.join(f'{HOST}:{p}' for p in ports)}, {WORKERS} workers each"
        )
        turns = itertools.count()

        def make_browser() -> Any:  # an Alternating browses as a Browser does
            browser = Alternating(HOST, ports, first=next(turns))
            browsers.append(browser)
            return browser

        load = {
            "clients": args.patients,
            "host": HOST,
            "port": ports[0],
            "make_browser": make_browser,
        }
        warmed = patient.run_load(warm, intake, **load)  # templates compiled, connections open
        machine = MachineMeter()
        timed_result = patient.run_load(timed, intake, max_seconds=args.max_seconds, **load)
        ours = set(database_backends()).union(*(s.pids() for s in started))
        result["other_processes"] = machine.others(ours)
        log(f"run {servers}: {timed_result.done} intakes in {timed_result.seconds:.1f}s, "
            f"{len(timed_result.errors) + len(warmed.errors)} errors")  # fmt: skip
    log(f"run {servers}: gunicorn stopped; checking the database")

    samples = warmed.samples + timed_result.samples
    errors = warmed.errors + timed_result.errors
    per_server = [sum(b.requests[i] for b in browsers) for i in range(servers)]
    result.update(
        intakes=len(timed),
        warm_up_intakes=len(warm),
        completed=timed_result.done,
        skipped_for_time=timed_result.skipped,
        seconds=timed_result.seconds,
        intakes_per_s=timed_result.done / timed_result.seconds,
        requests=len(samples),
        requests_per_server=per_server,
        errors=len(errors),
        error_examples=sorted(set(errors))[:5],
        responses_5xx=sum(1 for s in samples if s.status >= 500),
        pages=per_page(timed_result.samples),
        check=check(label, patients, acknowledged, last_pk_before),
    )
    c = result["check"]
    result["ok"] = (
        c["lost"] == 0 and c["duplicated"] == 0 and c["mismatched"] == 0
        and result["responses_5xx"] == 0 and result["errors"] == 0
    )  # fmt: skip
    return result


def table(run: dict[str, Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []

    def add(measure: str, value: str, target: str = "", met: bool | None = None) -> None:
        rows.append(
            ("load", measure, value, target, "" if met is None else ("ok" if met else "FAILED"))
        )

    c = run["check"]
    total = run["intakes"] + run["warm_up_intakes"]
    skipped = f", {run['skipped_for_time']} skipped for time" if run["skipped_for_time"] else ""
    add(f"{run['patients']} patients, {run['intakes']} intakes (+{run['warm_up_intakes']} warm-up)",
        f"{run['completed']} done in {run['seconds']:.1f} s{skipped}")  # fmt: skip
    add("intakes/s", f"{run['intakes_per_s']:.2f}")
    add("other processes on the machine meanwhile", _others(run))
    if run["servers"] > 1:
        split = " / ".join(
            f":{p} {n}" for p, n in zip(run["ports"], run["requests_per_server"], strict=True)
        )
        add("requests per server (each request to the other)", split)
    add("errors (failed intakes)", str(run["errors"]), "0", run["errors"] == 0)
    add("5xx responses", str(run["responses_5xx"]), "0", run["responses_5xx"] == 0)
    add("acknowledged (saw the thank-you page)", f"{c['acknowledged']} of {total}")
    add("in DB exactly once, submitted, same answers", f"{c['in_db_exactly_once']} of {c['acknowledged']}",
        "all", c["in_db_exactly_once"] == c["acknowledged"])  # fmt: skip
    add("lost", str(c["lost"]), "0", c["lost"] == 0)
    add("duplicated", str(c["duplicated"]), "0", c["duplicated"] == 0)
    add("mismatched", str(c["mismatched"]), "0", c["mismatched"] == 0)
    add("submitted, not acknowledged", str(c["submitted_not_acknowledged"]))
    for key in sorted(run["pages"], key=_order):
        p = run["pages"][key]
        add(f"{key}  ({p['requests']})",
            f"p50 {p['p50_ms']:.1f} / p95 {p['p95_ms']:.1f} / p99 {p['p99_ms']:.1f} ms")  # fmt: skip
    return rows


def _title(run: dict[str, Any]) -> str:
    if run["servers"] == 1:
        return (
            f"Run 1: one app server (gunicorn, {WORKERS} sync workers) on {HOST}:{run['ports'][0]}"
        )
    ports = " and ".join(f":{p}" for p in run["ports"])
    return (f"Run 2: two app servers ({ports}, {WORKERS} sync workers each, one PostgreSQL); "
            "each patient's requests alternate between them, one cookie jar")  # fmt: skip


class TimeCap(Exception):
    pass


def _time_cap(*_: Any) -> None:
    raise TimeCap("the time cap was reached")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="twitch-intake load with zero loss (issue #7)")
    parser.add_argument("--patients", type=int, default=8, help="concurrent simulated patients")
    parser.add_argument("--intakes", type=int, default=200, help="intakes per run")
    parser.add_argument("--runs", default="1,2", help="which runs: 1 (one server), 2 (two servers)")
    parser.add_argument(
        "--max-seconds", type=float, default=60, help="no new intake starts after this, per run"
    )
    parser.add_argument(
        "--time-cap", type=int, default=170, help="the whole script stops after this"
    )
    parser.add_argument("--database", default="twitch_load")
    parser.add_argument("--output", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args(argv)

    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    # SIGTERM unwinds like Ctrl-C and the time cap like an error: the servers are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGALRM, _time_cap)
    signal.alarm(args.time_cap)

    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        print("DATABASE_URL is not set; run `make load`.", file=sys.stderr)
        return 2
    if urlsplit(server_url).path.strip("/") == args.database:
        print(
            f"DATABASE_URL already names {args.database}; give the server's usual database.",
            file=sys.stderr,
        )
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    setup_django(server_url, args.database)
    import django
    import psutil
    from django.db import connection

    from .data import answer_mix

    log(f"database {args.database} made and migrated, static files collected")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    report: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": psutil.cpu_count(),
            "python": platform.python_version(),
            "django": django.get_version(),
            "postgresql": pg_version,
            "gunicorn_workers_per_server": WORKERS,
        },
        "args": {k: str(v) for k, v in vars(args).items()},
        "runs": [],
    }
    mix = answer_mix(max(args.intakes, 50), seed=7)
    try:
        for servers in sorted({int(r) for r in args.runs.split(",")}):
            report["runs"].append(one_run(servers, args, mix, log))
    except Exception as exc:  # the time cap, or a failure: still a (partial) report, and status 1
        report["unfinished"] = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, TimeCap):
            traceback.print_exc()
    except BaseException as exc:  # Ctrl-C, SIGTERM: a partial report, then on out
        report["unfinished"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        signal.alarm(0)
        report["seconds"] = time.perf_counter() - started
        report["ok"] = (
            bool(report["runs"])
            and "unfinished" not in report
            and all(r["ok"] for r in report["runs"])
        )
        args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
        m = report["machine"]
        print(
            f"\ntwitch-intake load, zero loss: {m['cpus']} CPUs, Python {m['python']}, "
            f"Django {m['django']}, PostgreSQL {m['postgresql']}; run took {report['seconds']:.0f} s"
        )
        for run in report["runs"]:
            print(f"\n{_title(run)}\n")
            print(render(table(run)))
            for example in run["check"]["examples"][:3] + [
                {"error": e} for e in run["error_examples"][:3]
            ]:
                print(f"  e.g. {example}")
        verdict = (
            "zero loss: every acknowledged intake stored once, as sent"
            if report["ok"]
            else "FAILED"
        )
        shown = args.output.resolve()
        print(
            f"\n{verdict}. JSON: {shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown}"
        )
        if "unfinished" in report:
            print(f"The run did not finish ({report['unfinished']}): the tables are partial.")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
