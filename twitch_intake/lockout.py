"""Lockouts: staff sign-ins (django-axes) and a patient's link after wrong dates of birth.

Staff: axes reads ``X-Forwarded-For`` only through django-ipware, with settings of its own;
without it (or with them out of step with ours) every sign-in behind a proxy seems to come from
the proxy, and five wrong passwords lock a user out from everywhere. Pointing
``AXES_CLIENT_IP_CALLABLE`` here gives one rule, ``TWITCH_INTAKE["TRUSTED_PROXY_COUNT"]``, for
the rate limits, the access log and the lockout.

Patients: ``services.check_birth_date`` counts the wrong dates and locks the link. What the
patient is told about it is decided here. A browser that has itself made a wrong try on a link
was already told that the link is real ("does not match"), so telling it how many tries are
left and when the lock ends gives nothing away. Anyone else opening a locked link sees the same
"cannot be used" page as for an unknown or expired one, so a guessed token still cannot be told
from a real one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest

from .conf import app_settings
from .ratelimit import client_address

#: In the session: the link (its token's hash) this browser last gave a wrong date for.
TRIED_KEY = "twitch_intake_tried"


def axes_client_address(request: HttpRequest) -> str | None:
    """Axes stores the address in an ``inet`` column: ``client_address`` always gives one."""
    return client_address(request) or None


def remember_wrong_try(session: Any, token_hash: str) -> None:
    """This browser gave a wrong date for this link (the session lives on the server)."""
    session[TRIED_KEY] = token_hash


def tried_here(session: Any, token_hash: str | None) -> bool:
    """Whether this browser made a wrong try on this link, so may be told it is locked."""
    return token_hash is not None and session.get(TRIED_KEY) == token_hash


def forget_tries(session: Any) -> None:
    session.pop(TRIED_KEY, None)


#: The longest a link is locked for at a time, however many times it has locked (unless the
#: clinic's own ``LOCKOUT`` is longer).
LONGEST = timedelta(days=1)


def period(lockouts: int) -> timedelta:
    """How long a link locks for, after ``lockouts`` locks since its date was last given right.

    Twice as long each time (15 minutes, 30, an hour, ... with the default ``LOCKOUT``), up to
    a day. A lock of the same length every time let someone holding the link try
    ``DOB_ATTEMPTS`` dates every 15 minutes for the link's two weeks: 6,720 dates, enough for
    every day of a decade. Doubling leaves about a hundred; the patient who mistyped twice waits
    half an hour, and the lock page tells them until when.
    """
    base: timedelta = app_settings.LOCKOUT
    doubled: timedelta = base * 2 ** min(lockouts, 16)
    return min(doubled, max(LONGEST, base))


@dataclass(frozen=True)
class Wait:
    """How long until a locked link opens again (or a client's rate-limit window ends): whole
    minutes, rounded up, and the time."""

    minutes: int
    until: datetime


def wait(locked_until: datetime, now: datetime) -> Wait:
    seconds = (locked_until - now).total_seconds()
    return Wait(minutes=max(1, math.ceil(seconds / 60)), until=locked_until)
