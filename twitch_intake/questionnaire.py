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
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

VERSION = "1.1.0"

#: The first version: what a question or option declares when it was always there.
FIRST_VERSION = "1.0.0"

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


def version_key(version: str) -> tuple[int, ...]:
    """``"1.10.0"`` after ``"1.9.0"``: versions compare as numbers, never as text. A ``ValueError``
    for anything that is not dotted numbers."""
    parts = version.split(".")
    if not all(part.isdigit() and part.isascii() for part in parts):
        raise ValueError(f"not a questionnaire version: {version!r}")
    return tuple(int(part) for part in parts)


class Region(StrEnum):
    """The body regions of the summary's one-line story ("4 places in 2 body regions")."""

    HEAD = "head"
    NECK_AND_ARMS = "neck-and-arms"
    TRUNK = "trunk"
    LEGS = "legs"
    #: A place the patient typed: a region of its own.
    OTHER = "other"


class Side(StrEnum):
    """A side of the body, as the body diagram marks it."""

    LEFT = "left"
    RIGHT = "right"


BOTH_SIDES = frozenset(Side)


@dataclass(frozen=True)
class Option:
    code: str
    label: str | Promise
    #: For an emergency sign: what the get-care page must tell the patient who ticked it.
    urgency: Urgency | None = None
    #: Advice the thanks page adds when this option was ticked (what to do, and not do, until
    #: the visit); empty: none.
    after_advice: str | Promise = ""
    #: The version that first offered it: an intake stored under an earlier one never saw it.
    since: str = FIRST_VERSION
    #: Cannot be ticked together with any other option ("None of these", "Not sure").
    exclusive: bool = False
    #: For a place on the body: its region, for the one-line story.
    region: Region | None = None
    #: For an answer about which side: the sides the body diagram marks for it.
    sides: frozenset[Side] = frozenset()
    #: When ticked, the summary's one-line story names it (the red-flag symptoms).
    in_story: bool = False
    #: When ticked, the summary shows it in the top block beside the red flags, as context that
    #: changes no level (benzodiazepine withdrawal: stopping it can itself be dangerous).
    shown_first: bool = False
    #: The clinician's few words for it in the summary's one-line story ("Severe", "Weakness")
    #: where the label explains too much to fit on one line; empty: the label.
    brief: str | Promise = ""

    def since_in(self, version: str) -> bool:
        """Whether an intake of ``version`` was offered this option."""
        return version_key(self.since) <= version_key(version)


@dataclass(frozen=True)
class ShowWhen:
    """Shown only when ``question``'s answer is, or (for a repeating choice) includes, ``code``;
    with ``other_than``, when it is answered with anything but ``code`` ("holds any sign other
    than 'None of these'")."""

    question: str
    #: An answer code, or ``True`` / ``False`` for a yes/no question.
    code: str | bool
    other_than: bool = False

    def holds(self, answers: Answers) -> bool:
        value = answers.get(self.question)
        if isinstance(self.code, bool):
            return value is self.code
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
    #: The version that first asked it: an intake stored under an earlier version was never
    #: asked, which the summary says rather than "not answered".
    since: str = FIRST_VERSION
    #: This question starts a new page of the patient form, within its group: a group may be
    #: more than one page, so that every page is short on a phone.
    starts_page: bool = False
    #: Its answer says which side of the body the places are on (the options' ``sides``).
    body_side: bool = False
    #: Its place in the summary's one-line story; ``None``: not in it. A repeating choice puts
    #: only the ticked options declared ``in_story`` there.
    story: int | None = None

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
    def exclusive(self) -> frozenset[str]:
        """The codes that cannot be ticked with any other: "None of these" of every repeating
        choice, and the options declared ``exclusive`` ("Not sure")."""
        if not self.repeats:
            return frozenset()
        return frozenset(o.code for o in self.options if o.exclusive or o.code == NONE)

    def asked_in(self, version: str) -> bool:
        """Whether an intake of ``version`` was asked this question."""
        return version_key(self.since) <= version_key(version)

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
class Page:
    """One page of the patient form: a group, or a part of one (``Question.starts_page``).

    Pages are how the form is shown, not what is stored: answers, FHIR and the summary know
    only groups and questions. The first page of a group is named after the group, any later
    one after its first question, so page names are linkIds and never collide.
    """

    slug: str
    group: Group
    questions: tuple[Question, ...]
    #: Its place among its group's pages, from 0.
    part: int = 0

    @property
    def title(self) -> str | Promise:
        return self.group.title

    @property
    def intro(self) -> str | Promise:
        """The group's introduction, on its first page only."""
        return self.group.intro if self.part == 0 else ""


@dataclass(frozen=True)
class Group:
    link_id: str
    title: str | Promise
    intro: str | Promise
    questions: tuple[Question, ...]

    @cached_property
    def pages(self) -> tuple[Page, ...]:
        parts: list[list[Question]] = []
        for question in self.questions:
            if not parts or question.starts_page:
                parts.append([])
            parts[-1].append(question)
        return tuple(
            Page(self.link_id if i == 0 else part[0].link_id, self, tuple(part), i)
            for i, part in enumerate(parts)
        )


@dataclass(frozen=True)
class Questionnaire:
    version: str
    title: str | Promise
    groups: tuple[Group, ...]
    _index: dict[str, Question] = field(init=False, repr=False, compare=False)
    _as_of: dict[str, Questionnaire] = field(init=False, repr=False, compare=False)
    #: The pages in order and each slug's place: every patient request asks for them, often
    #: dozens of times, so they are worked out once (the definition is immutable).
    _pages: tuple[Page, ...] = field(init=False, repr=False, compare=False)
    _page_at: dict[str, int] = field(init=False, repr=False, compare=False)

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
            offered = (
                parent is not None
                and (parent.type is ItemType.BOOLEAN) == isinstance(when.code, bool)
                and (isinstance(when.code, bool) or when.code in parent.codes)
            )
            if not offered:
                raise ValueError(
                    f"{question.link_id}: shown when {when.question!r} is {when.code!r}, "
                    "which no question of this questionnaire offers"
                )
        for question in index.values():
            version_key(question.since)
            for option in question.options:
                version_key(option.since)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_as_of", {})
        pages = tuple(page for group in self.groups for page in group.pages)
        object.__setattr__(self, "_pages", pages)
        object.__setattr__(self, "_page_at", {page.slug: i for i, page in enumerate(pages)})

    # --- versions -----------------------------------------------------------------------------

    @property
    def versions(self) -> tuple[str, ...]:
        """Every version this definition can read, oldest first: the versions its questions and
        options were added in, and its own."""
        found = {self.version}
        for question in self.questions():
            found.add(question.since)
            found.update(option.since for option in question.options)
        return tuple(sorted(found, key=version_key))

    def as_of(self, version: str) -> Questionnaire:
        """This questionnaire as an intake of ``version`` was asked it: without the questions
        and options added later. Labels are today's (they are ours to reword; codes never change
        meaning). A ``ValueError`` for a version this definition does not know."""
        if version == self.version:
            return self
        if version not in self.versions:
            raise ValueError(f"questionnaire version {version!r} is not known")
        cache: dict[str, Questionnaire] = self._as_of
        if version not in cache:
            cache[version] = Questionnaire(
                version,
                self.title,
                tuple(
                    replace(
                        group,
                        questions=tuple(
                            replace(q, options=tuple(o for o in q.options if o.since_in(version)))
                            for q in group.questions
                            if q.asked_in(version)
                        ),
                    )
                    for group in self.groups
                ),
            )
        return cache[version]

    def asked(self, link_id: str) -> bool:
        """Whether an intake of this questionnaire's version was asked ``link_id``."""
        return link_id in self._index

    # --- pages --------------------------------------------------------------------------------

    def pages(self) -> tuple[Page, ...]:
        """Every page of the patient form, in order."""
        return self._pages

    def page(self, slug: str) -> Page:
        return self._pages[self._page_at[slug]]

    def has_page(self, slug: str) -> bool:
        return slug in self._page_at

    def page_index(self, slug: str) -> int:
        """The page's place from 0; a ``KeyError`` for a slug that is no page of it."""
        return self._page_at[slug]

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


def _places(region: Region, *pairs: tuple[str, str | Promise]) -> tuple[Option, ...]:
    return tuple(Option(code, label, region=region) for code, label in pairs)


CALL_NOW, GET_CARE_NOW = Urgency.CALL_NOW, Urgency.GET_CARE_NOW
V1_1 = "1.1.0"

#: The signs that need care now. Asked first (``emergency-signs``), and asked again, without
#: the get-care message, about the time since the twitching started (``recent-emergency-signs``).
EMERGENCY_SIGNS: tuple[Option, ...] = (
    *_signs(
        ("diminished-pulse", _("A weak pulse, or a pulse that is hard to find"), CALL_NOW),
        (
            "consciousness-change",
            _("Fainting, or being very drowsy or hard to wake"),
            CALL_NOW,
        ),
        ("mental-status-change", _("Confusion, or a sudden change in behavior"), CALL_NOW),
        (
            "thinking-difficulty",
            _("Trouble with memory, thinking or understanding"),
            GET_CARE_NOW,
        ),
        (
            "high-fever",
            _("A high fever: 38 °C (100.4 °F) or higher, or feeling hot and shivery"),
            GET_CARE_NOW,
        ),
        (
            "coordination-loss",
            _("Losing control of your movements (clumsy, unsteady)"),
            CALL_NOW,
        ),
        ("paralysis", _("Not being able to move a part of your body"), CALL_NOW),
        (
            "seizure",
            _("A seizure: the body shakes and you cannot stop it, or you pass out"),
            CALL_NOW,
        ),
        (
            "severe-headache",
            _("A sudden, very bad headache, or the worst headache you have ever had"),
            CALL_NOW,
        ),
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
    ),
    Option("breathing-difficulty", _("Trouble breathing, or choking"), CALL_NOW, since=V1_1),
)

YES_NO_NOT_SURE = _options(("yes", _("Yes")), ("no", _("No")), ("not-sure", _("Not sure")))


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
                    options=(*EMERGENCY_SIGNS, Option(NONE, _("None of these"))),
                    help=_("Tick every one that applies, or “None of these”."),
                    in_history=False,
                    story=90,
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
                    since=V1_1,
                ),
            ),
        ),
        Group(
            "history",
            _("About your twitching"),
            _(
                "We mean involuntary muscle twitches (fasciculations): small movements of a "
                "muscle that you do not control."
            ),
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
                    story=10,
                ),
                Question(
                    "onset",
                    _("How did it start?"),
                    ItemType.CHOICE,
                    required=True,
                    options=_options(
                        ("sudden", _("Suddenly, within minutes or hours")),
                        ("over-days", _("Over a few days")),
                        ("gradual", _("Slowly, over weeks or months")),
                        ("not-sure", _("Not sure")),
                    ),
                    heading=_("Onset"),
                    since=V1_1,
                    story=20,
                ),
                Question(
                    "course",
                    _("Since it started, has it…"),
                    ItemType.CHOICE,
                    required=True,
                    options=_options(
                        ("better", _("Got better")),
                        ("same", _("Stayed about the same")),
                        ("worse", _("Got worse")),
                        ("spreading", _("Spread to new places")),
                    ),
                    heading=_("Course"),
                    since=V1_1,
                    story=21,
                ),
                Question(
                    "severity",
                    _("How bad are the twitches?"),
                    ItemType.CHOICE,
                    required=True,
                    options=(
                        Option(
                            "mild",
                            _("Mild: I notice them, but they don't bother me"),
                            brief=pgettext_lazy("severity", "Mild"),
                        ),
                        Option(
                            "moderate",
                            _("Moderate: they bother me, but I still do my usual things"),
                            brief=pgettext_lazy("severity", "Moderate"),
                        ),
                        Option(
                            "severe",
                            _(
                                "Severe: strong enough to move a joint (the eye closes or a "
                                "finger jerks), or they stop me doing daily things or sleeping"
                            ),
                            brief=pgettext_lazy("severity", "Severe"),
                        ),
                    ),
                    heading=_("Severity"),
                    story=60,
                ),
                Question(
                    "frequency",
                    _("How often do you notice them?"),
                    ItemType.CHOICE,
                    required=True,
                    options=_options(
                        ("many-times-a-day", _("Many times a day")),
                        ("daily", _("About once a day")),
                        ("weekly", _("A few times a week")),
                        ("rarely", _("Less than once a week")),
                    ),
                    heading=_("How often"),
                    since=V1_1,
                    starts_page=True,
                ),
                Question(
                    "movement",
                    _("What does it look or feel like?"),
                    ItemType.CHOICE,
                    required=True,
                    repeats=True,
                    options=(
                        *_options(
                            ("flicker", _("A flicker or ripple under the skin")),
                            ("jerk", _("A quick jerk that moves a body part")),
                            ("shaking", _("Shaking back and forth")),
                            (
                                "tightening",
                                _("A tightening that hurts and lasts, like a cramp"),
                            ),
                            (
                                "urge",
                                _(
                                    "A movement or sound you feel an urge to make and can "
                                    "hold back for a while"
                                ),
                            ),
                        ),
                        Option("not-sure", _("Not sure"), exclusive=True),
                    ),
                    help=_("Tick every one that applies, or “Not sure”."),
                    heading=_("What it looks or feels like"),
                    since=V1_1,
                ),
                Question(
                    "locations",
                    _("Where are you having the twitches?"),
                    ItemType.CHOICE,
                    required=True,
                    repeats=True,
                    options=(
                        *_places(
                            Region.HEAD,
                            ("eyelid", _("Eyelid")),
                            ("face", _("Face")),
                            ("tongue", _("Tongue")),
                        ),
                        *_places(
                            Region.NECK_AND_ARMS,
                            ("neck", _("Neck")),
                            ("shoulder", _("Shoulder")),
                            ("upper-arm", _("Upper arm")),
                            ("forearm", _("Forearm")),
                            ("hand", _("Hand")),
                        ),
                        *_places(
                            Region.TRUNK,
                            ("chest", _("Chest")),
                            ("abdomen", _("Belly")),
                            ("back", _("Back")),
                        ),
                        *_places(
                            Region.LEGS,
                            ("thigh", _("Thigh")),
                            ("calf", _("Calf (the back of the lower leg)")),
                            ("foot", _("Foot")),
                        ),
                        Option(
                            "other",
                            pgettext_lazy("body location", "Somewhere else"),
                            region=Region.OTHER,
                        ),
                    ),
                    help=_("Tick every place you have noticed them."),
                    heading=_("Locations"),
                    body_sites=True,
                    starts_page=True,
                    story=30,
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
                    "side",
                    _("Which side of your body are the twitches on?"),
                    ItemType.CHOICE,
                    required=True,
                    options=(
                        Option("left", _("Left"), sides=frozenset({Side.LEFT})),
                        Option("right", _("Right"), sides=frozenset({Side.RIGHT})),
                        Option("both", _("Both sides"), sides=BOTH_SIDES),
                        Option("not-sure", _("Not sure"), sides=BOTH_SIDES),
                    ),
                    heading=_("Side"),
                    since=V1_1,
                    body_side=True,
                    story=31,
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
                    starts_page=True,
                    story=50,
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
                    options=(
                        Option(
                            "weakness",
                            _(
                                "Weakness: a muscle is not as strong as before (you drop "
                                "things, can't open jars or lift your arm, trip, or find "
                                "stairs hard). Not tiredness."
                            ),
                            in_story=True,
                            brief=_("Weakness"),
                        ),
                        Option(
                            "muscle-loss",
                            _("A muscle looks smaller or thinner"),
                            in_story=True,
                            brief=_("Muscle loss"),
                        ),
                        *_options(
                            ("cramps", _("Cramps")),
                            ("stiffness", _("Stiffness")),
                            ("numbness-tingling", _("Numbness or tingling")),
                            ("pain", _("Pain")),
                            ("fatigue", _("Feeling very tired")),
                        ),
                        Option("trouble-swallowing", _("Trouble swallowing"), in_story=True),
                        Option(
                            "speech-change",
                            _(
                                "Your speech has changed over weeks or months: slurred, "
                                "nasal or slower"
                            ),
                            since=V1_1,
                            in_story=True,
                            brief=_("Speech change"),
                        ),
                        Option(
                            "breathless",
                            _("Short of breath when you lie flat or do light activity"),
                            since=V1_1,
                            in_story=True,
                            brief=_("Breathless lying flat or on light activity"),
                        ),
                        Option(
                            "tics-or-vocal-outbursts",
                            _(
                                "Movements or sounds you feel an urge to make and can hold "
                                "back only for a while (tics)"
                            ),
                        ),
                        Option(NONE, _("None of these")),
                    ),
                    help=_("Tick every one that applies, or “None of these”."),
                    heading=_("Other symptoms"),
                    story=70,
                ),
                Question(
                    "weakness-where",
                    _("Where do you feel weak?"),
                    ItemType.STRING,
                    max_length=200,
                    help=_("For example: right hand, both legs."),
                    show_when=ShowWhen("other-symptoms", "weakness"),
                    heading=_("Where weak"),
                    details_option=True,
                ),
                Question(
                    "recent-emergency",
                    _(
                        "Since your twitching started, have you had any of the signs from the "
                        "first page, even if they went away?"
                    ),
                    ItemType.BOOLEAN,
                    required=True,
                    heading=_("Emergency signs since the twitching started"),
                    since=V1_1,
                    starts_page=True,
                ),
                Question(
                    "recent-emergency-signs",
                    _("Which ones?"),
                    ItemType.CHOICE,
                    required=True,
                    repeats=True,
                    options=tuple(
                        Option(sign.code, sign.label, since=sign.since) for sign in EMERGENCY_SIGNS
                    ),
                    help=_("Tick every one you have had."),
                    show_when=ShowWhen("recent-emergency", True),
                    heading=_("Which signs"),
                    since=V1_1,
                    story=91,
                ),
                Question(
                    "family-history",
                    _(
                        "Has anyone in your family (parents, brothers, sisters, children) had "
                        "ALS (motor neurone disease), muscular dystrophy, or another nerve or "
                        "muscle disease?"
                    ),
                    ItemType.CHOICE,
                    required=True,
                    options=YES_NO_NOT_SURE,
                    heading=_("Family history of nerve or muscle disease"),
                    since=V1_1,
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
                                _(
                                    "A stimulant medicine, for example for ADHD, or diet pills, "
                                    "or stimulant drugs such as amphetamines or cocaine"
                                ),
                            ),
                            ("corticosteroid", _("A steroid medicine, such as prednisone")),
                            (
                                "estrogen",
                                _(
                                    "A hormone medicine with estrogen: the combined pill, patch "
                                    "or ring, or hormone therapy for the menopause"
                                ),
                            ),
                            ("diuretic", _("A diuretic (“water pill”)")),
                        ),
                        Option(
                            "benzodiazepine-withdrawal",
                            _(
                                "I recently stopped or cut down a benzodiazepine, such as Valium "
                                "(diazepam), Ativan (lorazepam), Xanax (alprazolam) or Klonopin "
                                "(clonazepam)"
                            ),
                            after_advice=_(
                                "You told us you recently stopped or cut down a benzodiazepine. "
                                "Do not stop, restart or change this medicine on your own. Talk "
                                "soon to the doctor who prescribes it. If you have a seizure, "
                                "become confused, or see or hear things that are not there, call "
                                "the emergency number."
                            ),
                            shown_first=True,
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
                    starts_page=True,
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
                                "Nerve damage, a trapped or pinched nerve, or an injury to the "
                                "nerves of the shoulder and arm (brachial plexus)"
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
                    "pregnancy",
                    _("Are you pregnant, or have you given birth in the past 6 weeks?"),
                    ItemType.CHOICE,
                    options=_options(
                        ("yes", _("Yes")),
                        ("no", _("No")),
                        ("not-applicable", _("This does not apply to me")),
                    ),
                    heading=_("Pregnant or gave birth in the past 6 weeks"),
                    since=V1_1,
                    starts_page=True,
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
            _(
                "These are the last questions. Next you can check your answers before you send them."
            ),
            (
                Question(
                    "notes",
                    _("Is there anything else you want your clinician to know?"),
                    ItemType.TEXT,
                    max_length=2000,
                    heading=_("Anything else"),
                ),
                Question(
                    "answered-by",
                    _("Who filled in this form?"),
                    ItemType.CHOICE,
                    required=True,
                    options=_options(
                        ("patient", _("The patient")),
                        ("with-help", _("The patient, with someone's help")),
                        ("parent-or-carer", _("A parent or carer, for the patient")),
                    ),
                    heading=_("Filled in by"),
                    # The summary's header says who answered; the history is the patient's story.
                    in_history=False,
                    since=V1_1,
                ),
            ),
        ),
    ),
)


def for_version(version: str | None) -> Questionnaire:
    """The questionnaire as an intake of ``version`` was asked it; the current one for ``None``
    or an empty version. A ``ValueError`` for a version this definition does not know."""
    return TWITCH_INTAKE.as_of(version) if version else TWITCH_INTAKE


def stored_under(version: str | None) -> Questionnaire:
    """The questionnaire a stored row of ``version`` is read with. A version this definition
    does not know (a row written by a newer release, which was then rolled back) is read as the
    current one: a stored intake must always render, retriage and export, under its own
    version's name."""
    try:
        return for_version(version)
    except ValueError:
        return TWITCH_INTAKE


def current_version() -> str:
    """The version new encounters are stored against: a callable default, read when a row is
    made, so that a content version is a change to this module and never a migration."""
    return TWITCH_INTAKE.version
