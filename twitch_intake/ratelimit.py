"""Per-client limits on guessing: failed links, wrong dates of birth, self-starts.

Counters are rows of ``RateLimitCounter`` in PostgreSQL, shared by every app process, and counted
by one ``INSERT ... ON CONFLICT DO UPDATE`` statement: the cache's get-then-set (Django's
``DatabaseCache.incr`` included) lets parallel requests overwrite each other's counts. A window
is fixed: it starts at a client's first try and lasts ``RATE_WINDOW``.
The client address is the socket's peer unless the clinic says how many proxies sit in front
(``TRUSTED_PROXY_COUNT``); only then is ``X-Forwarded-For`` read, from the right.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import datetime

from django.db import connections, router
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .conf import app_settings
from .models import RateLimitCounter


def client_address(request: HttpRequest) -> str:
    """The client's address: from ``X-Forwarded-For`` behind trusted proxies, else the peer's.

    Always an IP address (or "" when the server gives none): the access log and django-axes
    store it in an ``inet`` column, where anything else would be a database error.
    """
    proxies = app_settings.TRUSTED_PROXY_COUNT
    # META is typed dict[str, Any]; WSGI (PEP 3333) gives the address and headers as str.
    remote: str = request.META.get("REMOTE_ADDR", "")
    chain: list[str] = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    # Each trusted proxy appended the address it saw; the client is `proxies` from the right.
    candidates = [chain[-proxies]] if 0 < proxies <= len(chain) else []
    for candidate in [*candidates, remote]:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return ""


def _key(request: HttpRequest, scope: str) -> str:
    # Keyed with SECRET_KEY: a plain hash of an IPv4 address is undone by trying all 2**32.
    digest = salted_hmac(
        "twitch_intake.ratelimit", f"{scope}\0{client_address(request)}", algorithm="sha256"
    )
    return f"{scope}:{digest.hexdigest()}"


def attempts(request: HttpRequest, scope: str) -> int:
    """Tries this client has made in its current window (0 once the window has passed)."""
    started_after = timezone.now() - app_settings.RATE_WINDOW
    counter = RateLimitCounter.objects.filter(
        key=_key(request, scope), window_start__gt=started_after
    ).first()
    return counter.count if counter else 0


def is_limited(request: HttpRequest, scope: str) -> bool:
    return attempts(request, scope) >= app_settings.RATE_LIMIT


# One statement, so atomic under READ COMMITTED: a second inserter of the same key waits on the
# unique index and takes the UPDATE branch, and the UPDATE reads the row's latest committed
# version under its row lock, never a stale copy; no count is lost and none is read twice.
_COUNT_ONE = """
INSERT INTO {table} (key, window_start, count) VALUES (%(key)s, %(now)s, 1)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN {table}.window_start <= %(expired)s THEN 1 ELSE {table}.count + 1 END,
    window_start = CASE
        WHEN {table}.window_start <= %(expired)s THEN EXCLUDED.window_start
        ELSE {table}.window_start
    END
RETURNING count, window_start = %(now)s
"""


def hit(request: HttpRequest, scope: str) -> int:
    """Count one try; returns the client's count in this window, this try included.

    The first try of a new window also deletes every counter whose window has passed, so the
    table holds about one row per client seen in the last ``RATE_WINDOW``. Only a new window
    does: a count back at 1 after ``give_back`` (every link that opened) deletes nothing.
    """
    now = timezone.now()
    expired = now - app_settings.RATE_WINDOW
    connection = connections[router.db_for_write(RateLimitCounter)]
    table = connection.ops.quote_name(RateLimitCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            _COUNT_ONE.format(table=table),
            {"key": _key(request, scope), "now": now, "expired": expired},
        )
        count, new_window = cursor.fetchone()
    if new_window:
        RateLimitCounter.objects.filter(window_start__lte=expired).delete()
    return int(count)


def take(request: HttpRequest, scope: str) -> bool:
    """Count a try before making it; False when it is over the limit and must not be made.

    Counting first is what holds the limit under parallel requests: each try has its own
    number, so exactly ``RATE_LIMIT`` of a burst go ahead, however many arrive at once.
    """
    return hit(request, scope) <= app_settings.RATE_LIMIT


def give_back(request: HttpRequest, scope: str) -> None:
    """Uncount a try that went well (a link that works, the right date): only failures add up."""
    RateLimitCounter.objects.filter(key=_key(request, scope), count__gt=0).update(
        count=F("count") - 1
    )


def window_ends(request: HttpRequest, scope: str) -> datetime:
    """When this client's window for ``scope`` ends and its tries count from 0 again (a whole
    window from now when none is open)."""
    now = timezone.now()
    window = app_settings.RATE_WINDOW
    started = (
        RateLimitCounter.objects.filter(key=_key(request, scope), window_start__gt=now - window)
        .values_list("window_start", flat=True)
        .first()
    )
    return (started or now) + window


def limited_response(request: HttpRequest, scope: str) -> HttpResponse:
    """The page for a client over the limit: how long until it may try again, said in minutes
    and as a time (``RATE_WINDOW`` is the clinic's to set), and in ``Retry-After``."""
    from . import lockout  # which reads client addresses from here

    now = timezone.now()
    ends = window_ends(request, scope)
    page = {**app_settings.contact(), "wait": lockout.wait(ends, now)}
    response = render(request, "twitch_intake/too_many.html", page, status=429)
    response["Retry-After"] = str(max(1, math.ceil((ends - now).total_seconds())))
    return response
