"""One round trip per page for the intake's own script, the redirect still made for everyone else.

Every patient POST is answered with a redirect (``views``): the browser then GETs the page it
names, so Back, a refresh and a lost connection never resend a form. On a phone that is two
round trips per page, each of them a request the server pays for in full. ``intake.js`` sends
its form posts with ``fetch`` and the header :data:`REQUEST_HEADER`; to such a POST the answer
is the page the redirect names, drawn in the same request, with its path in
:data:`LOCATION_HEADER`. The script shows that page and puts its path in the history
(``history.pushState``), so what the browser holds is still a GET of a token-free URL: a
refresh or Back loads a page, never resends a form. Without JavaScript, or for any other
client, nothing changes.

Only a redirect to one of the intake's own pages is followed, at most :data:`HOPS` deep, and
never to the link's page (its path holds the token, which no header carries). Anything else
goes back to the client as it was, and ``fetch`` follows it as a browser would.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import Resolver404, ResolverMatch, resolve
from django.utils import translation
from django.utils.datastructures import MultiValueDict

from .headers import APP_NAMESPACE
from .middleware import tell_when_it_closes

#: Sent by ``intake.js`` with each form it posts. Not one a cross-site form can send: a
#: page elsewhere would need a CORS preflight, which this site never answers.
REQUEST_HEADER = "X-Intake-Follow"
#: The path of the page in the body: what the script puts in the address bar.
LOCATION_HEADER = "X-Intake-Location"
#: Redirects followed in one request (a saved page -> review -> a page still to do, say).
HOPS = 3
#: The pages that may be drawn in place of a redirect: every one a GET that changes nothing
#: but the session's drafts, and none with a token in its path.
FOLLOWED = frozenset(
    {"self_start", "resume", "welcome_back", "page", "get_care", "review", "thanks"}
)
#: Keys the CSRF middleware reads from ``request.META`` when it answers; the page drawn here
#: may set them (``{% csrf_token %}``), so they go back to the request the middleware sees.
_CSRF_KEYS = ("CSRF_COOKIE", "CSRF_COOKIE_NEEDS_UPDATE")


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
    """``response``, or the page its redirect (and the next, up to :data:`HOPS`) leads to."""
    answer, path = response, None
    for _ in range(HOPS):
        target = _target(request, answer)
        if target is None:
            break
        path, match = target
        answer = _draw(request, path, match, carried=answer)
    if path is None or answer.status_code in REDIRECTS:
        return answer  # nothing drawn, or still a redirect: the client follows it itself
    answer[LOCATION_HEADER] = path
    return answer


REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _script_prefix(request: HttpRequest) -> str:
    """What the site is mounted under (``SCRIPT_NAME``): in paths, never in what resolves."""
    return request.path[: len(request.path) - len(request.path_info)]


def _target(request: HttpRequest, response: HttpResponse) -> tuple[str, ResolverMatch] | None:
    """Where ``response`` redirects, when that is a page this module may draw."""
    if response.status_code not in (302, 303):
        return None
    parts = urlsplit(urljoin(request.path, response.get("Location", "")))
    prefix = _script_prefix(request)
    if parts.scheme or parts.netloc or parts.query or parts.fragment:
        return None  # another site, or more than a path: never drawn here
    if not parts.path.startswith(prefix):
        return None
    try:
        match = resolve(parts.path[len(prefix) :], getattr(request, "urlconf", None))
    except Resolver404:
        return None
    if APP_NAMESPACE not in match.app_names or match.url_name not in FOLLOWED:
        return None
    return parts.path, match


def _draw(
    request: HttpRequest, path: str, match: ResolverMatch, *, carried: HttpResponse
) -> HttpResponse:
    """The GET of ``path`` in this request: same session, user, language and CSRF secret, as
    the browser's own GET would have; cookies ``carried`` by the redirect go with the page."""
    get: Any = copy.copy(request)
    get.method = "GET"
    get.path = path
    get.path_info = path[len(_script_prefix(request)) :]
    get.META = {
        **request.META,
        "REQUEST_METHOD": "GET",
        "PATH_INFO": get.path_info,
        "QUERY_STRING": "",
        "CONTENT_LENGTH": "",
        "CONTENT_TYPE": "",
    }
    get.GET = QueryDict()
    get._post, get._files = QueryDict(), MultiValueDict()
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
