"""The client address django-axes locks staff sign-ins by: the same rule as the rate limits.

Axes reads ``X-Forwarded-For`` only through django-ipware, with settings of its own; without it
(or with them out of step with ours) every sign-in behind a proxy seems to come from the proxy,
and five wrong passwords lock a user out from everywhere. Pointing ``AXES_CLIENT_IP_CALLABLE``
here gives one rule, ``TWITCH_INTAKE["TRUSTED_PROXY_COUNT"]``, for the rate limits, the access
log and the lockout.
"""

from __future__ import annotations

from django.http import HttpRequest

from .ratelimit import client_address


def axes_client_address(request: HttpRequest) -> str | None:
    """Axes stores the address in an ``inet`` column: ``client_address`` always gives one."""
    return client_address(request) or None
