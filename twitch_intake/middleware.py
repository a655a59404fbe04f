"""The app's middleware: each acts on the app's own pages or sessions, never on the host's.

Security headers, the calm 400 for odd charsets and the 503 for a database outage apply to the
app's URLs (``headers.is_ours``); the idle limit to the patient's sessions, and to staff only
when the host asks (``STAFF_IDLE_TIMEOUT``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from . import headers, idle
from .conf import app_settings
from .logs import RedactLinkTokens  # noqa: F401  (its old home: LOGGING settings name this path)

logger = logging.getLogger(__name__)

#: The app's policy (``twitch_intake.headers``), kept here for code that imports it from here.
CONTENT_SECURITY_POLICY = headers.CONTENT_SECURITY_POLICY


class SecurityHeadersMiddleware:
    """The app's security headers (see ``twitch_intake.headers``) on the app's own pages only.

    Any place in ``MIDDLEWARE`` works for the app's pages; first (outermost) is safest, so no
    middleware of the host's can change them after it. Every other page is left as the host's
    middleware made it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if headers.is_ours(request):
            headers.apply(response)
        return response


class RequestCharsetMiddleware:
    """A request in a charset other than UTF-8 gets a calm 400 on the app's URLs, not a 500.

    Browsers post the app's forms as UTF-8 and name no charset; only a broken or hostile client
    sends ``charset=utf-7``. Django refuses that from ``request.POST`` with ``BadRequest``, but
    its error views run the CSRF check, which reads ``request.POST`` again, so the refusal
    escapes the handler as the server's bare 500; a codec that is not a text encoding
    (``base64``) fails ``request.GET`` and ``request.POST`` with a ``LookupError``; an unknown
    name is silently read as UTF-8. Placed before ``CsrfViewMiddleware`` (the first reader of
    the body), this answers before anything decodes. Other URLs are the host's to answer.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        charset = request.content_params.get("charset") if request.content_params else None
        if charset is not None and charset.strip().lower() != "utf-8" and headers.is_ours(request):
            return _bad_charset(request)
        return self.get_response(request)


def _bad_charset(request: HttpRequest) -> HttpResponse:
    # The host's 400 page as Django renders it, but without reading the body (Django's own
    # ``bad_request`` view would), with the headers the inner middleware would have added.
    from django.template import TemplateDoesNotExist, loader
    from django.utils.cache import add_never_cache_headers
    from django.views.defaults import ERROR_400_TEMPLATE_NAME, ERROR_PAGE_TEMPLATE

    body: str
    try:
        body = loader.render_to_string(ERROR_400_TEMPLATE_NAME, request=request)
    except TemplateDoesNotExist:
        body = ERROR_PAGE_TEMPLATE % {"title": "Bad Request (400)", "details": ""}
    response = HttpResponse(body, status=400)
    headers.apply(response)
    add_never_cache_headers(response)
    return response


class NullOriginMiddleware:
    """Deprecated, and does nothing: remove it from ``MIDDLEWARE``.

    It read ``Origin: null`` as the site's own origin on the intake's URLs, because their pages
    sent ``Referrer-Policy: no-referrer``. They send ``same-origin`` now, so the patient's posts
    carry their real Origin and Django's origin check applies in full. Kept importable so a site
    that still lists it starts; it takes itself out of the chain (``MiddlewareNotUsed``).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from django.core.exceptions import MiddlewareNotUsed

        warnings.warn(
            "twitch_intake.middleware.NullOriginMiddleware does nothing any more; remove it "
            "from MIDDLEWARE (and add twitch_intake.middleware.RequestCharsetMiddleware in its "
            "place, before CsrfViewMiddleware).",
            DeprecationWarning,
            stacklevel=2,
        )
        raise MiddlewareNotUsed


def tell_when_it_closes(request: HttpRequest, seen: int = 0) -> None:
    """Tell the page drawn for ``request`` when its session closes, if nothing happens first
    (``seen``: the last activity ``IdleSessionMiddleware`` recorded, 0 for none)."""
    limit = int(app_settings.IDLE_TIMEOUT.total_seconds())
    now = int(time.time())
    start = seen if seen and now - seen < IdleSessionMiddleware.EVERY else now
    request.intake_session_ends = datetime.fromtimestamp(start + limit, tz=UTC)  # type: ignore[attr-defined]
    request.intake_idle_minutes = limit // 60  # type: ignore[attr-defined]


class IdleSessionMiddleware:
    """Closes the app's patient sessions after ``IDLE_TIMEOUT`` without activity; staff sessions
    end then only when the host sets ``STAFF_IDLE_TIMEOUT``. Every other session is the host's.

    A patient's session is not deleted at the limit but suspended (``twitch_intake.idle``): it
    opens no page until the date of birth is given again, and keeps a page posted after the
    limit, so Next after a long pause loses nothing. The session itself (and its cookie) lasts
    ``idle.KEEP_FOR`` longer for that; the host's ``SESSION_COOKIE_AGE`` applies to everyone
    else unchanged. Each patient page is told when it closes (``request.intake_session_ends``),
    so it can say so without JavaScript.

    Django only moves a session's expiry when the session is saved; saving on every request
    costs a database write per page, so the session is touched at most once a minute, which
    keeps the sliding window to within a minute for a sixtieth of the writes.
    """

    KEY = "_twitch_intake_seen"
    EVERY = 60

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.db import DatabaseError

        # An outage here is met again by the view, which answers it with the calm 503.
        with contextlib.suppress(DatabaseError):
            self._close_if_idle(request)
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.is_empty() or response.status_code >= 500:
            return response  # a 503 for a database outage must not read the session again
        ours = headers.is_ours(request)
        if ours:
            note_outage_on_save(request, session)
        if not session.accessed and not ours:
            return response  # a host page that never read its session: not a query more
        try:
            if self._patient_session(session) and not ours:
                return response  # only the intake's own pages are a patient's activity
            if idle.suspended(session) is not None and not self._bound(session):
                return response  # a suspended session ends KEEP_FOR after the limit, however poked
            limit, lasts = self._limit(request, session)
        except DatabaseError:
            return response  # the session could not be read: the response stands, never a 500
        if limit is None:
            return response
        now = int(time.time())
        seconds = int(lasts.total_seconds())
        if now - session.get(self.KEY, 0) >= self.EVERY or session.get_expiry_age() != seconds:
            session[self.KEY] = now
            session.set_expiry(seconds)
        return response

    def _close_if_idle(self, request: HttpRequest) -> None:
        """Before the app's own views: a patient session idle past the limit is suspended; an
        active one learns when it would close."""
        from .views import SESSION_KEY

        session = getattr(request, "session", None)
        if session is None or not headers.is_ours(request) or SESSION_KEY not in session:
            return
        limit = int(app_settings.IDLE_TIMEOUT.total_seconds())
        now = int(time.time())
        seen = int(session.get(self.KEY, 0) or 0)
        if seen and now - seen > limit:
            idle.suspend(session, SESSION_KEY)
            # From now on the session lasts KEEP_FOR, then ends (the response half never
            # moves it on while suspended).
            session.set_expiry(int(idle.KEEP_FOR.total_seconds()))
            return
        tell_when_it_closes(request, seen)

    @staticmethod
    def _bound(session: Any) -> bool:
        from .views import SESSION_KEY

        return SESSION_KEY in session

    @classmethod
    def _patient_session(cls, session: Any) -> bool:
        return cls._bound(session) or idle.SUSPENDED_KEY in session

    @staticmethod
    def _limit(request: HttpRequest, session: Any) -> tuple[timedelta | None, timedelta]:
        """The idle limit of this session, and how long the session itself lasts."""
        from .views import SESSION_KEY

        if SESSION_KEY in session or idle.SUSPENDED_KEY in session:
            limit = app_settings.IDLE_TIMEOUT
            return limit, limit + idle.KEEP_FOR
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            staff = app_settings.STAFF_IDLE_TIMEOUT
            return staff, staff or timedelta(0)
        return None, timedelta(0)


class DatabaseUnavailableMiddleware:
    """A database that is down or drops the connection gives the app's pages a calm 503.

    Nothing was half-written: every write is one transaction, which PostgreSQL rolled back when
    the connection went. ``Retry-After`` tells browsers and proxies when to come back; the next
    request opens a new connection, so the site recovers by itself when the database returns.
    """

    RETRY_AFTER = 30

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        error = getattr(request, OUTAGE_ON_SAVE, None)
        if error is not None:
            return unavailable(error)  # the session could not be saved after the view answered
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not headers.is_ours(request):
            return None  # the host's pages fail as the host decides
        if not is_outage(exception):
            return None
        return unavailable(exception)


#: Set on a request whose session save met a database outage (``note_outage_on_save``).
OUTAGE_ON_SAVE = "_twitch_intake_outage_on_save"


def note_outage_on_save(request: HttpRequest, session: Any) -> None:
    """Lets an outage while ``SessionMiddleware`` saves the session end in the calm 503.

    That save comes after the view and outside it, so no ``process_exception`` sees its error,
    and Django would answer with its 500 (and log a traceback for what is only an outage). For
    the app's own pages, the save is wrapped once the view has answered: an outage is noted on
    the request, and ``DatabaseUnavailableMiddleware`` (outside the sessions) answers 503 in place
    of the response, whose cookie would name a session that was never written. Any other
    database error is raised as before. A save made by a view is not wrapped: it fails there.
    Nor is any save where ``DatabaseUnavailableMiddleware`` comes after the sessions (warning
    ``W008``): nothing would read the note, and the outage must not pass unseen.
    """
    from django.db import DatabaseError

    if not answers_outage_on_save(tuple(settings.MIDDLEWARE)):
        return
    save = session.save

    def save_or_note_outage(must_create: bool = False) -> None:
        try:
            save(must_create=must_create)
        except DatabaseError as error:
            if not is_outage(error):
                raise
            setattr(request, OUTAGE_ON_SAVE, error)

    session.save = save_or_note_outage


@functools.lru_cache(maxsize=4)
def answers_outage_on_save(middleware: tuple[str, ...]) -> bool:
    """Whether ``DatabaseUnavailableMiddleware`` wraps Django's session middleware, so sees
    the note (with a session middleware of the host's own, it cannot tell: no)."""
    unavailable = f"{__name__}.DatabaseUnavailableMiddleware"
    sessions = "django.contrib.sessions.middleware.SessionMiddleware"
    return (
        unavailable in middleware
        and sessions in middleware
        and middleware.index(unavailable) < middleware.index(sessions)
    )


def is_outage(exception: BaseException) -> bool:
    """A database that is down or dropped the connection (not a query's own error)."""
    from django.db import DatabaseError, InterfaceError, OperationalError

    return isinstance(exception, OperationalError | InterfaceError) or (
        isinstance(exception, DatabaseError) and "connection" in str(exception).lower()
    )


def unavailable(exception: BaseException) -> HttpResponse:
    """The calm 503 of a database outage, with the app's headers. Also for middleware of the
    app's that reads the database before the view (the second-factor check), whose errors no
    ``process_exception`` sees."""
    # Django closes the broken connection when the request finishes; the next one reconnects.
    logger.warning("Database unavailable: %s", type(exception).__name__)
    from django.template.loader import render_to_string

    body = render_to_string("twitch_intake/unavailable.html", app_settings.contact())
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(DatabaseUnavailableMiddleware.RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    headers.apply(response)
    return response
