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
or that nobody asked. Every red flag not raised is therefore listed with what the answers show,
worded as the answers by triage ("no (answered “None of these”)"), "not answered" when it was
not, and "not asked (form version 1.0.0)" when the intake's version never asked it.

Why versions: an intake is read as its form version asked it (``questionnaire.for_version``), and
the history lists every question of the current form, so a question an old intake was never asked
says so instead of looking unanswered. The current rules run on the answers it has.

Why the one-line story: a clinician between appointments reads one line before anything else.
It is put together only from answers, in the order the questions declare (``Question.story``),
in the clinician's few words where a label explains too much (``Option.brief``); it names no
level and no diagnosis, and lacks whatever was not asked or not answered.

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
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import (
    get_language,
    get_language_info,
    gettext,
    ngettext,
    pgettext,
    pgettext_lazy,
)
from django.utils.translation import gettext_lazy as _

from . import body_diagram, display, history, questionnaire, services, triage, validation
from .conf import app_settings
from .models import AccessEvent, Encounter, LevelChoice
from .questionnaire import BOTH_SIDES, ItemType, Option, Question, Questionnaire, Side

Text = str | Promise

#: The one partial shown by the admin and the print page; context: ``summary``.
HTML_TEMPLATE = "twitch_intake/summary/_summary.html"
#: A standalone page for printing; context: ``summary`` and, optionally, ``clinic_name``.
PRINT_TEMPLATE = "twitch_intake/summary/print.html"
#: Plain text for pasting into a chart note, rendered with autoescape off; context: ``summary``.
TEXT_TEMPLATE = "twitch_intake/summary/summary.txt"

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


_visible = validation.visible


def quoted(text: str) -> str:
    """One line of someone's words for the chart note, in double quotes; a quote they typed is
    escaped (``\"``), so that it cannot close ours and go on in words that read like ours
    (``right hand") · Level: Routine``)."""
    return f'"{validation.quotable(text)}"'


def chart_text(text: str) -> str:
    """Typed text as it follows a heading in the chart note: quoted when it is one line, else on
    the lines below, each starting ``> `` so that none of them reads as one of our headings."""
    lines = text.splitlines()
    if len(lines) <= 1:
        return quoted(lines[0] if lines else "")
    return "".join(f"\n> {_visible(line)}" for line in lines)


# --- The view-model --------------------------------------------------------------------------


class AlertState(StrEnum):
    """Where the clinic's alert of an emergency stands."""

    #: The mail server accepted it (``alert_sent_at``).
    DELIVERED = "delivered"
    #: Queued (``alerted_at``), not yet accepted, and no try has failed so far.
    QUEUED = "queued"
    #: The last try failed (``alert_last_error``) and none has succeeded: nobody may know.
    FAILED = "failed"
    #: Never queued: no alert could be sent.
    NEVER_QUEUED = "never_queued"


def alert_state(encounter: Encounter) -> AlertState:
    if encounter.alert_sent_at is not None:
        return AlertState.DELIVERED
    if encounter.alert_failed:
        return AlertState.FAILED
    if encounter.alerted_at is not None:
        return AlertState.QUEUED
    return AlertState.NEVER_QUEUED


def when(moment: datetime) -> str:
    """A time as the summary shows it: the clinic's, to the minute ("1 Dec 2026, 14:05")."""
    return display.local_datetime(moment)


def alert_text(
    state: AlertState,
    alerted_at: datetime | None,
    sent_at: datetime | None,
    attempts: int,
) -> Text:
    if state is AlertState.DELIVERED and sent_at is not None and alerted_at is not None:
        return format_lazy(
            _("Clinic alerted: queued at {queued}, delivered at {sent}."),
            queued=when(alerted_at),
            sent=when(sent_at),
        )
    if state is AlertState.DELIVERED and sent_at is not None:
        return format_lazy(_("Clinic alerted: delivered at {sent}."), sent=when(sent_at))
    if state is AlertState.QUEUED and alerted_at is not None:
        return format_lazy(
            _("Clinic alert queued at {queued}, not delivered yet."), queued=when(alerted_at)
        )
    if state is AlertState.FAILED:
        # Read when rendered, in the reader's language: a count cannot wait for a lazy plural.
        return ngettext(
            "No alert could be sent: {attempts} attempt failed.",
            "No alert could be sent: {attempts} attempts failed.",
            attempts,
        ).format(attempts=attempts)
    return _("No alert could be sent.")


def emergency_response_question(intake: Questionnaire | None = None) -> Question | None:
    """The question declared ``emergency_response`` (the patient's answer on the get-care
    page), if the questionnaire has one."""
    intake = intake or questionnaire.TWITCH_INTAKE
    return next((q for q in intake.questions() if q.emergency_response), None)


def emergency_response(
    answers: Mapping[str, Any], intake: Questionnaire | None = None
) -> tuple[Text, ...]:
    """The patient's answer to that question in the form's labels; () when none or unanswered."""
    intake = intake or questionnaire.TWITCH_INTAKE
    question = emergency_response_question(intake)
    if question is None:
        return ()
    return _labels(answers, question, intake)


@dataclass(frozen=True)
class EmergencyReport:
    """The header's part for an emergency: when, the clinic's alert, the patient's answer on
    the get-care page, and who dealt with it."""

    reported_at: datetime | None
    alert: AlertState
    alerted_at: datetime | None
    alert_sent_at: datetime | None
    alert_attempts: int
    #: The question declared ``emergency_response`` ("" when the questionnaire has none).
    response_question: Text
    #: The patient's answer to it, in the form's labels (() when not answered).
    response: tuple[Text, ...]
    #: Set when the intake's form version never asked that question (``response`` is empty).
    response_not_asked: Text = ""
    acknowledged_at: datetime | None = None
    #: The username of who acknowledged it.
    acknowledged_by: str = ""
    acknowledgement: Text = ""
    #: The clinician's note, as typed (escaped by templates, quoted in the chart note).
    note: str = ""

    @property
    def note_as_text(self) -> str:
        return chart_text(self.note)

    @property
    def alert_failed(self) -> bool:
        return self.alert in {AlertState.FAILED, AlertState.NEVER_QUEUED}

    @property
    def alert_text(self) -> Text:
        """One line on the clinic's alert, for the header, the chart note and the queue."""
        return alert_text(self.alert, self.alerted_at, self.alert_sent_at, self.alert_attempts)

    @property
    def response_as_text(self) -> str:
        return "; ".join(str(label) for label in self.response)

    @property
    def no_response_text(self) -> Text:
        """What the header says when there is no answer: never asked, or not answered."""
        return self.response_not_asked or triage.NOT_ANSWERED


def _earlier_response(
    encounter: Encounter,
    question: Question | None,
    earlier: triage.Earlier | None,
) -> tuple[Text, ...]:
    """What the patient answered on the get-care page before the sign was taken back (which
    clears the answer): the clinician reconciling the emergency needs it, marked as earlier."""
    if question is None or earlier is None or encounter.emergency_reported_at is None:
        return ()
    held = earlier.get(question.link_id, [])
    answered = [value for _, value in held if not validation.is_blank(value)]
    if not answered:
        return ()
    label = question.label(str(answered[-1]))
    return (format_lazy(_("{answer} (answered before the sign was taken back)"), answer=label),)


def emergency_report(
    encounter: Encounter,
    intake: Questionnaire | None = None,
    *,
    earlier: triage.Earlier | None = None,
) -> EmergencyReport:
    """The emergency's part of the header. Given the answer history the summary has already
    read (``earlier``), it also shows what the patient answered on the get-care page before a
    sign was taken back; the queue's rows pass none and read nothing more."""
    intake = intake or questionnaire.TWITCH_INTAKE
    question = emergency_response_question(intake)
    # An intake of a version that did not ask it says so, under today's heading.
    current = emergency_response_question(questionnaire.TWITCH_INTAKE)
    not_asked = question is None and current is not None
    shown = question or current
    by = encounter.emergency_acknowledged_by
    return EmergencyReport(
        reported_at=encounter.emergency_reported_at,
        alert=alert_state(encounter),
        alerted_at=encounter.alerted_at,
        alert_sent_at=encounter.alert_sent_at,
        alert_attempts=encounter.alert_attempts,
        response_question=shown.clinician_heading if shown is not None else "",
        response_not_asked=triage.not_asked(intake.version) if not_asked else "",
        response=emergency_response(encounter.answers or {}, intake)
        or _earlier_response(encounter, question, earlier),
        acknowledged_at=encounter.emergency_acknowledged_at,
        acknowledged_by=by.get_username() if by is not None else "",
        acknowledgement=encounter.get_emergency_acknowledgement_display()
        if encounter.emergency_acknowledgement
        else "",
        note=encounter.emergency_acknowledgement_note,
    )


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
    #: Red flags (they set the level) and context flags (they never do), counted apart.
    red_flag_count: int
    context_flag_count: int
    #: For an emergency (stored, provisional or recomputed): reported, alerted, acknowledged.
    emergency: EmergencyReport | None = None
    #: The version of the form the patient answered (what "not asked" below refers to).
    questionnaire_version: str = ""
    #: Questions the header shows beside the patient's details (who filled in the form).
    about: tuple[HistoryItem, ...] = ()
    #: The language the patient answered in, named in the reader's language ("" not recorded).
    answered_in: Text = ""
    #: It is not the clinic's language (``settings.LANGUAGE_CODE``).
    interpreter_needed: bool = False

    @property
    def flag_count(self) -> int:
        return self.red_flag_count + self.context_flag_count

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
    evidence: Text = ""
    source: Text = ""
    #: When not raised: what the answers show ("not reported", "not answered", ...).
    negative: Text = ""
    #: Its rule makes the intake an emergency: the banner shows it.
    emergency: bool = False
    #: Its place under the banner, where it is shown raised or not (``None``: not highlighted).
    highlight: int | None = None


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
    #: Set when the intake's form version never asked it: "not asked (form version 1.0.0)".
    not_asked: Text = ""

    @property
    def answered(self) -> bool:
        return bool(self.values)

    @property
    def unanswered_text(self) -> Text:
        """What the summary says when there is no value: never asked, or not answered."""
        return self.not_asked or triage.NOT_ANSWERED

    @property
    def as_text(self) -> str:
        """The value for the chart note: choices joined by semicolons; typed text quoted, or set
        off below the heading when it is several lines (see :func:`chart_text`)."""
        if self.free_text:
            return chart_text("\n".join(str(v) for v in self.values))
        return "; ".join(str(v) for v in self.text_values or self.values)


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
class ShownFirst:
    """A ticked answer shown in the top block, as context that changes no level."""

    heading: Text
    label: Text
    #: The source of the context rule that reads its question ("" if none does).
    source: Text = ""


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
    notes: tuple[Text, ...]
    history: tuple[HistoryItem, ...]
    body_diagram: body_diagram.BodyDiagram | None
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
    #: Emergency signs saved earlier and taken back by the patient, with when (the banner
    #: lists them under the current ones: the level stays emergency).
    withdrawn_signs: tuple[triage.Withdrawal, ...] = ()
    #: The one-line story, part by part (joined with " · "); free text as typed.
    story: tuple[Text, ...] = ()
    #: The same line for the chart note, the patient's words quoted.
    story_as_text: str = ""
    #: Answers shown in the top block beside the red flags, as context (``Option.shown_first``).
    shown_first: tuple[ShownFirst, ...] = ()

    @property
    def is_emergency(self) -> bool:
        return self.header.level is triage.Level.EMERGENCY

    @property
    def emergency_flag(self) -> FlagLine | None:
        return next((line for line in self.red_flags if line.emergency), None)

    @property
    def emergency_flags(self) -> tuple[FlagLine, ...]:
        """Every raised flag of a rule that makes an emergency, for the banner's sources."""
        return tuple(line for line in self.red_flags if line.emergency)

    @property
    def highlights(self) -> tuple[FlagLine, ...]:
        """The rules that declare a highlight (weakness, more than one place), raised or not,
        in their order: always shown under the banner, never folded away."""
        lines = [line for line in self.red_flags + self.negatives if line.highlight is not None]
        return tuple(sorted(lines, key=lambda line: line.highlight or 0))

    @property
    def other_red_flags(self) -> tuple[FlagLine, ...]:
        """Raised red flags not already shown by the banner or the highlights."""
        return tuple(
            line for line in self.red_flags if not line.emergency and line.highlight is None
        )

    @property
    def other_negatives(self) -> tuple[FlagLine, ...]:
        """Pertinent negatives not already shown among the highlights."""
        return tuple(line for line in self.negatives if line.highlight is None)


# --- Building --------------------------------------------------------------------------------


def age_on(born: date, on: date) -> int:
    """Whole years from ``born`` to ``on`` (a 29 February birthday counts from 1 March)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _labels(
    answers: Mapping[str, Any], question: Question, intake: Questionnaire, quote: bool = False
) -> tuple[Text, ...]:
    """The answer in the form's labels; an option another question says more about (the place
    typed for "somewhere else") carries that answer too, quoted for the chart note."""
    value = answers.get(question.link_id)
    if validation.is_blank(value):
        return ()
    if isinstance(value, bool):
        return (_("Yes") if value else _("No"),)
    if not question.options:
        return (str(value),)
    labels: list[Text] = []
    for code in triage.ticked_codes(answers, question.link_id):
        label = question.label(code)
        details = intake.details_of(question, code)
        said = answers.get(details.link_id) if details is not None else None
        if said:
            # The clinician's word before the patient's ("Weakness: right hand"), not a label
            # that explains the option and ends in a full stop.
            option = question.option(code)
            label = format_lazy(
                "{label}: {said}",
                label=(option.brief if option is not None else "") or label,
                said=quoted(str(said)) if quote else str(said),
            )
        labels.append(label)
    return tuple(labels)


def intake_of(encounter: Encounter) -> Questionnaire:
    """The questionnaire as the encounter's version asked it. A version this definition does
    not know is read as the current one: a summary must render, and its header shows the
    version stored."""
    return questionnaire.stored_under(encounter.questionnaire_version)


def _item(question: Question, answers: Mapping[str, Any], asked: Questionnaire) -> HistoryItem:
    """One question of the current form, as the intake's version asked it (or did not)."""
    if not asked.has_question(question.link_id):
        return HistoryItem(
            link_id=question.link_id,
            heading=question.clinician_heading,
            question=question.text,
            values=(),
            is_list=question.repeats,
            free_text=question.is_free_text,
            not_asked=triage.not_asked(asked.version),
        )
    question = asked.question(question.link_id)
    values = _labels(answers, question, asked)
    quoted_values = _labels(answers, question, asked, quote=True)
    return HistoryItem(
        link_id=question.link_id,
        heading=question.clinician_heading,
        question=question.text,
        values=values,
        is_list=question.repeats,
        free_text=question.is_free_text,
        text_values=quoted_values if quoted_values != values else (),
    )


def _history(answers: Mapping[str, Any], asked: Questionnaire) -> tuple[HistoryItem, ...]:
    """Every question of the history (as the current questionnaire declares it), headed in the
    clinician's words; a follow-up the patient was never shown is left out, and a question the
    intake's version never asked says so, so that an old intake reads as old, not as blank."""
    return tuple(
        _item(question, answers, asked) for question in questionnaire.TWITCH_INTAKE.history(answers)
    )


def _header_questions() -> tuple[Question, ...]:
    """The questions kept out of the history that nothing else shows: the header does (who
    filled in the form). The emergency signs head the banner, and the answer on the get-care
    page is in the emergency's part of the header."""
    elsewhere = triage.emergency_questions()
    return tuple(
        q
        for q in questionnaire.TWITCH_INTAKE.questions()
        if not q.in_history and not q.emergency_response and q.link_id not in elsewhere
    )


#: The names of the languages the app ships, in our catalogue so that they read as the
#: reader's language writes them (Spanish: "inglés", in lower case; Django's own says "Inglés").
LANGUAGE_NAMES = (
    pgettext_lazy("language name", "English"),
    pgettext_lazy("language name", "Spanish"),
)


def _language_name(code: str) -> str:
    """``code``'s name in the reader's language: ours for the languages the app ships, Django's
    for any other a host adds, the code itself for one Django does not know."""
    try:
        info = get_language_info(code)
    except KeyError:
        return code
    ours = pgettext("language name", info["name"])
    return ours if ours != info["name"] else str(info["name_translated"])


def _interpreter_needed(code: str) -> bool:
    """The patient answered in a language other than the clinic's (``LANGUAGE_CODE``)."""
    return bool(code) and code.split("-")[0] != settings.LANGUAGE_CODE.split("-")[0]


# --- The one-line story ------------------------------------------------------------------------

#: Between the parts of the one-line story.
STORY_SEPARATOR = " · "


def _ticked(question: Question, answers: Mapping[str, Any]) -> tuple[Option, ...]:
    """The options ticked, in the question's order, whatever shape the answer was stored in
    (see ``triage.ticked_codes``: answers edited after submission must not take a summary down)."""
    codes = set(triage.ticked_codes(answers, question.link_id))
    return tuple(option for option in question.options if option.code in codes)


def _words(option: Option) -> Text:
    return option.brief or option.label


def _said(answers: Mapping[str, Any], intake: Questionnaire, question: Question, code: str) -> str:
    """What the patient typed about ``code`` of ``question`` (the place, where weak), if any."""
    details = intake.details_of(question, code)
    said = answers.get(details.link_id) if details is not None else None
    return said if isinstance(said, str) and said.strip() else ""


def _story_part(
    question: Question,
    answers: Mapping[str, Any],
    intake: Questionnaire,
    assessment: triage.Assessment,
    quote: bool,
) -> str:
    """One question's words in the story, from its answer alone; "" when it adds nothing."""

    def detailed(option: Option) -> str:
        said = _said(answers, intake, question, option.code)
        if not said:
            return str(_words(option))
        # Quoted on screen too: the story is one line of our words, and the patient's must
        # read as theirs wherever the line is shown.
        return f"{_words(option)} ({quoted(said)})"

    ticked = [o for o in _ticked(question, answers) if o.code not in question.exclusive]
    if question.link_id in triage.emergency_questions():
        # The emergency's words, current and withdrawn, as the banner gives them.
        parts = []
        for flag in assessment.emergency_flags:
            if question.link_id not in flag.rule.reads:
                continue
            if flag.answers:
                parts.append(f"{flag.label}: {', '.join(str(a) for a in flag.answers)}")
            for withdrawal in flag.withdrawn:
                parts.append(
                    gettext("%(label)s taken back: %(answers)s")
                    % {"label": flag.label, "answers": ", ".join(map(str, withdrawal.answers))}
                )
        return "; ".join(parts)
    if not ticked:
        if question.type is ItemType.BOOLEAN and isinstance(answers.get(question.link_id), bool):
            yes = answers[question.link_id]
            return f"{question.clinician_heading}: {gettext('Yes') if yes else gettext('No')}"
        return ""
    if question.body_sites:
        regions = {o.region for o in ticked}
        count = ngettext("%(count)d place", "%(count)d places", len(ticked)) % {
            "count": len(ticked)
        }
        within = ngettext("in %(count)d body region", "in %(count)d body regions", len(regions)) % {
            "count": len(regions)
        }
        return f"{count} {within} ({', '.join(detailed(o) for o in ticked)})"
    if any(o.in_story for o in question.options):
        return ", ".join(detailed(o) for o in ticked if o.in_story)
    heading = question.clinician_heading
    when = question.show_when
    if when is not None and isinstance(when.code, bool) and intake.has_question(when.question):
        # "Which ones?" reads under its yes/no question's heading.
        heading = intake.question(when.question).clinician_heading
    return f"{heading}: {', '.join(detailed(o) for o in ticked)}"


def _story(
    answers: Mapping[str, Any],
    intake: Questionnaire,
    assessment: triage.Assessment,
    age: int,
    quote: bool = False,
) -> tuple[Text, ...]:
    """The one-line story: age, then each question declaring a ``story`` place, in that order,
    worded from its answer alone (no inference); questions whose places share their tens make
    one part (onset and course; places and side). An unanswered or unasked question adds
    nothing, so a 1.0.0 intake's line just lacks what was not asked. Worded when built, in the
    reader's language (every view builds and renders at once)."""

    def parts() -> list[str]:
        grouped: dict[int, list[str]] = {}
        told = sorted(
            (q for q in intake.questions() if q.story is not None and q.is_enabled(answers)),
            key=lambda q: q.story or 0,
        )
        for question in told:
            words = _story_part(question, answers, intake, assessment, quote)
            if words:
                grouped.setdefault((question.story or 0) // 10, []).append(words)
        years = ngettext("%(age)d year old", "%(age)d years old", age) % {"age": age}
        return [years, *("; ".join(words) for words in grouped.values())]

    return tuple(parts())


def _shown_first(
    answers: Mapping[str, Any], intake: Questionnaire, assessment: triage.Assessment
) -> tuple[ShownFirst, ...]:
    """The ticked options declared ``shown_first``, with the source of the context rule that
    reads their question."""
    found = []
    for question in intake.questions():
        if not question.is_enabled(answers):
            continue
        for option in _ticked(question, answers):
            if option.shown_first:
                source = next(
                    (
                        f.source
                        for f in assessment.context_flags
                        if question.link_id in f.rule.reads
                    ),
                    "",
                )
                found.append(ShownFirst(question.clinician_heading, option.label, source))
    return tuple(found)


def _line(flag: triage.Flag) -> FlagLine:
    return FlagLine(
        flag.code,
        flag.label,
        True,
        flag.evidence,
        flag.source,
        emergency=flag.rule.is_emergency,
        highlight=flag.rule.highlight,
    )


def _negative_line(negative: triage.Negative) -> FlagLine:
    return FlagLine(
        negative.code,
        negative.label,
        False,
        negative=negative.shows,
        emergency=negative.rule.is_emergency,
        highlight=negative.rule.highlight,
    )


def _sides(answers: Mapping[str, Any], asked: Questionnaire) -> tuple[frozenset[Side], Text]:
    """The sides the diagram marks, from the question declared ``body_side``, and why: both
    when the patient answered both or not sure, did not answer, or was never asked."""
    question = next((q for q in questionnaire.TWITCH_INTAKE.questions() if q.body_side), None)
    if question is None:
        return BOTH_SIDES, ""
    heading = question.clinician_heading
    if not asked.has_question(question.link_id):
        return BOTH_SIDES, format_lazy(
            _("{heading}: {not_asked}, so paired places are marked on both sides."),
            heading=heading,
            not_asked=triage.not_asked(asked.version),
        )
    ticked = _ticked(asked.question(question.link_id), answers)
    sides = frozenset(side for option in ticked for side in option.sides) or BOTH_SIDES
    if not ticked:
        return sides, format_lazy(
            _("{heading}: not answered, so paired places are marked on both sides."),
            heading=heading,
        )
    answer = ", ".join(str(option.label) for option in ticked)
    if sides == BOTH_SIDES:
        return sides, format_lazy(
            _("{heading}: {answer}, so paired places are marked on both sides."),
            heading=heading,
            answer=answer,
        )
    return sides, format_lazy(
        _("{heading}: {answer}. Paired places are marked on that side only."),
        heading=heading,
        answer=answer,
    )


def _diagram(answers: Mapping[str, Any], intake: Questionnaire) -> body_diagram.BodyDiagram | None:
    """The body diagram of the question whose answers are places on the body, if any, marked on
    the side answered."""
    question = next((q for q in intake.questions() if q.body_sites), None)
    if question is None:
        return None
    # One code where a list belongs (answers edited after submission, or a version that made
    # the question repeat) is drawn as the one place, never a 500.
    ticked = triage.ticked_codes(answers, question.link_id)
    sides, note = _sides(answers, intake)
    return body_diagram.draw(
        question, ticked, _labels(answers, question, intake), sides=sides, side_note=note
    )


def _triage_notice(encounter: Encounter, assessment: triage.Assessment) -> Text:
    if not encounter.is_submitted:
        return ""
    if encounter.level == assessment.level.value and list(encounter.flags) == assessment.codes:
        return ""
    stored = LevelChoice(encounter.level).label if encounter.level else _("not assessed")
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
    return format_lazy(_("written in {language}"), language=_language_name(code))


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


def build(encounter: Encounter, intake: Questionnaire | None = None) -> Summary:
    """Assemble the summary of a submitted encounter from its answers, as its form version asked
    them, one query of the answer history (a sign taken back stays in the emergency flag) and
    one of the access log (identity changes and link openings)."""
    intake = intake or intake_of(encounter)
    answers: Mapping[str, Any] = encounter.answers or {}
    # One read of the history: what triage needs, and the get-care answer for the header.
    response = emergency_response_question(intake)
    wanted = {*triage.history_questions(), *([response.link_id] if response else [])}
    earlier = history.earlier_answers(encounter.pk, wanted) if encounter.pk is not None else None
    assessment = triage.assess(answers, intake, earlier=earlier)
    identity_changes, link_openings = _access_history(encounter)
    visit_day = timezone.localdate(encounter.visit_at)
    age = age_on(encounter.date_of_birth, visit_day)

    return Summary(
        encounter_id=encounter.pk,
        header=Header(
            patient_name=encounter.patient_name,
            date_of_birth=encounter.date_of_birth,
            age=age,
            visit_at=encounter.visit_at,
            submitted_at=encounter.submitted_at,
            record_number=encounter.record_number,
            level=assessment.level,
            level_label=LevelChoice(assessment.level.value).label,
            red_flag_count=len(assessment.red_flags),
            context_flag_count=len(assessment.context_flags),
            emergency=emergency_report(encounter, intake, earlier=earlier)
            if encounter.is_emergency or assessment.is_emergency
            else None,
            questionnaire_version=intake.version,
            about=tuple(_item(q, answers, intake) for q in _header_questions()),
            answered_in=_language_name(encounter.language) if encounter.language else "",
            interpreter_needed=_interpreter_needed(encounter.language),
        ),
        emergency_signs=assessment.emergency_signs,
        red_flags=tuple(_line(flag) for flag in assessment.red_flags),
        negatives=tuple(_negative_line(negative) for negative in assessment.negatives),
        notes=assessment.notes,
        history=_history(answers, intake),
        body_diagram=_diagram(answers, intake),
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
        withdrawn_signs=assessment.withdrawn_signs,
        story=_story(answers, intake, assessment, age),
        story_as_text=_visible(
            STORY_SEPARATOR.join(map(str, _story(answers, intake, assessment, age, True)))
        ),
        shown_first=_shown_first(answers, intake, assessment),
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
