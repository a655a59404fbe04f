"""A refused POST of a page before the intake opens (the link's date of birth, the continue
page after the idle limit, self-start), kept for the GET after.

These pages, like the question pages (``drafts``), answer every refused POST with a 303 to
their own URL, so a refresh or Back never resends a date (and never uses up another try).
What was typed waits here, in the server-side session, until a POST of a page succeeds or
another page is refused: one slot, named by the page and, for a link, by the link's *hash*
(never its token), so the link's message is shown only to this session and only on that
link. As with drafts, nothing of it goes into a URL, a cookie's value or a log, and no
message or markup is kept: the form decides again what is wrong with what was typed; the view
adds what only it knew (how many tries were left; that the client was over its limit).

The session holds::

    {"page": <where>, "data": {<name>: [<str>]}, "tries_left": <int> | None, "limited": bool,
     "at": <Unix time it was kept>}
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django import forms
from django.http import HttpRequest, QueryDict

from .conf import app_settings
from .drafts import Draft
from .forms import kept_values

SESSION_KEY = "twitch_intake_refused"


@dataclass(frozen=True)
class Refused:
    #: The form's own fields as posted: the last value of each, cut at ``DRAFT_LIMIT``.
    data: dict[str, list[str]]
    #: A wrong date of birth: the tries the check said were left (the "does not match" line).
    tries_left: int | None
    #: The client was over its limit of tries: the GET tells it so while it still is.
    limited: bool

    def query_dict(self) -> QueryDict:
        """What was typed, as the POST it came from, to bind the page's form to again."""
        return Draft(self.data, ()).query_dict()


def _own_fields(form: forms.Form) -> dict[str, list[str]]:
    """Only the form's own fields (a date's boxes too: ``date_of_birth_day`` and so on), the
    last value of each, as the form reads it (``QueryDict.get``), cut at ``DRAFT_LIMIT``."""
    posted = form.data
    names = [form.add_prefix(name) for name in form.fields]
    kept: dict[str, list[str]] = {}
    for key in posted:
        if any(key == name or key.startswith(f"{name}_") for name in names):
            value = posted.get(key)
            kept[key] = kept_values(["" if value is None else value], 1)
    return kept


def keep(
    request: HttpRequest,
    where: str,
    form: forms.Form,
    *,
    tries_left: int | None = None,
    limited: bool = False,
) -> None:
    """Keep the refused POST of page ``where`` (replacing any page's kept before)."""
    request.session[SESSION_KEY] = {
        "page": where,
        "data": _own_fields(form),
        "tries_left": tries_left,
        "limited": limited,
        "at": int(time.time()),
    }


def take(request: HttpRequest, where: str) -> Refused | None:
    """The refused POST of page ``where``, or ``None`` (nothing kept, or kept for another page
    or another link). It stays until a POST succeeds, so a refresh shows the same page again,
    but no longer than ``IDLE_TIMEOUT``: a walk-in's name and date of birth, typed on a shared
    tablet and given up on, are not shown to whoever picks it up next. (Such a session is
    bound to no intake, so the idle limit, which closes patients' sessions, never closes it.)"""
    kept = request.session.get(SESSION_KEY)
    if not isinstance(kept, dict) or kept.get("page") != where:
        return None
    at = kept.get("at")
    limit = app_settings.IDLE_TIMEOUT.total_seconds()
    if not isinstance(at, int) or time.time() - at > limit:
        drop(request)
        return None
    data = kept.get("data")
    tries_left = kept.get("tries_left")
    return Refused(
        data={str(k): [str(v) for v in vs] for k, vs in data.items()}
        if isinstance(data, dict)
        else {},
        tries_left=tries_left if isinstance(tries_left, int) else None,
        limited=kept.get("limited") is True,
    )


def drop(request: HttpRequest) -> None:
    """Forget what was kept (a POST succeeded); the session is written only if anything was."""
    if SESSION_KEY in request.session:
        del request.session[SESSION_KEY]
