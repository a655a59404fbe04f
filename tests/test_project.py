"""The host project's promises: production settings are safe, nothing is missing from migrations."""

import os
import subprocess
import sys
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
