"""Logging: no link token and no patient a clinician searched for reaches a log line.

A patient's link token is in the link's path (and, under ``Referrer-Policy: same-origin``, in
the ``Referer`` of the link page's own requests); a search or filter in the app's admin
(``?q=Smith``, ``?_changelist_filters=...``, the login page's ``?next=``) names a patient. Both
reach Django's request, CSRF and security loggers and the web server's access log. The filter
is installed by the app itself on the loggers that write request paths (see ``install``), so a
host gets it without copying a ``LOGGING`` setting; ``twitch_intake.gunicorn`` does the same for
gunicorn's own access log in processes where Django is not set up.

This module imports nothing from Django at import time: gunicorn's master process loads it.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

REDACTED = "[redacted]"

#: Loggers that write a request's path or request line (Django's, and the usual app servers').
REQUEST_LOGGERS = (
    "django.request",
    "django.server",
    "django.security.csrf",
    "gunicorn.access",
    "gunicorn.error",
    "uvicorn.access",
)

_LINK_TOKEN = re.compile(r"(/link/)[^/\s?#\"']+")
_QUERY = re.compile(r"(?P<path>[^\s?#\"']*)\?(?P<query>[^\s#\"']+)")


def private_query(path: str, query: str) -> bool:
    """A query string on (or pointing at) the app's admin pages or a link: searches, filters."""
    probe = f"{path}?{unquote_plus(query)}"
    return "twitch_intake" in probe or "/link/" in probe


def redact(text: str) -> str:
    """``text`` with every link token and every query string that may name a patient replaced."""
    text = _LINK_TOKEN.sub(rf"\1{REDACTED}", text)
    return _QUERY.sub(
        lambda m: f"{m['path']}?{REDACTED}" if private_query(m["path"], m["query"]) else m[0],
        text,
    )


class RedactLinkTokens(logging.Filter):
    """Logging filter: the record's message, redacted (see ``redact``); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call elsewhere: its handler reports it, not our caller
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def _security_loggers() -> list[str]:
    """Django logs a ``SuspiciousOperation`` at ``django.security.<class name>``."""
    from django.core.exceptions import SuspiciousOperation

    found, todo = set(), [SuspiciousOperation]
    while todo:
        cls = todo.pop()
        found.add(f"django.security.{cls.__name__}")
        todo.extend(cls.__subclasses__())
    return sorted(found)


def install(names: tuple[str, ...] | list[str] | None = None) -> None:
    """Add the filter to each logger (once). A logger's own filters see every record logged
    at it whatever handlers the host configures, which a handler's filter would not."""
    for name in names if names is not None else [*REQUEST_LOGGERS, *_security_loggers()]:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactLinkTokens) for f in logger.filters):
            logger.addFilter(RedactLinkTokens())
