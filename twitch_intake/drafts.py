"""A page's draft: what the patient posted on a page that was not saved, kept for the GET after.

Every POST of a question page ends in a redirect (no "Confirm Form Resubmission" on refresh or
Back). When the page is refused, or an answer opened a question the patient had not seen
(JavaScript off), what they typed and which questions were opened wait here, in their session,
keyed by the page's slug and bound to their encounter, until the page is saved. Nothing of it
ever goes into a URL or a log; the form itself decides again, from the typed values, what is
wrong with them, so a draft holds no message and no markup.

The session holds::

    {"encounter": <pk>, "pages": {<slug>: {"data": {<field>: [<str>, ...]} | None,
                                           "opened": [<linkId>, ...]}}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, QueryDict

from .models import Encounter

SESSION_KEY = "twitch_intake_drafts"


@dataclass(frozen=True)
class Draft:
    #: The page's fields as posted (lists of strings), or ``None`` when the page was saved and
    #: only a question it opened is to be pointed out.
    data: Mapping[str, Sequence[str]] | None
    #: The follow-ups an answer opened that the patient had not seen: shown, never as errors.
    opened: tuple[str, ...]

    def query_dict(self) -> QueryDict:
        """The draft as the POST it came from, to bind the page's form to again."""
        posted = QueryDict(mutable=True)
        for name, values in (self.data or {}).items():
            posted.setlist(name, list(values))
        return posted


def _pages(request: HttpRequest, encounter: Encounter) -> dict[str, Any] | None:
    """This encounter's drafts, or ``None``: drafts of another encounter (an earlier link in
    the same browser) are never read."""
    kept = request.session.get(SESSION_KEY)
    if not isinstance(kept, dict) or kept.get("encounter") != encounter.pk:
        return None
    pages = kept.get("pages")
    return pages if isinstance(pages, dict) else None


def keep(
    request: HttpRequest,
    encounter: Encounter,
    slug: str,
    data: Mapping[str, Sequence[str]] | None,
    *,
    opened: Sequence[str] = (),
) -> None:
    """Keep the page's draft (replacing any earlier one of the page)."""
    pages = _pages(request, encounter) or {}
    pages[slug] = {
        "data": None if data is None else {k: list(v) for k, v in data.items()},
        "opened": list(opened),
    }
    request.session[SESSION_KEY] = {"encounter": encounter.pk, "pages": pages}


def take(request: HttpRequest, encounter: Encounter, slug: str) -> Draft | None:
    """The page's draft. Typed values stay until the page is saved (a refresh shows them
    again); a note about an opened question alone is shown once."""
    pages = _pages(request, encounter)
    kept = pages.get(slug) if pages else None
    if not isinstance(kept, dict):
        return None
    data = kept.get("data")
    opened = tuple(str(link_id) for link_id in kept.get("opened") or ())
    if data is None:
        drop(request, slug)
        return Draft(None, opened)
    if not isinstance(data, dict):
        return None
    return Draft({str(k): [str(v) for v in vs] for k, vs in data.items()}, opened)


def drop(request: HttpRequest, slug: str) -> None:
    """Forget the page's draft (it was saved); the session is written only if one was kept."""
    kept = request.session.get(SESSION_KEY)
    if isinstance(kept, dict) and isinstance(kept.get("pages"), dict) and slug in kept["pages"]:
        del kept["pages"][slug]
        request.session.modified = True
