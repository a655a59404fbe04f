"""The clinician's pre-visit summary of one encounter, as a plain view-model.

``build`` turns an encounter into a :class:`Summary` holding, in order, everything the clinical
contract lists under "What the summary holds" (``shared/CLINICAL.md``). The admin page, the print
page and the plain-text chart note all render this one object through templates under
``twitch_intake/summary/``, so the three can never disagree about what the patient said.

Why the summary recomputes the triage instead of reading ``Encounter.flags``: the stored level and
flags exist to sort the queue, but the evidence behind each flag (which answers raised it, in the
patient's own terms) is not stored, and a rule change since submission would leave stored codes
out of date. ``triage.assess`` is pure and fast, so the summary always shows the current rules
applied to the answers as they are, and says so when the stored result differs.

Why pertinent negatives: a red flag that is absent from a summary could mean the patient said no,
or that nobody asked. Every red flag not raised is therefore listed with what the answers show:
"not reported" when the question was answered, "not answered" when it was not.

Free text is kept exactly as typed; templates escape it (HTML) or quote it (plain text). Why
quote: a chart note is plain lines, and a name or an answer printed raw could add a line that
reads like ours ("Level: Routine" above the real level). In the text, one line of the patient's
words is in double quotes after our heading, and more than one line is set off below it with
``> `` on every line; a control character stored before the input rules refused it is shown as
its code point, never obeyed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import get_language, get_language_info
from django.utils.translation import gettext_lazy as _

from . import services, triage
from .conf import app_settings
from .models import AccessEvent, Encounter, LevelChoice
from .questionnaire import NONE, TWITCH_INTAKE, ItemType, Questionnaire, has_control_character

Text = str | Promise

#: The one partial shown by the admin and the print page; context: ``summary``.
HTML_TEMPLATE = "twitch_intake/summary/_summary.html"
#: A standalone page for printing; context: ``summary`` and, optionally, ``clinic_name``.
PRINT_TEMPLATE = "twitch_intake/summary/print.html"
#: Plain text for pasting into a chart note, rendered with autoescape off; context: ``summary``.
TEXT_TEMPLATE = "twitch_intake/summary/summary.txt"

#: Red flags shown right under the emergency banner, never folded away (CLINICAL.md, Rules).
HIGHLIGHTED = ("weakness", "multifocal")

NOT_ANSWERED = _("not answered")
NOT_REPORTED = _("not reported")

# --- The body diagram ------------------------------------------------------------------------

#: The diagram's drawing area, in SVG user units: a front view (x 0-120) and a back view
#: (x 140-260), each 250 high, with a caption row below.
DIAGRAM_VIEWBOX = (0, 0, 260, 268)

#: Where each location code is marked on the diagram, in the viewBox's units. The intake does not
#: ask which side, so paired places are marked on both sides; midline places once. Each place is
#: drawn on one view only: the calf and back where they are seen, from behind; the rest from the
#: front. ``other`` has no position: it is listed in words beside the diagram.
DIAGRAM_MARKERS: dict[str, tuple[tuple[int, int], ...]] = {
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

#: Radius of a marker, small on the face where places are close together.
_MARKER_RADIUS = {"eyelid": 3, "face": 3, "tongue": 3}
_DEFAULT_RADIUS = 5

# --- Reference: what the source article says a doctor may examine and test ---------------------

REFERENCE_INTRO = _(
    "For reference only, not a recommendation for this patient: the source article lists this "
    "examination and these tests as ones a doctor may consider."
)
REFERENCES: tuple[Text, ...] = (
    _("Examination: reflexes and the nervous system; muscle strength."),
    _("Blood tests: blood chemistry, electrolytes and thyroid hormones."),
    _("Electromyography (EMG): the electrical activity of a muscle."),
    _("Muscle ultrasound, which can stand in for EMG."),
    _("Imaging of the brain and spine: CT or MRI."),
    _("Nerve conduction study: how well nerves carry signals."),
)

DISCLAIMER = _("This summary supports clinical judgement. It does not replace it.")

INTEGRITY_WARNING = _(
    "Warning: the answers were changed after the patient submitted them. They no longer match "
    "the record made at submission. Check them with the patient before relying on this summary."
)


# --- Free text in the chart note --------------------------------------------------------------


def _visible(line: str) -> str:
    """Control and format characters (a right-to-left override, a zero-width space) as code
    points, so that the note shows what was stored instead of being rearranged by it."""
    return "".join(f"[U+{ord(ch):04X}]" if has_control_character(ch) else ch for ch in line)


def quoted(text: str) -> str:
    """One line of someone's words for the chart note, in double quotes."""
    return f'"{_visible(text)}"'


def chart_text(text: str) -> str:
    """Typed text as it follows a heading in the chart note: quoted when it is one line, else on
    the lines below, each starting ``> `` so that none of them reads as one of our headings."""
    lines = text.splitlines()
    if len(lines) <= 1:
        return quoted(lines[0] if lines else "")
    return "".join(f"\n> {_visible(line)}" for line in lines)


# --- The view-model --------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    patient_name: str
    date_of_birth: date
    #: Whole years on the local date of the visit: the age the clinician will see in the room.
    age: int
    visit_at: datetime
    submitted_at: datetime | None
    record_number: str
    #: The level recomputed from the answers (see the module docstring).
    level: triage.Level
    level_label: Text
    flag_count: int

    @property
    def patient_name_as_text(self) -> str:
        return chart_text(self.patient_name)

    @property
    def record_number_as_text(self) -> str:
        return chart_text(self.record_number)


@dataclass(frozen=True)
class FlagLine:
    """One flag of the triage table: raised with its evidence, or a pertinent negative."""

    code: str
    label: Text
    raised: bool
    evidence: str = ""
    source: Text = ""
    #: When not raised: what the answers show ("not reported", "not answered", ...).
    negative: Text = ""


@dataclass(frozen=True)
class HistoryItem:
    """One answer of the history, headed in the clinician's words, valued in the form's labels."""

    link_id: str
    heading: Text
    #: The question as the patient read it.
    question: Text
    #: Answer labels (a choice), or the text exactly as typed (one value). Empty: not answered.
    values: tuple[Text, ...]
    #: Show as a list (repeating choices) rather than one value.
    is_list: bool = False
    #: Typed by the patient: kept as typed, shown with its line breaks.
    free_text: bool = False
    #: The values for the chart note where they hold the patient's words (the place typed for
    #: "somewhere else"), quoted there; empty when the same as ``values``.
    text_values: tuple[Text, ...] = ()

    @property
    def answered(self) -> bool:
        return bool(self.values)

    @property
    def as_text(self) -> str:
        """The value for the chart note: choices joined by semicolons; typed text quoted, or set
        off below the heading when it is several lines (see :func:`chart_text`)."""
        if self.free_text:
            return chart_text("\n".join(str(v) for v in self.values))
        return "; ".join(str(v) for v in self.text_values or self.values)


@dataclass(frozen=True)
class Marker:
    code: str
    label: Text
    #: (x, y, radius) of each circle, in the diagram's viewBox units.
    circles: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class BodyDiagram:
    markers: tuple[Marker, ...]
    #: Places ticked that have no position on the drawing (``other``), in words.
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
            places=_join(self.places),
        )


@dataclass(frozen=True)
class IdentityChange:
    """The patient's name, birth date or record number changed after they submitted."""

    #: The username of who changed it.
    by: str
    at: datetime


@dataclass(frozen=True)
class LinkOpenings:
    """How often the patient's link was opened (the right date of birth given), from where."""

    times: int
    addresses: int
    last: datetime


@dataclass(frozen=True)
class Summary:
    """Everything the clinician's summary shows, in the order of the clinical contract."""

    encounter_id: int | None
    header: Header
    #: Labels of the emergency signs ticked, for the banner ("none" excluded).
    emergency_signs: tuple[Text, ...]
    #: Every red flag raised, in the order of the triage table.
    red_flags: tuple[FlagLine, ...]
    #: Every red flag not raised, in the same order, saying what the answers show.
    negatives: tuple[FlagLine, ...]
    #: Where the answers disagree and the clinician should ask.
    notes: tuple[str, ...]
    history: tuple[HistoryItem, ...]
    body_diagram: BodyDiagram
    context_flags: tuple[FlagLine, ...]
    reference_intro: Text
    references: tuple[Text, ...]
    disclaimer: Text
    #: False when the answers changed after submission (their digest no longer matches).
    integrity_ok: bool
    integrity_warning: Text
    #: Set when the level or flags stored for the queue differ from the recomputed ones.
    triage_notice: Text
    #: The language code the patient typed free text in (for ``lang``); "" when not known.
    language: str = ""
    #: "written in Spanish": set when the patient's language is not the reader's.
    written_in: Text = ""
    #: Each change of who the intake is about since the patient submitted, oldest first.
    identity_changes: tuple[IdentityChange, ...] = ()
    link_openings: LinkOpenings | None = None

    @property
    def is_emergency(self) -> bool:
        return self.header.level is triage.Level.EMERGENCY

    @property
    def emergency_flag(self) -> FlagLine | None:
        return next((line for line in self.red_flags if line.code == "emergency-signs"), None)

    @property
    def highlights(self) -> tuple[FlagLine, ...]:
        """Weakness and more-than-one-place, raised or not: always shown under the banner."""
        lines = {line.code: line for line in self.red_flags + self.negatives}
        return tuple(lines[code] for code in HIGHLIGHTED)

    @property
    def other_red_flags(self) -> tuple[FlagLine, ...]:
        """Raised red flags not already shown by the banner or the highlights."""
        shown = {"emergency-signs", *HIGHLIGHTED}
        return tuple(line for line in self.red_flags if line.code not in shown)

    @property
    def other_negatives(self) -> tuple[FlagLine, ...]:
        """Pertinent negatives not already shown among the highlights."""
        return tuple(line for line in self.negatives if line.code not in HIGHLIGHTED)


# --- Building --------------------------------------------------------------------------------


def _join(parts: tuple[Text, ...] | list[Text]) -> str:
    return ", ".join(str(p) for p in parts)


def age_on(born: date, on: date) -> int:
    """Whole years from ``born`` to ``on`` (a 29 February birthday counts from 1 March)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _labels(
    answers: Mapping[str, Any], link_id: str, questionnaire: Questionnaire
) -> tuple[Text, ...]:
    question = questionnaire.question(link_id)
    value = answers.get(link_id)
    if value is None or value == "" or value == []:
        return ()
    if isinstance(value, bool):
        return (_("Yes") if value else _("No"),)
    if isinstance(value, list | tuple):
        return tuple(question.label(code) for code in value)
    if question.options:
        return (question.label(value),)
    return (str(value),)


def _location_labels(
    answers: Mapping[str, Any], questionnaire: Questionnaire, quote: bool = False
) -> tuple[Text, ...]:
    """The places ticked, with the patient's own words for "somewhere else" (quoted for the
    chart note)."""
    question = questionnaire.question("locations")
    labels: list[Text] = []
    for code in answers.get("locations") or []:
        label = question.label(code)
        if code == "other" and answers.get("locations-other"):
            where = str(answers["locations-other"])
            label = format_lazy(
                "{label}: {where}", label=label, where=quoted(where) if quote else where
            )
        labels.append(label)
    return tuple(labels)


def _history(answers: Mapping[str, Any], questionnaire: Questionnaire) -> tuple[HistoryItem, ...]:
    """The history in clinical order; a follow-up question the patient was never shown is left out."""

    def item(
        link_id: str,
        heading: Text,
        values: tuple[Text, ...] | None = None,
        text_values: tuple[Text, ...] = (),
    ) -> HistoryItem:
        question = questionnaire.question(link_id)
        return HistoryItem(
            link_id=link_id,
            heading=heading,
            question=question.text,
            values=_labels(answers, link_id, questionnaire) if values is None else values,
            is_list=question.repeats,
            free_text=question.type in (ItemType.STRING, ItemType.TEXT),
            text_values=text_values,
        )

    def shown(link_id: str) -> bool:
        return questionnaire.question(link_id).is_enabled(answers)

    items = [
        item("duration", _("Duration")),
        item("severity", _("Severity")),
        item(
            "locations",
            _("Locations"),
            _location_labels(answers, questionnaire),
            _location_labels(answers, questionnaire, quote=True),
        ),
        item("more-than-one-location", _("More than one place")),
        item("pattern", _("Pattern")),
    ]
    if shown("episode-length"):
        items.append(item("episode-length", _("Each episode lasts")))
    items.append(item("other-symptoms", _("Other symptoms")))
    if shown("weakness-where"):
        items.append(item("weakness-where", _("Where weak")))
    items += [
        item("medications", _("Medicines (as typed)")),
        item("medication-flags", _("Medicines linked to twitching")),
        item("conditions", _("Conditions (as typed)")),
        item("condition-flags", _("Conditions diagnosed")),
        item("triggers", _("Recent triggers")),
        item("notes", _("Anything else")),
    ]
    return tuple(items)


def _negative(code: str, answers: Mapping[str, Any], questionnaire: Questionnaire) -> Text:
    """What the answers show for a red flag that was not raised."""
    asked = {
        "emergency-signs": ("emergency-signs",),
        "weakness": ("other-symptoms",),
        "multifocal": ("locations", "more-than-one-location"),
        "muscle-loss": ("other-symptoms",),
        "severe": ("severity",),
        "persistent": ("duration",),
    }[code]
    if any(answers.get(link_id) in (None, "", []) for link_id in asked):
        return NOT_ANSWERED
    if code == "emergency-signs":
        return _("patient ticked none of these")
    if code in {"severe", "persistent"}:
        question = questionnaire.question(asked[0])
        return format_lazy(
            _("not reported (answered: {answer})"), answer=question.label(answers[asked[0]])
        )
    return NOT_REPORTED


def _line(flag: triage.Flag) -> FlagLine:
    return FlagLine(flag.code, flag.label, True, flag.evidence, flag.source)


def _body_diagram(answers: Mapping[str, Any], questionnaire: Questionnaire) -> BodyDiagram:
    question = questionnaire.question("locations")
    ticked = answers.get("locations") or []
    markers = tuple(
        Marker(
            code,
            question.label(code),
            tuple(
                (x, y, _MARKER_RADIUS.get(code, _DEFAULT_RADIUS)) for x, y in DIAGRAM_MARKERS[code]
            ),
        )
        for code in ticked
        if code in DIAGRAM_MARKERS
    )
    places = _location_labels(answers, questionnaire)
    unplaced = tuple(
        label for code, label in zip(ticked, places, strict=True) if code not in DIAGRAM_MARKERS
    )
    return BodyDiagram(markers, unplaced, places, " ".join(str(n) for n in DIAGRAM_VIEWBOX))


def _triage_notice(encounter: Encounter, assessment: triage.Assessment) -> Text:
    if not encounter.is_submitted:
        return ""
    if encounter.level == assessment.level.value and list(encounter.flags) == assessment.codes:
        return ""
    stored = LevelChoice(encounter.level).label if encounter.level else _("none")
    return format_lazy(
        _(
            "The level stored for the queue ({stored}) or its flags differ from those the "
            "current rules give for these answers ({current}). This summary shows the current "
            "result."
        ),
        stored=stored,
        current=LevelChoice(assessment.level.value).label,
    )


def _written_in(code: str) -> Text:
    """The language the patient typed in, named in the reader's language; "" if it is theirs.

    Free text is never translated: the clinician reads it as typed, told which language it is in.
    """
    if not code or code.split("-")[0] == (get_language() or "").split("-")[0]:
        return ""
    try:
        name = get_language_info(code)["name_translated"]
    except KeyError:
        name = code
    return format_lazy(_("written in {language}"), language=name)


def _access_history(
    encounter: Encounter,
) -> tuple[tuple[IdentityChange, ...], LinkOpenings | None]:
    """From the append-only access log, in one query, so that no later edit can hide them:
    identity changes after submission (the header is not who the answers were submitted as)
    and the openings of the patient's link (a second person with the link shows here)."""
    if encounter.pk is None:
        return (), None
    events = list(
        AccessEvent.objects.filter(
            encounter_id=encounter.pk,
            action__in=[AccessEvent.Action.IDENTITY, AccessEvent.Action.PATIENT],
        )
        .select_related("user")
        .order_by("at")
    )
    changes = tuple(
        IdentityChange(by=event.user.get_username(), at=event.at)
        for event in events
        if event.action == AccessEvent.Action.IDENTITY and event.user is not None
    )
    opened = [event for event in events if event.action == AccessEvent.Action.PATIENT]
    openings = (
        LinkOpenings(
            times=len(opened),
            addresses=len({event.client_address for event in opened}),
            last=opened[-1].at,
        )
        if opened
        else None
    )
    return changes if encounter.is_submitted else (), openings


def build(encounter: Encounter, questionnaire: Questionnaire = TWITCH_INTAKE) -> Summary:
    """Assemble the summary of a submitted encounter from its answers (and, once submitted, one
    query of the access log for identity changes)."""
    answers: Mapping[str, Any] = encounter.answers or {}
    assessment = triage.assess(answers, questionnaire)
    identity_changes, link_openings = _access_history(encounter)
    raised = {flag.code: flag for flag in assessment.flags}
    visit_day = timezone.localdate(encounter.visit_at)

    red_flags = tuple(_line(flag) for flag in assessment.red_flags)
    negatives = tuple(
        FlagLine(r.code, r.label, False, negative=_negative(r.code, answers, questionnaire))
        for r in triage.RED_RULES
        if r.code not in raised
    )
    signs = questionnaire.question("emergency-signs")
    return Summary(
        encounter_id=encounter.pk,
        header=Header(
            patient_name=encounter.patient_name,
            date_of_birth=encounter.date_of_birth,
            age=age_on(encounter.date_of_birth, visit_day),
            visit_at=encounter.visit_at,
            submitted_at=encounter.submitted_at,
            record_number=encounter.record_number,
            level=assessment.level,
            level_label=LevelChoice(assessment.level.value).label,
            flag_count=len(assessment.flags),
        ),
        emergency_signs=tuple(
            signs.label(code) for code in answers.get("emergency-signs") or [] if code != NONE
        ),
        red_flags=red_flags,
        negatives=negatives,
        notes=assessment.notes,
        history=_history(answers, questionnaire),
        body_diagram=_body_diagram(answers, questionnaire),
        context_flags=tuple(_line(flag) for flag in assessment.context_flags),
        reference_intro=REFERENCE_INTRO,
        references=REFERENCES,
        disclaimer=DISCLAIMER,
        integrity_ok=services.digest_matches(encounter),
        integrity_warning=INTEGRITY_WARNING,
        triage_notice=_triage_notice(encounter, assessment),
        language=encounter.language,
        written_in=_written_in(encounter.language),
        identity_changes=identity_changes,
        link_openings=link_openings,
    )


# --- Rendering -------------------------------------------------------------------------------


def render_html(encounter: Encounter, request: HttpRequest | None = None) -> str:
    """The summary partial (for embedding in the admin or another page)."""
    return render_to_string(HTML_TEMPLATE, {"summary": build(encounter)}, request=request)


def render_print(encounter: Encounter, request: HttpRequest | None = None) -> str:
    """The standalone print page, headed with the clinic's name."""
    context = {"summary": build(encounter), "clinic_name": app_settings.CLINIC_NAME}
    return render_to_string(PRINT_TEMPLATE, context, request=request)


def render_text(encounter: Encounter) -> str:
    """Plain text for a chart note: the same content as the HTML, free text exactly as typed."""
    raw = render_to_string(TEXT_TEMPLATE, {"summary": build(encounter)})
    lines = [line.rstrip() for line in raw.splitlines()]
    text = "\n".join(lines).strip("\n")
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text + "\n"
