"""Finding 9: no link token, and no patient searched for, in any log line.

A link token is the patient's key until they confirm their date of birth, and a clinician's
search (``?q=Smith``) names a patient. Both travel in request lines, in the ``Referer`` of the
requests a page makes, and in the paths Django's request and CSRF loggers write. The app
installs its redacting filter on those loggers itself (``AppConfig.ready``), and
``twitch_intake.gunicorn`` redacts gunicorn's access log; these tests run the README's
production command against a real gunicorn and read what it wrote.
"""

from __future__ import annotations

import http.client
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.utils.log import RequireDebugTrue

from tests.factories import issue, make_encounter

ROOT = Path(__file__).resolve().parents[2]
NAME = "Zebulon Quixworth"
BIRTH = "1979-11-23"
RECORD = "MRN-5521907"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    """The test database pytest-django made (and migrated), for a server in another process."""
    # The same server as DATABASE_URL (a TCP host or the embedded server's socket, which a URL
    # spells percent-encoded in its host), with the test database's name as its path.
    test_database = "/" + connection.settings_dict["NAME"]
    return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=test_database))


class Server:
    """gunicorn as the README runs it, in its own process group, stopped by its own id."""

    def __init__(self, log: Path, config: bool, log_format: str | None = None) -> None:
        self.port = _free_port()
        binary = Path(sys.executable).with_name("gunicorn")
        # The README's command (one worker, not four: the log lines are the same, on 2 cores).
        command = [str(binary), "clinic.wsgi", "--workers", "1", "--bind", f"127.0.0.1:{self.port}"]
        command += ["--access-logfile", "-"]
        if config:
            command += ["--config", "python:twitch_intake.gunicorn"]
        if log_format:
            command += ["--access-logformat", log_format]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": _database_url(),
        }
        self.log = log
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                self.request("GET", "/intake/no-such-page/")
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"gunicorn did not answer: {self.log.read_text()}")

    def request(self, method: str, path: str, **headers: str) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, headers={"Host": "127.0.0.1", **headers})
            response = conn.getresponse()
            response.read()
            return response
        finally:
            conn.close()

    def stop(self) -> str:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        self._out.close()
        return self.log.read_text()


@pytest.fixture
def patient(transactional_db) -> tuple[str, int]:
    """A committed encounter (the server is another process) and its link token."""
    encounter = make_encounter(patient_name=NAME, record_number=RECORD)
    return issue(encounter), encounter.pk


@pytest.fixture
def staff_cookie(transactional_db, django_user_model) -> str:
    user = django_user_model.objects.create_superuser("clin", "clin@clinic.test", "pw")
    client = Client()
    client.force_login(user)  # the session row is committed: the server can read it
    return f"sessionid={client.cookies['sessionid'].value}"


#: A host's own format, naming the atoms one by one: the query alone, headers, environ.
ATOMS = "%(m)s %(U)s q=%(q)s ref=%({referer}i)s loc=%({location}o)s raw=%({raw_uri}e)s %(s)s"


@pytest.fixture(
    params=[(True, None), (False, None), (True, ATOMS)],
    ids=["with-app-config", "readme-command-alone", "app-config-and-a-hosts-own-format"],
)
def server(request, tmp_path) -> Iterator[Server]:
    """With ``--config python:twitch_intake.gunicorn``, and without it (the app's filter alone)."""
    config, log_format = request.param
    server = Server(tmp_path / "gunicorn.log", config=config, log_format=log_format)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_gunicorn_access_log_holds_no_token_and_no_searched_patient(server, patient, staff_cookie):
    token, pk = patient
    link = f"/intake/link/{token}/"
    site = f"http://127.0.0.1:{server.port}"
    changelist = "/admin/twitch_intake/encounter/"
    seen = [
        server.request("GET", link),
        # What the link page's stylesheet and script requests carry under same-origin.
        server.request("GET", "/static/twitch_intake/intake.css", Referer=site + link),
        server.request("POST", link, Referer=site + link),  # no CSRF cookie: a 403
        server.request("OPTIONS", link),  # a 405 (a PUT is refused by CSRF first)
        server.request("GET", f"{changelist}?q={quote(NAME)}", Cookie=staff_cookie),
        server.request("GET", f"{changelist}?q={BIRTH}", Cookie=staff_cookie),
        server.request("GET", f"{changelist}?q={RECORD}&level__exact=routine", Cookie=staff_cookie),
        server.request(
            "GET",
            f"{changelist}{pk}/change/?_changelist_filters=q%3D{quote(NAME)}",
            Cookie=staff_cookie,
        ),
        # Not signed in: the search moves into the login page's ?next=.
        server.request("GET", f"{changelist}?q={quote(NAME)}"),
    ]
    login = seen[-1].getheader("Location")
    assert login and "/admin/login/" in login
    seen.append(server.request("GET", login))
    assert [r.status for r in seen][:5] == [200, 404, 403, 405, 200]
    log = server.stop()

    access = [line for line in log.splitlines() if " 200" in line or " 30" in line]
    assert len(access) >= 7, log  # the requests were logged, so the test can fail
    assert "/intake/link/[redacted]/" in log
    assert f"{changelist}?[redacted]" in log or "q=[redacted]" in log
    for secret in (token, NAME, quote(NAME), NAME.split()[0], BIRTH, RECORD):
        assert secret not in log, (secret, log)


@override_settings(DEBUG=True)
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "enforce_csrf", "status"),
    [("PUT", False, 405), ("OPTIONS", True, 405), ("POST", True, 403)],
    ids=["405-put", "405-options", "csrf-403"],
)
def test_debug_request_and_csrf_logs_hold_no_token(method, enforce_csrf, status, caplog):
    """In DEBUG, Django's default ``console`` handler prints these records: they carry no token."""
    token = issue(make_encounter())
    printed = io.StringIO()
    console = logging.StreamHandler(printed)  # as Django's DEFAULT_LOGGING "console"
    console.addFilter(RequireDebugTrue())
    django_logger = logging.getLogger("django")
    django_logger.addHandler(console)
    try:
        with caplog.at_level(logging.DEBUG, logger="django"):
            client = Client(enforce_csrf_checks=enforce_csrf)
            response = client.generic(method, f"/intake/link/{token}/", b"date_of_birth=1980-05-17",
                                      content_type="application/x-www-form-urlencoded")  # fmt: skip
    finally:
        django_logger.removeHandler(console)
    assert response.status_code == status
    logged = [r for r in caplog.records if r.name in ("django.request", "django.security.csrf")]
    assert logged, caplog.records
    text = printed.getvalue()
    assert "/intake/link/[redacted]/" in text
    assert token not in text
    assert not [r.getMessage() for r in caplog.records if token in r.getMessage()]


def test_the_app_installs_the_filter_on_every_logger_that_writes_a_request_path():
    from twitch_intake.logs import REQUEST_LOGGERS, RedactLinkTokens

    for name in (*REQUEST_LOGGERS, "django.security.DisallowedHost", "django.security.csrf"):
        assert any(isinstance(f, RedactLinkTokens) for f in logging.getLogger(name).filters), name


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"GET /intake/link/abc_DEF-123/ HTTP/1.1" 200 512',
         '"GET /intake/link/[redacted]/ HTTP/1.1" 200 512'),
        ('"GET /admin/twitch_intake/encounter/?q=Smith+John HTTP/1.1" 200 9',
         '"GET /admin/twitch_intake/encounter/?[redacted] HTTP/1.1" 200 9'),
        ('"GET /admin/login/?next=/admin/twitch_intake/encounter/%3Fq%3DSmith HTTP/1.1" 200 9',
         '"GET /admin/login/?[redacted] HTTP/1.1" 200 9'),
        ('"GET /admin/autocomplete/?term=Smi&app_label=twitch_intake HTTP/1.1" 200 9',
         '"GET /admin/autocomplete/?[redacted] HTTP/1.1" 200 9'),
        ('"GET /other/?page=2 HTTP/1.1" 200 9', '"GET /other/?page=2 HTTP/1.1" 200 9'),
        ("Is it here? Yes.", "Is it here? Yes."),
    ],
)  # fmt: skip
def test_the_filter_redacts_tokens_and_the_apps_admin_queries(line, expected, caplog):
    logger = logging.getLogger("django.server")
    with caplog.at_level(logging.INFO, logger="django.server"):
        logger.info("%s", line)
    assert caplog.records[-1].getMessage() == expected


def test_the_old_import_path_still_works():
    from twitch_intake.logs import RedactLinkTokens
    from twitch_intake.middleware import RedactLinkTokens as old

    assert old is RedactLinkTokens
