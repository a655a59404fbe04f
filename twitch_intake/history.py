"""The answer history's two ends: who a write is recorded as, and what questions held before.

The rows themselves are written by pghistory's triggers (``models.EncounterHistory``), whatever
code path changes an encounter. What they cannot see is who asked: ``acting`` puts that in the
pghistory context of the writes it wraps, which the triggers copy into each row. A staff member
is their user id; a patient is a keyed hash of their session's key, so that the rows of one
sitting can be told apart from another's (two people with one link) while neither the session
key (which would let a reader of the table take over the session) nor the link is ever stored.

``earlier_answers`` reads the values back for ``triage.assess``, which stays pure: it is given
the history, it never reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pghistory
from django.db.models.fields.json import KeyTransform
from django.utils.crypto import salted_hmac

from . import triage
from .models import EncounterHistory

#: The HMAC salt of a patient's session hash (the key is the site's SECRET_KEY).
SESSION_SALT = "twitch_intake.history.session"


def session_hash(session_key: str) -> str:
    """A patient's session as the history records it: a keyed hash of its key, never the key.

    Keyed with the site's secret, so that a reader of the database alone cannot match it to a
    row of the session table.
    """
    return salted_hmac(SESSION_SALT, session_key, algorithm="sha256").hexdigest()


@dataclass(frozen=True)
class Actor:
    """Who a write is recorded as: the metadata of its pghistory context."""

    metadata: dict[str, Any] = field(default_factory=dict)


def patient(session_key: str | None) -> Actor:
    """The patient answering in the session with ``session_key`` (none: the session is new)."""
    return Actor({"session": session_hash(session_key)} if session_key else {})


def staff(user: Any) -> Actor:
    """A signed-in member of staff, by user id (a username can be changed or reused)."""
    user_id = getattr(user, "pk", None)
    return Actor({"user": user_id} if user_id is not None else {})


@contextmanager
def acting(actor: Actor | None, via: str) -> Iterator[None]:
    """Record the tracked writes made inside as ``actor``'s, through the service ``via``."""
    metadata = {"via": via, **(actor.metadata if actor is not None else {})}
    with pghistory.context(**metadata):
        yield


def earlier_answers(
    encounter_id: int, link_ids: Iterable[str] | None = None
) -> dict[str, list[tuple[datetime, Any]]]:
    """Every value each question held in the encounter's history, oldest first, with when it
    was saved (one query; the last is the value stored now). A value kept across saves of other
    pages is listed once, at the save that first held it; a question never answered is left out.

    ``link_ids`` defaults to the questions triage reads earlier values of
    (``triage.history_questions()``).
    """
    wanted = sorted(triage.history_questions() if link_ids is None else set(link_ids))
    if not wanted:
        return {}
    names = {f"q{i}": link_id for i, link_id in enumerate(wanted)}
    rows = (
        EncounterHistory.objects.filter(pgh_obj_id=encounter_id)
        .annotate(**{name: KeyTransform(link_id, "answers") for name, link_id in names.items()})
        .order_by("pgh_created_at", "pgh_id")
        .values_list("pgh_created_at", *names)
    )
    saved: dict[str, list[tuple[datetime, Any]]] = {}
    for at, *values in rows:
        for link_id, value in zip(names.values(), values, strict=True):
            runs = saved.setdefault(link_id, [])
            if (runs and runs[-1][1] == value) or (not runs and value is None):
                continue
            runs.append((at, value))
    return {link_id: runs for link_id, runs in saved.items() if runs}
