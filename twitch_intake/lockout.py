"""The client address django-axes locks staff sign-ins by: the same rule as the rate limits.

Axes reads ``X-Forwarded-For`` only through django-ipware, with settings of its own; without it
(or with them out of step with ours) every sign-in behind a proxy seems to come from the proxy,
and five wrong passwords lock a user out from everywhere. Pointing ``AXES_CLIENT_IP_CALLABLE``
here gives one rule, ``TWITCH_INTAKE["TRUSTED_PROXY_COUNT"]``, for the rate limits, the access
log and the lockout.
"""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest

from .ratelimit import client_address


def axes_client_address(request: HttpRequest) -> str | None:
    """Axes stores the address in an ``inet`` column: anything that is not one falls back to
    the socket's peer, so a malformed header is neither a 500 nor a way round the lockout."""
    for candidate in (client_address(request), request.META.get("REMOTE_ADDR", "")):
        try:
            return str(ipaddress.ip_address(candidate.strip()))
        except ValueError:
            continue
    return None
