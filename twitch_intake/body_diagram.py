"""The body diagram of the summary: where each ticked place is marked on a front and back view.

A drawing, not a rule: the positions belong to the picture in ``_body_outline.html``, so they
live here beside nothing else. A place with no position (``other``, or one added to the
questionnaire before it is drawn) is listed in words beside the diagram, never dropped.
No HTTP, no ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .questionnaire import Question

Text = str | Promise

#: The drawing area, in SVG user units: a front view (x 0-120) and a back view (x 140-260), each
#: 250 high, with a caption row below.
VIEWBOX = (0, 0, 260, 268)

#: Where each place is marked, in the viewBox's units. The intake does not ask which side, so
#: paired places are marked on both sides; midline places once. Each place is drawn on one view
#: only: the calf and back where they are seen, from behind; the rest from the front.
MARKERS: dict[str, tuple[tuple[int, int], ...]] = {
    "eyelid": ((53, 15), (67, 15)),
    "face": ((50, 26), (70, 26)),
    "tongue": ((60, 30),),
    "neck": ((60, 41),),
    "shoulder": ((33, 54), (87, 54)),
    "upper-arm": ((22, 76), (98, 76)),
    "forearm": ((17, 124), (103, 124)),
    "hand": ((12, 158), (108, 158)),
    "chest": ((60, 70),),
    "abdomen": ((60, 112),),
    "back": ((200, 92),),
    "thigh": ((48, 168), (72, 168)),
    "calf": ((188, 214), (212, 214)),
    "foot": ((46, 241), (74, 241)),
}

#: Radius of a marker: small on the face, where places are close together.
_SMALL = frozenset({"eyelid", "face", "tongue"})
_SMALL_RADIUS = 3
_RADIUS = 5


@dataclass(frozen=True)
class Marker:
    code: str
    label: Text
    #: (x, y, radius) of each circle, in the diagram's viewBox units.
    circles: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class BodyDiagram:
    markers: tuple[Marker, ...]
    #: Places ticked that have no position on the drawing, in words.
    unplaced: tuple[Text, ...]
    #: Every place ticked, in the order of the question: the diagram's text alternative.
    places: tuple[Text, ...]
    viewbox: str

    @property
    def description(self) -> Text:
        if not self.places:
            return _("Body diagram, front and back: no places ticked.")
        return format_lazy(
            _("Body diagram, front and back. Places ticked: {places}."),
            places=", ".join(str(p) for p in self.places),
        )


def draw(question: Question, ticked: Sequence[str], places: Sequence[Text]) -> BodyDiagram:
    """The diagram of ``ticked`` codes of ``question``; ``places`` are their labels as the
    summary words them (with the place typed for "somewhere else")."""
    radius = {code: _SMALL_RADIUS if code in _SMALL else _RADIUS for code in MARKERS}
    markers = tuple(
        Marker(code, question.label(code), tuple((x, y, radius[code]) for x, y in MARKERS[code]))
        for code in ticked
        if code in MARKERS
    )
    unplaced = tuple(
        label for code, label in zip(ticked, places, strict=True) if code not in MARKERS
    )
    return BodyDiagram(markers, unplaced, tuple(places), " ".join(str(n) for n in VIEWBOX))
