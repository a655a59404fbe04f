"""The staff sign-in lockout as an authentication backend that adds to a host, never breaks it.

django-axes' ``AxesStandaloneBackend`` raises when ``authenticate()`` is called without a
request, which a host's own scripts, commands and API code often do. This one lets such a call
pass to the next backend: only sign-ins made through a request (the admin's login, the host's
login views) are counted and locked, which is where password guessing happens.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class AxesBackend(AxesStandaloneBackend):  # type: ignore[misc]
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if request is None:
            return None  # not a sign-in over HTTP: the next backend decides, axes counts nothing
        return super().authenticate(request, username, password, **kwargs)
