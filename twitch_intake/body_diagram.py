"""The body diagram of the summary: where each ticked place is marked on a front and back view.

A drawing, not a rule: the positions belong to the picture in ``_body_outline.html``, so they
live here beside nothing else. A paired place is marked only on the side the patient answered
(the ``sides`` of the option of the question declared ``body_side``); both sides when they
answered both or not sure, or when their form version did not ask. A place with no position (``other``, or one added to the
questionnaire before it is drawn) is listed in words beside the diagram, never dropped.
No HTTP, no ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .questionnaire import BOTH_SIDES, Question, Side

Text = str | Promise

#: The drawing area, in SVG user units: a front view (x 0-120) and a back view (x 140-260), each
#: 250 high, with a caption row below.
VIEWBOX = (0, 0, 260, 268)

R, L = Side.RIGHT, Side.LEFT

#: Where each place is marked, in the viewBox's units, and on which side of the body (``None``:
#: on the midline, marked whatever the side). The front view faces the reader, so the patient's
#: right is on the reader's left (x below 60); the back view is seen from behind, so the
#: patient's left is on the reader's left (x below 200). Each place is drawn on one view only:
#: the calf and back where they are seen, from behind; the rest from the front.
MARKERS: dict[str, tuple[tuple[int, int, Side | None], ...]] = {
    "eyelid": ((53, 15, R), (67, 15, L)),
    "face": ((50, 26, R), (70, 26, L)),
    "tongue": ((60, 30, None),),
    "neck": ((60, 41, None),),
    "shoulder": ((33, 54, R), (87, 54, L)),
    "upper-arm": ((22, 76, R), (98, 76, L)),
    "forearm": ((17, 124, R), (103, 124, L)),
    "hand": ((12, 158, R), (108, 158, L)),
    "chest": ((60, 70, None),),
    "abdomen": ((60, 112, None),),
    "back": ((200, 92, None),),
    "thigh": ((48, 168, R), (72, 168, L)),
    "calf": ((188, 214, L), (212, 214, R)),
    "foot": ((46, 241, R), (74, 241, L)),
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
    #: The sides marked, and how the legend says why (the side answered, or not asked).
    sides: frozenset[Side] = BOTH_SIDES
    side_note: Text = ""

    @property
    def description(self) -> Text:
        if not self.places:
            return _("Body diagram, front and back: no places ticked.")
        return format_lazy(
            _("Body diagram, front and back. Places ticked: {places}."),
            places=", ".join(str(p) for p in self.places),
        )


def draw(
    question: Question,
    ticked: Sequence[str],
    places: Sequence[Text],
    sides: frozenset[Side] = BOTH_SIDES,
    side_note: Text = "",
) -> BodyDiagram:
    """The diagram of ``ticked`` codes of ``question``, marked on ``sides`` only (a midline
    place whatever the side); ``places`` are their labels as the summary words them (with the
    place typed for "somewhere else")."""
    radius = {code: _SMALL_RADIUS if code in _SMALL else _RADIUS for code in MARKERS}
    markers = tuple(
        Marker(
            code,
            question.label(code),
            tuple(
                (x, y, radius[code])
                for x, y, side in MARKERS[code]
                if side is None or side in sides
            ),
        )
        for code in ticked
        if code in MARKERS
    )
    unplaced = tuple(
        label for code, label in zip(ticked, places, strict=True) if code not in MARKERS
    )
    return BodyDiagram(
        markers,
        unplaced,
        tuple(places),
        " ".join(str(n) for n in VIEWBOX),
        sides=sides,
        side_note=side_note,
    )
