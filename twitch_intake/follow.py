"""One round trip per page for the intake's own script, the redirect still made for everyone else.

Every patient POST is answered with a redirect (``views``): the browser then GETs the page it
names, so Back, a refresh and a lost connection never resend a form. On a phone that is two
round trips per page, each of them a request the server pays for in full. ``intake.js`` sends
its form posts with ``fetch`` and the header :data:`REQUEST_HEADER`; to such a POST the answer
is the page the redirect names, drawn in the same request, with its path in
:data:`LOCATION_HEADER`. The script shows that page and puts its path in the history
(``history.pushState``), so what the browser holds is the GET a redirect would have left
there: a refresh or Back loads a page, never resends a form. Without JavaScript, or for any
other client, nothing changes.

Only a redirect to one of the intake's own pages is followed, at most :data:`HOPS` deep, and
never to the link's page (its path holds the token, which no header carries). Anything else
goes back to the client as it was, and ``fetch`` follows it as a browser would.
"""

from __future__ import annotations

import copy
import io
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import Resolver404, ResolverMatch, resolve
from django.utils import translation
from django.utils.datastructures import MultiValueDict

from .headers import APP_NAMESPACE
from .middleware import tell_when_it_closes

logger = logging.getLogger(__name__)

#: Sent by ``intake.js`` with each form it posts. It grants nothing (the CSRF check applies as
#: to any POST); it only asks for the next page in the answer instead of a redirect.
REQUEST_HEADER = "X-Intake-Follow"
#: The path of the page in the body: what the script puts in the address bar.
LOCATION_HEADER = "X-Intake-Location"
#: Redirects followed in one request (a saved page -> review -> a page still to do, say).
HOPS = 3
#: The pages that may be drawn in place of a redirect: each a GET that writes nothing but the
#: session (a draft, a refused or idle page's typing, shown once), none with a token in its path.
FOLLOWED = frozenset({"resume", "welcome_back", "page", "get_care", "review", "thanks"})
#: The redirects the views answer a POST with (a saved page's 302, a refused one's 303).
FOLLOWABLE = frozenset({302, 303})
#: Every redirect: an answer still one of these after the hops goes to the client as it is.
REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Keys the CSRF middleware reads from ``request.META`` when it answers; the page drawn here
#: sets them (``{% csrf_token %}``), so they go back to the request the middleware sees.
_CSRF_KEYS = ("CSRF_COOKIE", "CSRF_COOKIE_NEEDS_UPDATE")
#: What ``copy.copy`` of a request carries over from the POST that a GET must not have.
_POST_ONLY = ("headers", "_body", "_post", "_files", "content_type", "content_params")


def wanted(request: HttpRequest) -> bool:
    return request.method == "POST" and request.headers.get(REQUEST_HEADER) == "1"


def follows(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer the script's POST with the page its redirect names (see the module's text)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if not wanted(request):
            return response
        return follow(request, response)

    return wrapper


def follow(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """``response``, or the page its redirect (and the next, up to :data:`HOPS`) leads to.

    The POST's work is done and committed by now: a page that fails to draw must not make it
    look undone (an error after a save that went through, a sign-in whose session cookie is
    never sent). Then the redirect goes back as it was, and the browser's own GET shows the
    page, or the error, as it would without the script.
    """
    answer, path, base = response, None, request.path
    for _ in range(HOPS):
        target = _target(request, answer, base)
        if target is None:
            break
        drawn_at, match = target
        try:
            with transaction.atomic():  # a failed query here never spoils the POST's own
                page = _draw(request, drawn_at, match, carried=answer)
        except Exception as error:  # noqa: BLE001 - any failure: the browser asks again itself
            logger.warning("Drawing the next intake page failed: %s", type(error).__name__)
            return answer
        if page.status_code >= 500:
            return answer
        answer, path, base = page, drawn_at, drawn_at
    if path is None or answer.status_code in REDIRECTS:
        return answer  # nothing drawn, or still a redirect: the client follows it itself
    answer[LOCATION_HEADER] = path
    return answer


def _script_prefix(request: HttpRequest) -> str:
    """What the site is mounted under (``SCRIPT_NAME``): in paths, never in what resolves."""
    return request.path[: len(request.path) - len(request.path_info)]


def _target(
    request: HttpRequest, response: HttpResponse, base: str
) -> tuple[str, ResolverMatch] | None:
    """Where ``response`` redirects (relative to ``base``, the page it answered), when that is
    a page this module may draw."""
    if response.status_code not in FOLLOWABLE:
        return None
    parts = urlsplit(urljoin(base, response.get("Location", "")))
    prefix = _script_prefix(request)
    if parts.scheme or parts.netloc or parts.query or parts.fragment:
        return None  # another site, or more than a path: never drawn here
    path = unquote(parts.path)  # as Django's own request.path is
    if not path.startswith(prefix):
        return None
    try:
        match = resolve(path[len(prefix) :], getattr(request, "urlconf", None))
    except Resolver404:
        return None
    if APP_NAMESPACE not in match.app_names or match.url_name not in FOLLOWED:
        return None
    return path, match


def _draw(
    request: HttpRequest, path: str, match: ResolverMatch, *, carried: HttpResponse
) -> HttpResponse:
    """The GET of ``path`` in this request: same session, user, language and CSRF secret, as
    the browser's own GET would have; cookies ``carried`` by the redirect go with the page.

    The view is called directly: no middleware's ``process_view`` runs for it (the POST's ran),
    which no intake page needs.
    """
    get: Any = copy.copy(request)
    for attribute in _POST_ONLY:
        get.__dict__.pop(attribute, None)
    get.method = "GET"
    get.path = path
    get.path_info = path[len(_script_prefix(request)) :]
    get.META = get.environ = {
        **request.META,
        "REQUEST_METHOD": "GET",
        "PATH_INFO": get.path_info,
        "QUERY_STRING": "",
        "CONTENT_LENGTH": "",
        "CONTENT_TYPE": "",
    }
    get.content_type, get.content_params = "", {}
    get.GET = QueryDict()
    get._post, get._files = QueryDict(), MultiValueDict()
    get._stream, get._read_started = io.BytesIO(), False
    get.resolver_match = match
    from .views import SESSION_KEY  # views import this module

    if not hasattr(get, "intake_session_ends") and SESSION_KEY in get.session:
        tell_when_it_closes(get)  # bound by this POST: the middleware saw no intake yet
    # A redirect that sets the language (the date of birth matched an intake begun in another
    # one) is followed in that language, as the browser's GET with the new cookie would be.
    chosen = carried.cookies.get(settings.LANGUAGE_COOKIE_NAME)
    language = chosen.value if chosen is not None else translation.get_language()
    with translation.override(language):
        get.LANGUAGE_CODE = translation.get_language()
        page: HttpResponse = match.func(get, *match.args, **match.kwargs)
        if chosen is not None:
            page["Content-Language"] = get.LANGUAGE_CODE
    for key in _CSRF_KEYS:
        if key in get.META:
            request.META[key] = get.META[key]
    for name, morsel in carried.cookies.items():
        if name not in page.cookies:
            page.cookies[name] = morsel
    return page
