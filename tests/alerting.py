"""The outside world an emergency alert passes through, made real for tests.

``SMTPServer`` is a mail server on 127.0.0.1 that refuses, rejects, stalls or accepts, switched
while it runs; Django's own SMTP backend talks to it. ``run_workers`` runs the alert queue's
worker the way the library documents for tests (until the queue is empty), against committed
rows, so tests that use it need the ``queue`` fixture (conftest.py).
"""

from __future__ import annotations

import asyncio
import socketserver
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import Parser
from typing import Any

import django
from django.apps import apps
from django.db import connection

#: ``refuse``: "421 service not available" at connect (a server shedding load or down for
#: maintenance). ``reject``: greets, then "554 transaction failed" for the message. ``stall``:
#: accepts the connection and never answers. ``accept``: takes every message.
MODES = ("refuse", "reject", "stall", "accept")


@dataclass
class Message:
    mail_from: str
    rcpt_to: list[str]
    data: str  # as sent, encoded (quoted-printable or not, as Django chose)

    @property
    def subject(self) -> str:
        return str(self._parsed()["Subject"])

    @property
    def body(self) -> str:
        """The decoded text, whatever transfer encoding carried it."""
        part = self._parsed().get_body(preferencelist=("plain",))
        assert isinstance(part, EmailMessage)
        return part.get_content()

    def _parsed(self) -> EmailMessage:
        parsed = Parser(policy=policy.default).parsestr(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        smtp = self.server.owner
        smtp.connections += 1
        mode = smtp.mode
        if mode == "stall":
            smtp.stalled.set()
            smtp.release.wait(60)  # bounded: a forgotten test cannot hang the run
            return
        if mode == "refuse":
            self.reply("421 4.3.2 Service not available, closing channel")
            return
        self.reply("220 127.0.0.1 test SMTP")
        mail_from, rcpt_to = "", []
        while line := self.rfile.readline():
            command = line.decode(errors="replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in {"EHLO", "HELO", "NOOP", "RSET"}:
                self.reply("250 OK")
            elif verb == "MAIL":
                mail_from = command.split(":", 1)[1].strip()
                self.reply("250 OK")
            elif verb == "RCPT":
                rcpt_to.append(command.split(":", 1)[1].strip())
                self.reply("250 OK")
            elif verb == "DATA":
                if mode == "reject":
                    self.reply("554 5.3.0 Transaction failed")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (body := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(body.decode(errors="replace").removeprefix("."))  # dot-stuffing
                smtp.messages.append(Message(mail_from, rcpt_to, "".join(lines)))
                mail_from, rcpt_to = "", []
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: SMTPServer


class SMTPServer:
    """A mail server on 127.0.0.1 (a free port), in one of ``MODES``; set ``mode`` to switch."""

    def __init__(self, mode: str = "accept") -> None:
        assert mode in MODES, mode
        self.mode = mode
        self.messages: list[Message] = []
        self.connections = 0
        self.stalled = threading.Event()  # set when a client is being stalled
        self.release = threading.Event()  # set to let stalled clients go
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SMTPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def settings(self, timeout: float | None = 10) -> dict[str, Any]:
        """``override_settings`` keyword arguments sending Django's mail here over SMTP."""
        backend = "django.core.mail.backends.smtp.EmailBackend"
        if django.VERSION >= (6, 1):  # MAILERS replaces EMAIL_BACKEND and the EMAIL_* options
            options = {"host": "127.0.0.1", "port": self.port, "timeout": timeout}
            return {"MAILERS": {"default": {"BACKEND": backend, "OPTIONS": options}}}
        return {
            "EMAIL_BACKEND": backend,
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_TIMEOUT": timeout,
        }


def run_workers(count: int = 1) -> None:
    """Run ``count`` workers side by side (as on several machines) until the queue holds no job
    that is due, as deployed workers would between two polls. A site without the queue
    installed has nothing that would ever try again: the loss this project had before it."""
    if not apps.is_installed("procrastinate.contrib.django"):
        return
    from procrastinate.contrib.django import app

    async def work() -> None:
        async with app.open_async():
            await asyncio.gather(
                *(
                    app.run_worker_async(
                        name=f"test-worker-{number}",
                        wait=False,
                        install_signal_handlers=False,
                        listen_notify=False,
                    )
                    for number in range(count)
                )
            )

    run_on_the_worker_connector(work)


def run_on_the_worker_connector(work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``work()`` with the queue's own async connector, in a thread of its own: a test
    process that drives a browser keeps an event loop running in the main thread
    (Playwright's), where asyncio.run() cannot start another."""
    from procrastinate.contrib.django import app

    failures: list[BaseException] = []

    def in_thread() -> None:
        try:
            with app.replace_connector(app.connector.get_worker_connector()):
                asyncio.run(work())
        except BaseException as error:  # raised again in the test's own thread
            failures.append(error)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


def make_retries_due() -> None:
    """Move every waiting retry to now: what the clock does between two tries of a backoff."""
    if not apps.is_installed("procrastinate.contrib.django"):
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = now() "
            "WHERE status = 'todo' AND scheduled_at > now()"
        )
