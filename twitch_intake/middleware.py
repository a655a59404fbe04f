"""Response headers and idle sessions: small enough to keep in the app, so every host gets them."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .logs import RedactLinkTokens  # noqa: F401  (its old home: LOGGING settings name this path)

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
        if charset is not None and charset.strip().lower() != "utf-8" and _is_ours(request):
            return _bad_charset(request)
        return self.get_response(request)


def _is_ours(request: HttpRequest) -> bool:
    """The intake's URLs, and the admin's pages for the app's models."""
    from django.urls import Resolver404, resolve

    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    return match.namespace == "twitch_intake" or (
        match.app_name == "admin" and (match.url_name or "").startswith("twitch_intake_")
    )


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
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["X-Frame-Options"] = "DENY"
    response["Referrer-Policy"] = "same-origin"
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
