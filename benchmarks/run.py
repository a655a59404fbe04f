"""``make bench``: every figure of issue #8 in one run, printed as one table and saved as JSON.

1. the full intake over HTTP (gunicorn, 2 sync workers) by N concurrent simulated patients;
2. the floor (a 10-field form and one insert) by the same clients, and the intake's ratio to it;
3. the clinician's queue at 1,000 / 10,000 / 100,000 encounters, in-process;
4. triage ``assess`` calls per second;
5. the weight of each patient page.

Everything runs against its own database (``twitch_bench`` on the server of ``DATABASE_URL``,
dropped and made again each run), never the demo's. Budgets are reported, never asserted.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
HOST = "127.0.0.1"
WORKERS = 2


# --- database and server ----------------------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(
        _with_database(url, "postgres"), autocommit=True, connect_timeout=10
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Gunicorn:
    """gunicorn in its own process group, so that stopping it stops exactly what we started."""

    def __init__(self, port: int, log: Path) -> None:
        binary = Path(sys.executable).with_name("gunicorn")
        command = [str(binary)] if binary.exists() else [sys.executable, "-m", "gunicorn"]
        command += [
            "clinic.wsgi:application",
            "--workers", str(WORKERS),
            "--worker-class", "sync",
            "--bind", f"{HOST}:{port}",
            "--chdir", str(ROOT),
            "--log-level", "warning",
            "--timeout", "120",
        ]  # fmt: skip
        self.port = port
        self.log = log
        self._log_file = log.open("w")
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=dict(os.environ), stdout=self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        atexit.register(self.stop)

    def wait_ready(self, timeout: float = 60) -> None:
        import http.client

        import psutil

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {self.log}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", "/bench/floor/")
                status = conn.getresponse().status
                conn.close()
                if status == 200 and len(psutil.Process(self.proc.pid).children()) >= WORKERS:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f}s; see {self.log}")

    def worker_pids(self) -> list[int]:
        import psutil

        return [p.pid for p in psutil.Process(self.proc.pid).children()]

    def pids(self) -> set[int]:
        """Master and workers, and this process (the load generator): all ours."""
        return {os.getpid(), self.proc.pid, *self.worker_pids()}

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log_file.close()


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """user + system CPU of each process (as /proc/<pid>/stat has them); gone ones left out."""
    import psutil

    found = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found[pid] = times.user + times.system
    return found


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


class MachineMeter:
    """How much CPU other processes on the machine used over a phase, and which.

    Other processes on the same cores inflate every figure (wall times, and through shared caches
    and clocks, CPU times too), so the table says how much there was. Every process's CPU time is
    read at the start and the end; ours (this process, gunicorn, the benchmark database's
    backends) are left out.
    """

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        self.before = self._snapshot()
        self.wall = time.perf_counter()

    def _snapshot(self) -> dict[int, tuple[str, float]]:
        found = {}
        for proc in self._psutil.process_iter(["cmdline", "name", "cpu_times"]):
            times = proc.info["cpu_times"]
            if times is None:
                continue
            label = " ".join(proc.info["cmdline"] or []) or proc.info["name"] or "?"
            found[proc.pid] = (label, times.user + times.system)
        return found

    def others(self, ours: set[int]) -> dict[str, Any]:
        after = self._snapshot()
        capacity = (time.perf_counter() - self.wall) * (self._psutil.cpu_count() or 1)
        used: dict[str, float] = defaultdict(float)
        for pid, (label, cpu) in after.items():
            if pid in ours:
                continue
            delta = cpu - self.before.get(pid, (label, 0.0))[1]
            if delta > 0:
                used[" ".join(label.split()[:4])[:60]] += delta
        top = sorted(used.items(), key=lambda kv: -kv[1])[:3]
        return {
            "share": sum(used.values()) / capacity,
            "top": [{"process": name, "share": cpu / capacity} for name, cpu in top],
        }


def calibrate() -> float:
    """CPU ms for a fixed pure-Python loop: compare runs, machines, or a busy and a quiet moment."""
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(200):
            sum(range(10_000))
        best = min(best, (time.process_time() - start) * 1000)
    return best


def database_backends() -> list[int]:
    """PostgreSQL backends serving the benchmark's database (not this process's own)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def setup_django(server_url: str, database: str) -> None:
    """Make ``database`` afresh on the server, point Django at it, migrate, collect static."""
    recreate_database(server_url, database)
    os.environ.update(
        DATABASE_URL=_with_database(server_url, database),
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        DJANGO_DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=f"{HOST},localhost,testserver",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False, clear=True)


# --- statistics -------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def per_page(samples: list[Any]) -> dict[str, dict[str, Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for sample in samples:
        grouped[sample.key].append(sample)
    pages = {}
    for key, group in grouped.items():
        latency = [s.latency_ms for s in group]
        server = [s.server_ms for s in group if s.server_ms is not None]
        cpu = [s.cpu_ms for s in group if s.cpu_ms is not None]
        queries = [s.queries for s in group if s.queries is not None]
        pages[key] = {
            "requests": len(group),
            "p50_ms": percentile(latency, 50),
            "p95_ms": percentile(latency, 95),
            "p99_ms": percentile(latency, 99),
            "server_p50_ms": percentile(server, 50),
            "server_cpu_p50_ms": percentile(cpu, 50),
            "queries": statistics.median(queries) if queries else None,
        }
    return pages


def _order(key: str) -> tuple[int, int]:
    from twitch_intake.questionnaire import TWITCH_INTAKE

    method, _, page = key.partition(" ")
    steps = ["link", *(f"page/{p.slug}" for p in TWITCH_INTAKE.pages()), "get-care-now",
             "review", "submit", "thanks", "wizard/link", "wizard/identify",
             *(f"wizard/{g.link_id}" for g in TWITCH_INTAKE.groups), "wizard/review"]  # fmt: skip
    return (steps.index(page) if page in steps else len(steps), method != "GET")


# --- the benchmarks ---------------------------------------------------------------------------


def make_patients(
    count: int, answers: list[dict[str, Any]], label: str = "Bench Patient"
) -> list[Any]:
    """Encounters with a fresh link each, made as the front desk would (bulk, beforehand).

    Each is named ``f"{label} {i}"``: a label of its own lets a caller find its patients again.
    """
    from django.utils import timezone

    from twitch_intake.models import Encounter

    from .patient import Patient

    encounters, patients = [], []
    now = timezone.now()
    for i in range(count):
        born = dt.date(1940, 1, 1) + dt.timedelta(days=(i * 7919) % 25000)
        encounter = Encounter(
            patient_name=f"{label} {i}",
            date_of_birth=born,
            visit_at=now + dt.timedelta(days=1 + i % 20),
        )
        token = encounter.issue_link(now)
        encounters.append(encounter)
        patients.append(Patient(token, born.isoformat(), answers[i % len(answers)]))
    Encounter.objects.bulk_create(encounters, batch_size=1000)
    return patients


@dataclass
class Tally:
    """Timed batches of intakes of one kind, added up: server CPU (gunicorn workers and the
    database's backends, from /proc), every request, and what other processes took meanwhile."""

    jobs: int = 0
    done: int = 0
    skipped: int = 0
    seconds: float = 0.0
    app_cpu: float = 0.0
    db_cpu: float = 0.0
    client_cpu: float = 0.0
    samples: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    others: list[dict[str, Any]] = field(default_factory=list)

    def time(self, server: Gunicorn, jobs: list[Any], work: Any, load: dict[str, Any],
             max_seconds: float | None) -> None:  # fmt: skip
        from . import patient

        backends = database_backends()
        cpu0, db0 = cpu_seconds(server.worker_pids()), cpu_seconds(backends)
        machine = MachineMeter()
        own0 = cpu_seconds([os.getpid()])
        result = patient.run_load(jobs, work, max_seconds=max_seconds, **load)
        cpu1, db1 = cpu_seconds(server.worker_pids()), cpu_seconds(backends + database_backends())
        self.client_cpu += cpu_used(own0, cpu_seconds([os.getpid()]))
        self.others.append({**machine.others(server.pids() | set(db1)), "seconds": result.seconds})
        self.app_cpu += cpu_used(cpu0, cpu1)
        self.db_cpu += cpu_used(db0, db1)
        self.jobs += len(jobs)
        self.done += result.done
        self.skipped += result.skipped
        self.seconds += result.seconds
        self.samples += result.samples
        self.errors += result.errors

    def summary(self) -> dict[str, Any]:
        done = max(self.done, 1)
        app, database = self.app_cpu * 1000 / done, self.db_cpu * 1000 / done
        latency = [s.latency_ms for s in self.samples]
        return {
            "intakes": self.jobs,
            "completed": self.done,
            "skipped_for_time": self.skipped,
            "seconds": self.seconds,
            "intakes_per_s": self.done / self.seconds if self.seconds else 0.0,
            "requests_per_intake": len(self.samples) / done,
            "server_cpu_ms_per_intake": app,
            "database_cpu_ms_per_intake": database,
            "total_cpu_ms_per_intake": app + database,
            "server_app_cpu_ms_per_intake": sum(s.cpu_ms or 0 for s in self.samples) / done,
            "queries_per_intake": sum(s.queries or 0 for s in self.samples) / done,
            "client_cpu_ms_per_intake": self.client_cpu * 1000 / done,
            # What one patient waits on the server over a whole intake: the sum of its
            # requests' latencies (no reading or typing time: the clients never pause).
            "wall_ms_per_intake": sum(latency) / done,
            "other_processes": _merge_others(self.others),
            "errors": len(self.errors),
            "error_examples": sorted(set(self.errors))[:5],
            "server_p50_ms": percentile([s.server_ms for s in self.samples if s.server_ms], 50),
            "server_cpu_p50_ms": percentile([s.cpu_ms for s in self.samples if s.cpu_ms], 50),
            "request_p50_ms": percentile(latency, 50),
            "request_p95_ms": percentile(latency, 95),
            "pages": per_page(self.samples),
        }


def _merge_others(phases: list[dict[str, Any]]) -> dict[str, Any]:
    """Other processes' share over several timed batches, weighted by each batch's length."""
    total = sum(p["seconds"] for p in phases) or 1.0
    top: dict[str, float] = defaultdict(float)
    for phase in phases:
        for entry in phase["top"]:
            top[entry["process"]] += entry["share"] * phase["seconds"] / total
    return {
        "share": sum(p["share"] * p["seconds"] for p in phases) / total,
        "top": [
            {"process": name, "share": share}
            for name, share in sorted(top.items(), key=lambda kv: -kv[1])[:3]
        ],
    }


def _submitted(label: str) -> int:
    from twitch_intake.models import Encounter

    return Encounter.objects.filter(
        status=Encounter.Status.SUBMITTED, patient_name__startswith=f"{label} "
    ).count()


def bench_http(args: argparse.Namespace, report: dict[str, Any], log: Any) -> None:
    from django.db import close_old_connections

    from . import data, patient, weight
    from .client import Browser, expect, page_name
    from .models import FloorEntry

    mix = data.answer_mix(max(args.intakes, 50), seed=8)
    warm_count = 2 * args.patients
    patients = make_patients(args.intakes + warm_count + 1, mix, label="Ours")
    warm, measured, shown = patients[:warm_count], patients[warm_count:-1], patients[-1]
    peers = make_patients(args.intakes + warm_count, mix, label="Peer")
    peer_warm, peer_measured = peers[:warm_count], peers[warm_count:]
    plain = make_patients(args.intakes + warm_count, mix, label="NoJS")
    plain_warm, plain_measured = plain[:warm_count], plain[warm_count:]
    emergency = next(a for a in mix if a["emergency-signs"] != ["none"])
    shown.answers = emergency  # the page-weight walk also sees the emergency page
    close_old_connections()

    server = Gunicorn(_free_port(), RESULTS / "gunicorn.log")
    try:
        server.wait_ready()
        log(f"gunicorn ready on {HOST}:{server.port} (workers {server.worker_pids()})")
        load = {"clients": args.patients, "host": HOST, "port": server.port}
        # Warm-up, not measured: each worker compiles templates, opens its connection.
        warmed = patient.run_load(warm, patient.intake, **load)
        plain_warmed = patient.run_load(plain_warm, patient.intake_without_javascript, **load)
        peer_warmed = patient.run_load(peer_warm, patient.wizard_intake, **load)
        patient.run_load(range(4 * args.patients), lambda b, _: patient.floor(b), **load)

        # 1. the full intake, ours (with JavaScript, and without) and the peer's, by the same
        # clients: interleaved halves, so that a burst of other load falls on all alike.
        half = (len(measured) + 1) // 2
        batches = [
            ("intake", measured[:half], patient.intake),
            ("nojs", plain_measured[:half], patient.intake_without_javascript),
            ("peer", peer_measured[:half], patient.wizard_intake),
            ("intake", measured[half:], patient.intake),
            ("nojs", plain_measured[half:], patient.intake_without_javascript),
            ("peer", peer_measured[half:], patient.wizard_intake),
        ]
        tallies = {"intake": Tally(), "nojs": Tally(), "peer": Tally()}
        for name, jobs, work in batches:
            if jobs:
                tallies[name].time(server, jobs, work, load, args.max_seconds / 6)
        for name, label, warm_result in (
            ("intake", "Ours", warmed),
            ("nojs", "NoJS", plain_warmed),
            ("peer", "Peer", peer_warmed),
        ):
            phase = tallies[name].summary()
            phase["patients"] = args.patients
            phase["errors"] += len(warm_result.errors)
            phase["error_examples"] = sorted(set(phase["error_examples"] + warm_result.errors))[:5]
            phase["rows_submitted"] = _submitted(label)
            phase["intakes_completed_incl_warmup"] = warm_result.done + phase["completed"]
            report[name] = phase
            log(
                f"{name}: {phase['completed']} intakes in {phase['seconds']:.1f}s, "
                f"{phase['errors']} errors {phase['error_examples'][:1]}"
            )

        # 2. the floor
        pairs = args.floor
        workers, backends = server.worker_pids(), database_backends()
        cpu0, db0 = cpu_seconds(workers), cpu_seconds(backends)
        floor_before = FloorEntry.objects.count()
        machine = MachineMeter()
        result_floor = patient.run_load(
            range(pairs), lambda b, _: patient.floor(b), max_seconds=args.max_seconds / 2, **load
        )
        cpu1, db1 = cpu_seconds(server.worker_pids()), cpu_seconds(backends + database_backends())
        others = machine.others(server.pids() | set(db1))
        report["floor"] = {
            "pairs": pairs,
            "completed": result_floor.done,
            "skipped_for_time": result_floor.skipped,
            "seconds": result_floor.seconds,
            "requests_per_s": len(result_floor.samples) / result_floor.seconds,
            "server_cpu_ms_per_request": cpu_used(cpu0, cpu1)
            * 1000
            / max(len(result_floor.samples), 1),
            "database_cpu_ms_per_request": cpu_used(db0, db1)
            * 1000
            / max(len(result_floor.samples), 1),
            "errors": len(result_floor.errors),
            "rows_inserted": FloorEntry.objects.count() - floor_before,
            "other_processes": others,
            "server_p50_ms": percentile(
                [s.server_ms for s in result_floor.samples if s.server_ms], 50
            ),
            "server_cpu_p50_ms": percentile(
                [s.cpu_ms for s in result_floor.samples if s.cpu_ms], 50
            ),
            "pages": per_page(result_floor.samples),
        }
        log(f"floor: {result_floor.done} GET+POST in {result_floor.seconds:.1f}s")

        # 5. page weight (a first-time visitor, gzip accepted)
        browser = Browser(HOST, server.port, accept_gzip=True)
        weights = []
        start = expect(browser.get("/intake/start/"), 200)
        weights.append(weight.measure(browser, "start (self-start)", start, "/intake/start/"))
        visit = patient.Visit()
        patient.intake(browser, shown, visit)
        for path, response in visit.pages.items():
            weights.append(weight.measure(browser, page_name(path), response, path))
        bad = browser.get("/intake/link/not-a-real-link/")
        weights.append(weight.measure(browser, "link unusable (404)", bad, "/intake/link/x/"))
        browser.close()
        report["page_weight"] = [w.as_dict() for w in weights]
    finally:
        server.stop()
    log("gunicorn stopped")


def bench_triage(seconds: float, windows: int = 5) -> dict[str, Any]:
    """``assess`` over 1,000 realistic answers, in ``windows`` timed windows.

    The best window is the figure (as ``timeit`` does: other load only ever slows a window
    down); the median is kept too.
    """
    from django.utils import translation

    from twitch_intake import triage

    from .data import answer_mix

    mix = answer_mix(1000, seed=4)
    levels: dict[str, int] = defaultdict(int)
    rates = []
    with translation.override("en"):
        for answers in mix:
            levels[triage.assess(answers).level.value] += 1
        assess = triage.assess
        for _ in range(windows):
            calls = 0
            start = time.perf_counter()
            while time.perf_counter() - start < seconds / windows:
                for answers in mix:
                    assess(answers)
                calls += len(mix)
            rates.append(calls / (time.perf_counter() - start))
    return {
        "calls_per_s": max(rates),
        "median_calls_per_s": statistics.median(rates),
        "windows": rates,
        "mix": dict(levels),
    }


def signed_in(user: Any) -> Any:
    """A test client signed in as ``user`` with a second factor verified, as production asks
    of a clinician (``REQUIRE_MFA``): a TOTP device, marked verified in the session."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def bench_queue(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    """The queue and the intake as the table grows: at each size the clinician's two pages
    (in-process, a verified clinician) and a short batch of intakes, ours and the peer's, over
    HTTP (server CPU per intake), so that how cost grows with the rows is in one table."""
    from django.contrib.auth import get_user_model
    from django.db import close_old_connections

    from . import clinician, data, patient

    sizes = sorted(int(s) for s in args.sizes.split(","))
    user = get_user_model().objects.create_superuser(
        "bench-clinician", "bench@clinic.example", None
    )
    clinician.prepare(user.pk)
    client = signed_in(user)
    mix = data.answer_mix(50, seed=20)
    count = args.growth_intakes
    server = Gunicorn(_free_port(), RESULTS / "gunicorn-growth.log") if count else None
    results: dict[str, Any] = {}
    try:
        if server is not None:
            server.wait_ready()
        load = {
            "clients": min(args.patients, 4),
            "host": HOST,
            "port": server.port if server else 0,
        }
        for size in sizes:
            seconds = clinician.grow_to(size)
            machine = MachineMeter()
            measured = clinician.measure(client, args.queue_runs)
            results[str(size)] = {
                "insert_seconds": seconds,
                **{k: v.as_dict() for k, v in measured.items()},
                "other_processes": machine.others({os.getpid(), *database_backends()}),
            }
            line = "; ".join(
                f"{k} {v.median_ms:.1f} ms (cpu {v.cpu_median_ms:.1f}), {v.queries[-1]} queries"
                for k, v in measured.items()
            )
            if server is not None:
                ours = make_patients(count + load["clients"], mix, label=f"Ours@{size}")
                peers = make_patients(count + load["clients"], mix, label=f"Peer@{size}")
                close_old_connections()
                warm = load["clients"]
                # Warm-up: each worker's connection meets the grown table's new statistics.
                patient.run_load(ours[:warm], patient.intake, **load)
                patient.run_load(peers[:warm], patient.wizard_intake, **load)
                for name, jobs, work in (
                    ("intake", ours[warm:], patient.intake),
                    ("peer", peers[warm:], patient.wizard_intake),
                ):
                    tally = Tally()
                    tally.time(server, jobs, work, load, args.max_seconds / 4)
                    phase = tally.summary()
                    phase.pop("pages")
                    results[str(size)][name] = phase
                line += "; intake CPU " + " | ".join(
                    f"{results[str(size)][n]['total_cpu_ms_per_intake']:.0f} ms"
                    for n in ("intake", "peer")
                )
            log(f"queue @{size:,}: rows in {seconds:.1f}s; {line}")
    finally:
        if server is not None:
            server.stop()
    return results


# --- the table --------------------------------------------------------------------------------


def _budget(rows: list[Any], budgets: list[Any], section: str, measure: str, value: str,
            target: str = "", met: bool | None = None) -> None:  # fmt: skip
    status = "" if met is None else ("met" if met else "NOT MET")
    rows.append((section, measure, value, target, status))
    if met is not None:
        budgets.append(
            {"section": section, "measure": measure, "value": value, "budget": target, "met": met}
        )


def _others(phase: dict[str, Any]) -> str:
    others = phase["other_processes"]
    text = f"{others['share']:.0%} of all CPUs"
    if others["top"] and others["top"][0]["share"] >= 0.01:
        top = others["top"][0]
        text += f", most by {top['process'][:32]!r} ({top['share']:.0%})"
    return text + ("; figures inflated: rerun when quiet" if others["share"] > 0.1 else "")


def _pages_rows(add: Any, section: str, phase: dict[str, Any]) -> None:
    for key in sorted(phase["pages"], key=_order):
        p = phase["pages"][key]
        add(section, f"{key}  ({p['requests']})",
            f"p50 {p['p50_ms']:.1f} / p95 {p['p95_ms']:.1f} / p99 {p['p99_ms']:.1f} ms; "
            f"server {p['server_p50_ms']:.1f} ms (cpu {p['server_cpu_p50_ms']:.1f}), "
            f"{p['queries']:g} q")  # fmt: skip


#: The intakes timed side by side, in the table's order: ours as a phone runs it (JavaScript
#: on), ours with JavaScript off, and the formtools wizard.
CONTENDERS = (("intake", "ours"), ("nojs", "ours, no JS"), ("peer", "peer"))


def _intake_rows(add: Any, report: dict[str, Any]) -> None:
    """Ours (with and without JavaScript) and the formtools wizard side by side, then each
    one's pages."""
    named = [(name, label, report[name]) for name, label in CONTENDERS if name in report]
    both = [phase for _, _, phase in named]
    intake = report["intake"]
    peer = report.get("peer")

    def side(fmt: str, key: str) -> str:
        return " | ".join(fmt.format(phase[key]) for phase in both)

    label = " | ".join(label for _, label, _ in named)
    add("intake", f"{intake['patients']} patients; intakes timed ({label})",
        " | ".join(f"{p['completed']} of {p['intakes']} in {p['seconds']:.1f} s"
                   + (f", {p['skipped_for_time']} skipped for time" if p["skipped_for_time"] else "")
                   for p in both))  # fmt: skip
    add("intake", f"server CPU ms per intake, gunicorn + database ({label})",
        side("{:.1f}", "total_cpu_ms_per_intake"))  # fmt: skip
    add("intake", "  of which gunicorn workers (/proc)", side("{:.1f}", "server_cpu_ms_per_intake"))
    add("intake", "  of which inside Django (Server-Timing cpu)",
        side("{:.1f}", "server_app_cpu_ms_per_intake"))  # fmt: skip
    add("intake", "  of which PostgreSQL backends", side("{:.1f}", "database_cpu_ms_per_intake"))
    add("intake", f"requests per intake ({label})", side("{:.1f}", "requests_per_intake"))
    add("intake", f"queries per intake ({label})", side("{:.1f}", "queries_per_intake"))
    add("intake", f"wall ms per intake, sum of its requests ({label})",
        side("{:.0f}", "wall_ms_per_intake"))  # fmt: skip
    add("intake", f"request p50 / p95 ms, all pages ({label})",
        " | ".join(f"{p['request_p50_ms']:.1f} / {p['request_p95_ms']:.1f}" for p in both))  # fmt: skip
    add("intake", f"intakes/s ({label})", side("{:.2f}", "intakes_per_s"))
    add("intake", "load generator CPU ms per intake (this process)",
        side("{:.1f}", "client_cpu_ms_per_intake"))  # fmt: skip
    if peer is not None:
        for name, who, phase in named[:-1]:
            ratio = phase["total_cpu_ms_per_intake"] / peer["total_cpu_ms_per_intake"]
            budget = ("<= 0.5", ratio <= 0.5) if name == "intake" else ("", None)
            add("intake", f"{who} / peer, server CPU per intake (gunicorn + database)",
                f"{phase['total_cpu_ms_per_intake']:.1f} / {peer['total_cpu_ms_per_intake']:.1f} ms"
                f" = {ratio:.2f}", *budget)  # fmt: skip
            gunicorn = phase["server_cpu_ms_per_intake"] / peer["server_cpu_ms_per_intake"]
            add("intake", "  same, gunicorn workers only", f"{gunicorn:.2f}")
            wall = phase["wall_ms_per_intake"] / peer["wall_ms_per_intake"]
            add("intake", f"  wall ms per intake, {who} / peer", f"{wall:.2f}")
    for _, who, phase in named:
        add("intake", f"other processes meanwhile ({who})", _others(phase))
        add("intake", f"errors ({who})", str(phase["errors"]), "0", phase["errors"] == 0)
        add("intake", f"rows submitted = intakes completed, incl. warm-up ({who})",
            f"{phase['rows_submitted']} = {phase['intakes_completed_incl_warmup']}", "equal",
            phase["rows_submitted"] == phase["intakes_completed_incl_warmup"])  # fmt: skip
    for name, _, phase in named:
        _pages_rows(add, {"nojs": "no-js"}.get(name, name), phase)


def _growth_rows(add: Any, queue: dict[str, Any]) -> None:
    """Cost against the table's size: the queue's two pages and an intake's server CPU."""
    sizes = sorted(queue, key=int)

    def page(m: dict[str, Any]) -> str:
        counts = m["queries"]
        q = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        return (f"{m['median_ms']:.0f} ms (cpu {m['cpu_median_ms']:.0f}, sql "
                f"{m['sql_median_ms']:.0f}), {q} q")  # fmt: skip

    for size in sizes:
        row = queue[size]
        value = f"queue {page(row['changelist'])}; encounter page {page(row['encounter page'])}"
        if "search" in row:
            value += f"; search by name {page(row['search'])}"
        if "intake" in row:
            value += (
                f"; CPU/intake ours {row['intake']['total_cpu_ms_per_intake']:.0f} | peer "
                f"{row['peer']['total_cpu_ms_per_intake']:.0f} ms"
            )
        add("growth", f"@ {int(size):>9,} encounters (grown in {row['insert_seconds']:.1f} s)",
            value)  # fmt: skip
    shares = [queue[s][n]["other_processes"]["share"] for s in sizes for n in ("intake", "peer")
              if n in queue[s]]  # fmt: skip
    if shares:
        add("growth", "other processes during the intake batches",
            f"{min(shares):.0%} to {max(shares):.0%} of all CPUs")  # fmt: skip
    shares = [queue[s]["other_processes"]["share"] for s in sizes if "other_processes" in queue[s]]
    if shares:
        add("growth", "other processes while the queue was timed",
            f"{min(shares):.0%} to {max(shares):.0%} of all CPUs")  # fmt: skip
    largest, smallest = sizes[-1], sizes[0]
    if int(largest) >= 100_000:
        for name in ("changelist", "encounter page"):
            m = queue[largest][name]
            same = m["queries"] == queue[smallest][name]["queries"]
            add("growth", f"{name} @ {int(largest):,}: median, queries",
                f"{m['median_ms']:.1f} ms (p95 {m['p95_ms']:.1f}), {m['queries']} q",
                f"< 150 ms, queries as @ {int(smallest):,}", m["median_ms"] < 150 and same)  # fmt: skip
            # What the page costs without waiting for a core: on a busy machine the wall time
            # above is mostly other processes' turn.
            work = m["cpu_median_ms"] + m["sql_median_ms"]
            first = queue[smallest][name]
            add("growth", "  same, this process's CPU + SQL (medians)",
                f"{work:.0f} ms (@ {int(smallest):,}: "
                f"{first['cpu_median_ms'] + first['sql_median_ms']:.0f} ms)")  # fmt: skip


def _search_rows(add: Any, queue: dict[str, Any]) -> None:
    """A search by name at the largest size: no budget of the issue's, but where it stood."""
    largest = max(queue, key=int)
    m = queue[largest].get("search")
    if m:
        add("growth", f"search by name @ {int(largest):,}: median, queries",
            f"{m['median_ms']:.1f} ms (p95 {m['p95_ms']:.1f}), {m['queries']} q")  # fmt: skip


def build_table(report: dict[str, Any]) -> tuple[list[tuple[str, ...]], list[dict[str, Any]]]:
    rows: list[Any] = []
    budgets: list[Any] = []
    add = lambda *a, **k: _budget(rows, budgets, *a, **k)  # noqa: E731
    intake, floor = report.get("intake"), report.get("floor")
    if intake:
        _intake_rows(add, report)
    if floor:
        add("floor", f"{floor['pairs']} GET+POST, same clients",
            f"{floor['requests_per_s']:.1f} req/s, {floor['server_cpu_ms_per_request']:.1f} ms CPU/req")  # fmt: skip
        for key in sorted(floor["pages"]):
            p = floor["pages"][key]
            add("floor", f"{key}  ({p['requests']})",
                f"p50 {p['p50_ms']:.1f} / p95 {p['p95_ms']:.1f} / p99 {p['p99_ms']:.1f} ms; "
                f"server {p['server_p50_ms']:.1f} ms (cpu {p['server_cpu_p50_ms']:.1f}), "
                f"{p['queries']:g} q")  # fmt: skip
        add("floor", "other processes on the machine meanwhile", _others(floor))
        add("floor", "errors; rows inserted", f"{floor['errors']}; {floor['rows_inserted']}",
            "0; one per POST", floor["errors"] == 0 and floor["rows_inserted"] == floor["completed"])  # fmt: skip
    # Per request, one page a request: the walk without JavaScript (with it, a request saves
    # one page and draws the next).
    intake = report.get("nojs", intake)
    if intake and floor:
        ratio = intake["server_p50_ms"] / floor["server_p50_ms"]
        report["ratio"] = {
            "server_median": ratio,
            "server_cpu_median": intake["server_cpu_p50_ms"] / floor["server_cpu_p50_ms"],
        }
        add("ratio", "intake request median server time / floor's",
            f"{intake['server_p50_ms']:.2f} / {floor['server_p50_ms']:.2f} ms = {ratio:.2f}x",
            "<= 2x", ratio <= 2)  # fmt: skip
        add("ratio", "  same, CPU time",
            f"{intake['server_cpu_p50_ms']:.2f} / {floor['server_cpu_p50_ms']:.2f} ms = "
            f"{report['ratio']['server_cpu_median']:.2f}x")  # fmt: skip
    queue = report.get("queue")
    if queue:
        _growth_rows(add, queue)
        _search_rows(add, queue)
    tri = report.get("triage")
    if tri:
        mix = ", ".join(f"{k} {v / 10:.1f}%" for k, v in sorted(tri["mix"].items()))
        add("triage", f"assess calls/s, best of {len(tri['windows'])} ({mix})",
            f"{tri['calls_per_s']:,.0f} (median {tri['median_calls_per_s']:,.0f})", ">= 50,000",
            tri["calls_per_s"] >= 50_000)  # fmt: skip
    weights = report.get("page_weight", [])
    for page in weights:
        gz = page["bytes_gzip"]
        add("weight", page["page"],
            f"{gz / 1024:.1f} KB gzip, {page['requests']} requests, "
            f"{len(page['third_party'])} third-party",
            "<= 60 KB, <= 5 req, 0 3rd-party",
            gz <= 60 * 1024 and page["requests"] <= 5 and not page["third_party"])  # fmt: skip
    if weights:
        # What this host really sends: the clinic's settings may not compress what the app ships.
        heaviest = max(weights, key=lambda p: p["bytes_as_served"])
        raw = sorted(
            {(r["url"].rsplit("/", 1)[-1], r["wire"]) for p in weights for r in p["resources"]
             if not r["compressed_by_server"] and r["kind"] != "document" and r["wire"] > 4096},
            key=lambda r: -r[1],
        )  # fmt: skip
        note = (
            "; sent uncompressed: " + ", ".join(f"{n} {b / 1024:.0f} KB" for n, b in raw)
            if raw
            else ""
        )
        if any(
            not r["compressed_by_server"]
            for p in weights
            for r in p["resources"]
            if r["kind"] == "document"
        ):
            note += ", and every HTML page"
        add("weight", "as this host serves it (clinic settings, gzip accepted)",
            f"heaviest page {heaviest['bytes_as_served'] / 1024:.1f} KB ({heaviest['page']}){note}",
            "<= 60 KB", heaviest["bytes_as_served"] <= 60 * 1024)  # fmt: skip
    return rows, budgets


def render(rows: list[tuple[str, ...]]) -> str:
    head = ("section", "measure", "value", "budget", "status")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    out = [line(head), line(tuple("-" * w for w in widths))]
    previous = None
    for row in rows:
        if previous is not None and row[0] != previous:
            out.append("")
        out.append(line(row))
        previous = row[0]
    return "\n".join(out)


# --- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="twitch-intake benchmarks (issue #8)")
    parser.add_argument("--patients", type=int, default=8, help="concurrent simulated patients")
    parser.add_argument("--intakes", type=int, default=200, help="intakes to time")
    parser.add_argument("--floor", type=int, default=600, help="floor GET+POST pairs to time")
    parser.add_argument(
        "--max-seconds", type=float, default=120,
        help="no new intake starts after this (the floor gets half): keeps a busy machine's run short",
    )  # fmt: skip
    parser.add_argument(
        "--sizes", default="1000,10000,100000,1000000", help="encounters in the table, in turn"
    )
    parser.add_argument(
        "--growth-intakes", type=int, default=16,
        help="intakes of each kind timed at each size (0: the queue alone)",
    )  # fmt: skip
    parser.add_argument("--queue-runs", type=int, default=15, help="timed requests per queue page")
    parser.add_argument("--triage-seconds", type=float, default=2.0)
    parser.add_argument(
        "--database", default=os.environ.get("BENCH_DATABASE", "twitch_bench"),
        help="the benchmark's own database, dropped and made again (env BENCH_DATABASE)",
    )  # fmt: skip
    parser.add_argument(
        "--only", default="http,triage,queue",
        help="comma-separated parts to run: http (intake, floor, page weight), triage, queue",
    )  # fmt: skip
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)

    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    # SIGTERM (a CI timeout, say) unwinds like Ctrl-C, so the finally blocks stop gunicorn.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        print("DATABASE_URL is not set; run `make bench`.", file=sys.stderr)
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
    from django.db import connection

    log(f"database {args.database} made and migrated, static files collected")

    import psutil

    busy_before = psutil.cpu_percent(interval=1.0)
    calibration = calibrate()
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
            "gunicorn_workers": WORKERS,
            "busy_before_run_percent": busy_before,
            "calibration_loop_cpu_ms": calibration,
        },
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    try:
        parts = {p.strip() for p in args.only.split(",")}
        if "http" in parts:
            bench_http(args, report, log)
        if "triage" in parts:
            report["triage"] = bench_triage(args.triage_seconds)
            log(f"triage: {report['triage']['calls_per_s']:,.0f} assess/s")
        if "queue" in parts:
            report["queue"] = bench_queue(args, log)
    except BaseException as exc:
        report["unfinished"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        report["seconds"] = time.perf_counter() - started
        rows, budgets = build_table(report)
        report["budgets"] = budgets
        args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
        m = report["machine"]
        print(
            f"\ntwitch-intake benchmarks: {m['cpus']} CPUs, Python {m['python']}, Django {m['django']}, "
            f"PostgreSQL {m['postgresql']}, gunicorn {WORKERS} sync workers; "
            f"run took {report['seconds']:.0f} s\n"
            f"machine {m['busy_before_run_percent']:.0f}% busy before the run; calibration loop "
            f"{m['calibration_loop_cpu_ms']:.1f} ms CPU (lower is a faster or quieter machine)\n"
        )
        print(render(rows))
        met = sum(b["met"] for b in budgets)
        shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
        print(f"\n{met} of {len(budgets)} budget lines met. JSON: {shown}")
        if "unfinished" in report:
            print(f"The run did not finish ({report['unfinished']}): the table is partial.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
