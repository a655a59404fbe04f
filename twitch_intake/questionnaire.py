"""The twitching intake, defined once.

Every question of the clinical contract (``shared/CLINICAL.md``) lives here: groups in the order
the patient sees them, linkIds, answer codes, plain-language labels, what is required and when a
question is shown. The web form, the triage, the summary, the admin and the FHIR export all read
this module, so nothing else spells a code.

The linkIds and codes are a contract with other systems: they are stored in the database and
carried in FHIR. Labels are ours to reword; codes never change meaning. Changing a question means
bumping :data:`VERSION`.

What an acceptable answer is lives in ``validation``. This module knows nothing of HTTP or the ORM. Answers are plain values keyed by linkId:
a code string (choice), a list of code strings (repeating choice), a bool, or text. An unanswered
question is absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

VERSION = "1.0.0"

#: The exclusive answer of a repeating choice: it cannot be ticked with anything else.
NONE = "none"

Answers = Mapping[str, Any]


class ItemType(StrEnum):
    CHOICE = "choice"
    BOOLEAN = "boolean"
    STRING = "string"
    TEXT = "text"


class Urgency(StrEnum):
    """What the get-care page tells a patient who ticked an emergency sign (CLINICAL.md, "What
    the patient is told"). The most urgent of the signs ticked decides."""

    #: Call the emergency number now.
    CALL_NOW = "call-now"
    #: Get emergency care now; call the emergency number if you cannot get there safely.
    GET_CARE_NOW = "get-care-now"

    @property
    def rank(self) -> int:
        return (Urgency.GET_CARE_NOW, Urgency.CALL_NOW).index(self)


@dataclass(frozen=True)
class Option:
    code: str
    label: str | Promise
    #: For an emergency sign: what the get-care page must tell the patient who ticked it.
    urgency: Urgency | None = None
    #: Advice the thanks page adds when this option was ticked (what to do, and not do, until
    #: the visit); empty: none.
    after_advice: str | Promise = ""


@dataclass(frozen=True)
class ShowWhen:
    """Shown only when ``question``'s answer is, or (for a repeating choice) includes, ``code``;
    with ``other_than``, when it is answered with anything but ``code`` ("holds any sign other
    than 'None of these'")."""

    question: str
    code: str
    other_than: bool = False

    def holds(self, answers: Answers) -> bool:
        value = answers.get(self.question)
        if self.other_than:
            if value is None or value == [] or value == () or str(value).strip() == "":
                return False
            if isinstance(value, list | tuple):
                return any(item != self.code for item in value)
            return bool(value != self.code)
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
    #: The clinician's words for this question in the summary's history ("Duration"); empty:
    #: the question as the patient read it.
    heading: str | Promise = ""
    #: False only for a question the summary shows elsewhere in full (the emergency signs head
    #: it in the banner and the triage table): a new question is in the history unless it says no.
    in_history: bool = True
    #: The history lists questions by this number, then in the order the patient saw them; a
    #: question may be asked late on a page yet belong early in the clinician's story.
    history_order: int = 0
    #: What an answer of only "None of these" tells the clinician about a red flag this question
    #: rules out ("patient ticked none of these"); empty: "not reported".
    none_means: str | Promise = ""
    #: The message when a required answer is missing, where the generic one would not say why
    #: the question is there ("You ticked “Somewhere else”. Tell us where.").
    required_message: str | Promise = ""
    #: Its answer says more about the option that shows it (the place typed for "somewhere
    #: else"): the summary writes it after that option's label rather than on a line of its own.
    details_option: bool = False
    #: The answers are places on the body: the summary draws them on the body diagram.
    body_sites: bool = False
    #: The patient's answer on the get-care page: shown beside the emergency in the queue and
    #: summary header. Asked there, after the warning, never on the page of its group.
    emergency_response: bool = False

    @property
    def clinician_heading(self) -> str | Promise:
        return self.heading or self.text

    @property
    def is_free_text(self) -> bool:
        return self.type in (ItemType.STRING, ItemType.TEXT)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(option.code for option in self.options)

    @property
    def exclusive(self) -> str | None:
        """The code that cannot be combined with others, if this question has one."""
        return NONE if self.repeats and NONE in self.codes else None

    def label(self, code: str) -> str | Promise:
        """The option's label; a code without an option (stored by an older version) is its
        own label."""
        return self._labels.get(code, code)

    @cached_property
    def _labels(self) -> dict[str, str | Promise]:
        labels: dict[str, str | Promise] = {}
        for option in self.options:
            labels.setdefault(option.code, option.label)
        return labels

    def is_enabled(self, answers: Answers) -> bool:
        return self.show_when is None or self.show_when.holds(answers)

    def option(self, code: str) -> Option | None:
        return next((option for option in self.options if option.code == code), None)

    def ticked(self, answers: Answers) -> tuple[Option, ...]:
        """The options of this question that ``answers`` holds, in the question's order."""
        value = answers.get(self.link_id)
        chosen = set(value) if isinstance(value, list | tuple) else {value}
        return tuple(option for option in self.options if option.code in chosen)


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
        for question in index.values():
            when = question.show_when
            if when is None:
                if question.details_option:
                    raise ValueError(f"{question.link_id}: details_option needs a show_when")
                continue
            parent = index.get(when.question)
            if parent is None or when.code not in parent.codes:
                raise ValueError(
                    f"{question.link_id}: shown when {when.question!r} is {when.code!r}, "
                    "which no question of this questionnaire offers"
                )
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

    def history(self, answers: Answers) -> list[Question]:
        """The questions of the clinician's history for these answers, in its order: each shown
        to the patient and not told to stay out (a follow-up never shown is left out)."""
        return sorted(
            (
                q
                for q in self.questions()
                if q.in_history and not q.details_option and q.is_enabled(answers)
            ),
            key=lambda q: q.history_order,  # sorted() is stable: the patient's order within
        )

    def urgency(self, answers: Answers, link_ids: Iterable[str]) -> Urgency | None:
        """The most urgent message the options ticked in ``link_ids`` call for; ``None`` when
        none of them declares one."""
        wanted = set(link_ids)
        found = [
            option.urgency
            for question in self.questions()
            if question.link_id in wanted
            for option in question.ticked(answers)
            if option.urgency is not None
        ]
        return max(found, key=lambda urgency: urgency.rank, default=None)

    def after_advice(self, answers: Answers) -> list[str | Promise]:
        """The advice the thanks page adds for the options ticked in ``answers``."""
        return [
            option.after_advice
            for question in self.questions()
            if question.is_enabled(answers)
            for option in question.ticked(answers)
            if option.after_advice
        ]

    def emergency_responses(self, group: Group | None = None) -> tuple[Question, ...]:
        """The questions asked on the get-care page (of ``group``, or of every group)."""
        groups = (group,) if group is not None else self.groups
        return tuple(q for g in groups for q in g.questions if q.emergency_response)

    def details_of(self, question: Question, code: str) -> Question | None:
        """The question whose answer says more about ``code`` of ``question`` (the place typed
        for "somewhere else"), if there is one."""
        for candidate in self.questions():
            when = candidate.show_when
            if (
                candidate.details_option
                and when is not None
                and (when.question, when.code) == (question.link_id, code)
            ):
                return candidate
        return None


def _options(*pairs: tuple[str, str | Promise]) -> tuple[Option, ...]:
    return tuple(Option(code, label) for code, label in pairs)


def _signs(*signs: tuple[str, str | Promise, Urgency]) -> tuple[Option, ...]:
    return tuple(Option(code, label, urgency=urgency) for code, label, urgency in signs)


CALL_NOW, GET_CARE_NOW = Urgency.CALL_NOW, Urgency.GET_CARE_NOW


TWITCH_INTAKE = Questionnaire(
    version=VERSION,
    title=_("Muscle twitching: before your visit"),
    groups=(
        Group(
            "emergency",
            _("Signs that need care now"),
            _("We ask this first so that we can tell you straight away if you need care now."),
            (
                Question(
                    "emergency-signs",
                    _("Right now, or in the past 24 hours, have you had any of these?"),
                    ItemType.CHOICE,
                    required=True,
                    repeats=True,
                    options=(
                        *_signs(
                            (
                                "diminished-pulse",
                                _("A weak pulse, or a pulse that is hard to find"),
                                CALL_NOW,
                            ),
                            (
                                "consciousness-change",
                                _("Fainting, or being very drowsy or hard to wake"),
                                CALL_NOW,
                            ),
                            (
                                "mental-status-change",
                                _("Confusion, or a sudden change in behavior"),
                                CALL_NOW,
                            ),
                            (
                                "thinking-difficulty",
                                _("Trouble with memory, thinking or understanding"),
                                GET_CARE_NOW,
                            ),
                            ("high-fever", _("A high fever"), GET_CARE_NOW),
                            (
                                "coordination-loss",
                                _("Losing control of your movements (clumsy, unsteady)"),
                                CALL_NOW,
                            ),
                            (
                                "paralysis",
                                _("Not being able to move a part of your body"),
                                CALL_NOW,
                            ),
                            ("seizure", _("A seizure (fit)"), CALL_NOW),
                            ("severe-headache", _("A severe headache"), CALL_NOW),
                            (
                                "speech-difficulty",
                                _("Slurred or mixed-up speech, or not being able to speak"),
                                CALL_NOW,
                            ),
                            (
                                "vision-change",
                                _("A sudden change in your vision, losing vision, or eye pain"),
                                CALL_NOW,
                            ),
                            ("vomiting", _("Vomiting (throwing up)"), GET_CARE_NOW),
                            (
                                "breathing-difficulty",
                                _("Trouble breathing, or choking"),
                                CALL_NOW,
                            ),
                        ),
                        Option(NONE, _("None of these")),
                    ),
                    help=_("Tick every one that applies, or “None of these”."),
                    in_history=False,
                    none_means=_("patient ticked none of these"),
                ),
                Question(
                    "emergency-action",
                    _("What are you doing about this?"),
                    ItemType.CHOICE,
                    required=True,
                    options=_options(
                        (
                            "getting-care-now",
                            _("I am calling the emergency number or going to get care now"),
                        ),
                        ("already-seen", _("A doctor has already seen me for this")),
                        (
                            "long-standing",
                            _("This is a long-standing problem my doctor knows about"),
                        ),
                    ),
                    # "Holds a sign": any answer but "None of these". The answer is for the
                    # clinician; it never lowers the level (no rule reads it).
                    show_when=ShowWhen("emergency-signs", NONE, other_than=True),
                    heading=_("What the patient is doing about it"),
                    # The summary's header shows it beside the emergency (CLINICAL.md).
                    in_history=False,
                    required_message=_("Choose what you are doing about this."),
                    emergency_response=True,
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
                    heading=_("Duration"),
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
                    heading=_("Severity"),
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
                    heading=_("Locations"),
                    body_sites=True,
                ),
                Question(
                    "locations-other",
                    _("Where else?"),
                    ItemType.STRING,
                    required=True,
                    max_length=200,
                    show_when=ShowWhen("locations", "other"),
                    required_message=_("You ticked “Somewhere else”. Tell us where."),
                    details_option=True,
                ),
                Question(
                    "more-than-one-location",
                    _("Do you have twitches in more than one place?"),
                    ItemType.BOOLEAN,
                    required=True,
                    heading=_("More than one place"),
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
                    heading=_("Pattern"),
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
                    heading=_("Each episode lasts"),
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
                    heading=_("Other symptoms"),
                ),
                Question(
                    "weakness-where",
                    _("Where do you feel weak?"),
                    ItemType.STRING,
                    max_length=200,
                    help=_("For example: right hand, both legs."),
                    show_when=ShowWhen("other-symptoms", "weakness"),
                    heading=_("Where weak"),
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
                    heading=_("Medicines (as typed)"),
                ),
                Question(
                    "medication-flags",
                    _("Do any of these apply to you?"),
                    ItemType.CHOICE,
                    required=True,
                    repeats=True,
                    options=(
                        *_options(
                            (
                                "stimulant",
                                _("A stimulant medicine, for example for ADHD, or diet pills"),
                            ),
                            ("corticosteroid", _("A steroid medicine, such as prednisone")),
                            (
                                "estrogen",
                                _("Estrogen, including birth control or hormone therapy"),
                            ),
                            ("diuretic", _("A diuretic (“water pill”)")),
                        ),
                        Option(
                            "benzodiazepine-withdrawal",
                            _(
                                "I recently stopped or cut down a benzodiazepine, such as diazepam, lorazepam or alprazolam"
                            ),
                            after_advice=_(
                                "You told us you recently stopped or cut down a benzodiazepine. "
                                "Do not stop, restart or change this medicine on your own. Talk "
                                "soon to the doctor who prescribes it. If you have a seizure, "
                                "become confused, or see or hear things that are not there, call "
                                "the emergency number."
                            ),
                        ),
                        Option(NONE, _("None of these")),
                    ),
                    heading=_("Medicines linked to twitching"),
                ),
                Question(
                    "conditions",
                    _("What other health conditions do you have?"),
                    ItemType.TEXT,
                    max_length=2000,
                    heading=_("Conditions (as typed)"),
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
                    heading=_("Conditions diagnosed"),
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
                    heading=_("Recent triggers"),
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
                    heading=_("Anything else"),
                ),
            ),
        ),
    ),
)


def current_version() -> str:
    """The version new encounters are stored against: a callable default, read when a row is
    made, so that a content version is a change to this module and never a migration."""
    return TWITCH_INTAKE.version
