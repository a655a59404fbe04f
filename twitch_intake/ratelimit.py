"""Per-client limits on guessing: failed links, wrong dates of birth, self-starts.

Counters live in Django's default cache, which the host must make shared by every app process
(the database cache or Redis): a per-process memory cache would give each worker its own budget.
The client address is the socket's peer unless the clinic says how many proxies sit in front
(``TRUSTED_PROXY_COUNT``); only then is ``X-Forwarded-For`` read, from the right.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .conf import app_settings


def client_address(request: HttpRequest) -> str:
    proxies = app_settings.TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR", "")
    if proxies <= 0:
        return remote
    chain = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    # Each trusted proxy appended the address it saw; the client is `proxies` from the right.
    if len(chain) >= proxies:
        return chain[-proxies]
    return remote


def _key(request: HttpRequest, scope: str) -> str:
    address = hashlib.sha256(client_address(request).encode()).hexdigest()[:32]
    return f"twitch_intake:rl:{scope}:{address}"


def is_limited(request: HttpRequest, scope: str) -> bool:
    return (cache.get(_key(request, scope)) or 0) >= app_settings.RATE_LIMIT


def hit(request: HttpRequest, scope: str) -> None:
    key = _key(request, scope)
    timeout = int(app_settings.RATE_WINDOW.total_seconds())
    if cache.add(key, 1, timeout):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout)


def limited_response(request: HttpRequest) -> HttpResponse:
    response = render(
        request,
        "twitch_intake/too_many.html",
        app_settings.contact(),
        status=429,
    )
    response["Retry-After"] = str(int(app_settings.RATE_WINDOW.total_seconds()))
    return response
