"""A patient's session after ``IDLE_TIMEOUT``: closed to the pages, but what they typed is kept.

A phone left on a waiting-room chair must not show the answers to whoever picks it up, so after
``IDLE_TIMEOUT`` without a request the session stops opening the intake. It is not thrown
away: it is *suspended*. It remembers which intake it was for, and, when the patient pressed
Next on a page after the limit, what that page held. Giving the date of birth again (the same
check, counted against the same lock, as on the link) opens the intake once more and shows that
page with what was typed, for the patient to check and send with Next. Nothing is saved on
their behalf: a GET never writes, and a page typed an hour ago deserves a look before it goes
to the clinic.

What is kept lives in the session, in the database (never in a URL, a cookie's value or a log),
and only for ``KEEP_FOR`` after the limit; after that the session is gone and the patient opens
their link again (``session_ended.html`` says so plainly, and whether the last page was lost).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, QueryDict

from .forms import kept_values  # as a refused page's draft: "too long" still applies

#: In the session: the intake (id and link hash) a suspended session was bound to.
SUSPENDED_KEY = "twitch_intake_idle"
#: In the session: the page posted after the limit, ``{"page": slug, "data": {name: [values]}}``.
TYPED_KEY = "twitch_intake_typed"
#: How long a suspended session, and what it keeps, outlives the idle limit.
KEEP_FOR = timedelta(hours=4)
#: No field of a page holds more values than this (the most options of any question).
_MOST_VALUES = 100


def suspend(session: Any, bound_key: str) -> None:
    """The session's binding moves aside: no page opens until the date of birth is given."""
    bound = session.pop(bound_key, None)
    if isinstance(bound, dict):
        session[SUSPENDED_KEY] = {"id": bound.get("id"), "link": bound.get("link")}


def suspended(session: Any) -> dict[str, Any] | None:
    """The intake a suspended session was for, or ``None``."""
    value = session.get(SUSPENDED_KEY)
    if isinstance(value, dict) and value.get("id") is not None and value.get("link"):
        return value
    return None


def keep_typed(
    request: HttpRequest,
    encounter_id: Any,
    page: str,
    fields: frozenset[str],
    stored: dict[str, Any],
) -> None:
    """Keep what a page posted after the limit (the CSRF check has passed: the view runs):
    only the page's own ``fields``, each value cut at ``DRAFT_LIMIT``, for that intake alone,
    with a fingerprint of what the intake held for them then (``stored``: its answers)."""
    data = {
        name: kept_values(request.POST.getlist(name), _MOST_VALUES)
        for name in request.POST
        if name in fields
    }
    request.session[TYPED_KEY] = {
        "encounter": encounter_id,
        "page": page,
        "data": data,
        "fields": sorted(fields),
        "stored": _fingerprint(stored, fields),
    }


def _fingerprint(stored: dict[str, Any], fields: Any) -> str:
    """What the intake holds for a page's fields, in a few bytes: it changes when the page is
    saved with other answers, from this session or any other."""
    held = {name: stored.get(name) for name in sorted(fields)}
    text = json.dumps(held, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def has_typed(session: Any) -> bool:
    return isinstance(session.get(TYPED_KEY), dict)


def typed_page(session: Any) -> str | None:
    kept = session.get(TYPED_KEY)
    return kept.get("page") if isinstance(kept, dict) else None


def take_typed(
    request: HttpRequest, encounter_id: Any, page: str, stored: dict[str, Any]
) -> QueryDict | None:
    """What was typed on ``page`` of this intake before the session went idle, as the page's
    form data; ``None`` when nothing was kept for it. Marks the request, so the page says it
    was kept. It stays until the page is saved (``saved``), as a refused page's draft does: a
    refresh, Back and Forward, or a phone reloading a tab it had put away show it again. A
    save of the page anywhere else (the same link on a laptop) ends it too: the intake's
    answers for it (``stored``) are no longer what they were when it was kept, and the page
    shows what was saved, never older typing over it."""
    kept = request.session.get(TYPED_KEY)
    if not isinstance(kept, dict) or kept.get("page") != page:
        return None
    if kept.get("encounter") != encounter_id:
        return None  # typed for another intake: never shown to this one
    fields = kept.get("fields")
    if not isinstance(fields, list) or kept.get("stored") != _fingerprint(stored, fields):
        del request.session[TYPED_KEY]
        return None
    data = QueryDict(mutable=True)
    values = kept.get("data")
    for name, items in values.items() if isinstance(values, dict) else ():
        if isinstance(name, str) and isinstance(items, list):
            data.setlist(name, [str(item) for item in items])
    request.intake_typing_kept = True  # type: ignore[attr-defined]
    return data


def drop_typed(session: Any) -> None:
    session.pop(TYPED_KEY, None)


def saved(session: Any, page: str) -> None:
    """Page ``page`` was saved: what was typed on it before the pause is done with. (The
    session is written only if something was kept for that page.)"""
    kept = session.get(TYPED_KEY)
    if isinstance(kept, dict) and kept.get("page") == page:
        del session[TYPED_KEY]


def forget(session: Any, *, keep_typed_for: Any = None) -> None:
    """Nothing to come back to: the link was replaced, expired, or the patient is back in.
    What was typed stays only for the intake it was typed for (``keep_typed_for``), when that
    is the one signed in again."""
    session.pop(SUSPENDED_KEY, None)
    kept = session.get(TYPED_KEY)
    if (
        keep_typed_for is None
        or not isinstance(kept, dict)
        or kept.get("encounter") != keep_typed_for
    ):
        session.pop(TYPED_KEY, None)
