"""The twitching intake, defined once.

Every question of the clinical contract (``shared/CLINICAL.md``) lives here: groups in the order
the patient sees them, linkIds, answer codes, plain-language labels, what is required and when a
question is shown. The web form, the triage, the summary, the admin and the FHIR export all read
this module, so nothing else spells a code.

The linkIds and codes are a contract with other systems: they are stored in the database and
carried in FHIR. Labels are ours to reword; codes never change meaning. Changing a question means
bumping :data:`VERSION`.

This module knows nothing of HTTP or the ORM. Answers are plain values keyed by linkId:
a code string (choice), a list of code strings (repeating choice), a bool, or text. An unanswered
question is absent.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

if TYPE_CHECKING:
    # What gettext_lazy returns, as django-stubs names it (a Promise of a str).
    from django_stubs_ext import StrPromise

VERSION = "1.0.0"

#: The exclusive answer of a repeating choice: it cannot be ticked with anything else.
NONE = "none"

Answers = Mapping[str, Any]


class ItemType(StrEnum):
    CHOICE = "choice"
    BOOLEAN = "boolean"
    STRING = "string"
    TEXT = "text"


@dataclass(frozen=True)
class Option:
    code: str
    label: str | Promise


@dataclass(frozen=True)
class ShowWhen:
    """Shown only when ``question``'s answer is, or (for a repeating choice) includes, ``code``."""

    question: str
    code: str

    def holds(self, answers: Answers) -> bool:
        value = answers.get(self.question)
        if isinstance(value, list | tuple):
            return self.code in value
        return value == self.code


@dataclass(frozen=True)
class Question:
    link_id: str
    text: str | Promise
    type: ItemType
    required: bool = False
    repeats: bool = False
    options: tuple[Option, ...] = ()
    max_length: int | None = None
    help: str | Promise = ""
    show_when: ShowWhen | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(option.code for option in self.options)

    @property
    def exclusive(self) -> str | None:
        """The code that cannot be combined with others, if this question has one."""
        return NONE if self.repeats and NONE in self.codes else None

    def label(self, code: str) -> str | Promise:
        for option in self.options:
            if option.code == code:
                return option.label
        return code

    def is_enabled(self, answers: Answers) -> bool:
        return self.show_when is None or self.show_when.holds(answers)


@dataclass(frozen=True)
class Group:
    link_id: str
    title: str | Promise
    intro: str | Promise
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Questionnaire:
    version: str
    title: str | Promise
    groups: tuple[Group, ...]
    _index: dict[str, Question] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {q.link_id: q for g in self.groups for q in g.questions}
        ids = [g.link_id for g in self.groups] + [
            q.link_id for g in self.groups for q in g.questions
        ]
        if len(ids) != len(set(ids)):
            raise ValueError("linkIds must be distinct across groups and questions")
        object.__setattr__(self, "_index", index)

    def questions(self) -> Iterator[Question]:
        for group in self.groups:
            yield from group.questions

    def question(self, link_id: str) -> Question:
        return self._index[link_id]

    def has_question(self, link_id: str) -> bool:
        return link_id in self._index

    def group(self, link_id: str) -> Group:
        for group in self.groups:
            if group.link_id == link_id:
                return group
        raise KeyError(link_id)

    def group_index(self, link_id: str) -> int:
        return [g.link_id for g in self.groups].index(link_id)

    def group_of(self, question_link_id: str) -> Group:
        for group in self.groups:
            if any(q.link_id == question_link_id for q in group.questions):
                return group
        raise KeyError(question_link_id)


def _options(*pairs: tuple[str, str | Promise]) -> tuple[Option, ...]:
    return tuple(Option(code, label) for code, label in pairs)


TWITCH_INTAKE = Questionnaire(
    version=VERSION,
    title=_("Muscle twitching: before your visit"),
    groups=(
        Group(
            "emergency",
            _("Signs that need care now"),
            _("We ask this first so that we can tell you straight away if you need care today."),
            (
                Question(
                    "emergency-signs",
                    _("Right now, or in the past 24 hours, have you had any of these?"),
                    ItemType.CHOICE,
                    required=True,
                    repeats=True,
                    options=_options(
                        ("diminished-pulse", _("A weak pulse, or a pulse that is hard to find")),
                        (
                            "consciousness-change",
                            _("Fainting, or being very drowsy or hard to wake"),
                        ),
                        ("mental-status-change", _("Confusion, or a sudden change in behavior")),
                        (
                            "thinking-difficulty",
                            _("Trouble with memory, thinking or understanding"),
                        ),
                        ("high-fever", _("A high fever")),
                        (
                            "coordination-loss",
                            _("Losing control of your movements (clumsy, unsteady)"),
                        ),
                        ("paralysis", _("Not being able to move a part of your body")),
                        ("seizure", _("A seizure (fit)")),
                        ("severe-headache", _("A severe headache")),
                        (
                            "speech-difficulty",
                            _("Slurred or mixed-up speech, or not being able to speak"),
                        ),
                        (
                            "vision-change",
                            _("A sudden change in your vision, losing vision, or eye pain"),
                        ),
                        ("vomiting", _("Vomiting (throwing up)")),
                        (NONE, _("None of these")),
                    ),
                    help=_("Tick every one that applies, or “None of these”."),
                ),
            ),
        ),
        Group(
            "history",
            _("About your twitching"),
            _("A twitch is a small movement of a muscle that you do not control."),
            (
                Question(
                    "duration",
                    _("How long have you had muscle twitching?"),
                    ItemType.CHOICE,
                    required=True,
                    options=_options(
                        ("days", _("Less than 1 week")),
                        ("weeks", _("1 week to 1 month")),
                        ("months", _("1 to 6 months")),
                        ("long-term", _("More than 6 months")),
                    ),
                ),
                Question(
                    "severity",
                    _("How bad are the twitches?"),
                    ItemType.CHOICE,
                    required=True,
                    options=_options(
                        ("mild", _("Mild: I notice them, but they don't bother me")),
                        ("moderate", _("Moderate: they bother me, but I still do my usual things")),
                        (
                            "severe",
                            _(
                                "Severe: the body part moves so others can see, or they get in the way of daily life or sleep"
                            ),
                        ),
                    ),
                ),
                Question(
                    "locations",
                    _("Where are you having the twitches?"),
                    ItemType.CHOICE,
                    required=True,
                    repeats=True,
                    options=_options(
                        ("eyelid", _("Eyelid")),
                        ("face", _("Face")),
                        ("tongue", _("Tongue")),
                        ("neck", _("Neck")),
                        ("shoulder", _("Shoulder")),
                        ("upper-arm", _("Upper arm")),
                        ("forearm", _("Forearm")),
                        ("hand", _("Hand")),
                        ("chest", _("Chest")),
                        ("abdomen", _("Belly")),
                        ("back", _("Back")),
                        ("thigh", _("Thigh")),
                        ("calf", _("Calf (lower leg)")),
                        ("foot", _("Foot")),
                        ("other", pgettext_lazy("body location", "Somewhere else")),
                    ),
                    help=_("Tick every place you have noticed them."),
                ),
                Question(
                    "locations-other",
                    _("Where else?"),
                    ItemType.STRING,
                    required=True,
                    max_length=200,
                    show_when=ShowWhen("locations", "other"),
                ),
                Question(
                    "more-than-one-location",
                    _("Do you have twitches in more than one place?"),
                    ItemType.BOOLEAN,
                    required=True,
                ),
                Question(
                    "pattern",
                    _("Is the twitching there all the time, or does it come and go?"),
                    ItemType.CHOICE,
                    required=True,
                    options=_options(
                        ("constant", _("All the time")),
                        ("comes-and-goes", _("It comes and goes")),
                    ),
                ),
                Question(
                    "episode-length",
                    _("When it comes, how long does it last?"),
                    ItemType.CHOICE,
                    required=True,
                    options=_options(
                        ("seconds", _("Seconds")),
                        ("minutes", _("Minutes")),
                        ("hours", _("Hours")),
                        ("days", _("Days")),
                    ),
                    show_when=ShowWhen("pattern", "comes-and-goes"),
                ),
            ),
        ),
        Group(
            "symptoms",
            _("Other symptoms"),
            _("Other changes you have noticed help your clinician understand the twitching."),
            (
                Question(
                    "other-symptoms",
                    _("Do you have any other symptoms, such as weakness?"),
                    ItemType.CHOICE,
                    required=True,
                    repeats=True,
                    options=_options(
                        ("weakness", _("Weakness")),
                        ("muscle-loss", _("A muscle looks smaller or thinner")),
                        ("cramps", _("Cramps")),
                        ("stiffness", _("Stiffness")),
                        ("numbness-tingling", _("Numbness or tingling")),
                        ("pain", _("Pain")),
                        ("fatigue", _("Feeling very tired")),
                        ("trouble-swallowing", _("Trouble swallowing")),
                        (
                            "tics-or-vocal-outbursts",
                            _("Tics, or sounds or words you can't hold back"),
                        ),
                        (NONE, _("None of these")),
                    ),
                    help=_("Tick every one that applies, or “None of these”."),
                ),
                Question(
                    "weakness-where",
                    _("Where do you feel weak?"),
                    ItemType.STRING,
                    max_length=200,
                    help=_("For example: right hand, both legs."),
                    show_when=ShowWhen("other-symptoms", "weakness"),
                ),
            ),
        ),
        Group(
            "background",
            _("Medicines, health and recent habits"),
            _("Some medicines, health conditions and habits can cause twitching."),
            (
                Question(
                    "medications",
                    _("What medicines are you taking?"),
                    ItemType.TEXT,
                    max_length=2000,
                    help=_(
                        "Include medicines you buy without a prescription, vitamins and supplements."
                    ),
                ),
                Question(
                    "medication-flags",
                    _("Do any of these apply to you?"),
                    ItemType.CHOICE,
                    required=True,
                    repeats=True,
                    options=_options(
                        (
                            "stimulant",
                            _("A stimulant medicine, for example for ADHD, or diet pills"),
                        ),
                        ("corticosteroid", _("A steroid medicine, such as prednisone")),
                        ("estrogen", _("Estrogen, including birth control or hormone therapy")),
                        ("diuretic", _("A diuretic (“water pill”)")),
                        (
                            "benzodiazepine-withdrawal",
                            _(
                                "I recently stopped or cut down a benzodiazepine, such as diazepam, lorazepam or alprazolam"
                            ),
                        ),
                        (NONE, _("None of these")),
                    ),
                ),
                Question(
                    "conditions",
                    _("What other health conditions do you have?"),
                    ItemType.TEXT,
                    max_length=2000,
                ),
                Question(
                    "condition-flags",
                    _("Has a doctor ever told you that you have any of these?"),
                    ItemType.CHOICE,
                    required=True,
                    repeats=True,
                    options=_options(
                        ("als", _("ALS (amyotrophic lateral sclerosis)")),
                        ("multiple-sclerosis", _("Multiple sclerosis (MS)")),
                        ("muscular-dystrophy", _("Muscular dystrophy")),
                        ("tourette", _("Tourette syndrome")),
                        (
                            "nerve-damage",
                            _(
                                "Nerve damage, or a trapped or pinched nerve (including the nerves to the arm)"
                            ),
                        ),
                        ("kidney-disease", _("Kidney disease")),
                        ("brain-injury", _("A brain injury")),
                        ("thyroid-disease", _("Thyroid disease")),
                        (NONE, _("None of these")),
                    ),
                ),
                Question(
                    "triggers",
                    _("In the past few weeks, has any of these been true for you?"),
                    ItemType.CHOICE,
                    required=True,
                    repeats=True,
                    options=_options(
                        ("caffeine", _("A lot of coffee, energy drinks or other caffeine")),
                        ("exertion", _("Hard physical exercise")),
                        ("stress-anxiety", _("Stress or worry")),
                        ("poor-sleep", _("Poor sleep")),
                        (NONE, _("None of these")),
                    ),
                ),
            ),
        ),
        Group(
            "closing",
            _("Anything else"),
            _("This is the last question. Next you can check your answers before you send them."),
            (
                Question(
                    "notes",
                    _("Is there anything else you want your clinician to know?"),
                    ItemType.TEXT,
                    max_length=2000,
                ),
            ),
        ),
    ),
)


# --- Validation -----------------------------------------------------------------------------
# One set of rules for every way answers arrive (the web form and a FHIR import), so that a
# response accepted by one is accepted by the other.


@dataclass(frozen=True)
class Problem:
    """One reason answers cannot be accepted, tied to the question it concerns."""

    link_id: str
    code: str
    message: str | StrPromise


#: The line breaks someone may type or paste; refused with their own message in a one-line value.
#: Every other character that ends a line (``\v``, ``\f``, ``\x85``) is a control character.
LINE_BREAKS = frozenset("\n\r\u2028\u2029")
#: The line breaks a long answer may hold: what a browser's textarea sends.
_TEXT_LINE_BREAKS = frozenset("\n\r")


def character_problem(text: str, *, multiline: bool) -> tuple[str, str | StrPromise] | None:
    """Why ``text`` cannot be stored as typed, as ``(code, message)``; ``None`` when it can.

    A one-line value (a name, a record number, a short answer) is one line; a long answer keeps
    its line breaks. Neither may hold control characters (NUL included) or lone surrogates, which
    PostgreSQL cannot store, nor format characters (Unicode category Cf: the bidi embeddings,
    overrides, isolates and marks, zero-width spaces and joiners, the byte-order mark), which
    change how the text around them reads without showing themselves: a right-to-left override
    makes "Routine" of "enituoR", and a line break in a name starts a line of the chart note.
    Tabs are whitespace and stay.
    """
    for ch in text:
        if ch == "\t" or (multiline and ch in _TEXT_LINE_BREAKS):
            continue
        if ch in LINE_BREAKS and not multiline:
            return "line_break", _("Keep this answer to one line.")
        if ch in LINE_BREAKS or unicodedata.category(ch) in ("Cc", "Cf", "Cs"):
            return "control_character", _(
                "This answer has a hidden character we can't store. Retype it without pasting."
            )
    return None


def has_control_character(text: str, multiline: bool = False) -> bool:
    """True when :func:`character_problem` refuses ``text``; one line unless ``multiline``."""
    return character_problem(text, multiline=multiline) is not None


def is_blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


def _check(question: Question, value: Any) -> tuple[Any, list[Problem]]:
    """Check one enabled, answered question; return the stored form of the value."""
    link_id = question.link_id
    if question.type is ItemType.CHOICE and question.repeats:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            return None, [Problem(link_id, "wrong_type", _("Choose from the list."))]
        unknown = [v for v in value if v not in question.codes]
        if unknown:
            return None, [Problem(link_id, "unknown_code", _("Choose only from the list."))]
        if question.exclusive and question.exclusive in value and len(set(value)) > 1:
            return None, [
                Problem(
                    link_id,
                    "none_exclusive",
                    _("You ticked “None of these” and something else. Untick one of them."),
                )
            ]
        chosen = set(value)
        return [code for code in question.codes if code in chosen], []
    if question.type is ItemType.CHOICE:
        if not isinstance(value, str):
            return None, [Problem(link_id, "wrong_type", _("Choose one answer."))]
        if value not in question.codes:
            return None, [Problem(link_id, "unknown_code", _("Choose one of the answers shown."))]
        return value, []
    if question.type is ItemType.BOOLEAN:
        if not isinstance(value, bool):
            return None, [Problem(link_id, "wrong_type", _("Answer yes or no."))]
        return value, []
    if not isinstance(value, str):
        return None, [Problem(link_id, "wrong_type", _("Type your answer as text."))]
    refused = character_problem(value, multiline=question.type is ItemType.TEXT)
    if refused is not None:
        return None, [Problem(link_id, *refused)]
    if question.max_length is not None and len(value) > question.max_length:
        return None, [
            Problem(
                link_id,
                "too_long",
                _("Keep this to %(limit)s characters or fewer (it has %(count)s).")
                % {"limit": question.max_length, "count": len(value)},
            )
        ]
    return value, []


#: Only an import can answer a question that is not shown, and import messages are for the
#: sending system's staff, in English like the rest of them: not a patient-facing string.
_NOT_APPLICABLE = "This question does not apply to the answers given."


def _required_message(question: Question) -> str | StrPromise:
    if question.link_id == "locations-other":
        return _("You ticked “Somewhere else”. Tell us where.")
    if question.repeats:
        return (
            _("Tick at least one answer, or “None of these”.")
            if question.exclusive
            else _("Tick at least one answer.")
        )
    if question.type is ItemType.CHOICE or question.type is ItemType.BOOLEAN:
        return _("Choose an answer.")
    return _("Answer this question.")


def validate_group(
    group: Group, values: Answers, *, refuse_inapplicable: bool = False
) -> tuple[dict[str, Any], list[Problem]]:
    """Check one page of answers; return what to store for it and every problem found.

    Questions whose show-when condition does not hold are dropped, so that changing
    ``pattern`` to ``constant`` clears a stored ``episode-length``. Blank text is not stored.
    A response that arrives whole (an import) was never shown the question, so an answer to
    it is the sender's mistake: with ``refuse_inapplicable`` it is a problem, not dropped.
    """
    cleaned: dict[str, Any] = {}
    problems: list[Problem] = []
    refused: set[str] = set()
    for question in group.questions:
        value = values.get(question.link_id)
        if isinstance(value, str) and not has_control_character(
            value, multiline=question.type is ItemType.TEXT
        ):
            value = value.strip()  # after the check: strip() would eat some control characters
        if question.show_when and question.show_when.question in refused:
            continue  # its condition is unknown until the question it depends on is fixed
        if not question.is_enabled({**values, **cleaned}):
            if refuse_inapplicable and not is_blank(value):
                problems.append(Problem(question.link_id, "not_applicable", _NOT_APPLICABLE))
            continue
        if is_blank(value):
            if question.required:
                problems.append(Problem(question.link_id, "required", _required_message(question)))
            continue
        stored, found = _check(question, value)
        problems.extend(found)
        if found:
            refused.add(question.link_id)
        else:
            cleaned[question.link_id] = stored
    return cleaned, problems


def validate(
    answers: Answers,
    questionnaire: Questionnaire = TWITCH_INTAKE,
    *,
    refuse_inapplicable: bool = False,
) -> tuple[dict[str, Any], list[Problem]]:
    """Check a whole response: unknown linkIds, then every group as the form checks it.

    ``refuse_inapplicable`` is for imports (see :func:`validate_group`); the web form and a
    submit keep clearing such answers.
    """
    problems = [
        Problem(link_id, "unknown_question", _("This question is not part of the intake."))
        for link_id in answers
        if not questionnaire.has_question(link_id)
    ]
    cleaned: dict[str, Any] = {}
    for group in questionnaire.groups:
        group_cleaned, group_problems = validate_group(
            group, answers, refuse_inapplicable=refuse_inapplicable
        )
        cleaned.update(group_cleaned)
        problems.extend(group_problems)
    return cleaned, problems


def answered_groups(answers: Answers, questionnaire: Questionnaire = TWITCH_INTAKE) -> list[str]:
    """The groups whose answers, as stored, are complete and valid."""
    return [g.link_id for g in questionnaire.groups if not validate_group(g, answers)[1]]
