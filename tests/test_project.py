"""The host project's promises: production settings are safe, nothing is missing from migrations."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args, **env):
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    environment.update(DJANGO_SETTINGS_MODULE="clinic.settings", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )


def test_production_settings_pass_the_deploy_check():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY="x" * 64 + "-a-long-random-production-secret",
        ALLOWED_HOSTS="intake.clinic.example",
        ALERT_EMAILS="on-call@clinic.example",
        SITE_URL="https://intake.clinic.example",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_without_site_url_fail_the_check():
    result = run_manage(
        "check",
        SECRET_KEY="x" * 64 + "-a-long-random-production-secret",
        ALLOWED_HOSTS="intake.clinic.example",
        ALERT_EMAILS="on-call@clinic.example",
    )
    assert result.returncode != 0
    assert "twitch_intake.E016" in result.stderr


def test_production_settings_without_alert_emails_fail_the_check():
    result = run_manage(
        "check",
        SECRET_KEY="x" * 64 + "-a-long-random-production-secret",
        ALLOWED_HOSTS="intake.clinic.example",
        SITE_URL="https://intake.clinic.example",
    )
    assert result.returncode != 0
    assert "twitch_intake.E017" in result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without(missing):
    env = {"SECRET_KEY": "x" * 70, "ALLOWED_HOSTS": "intake.clinic.example"}
    env.pop(missing)
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_the_app_imports_nothing_from_the_host_project():
    for path in (ROOT / "twitch_intake").rglob("*.py"):
        text = path.read_text()
        assert "from clinic" not in text and "import clinic" not in text, path


@pytest.mark.django_db
def test_no_missing_migrations():
    call_command("makemigrations", "twitch_intake", "--check", "--dry-run", verbosity=0)


def test_embedded_database_url_uses_a_percent_encoded_socket():
    import dj_database_url

    from clinic.devdb import url_for_socket_dir

    url = url_for_socket_dir(Path("/tmp/some dir/pg"))
    assert url == "postgres://postgres@%2Ftmp%2Fsome%20dir%2Fpg/postgres"
    assert dj_database_url.parse(url)["HOST"] == "/tmp/some dir/pg"


# --- this repository's own commands (Makefile, clinic/devdb.py) -----------------------------


def make(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    """``make`` with this repository's Makefile, using the venv running the tests (never
    reinstalling it: ``-o`` treats its install stamp as up to date)."""
    venv = Path(sys.prefix)
    return subprocess.run(
        [
            "make",
            "-s",
            "-f",
            str(ROOT / "Makefile"),
            "-o",
            f"{venv}/.installed",
            *args,
            f"VENV={venv}",
        ],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )


def test_make_manage_runs_any_command_against_the_database():
    # Before, a one-off command outside `make demo` died with "SECRET_KEY must be set".
    done = make("manage", "ARGS=check --database default")
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout


def _devdb(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clinic.devdb", *args, "--data", str(data)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_stop_really_stops_the_embedded_server(tmp_path_factory):
    """As root (CI, this machine) pgserver runs PostgreSQL as a user of its own, whose server a
    plain ``pg_ctl stop`` by root cannot stop: ``make db-stop`` used to exit 0 and leave it."""
    pytest.importorskip("pgserver")
    data = Path(tempfile.mkdtemp(prefix="twitch-pg-")) / "data"
    started = _devdb("start", data=data)
    assert started.returncode == 0, started.stderr
    pid = int((data / "postmaster.pid").read_text().split()[0])
    try:
        assert _devdb("running", data=data).returncode == 0
        stopped = _devdb("stop", data=data)
        assert stopped.returncode == 0, stopped.stderr
        assert _devdb("running", data=data).returncode == 1
        assert not _alive(pid)
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
        shutil.rmtree(data.parent, ignore_errors=True)


def _alive(pid: int) -> bool:
    from clinic.devdb import process_alive

    return process_alive(pid)


def test_make_clean_refuses_to_delete_a_running_servers_data(tmp_path):
    # A copy of the layout in a folder of its own: make clean there can delete only that.
    (tmp_path / ".pgdata").mkdir()
    (tmp_path / ".pgdata" / "postmaster.pid").write_text(f"{os.getpid()}\n/tmp\n")
    refused = subprocess.run(
        ["make", "-s", "-f", str(ROOT / "Makefile"), "clean", "VENV=no-venv-here"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0
    assert "not deleting its data" in refused.stderr
    assert (tmp_path / ".pgdata" / "postmaster.pid").exists()

    (tmp_path / ".pgdata" / "postmaster.pid").write_text("999999999\n/tmp\n")  # no such process
    cleaned = subprocess.run(
        ["make", "-s", "-f", str(ROOT / "Makefile"), "clean", "VENV=no-venv-here"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert cleaned.returncode == 0, cleaned.stderr
    assert not (tmp_path / ".pgdata").exists()
