"""Response headers and idle sessions: small enough to keep in the app, so every host gets them."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

#: No inline script anywhere: the few lines of JavaScript live in static files.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeadersMiddleware:
    """Adds the Content Security Policy unless a view (or Django 6's own CSP) already set one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response


class NullOriginMiddleware:
    """Lets the intake's own forms through CSRF on pages served with ``no-referrer``.

    The patient's pages send ``Referrer-Policy: no-referrer`` so that a link token never leaves
    in a Referer. Browsers then send ``Origin: null`` with the page's form posts (the Fetch
    standard's rule for that policy), which Django's origin check refuses. For the intake's
    URLs only, this middleware (placed before ``CsrfViewMiddleware``) reads ``null`` as the
    site's own origin; the CSRF token check still runs, and the session cookie is SameSite.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.META.get("HTTP_ORIGIN") == "null" and request.method == "POST":
            from django.urls import Resolver404, resolve

            try:
                match = resolve(request.path_info)
            except Resolver404:
                match = None
            if match is not None and match.namespace == "twitch_intake":
                request.META["HTTP_ORIGIN"] = f"{request.scheme}://{request.get_host()}"
        return self.get_response(request)


class IdleSessionMiddleware:
    """Ends a session after ``SESSION_COOKIE_AGE`` without activity.

    Django only moves a session's expiry when the session is saved. Saving on every request
    (``SESSION_SAVE_EVERY_REQUEST``) costs a database write per page; touching it at most once a
    minute keeps the sliding window to within a minute for a sixtieth of the writes.
    """

    KEY = "_twitch_intake_seen"
    EVERY = 60

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and not session.is_empty():
            now = int(time.time())
            if now - session.get(self.KEY, 0) >= self.EVERY:
                session[self.KEY] = now
        return response


class DatabaseUnavailableMiddleware:
    """A database that is down or drops the connection gives a calm 503, not a traceback.

    Nothing was half-written: every write is one transaction, which PostgreSQL rolled back when
    the connection went. ``Retry-After`` tells browsers and proxies when to come back; the next
    request opens a new connection, so the site recovers by itself when the database returns.
    """

    RETRY_AFTER = 30

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.db import DatabaseError, InterfaceError, OperationalError

        if not isinstance(exception, OperationalError | InterfaceError) and not (
            isinstance(exception, DatabaseError) and "connection" in str(exception).lower()
        ):
            return None
        # Django closes the broken connection when the request finishes; the next one reconnects.
        logger.warning("Database unavailable: %s", type(exception).__name__)
        from django.template.loader import render_to_string

        from .conf import app_settings

        body = render_to_string("twitch_intake/unavailable.html", app_settings.contact())
        response = HttpResponse(body, status=503)
        response["Retry-After"] = str(self.RETRY_AFTER)
        response["Cache-Control"] = "no-store"
        return response


class RedactLinkTokens(logging.Filter):
    """Logging filter: request lines never carry a patient's link token into the logs."""

    _TOKEN = re.compile(r"(/link/)[^/\s?\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/link/" in message:
            record.msg = self._TOKEN.sub(r"\1[redacted]", message)
            record.args = None
        return True
