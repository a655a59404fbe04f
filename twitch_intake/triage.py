"""From a patient's answers to the level and flags of the pre-visit summary.

The rules are the clinical contract's (``shared/CLINICAL.md``, "Rules"), one plain function each,
with the reason it exists in its docstring. Each flag names the answers that raised it, in the
patient's own terms, and the source it rests on, so a clinician can see at a glance why it is
there and disagree with it.

A rule declares what the rest of the app needs of it: the questions it reads (so the summary can
say "not answered" rather than "not reported" when it did not fire), whether it is red or context,
the level it sets, and its place among the highlights under the emergency banner. The summary,
the admin's flag filter and the queue iterate over :func:`rules`; none of them spells a code.

Red flags set the level: an emergency sign makes the intake an ``emergency`` (nothing else
matters until that is dealt with); any other red flag makes it ``priority``. Context flags
(lifestyle, medicines, neurological and metabolic history) are shown beside the answers but never
change the level: they explain twitching, they do not make it urgent.

``assess`` is a pure function of the answers: no database, no request, no clock. Its evidence is
lazy text, worded in the language of whoever reads it. What the patient saved earlier and later
changed is passed in when it matters (``earlier``; read from the answer history by
``history.earlier_answers``): a rule that declares ``counts_withdrawn`` still fires for an
answer the patient took back, and says when it was given and when it was changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import Promise, lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import questionnaire, validation
from .questionnaire import NONE, Answers, ItemType, Question, Questionnaire

Text = str | Promise


class Level(StrEnum):
    EMERGENCY = "emergency"
    PRIORITY = "priority"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        """0 for the most urgent: how the queue and ``assess`` order levels (never by name)."""
        return _RANKS[self]


_RANKS = {Level.EMERGENCY: 0, Level.PRIORITY: 1, Level.ROUTINE: 2}


class Kind(StrEnum):
    RED = "red"
    CONTEXT = "context"


@dataclass(frozen=True)
class Finding:
    """What a rule found in the answers: its evidence, in the patient's terms.

    The words are lazy, like the labels they quote: they are put together in the language of
    whoever reads them, when they read them, and an ``assess`` run only to sort the queue
    translates nothing.
    """

    evidence: Text
    #: The labels of the answers that raised it ("A seizure (fit)"), for lists such as the
    #: emergency banner; empty when the evidence is not a list of ticked answers.
    answers: tuple[Text, ...] = ()
    #: Where the answers disagree and the clinician should ask.
    note: Text = ""


#: A rule's test: the finding when the rule fires, ``None`` when it does not.
Test = Callable[[Answers, Questionnaire], "Finding | None"]

#: Values questions held before (linkId -> every value saved, oldest first, each with when it
#: was saved; the last may be the value held now). Only the questions that rules declaring
#: ``counts_withdrawn`` read need be given.
Earlier = Mapping[str, Sequence[tuple[datetime, Any]]]


@dataclass(frozen=True)
class Rule:
    code: str
    kind: Kind
    label: Text
    source: Text
    #: The questions ``test`` reads: nothing else in the answers can change its result.
    reads: tuple[str, ...]
    test: Test
    #: The level this rule sets when it fires (context rules leave the level routine).
    level: Level = Level.ROUTINE
    #: Red flags shown right under the emergency banner, raised or not, in this order; ``None``
    #: for the rest, which are listed only when raised and otherwise among the negatives.
    highlight: int | None = None
    #: An answer that made this rule fire at an earlier save still raises it after the patient
    #: took it back (``assess(..., earlier=...)``): the clinician reconciles it, not the form.
    counts_withdrawn: bool = False
    #: How a negative of this rule is worded, when the answers it reads say it better together
    #: than one by one ("no (one place: Eyelid)"); ``None``: each answer given, as given.
    negative: Callable[[Answers, Questionnaire], Text] | None = None

    @property
    def is_red(self) -> bool:
        return self.kind is Kind.RED

    @property
    def is_emergency(self) -> bool:
        return self.level is Level.EMERGENCY


@dataclass(frozen=True)
class Withdrawal:
    """Answers that raised a rule at an earlier save and that the patient later took back."""

    #: The answers taken back, as the patient read them ("A seizure (fit)").
    answers: tuple[Text, ...]
    #: When they were first saved.
    reported_at: datetime
    #: When a save first left them out, and what it held instead (labels; empty when the
    #: question was left unanswered); ``None`` when the history given does not say.
    changed_at: datetime | None = None
    changed_to: tuple[Text, ...] = ()

    @property
    def evidence(self) -> Text:
        """Worded when read, in local time: "reported at 08:15: A seizure (fit); changed to
        “None of these” at 08:16: ask the patient"."""
        return _words(self._evidence)

    def _evidence(self) -> str:
        reported, changed = _clock(self.reported_at, self.changed_at)
        words = {"reported": reported, "answers": _joined(self.answers), "changed": changed}
        if self.changed_at is None:
            return (
                gettext("reported at %(reported)s: %(answers)s; later withdrawn: ask the patient")
                % words
            )
        if not self.changed_to:
            return (
                gettext(
                    "reported at %(reported)s: %(answers)s; answer removed at %(changed)s: ask the patient"
                )
                % words
            )
        return gettext(
            "reported at %(reported)s: %(answers)s; changed to “%(new)s” at %(changed)s: ask the patient"
        ) % {**words, "new": _joined(self.changed_to)}


def _clock(first: datetime, second: datetime | None) -> tuple[str, str]:
    """The two times in local time, each with its date."""
    one = timezone.localtime(first)
    two = timezone.localtime(second) if second is not None else None
    fmt = "Y-m-d H:i"  # always the day: a chart note pasted today is read next year
    return date_format(one, fmt), date_format(two, fmt) if two is not None else ""


@dataclass(frozen=True)
class Flag:
    """A rule that fired, with what it found."""

    rule: Rule
    evidence: Text
    answers: tuple[Text, ...] = ()
    #: Answers that raised it earlier and were taken back (``Rule.counts_withdrawn``).
    withdrawn: tuple[Withdrawal, ...] = ()

    @property
    def code(self) -> str:
        return self.rule.code

    @property
    def kind(self) -> Kind:
        return self.rule.kind

    @property
    def label(self) -> Text:
        return self.rule.label

    @property
    def source(self) -> Text:
        return self.rule.source


@dataclass(frozen=True)
class Negative:
    """A red rule that did not fire, with what the answers show ("not reported", ...)."""

    rule: Rule
    shows: Text

    @property
    def code(self) -> str:
        return self.rule.code

    @property
    def label(self) -> Text:
        return self.rule.label


@dataclass(frozen=True)
class Assessment:
    level: Level
    flags: tuple[Flag, ...]
    #: Things the answers disagree on that the clinician should ask about.
    notes: tuple[Text, ...] = ()
    #: What was assessed, for :attr:`negatives` (worked out only when the summary asks).
    answers: Answers = field(default_factory=dict, repr=False, compare=False)
    intake: Questionnaire | None = field(default=None, repr=False, compare=False)
    rule_set: tuple[Rule, ...] = field(default=(), repr=False, compare=False)

    @cached_property
    def negatives(self) -> tuple[Negative, ...]:
        """Every red rule not raised, in rule order, with what the answers show: a flag missing
        from a summary could mean "said no" or "never asked", so the summary says which."""
        intake = self.intake or questionnaire.TWITCH_INTAKE
        raised = {flag.code for flag in self.flags}
        return tuple(
            Negative(r, _shows(r, self.answers, intake))
            for r in self.rule_set
            if r.is_red and r.code not in raised
        )

    @property
    def is_emergency(self) -> bool:
        return self.level is Level.EMERGENCY

    @property
    def codes(self) -> list[str]:
        return [flag.code for flag in self.flags]

    @property
    def red_flags(self) -> tuple[Flag, ...]:
        return tuple(f for f in self.flags if f.rule.is_red)

    @property
    def context_flags(self) -> tuple[Flag, ...]:
        return tuple(f for f in self.flags if not f.rule.is_red)

    @property
    def emergency_flags(self) -> tuple[Flag, ...]:
        return tuple(f for f in self.flags if f.rule.is_emergency)

    @property
    def emergency_signs(self) -> tuple[Text, ...]:
        """The answers that make this an emergency, as the patient read them; a rule that
        quotes no ticked answer (a yes to "chest pain now") is named by its label instead."""
        return tuple(
            answer
            for flag in self.emergency_flags
            for answer in (flag.answers or (() if flag.withdrawn else (flag.label,)))
        )

    @property
    def withdrawn_signs(self) -> tuple[Withdrawal, ...]:
        """Emergency signs saved earlier and since taken back, oldest first."""
        return tuple(w for flag in self.emergency_flags for w in flag.withdrawn)

    def flag(self, code: str) -> Flag | None:
        return next((f for f in self.flags if f.code == code), None)


# --- Words of the evidence ------------------------------------------------------------------


def _call(build: Callable[[], str]) -> str:
    return build()


#: Text that ``build`` words when it is read, in the language active then. One ``lazy`` made
#: once: each call of ``lazy`` itself builds a new proxy class.
_words = lazy(_call, str)


def _joined(labels: Sequence[Text]) -> str:
    return ", ".join(str(label) for label in labels)


def ticked_codes(answers: Answers, link_id: str) -> list[str]:
    """The codes ticked for a repeating choice, as a list of codes whatever was stored: one code
    stands for itself and anything else is dropped (answers edited after submission, or stored
    under a version where the question did not repeat, must not take a summary down)."""
    value = answers.get(link_id)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [code for code in value if isinstance(code, str)]
    return []


def _ticked(
    answers: Answers, intake: Questionnaire, link_id: str, codes: Sequence[str] | None = None
) -> Finding | None:
    """The ticked options of ``link_id`` among ``codes`` (default: anything but "none"), quoted
    as the patient read them: "ticked: Calf (lower leg), Thigh"."""
    chosen = [
        code
        for code in ticked_codes(answers, link_id)
        if (code != NONE if codes is None else code in codes)
    ]
    if not chosen:
        return None
    question = intake.question(link_id)
    labels = tuple(question.label(code) for code in chosen)
    # The option's short name where it has one ("Weakness", not the sentence that explains it
    # to the patient): evidence is read in a glance, and it is still what the patient ticked.
    words = tuple(_brief(question, code) for code in chosen)
    return Finding(
        _words(lambda: gettext("ticked: %(answers)s") % {"answers": _joined(words)}), labels
    )


def _brief(question: Question, code: str) -> Text:
    option = question.option(code)
    return (option.brief if option is not None else "") or question.label(code)


def _answered(
    answers: Answers, intake: Questionnaire, link_id: str, codes: Sequence[str]
) -> Finding | None:
    """The single answer of ``link_id`` when it is one of ``codes``: "How long…? 1 to 6 months"."""
    value = answers.get(link_id)
    if not isinstance(value, str) or value not in codes:
        return None
    question = intake.question(link_id)
    label = question.label(value)
    brief = _brief(question, value)
    return Finding(
        _words(
            lambda: (
                gettext("%(question)s %(answer)s") % {"question": question.text, "answer": brief}
            )
        ),
        (label,),
    )


def _together(found: Sequence[Finding]) -> Finding | None:
    """Findings of one rule from several questions, as one: evidence joined, answers in order."""
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    return Finding(
        _words(lambda: "; ".join(str(f.evidence) for f in found)),
        tuple(answer for f in found for answer in f.answers),
    )


# --- The rules ----------------------------------------------------------------------------


def emergency_signs(answers: Answers, intake: Questionnaire) -> Finding | None:
    """Any emergency sign ticked. The source article says to seek immediate care or call the
    emergency number for every one of them, so each alone makes the intake an emergency."""
    return _ticked(answers, intake, "emergency-signs")


def weakness(answers: Answers, intake: Questionnaire) -> Finding | None:
    """Weakness with the twitching: the article's first reason to make an appointment, and with
    twitching the sign that separates a nerve or motor-neuron problem from benign twitches."""
    found = _ticked(answers, intake, "other-symptoms", ["weakness"])
    where = answers.get("weakness-where")
    if found is None or not isinstance(where, str) or not where.strip():
        return found
    ticked, where = found.evidence, validation.quotable(where.strip())
    return Finding(
        _words(
            lambda: gettext("%(ticked)s; where: “%(where)s”") % {"ticked": ticked, "where": where}
        ),
        found.answers,
    )


def multifocal(answers: Answers, intake: Questionnaire) -> Finding | None:
    """Twitching in more than one area, the article's next reason for an appointment.

    A yes to "more than one place" or two or more ticked places each raise it; ``other`` is one
    place however many its free text names. When the two answers disagree the flag stands and a
    note asks the clinician which is right: under-calling it is the worse mistake.
    """
    locations = ticked_codes(answers, "locations")
    said = answers.get("more-than-one-location")
    if said is not True and len(locations) < 2:
        return None
    ticked = _ticked(answers, intake, "locations") if len(locations) >= 2 else None

    def evidence() -> str:
        parts = [gettext("answered yes to “more than one place”")] if said is True else []
        return "; ".join([*parts, *([str(ticked.evidence)] if ticked else [])])

    def disagree() -> str:
        return gettext(
            "The answers disagree: the patient said the twitching is not in more than one "
            "place but ticked %(count)s places. Ask which is right."
        ) % {"count": len(locations)}

    return Finding(
        _words(evidence),
        ticked.answers if ticked else (),
        _words(disagree) if said is False else "",
    )


def one_place(answers: Answers, intake: Questionnaire) -> Text:
    """The negative of :func:`multifocal`: the one place ticked, as the patient read it."""
    ticked = _ticked(answers, intake, "locations")
    if ticked is None:
        return NOT_ANSWERED
    place = ticked.answers[0]
    question = intake.question("locations")
    code = ticked_codes(answers, "locations")[0]
    details = intake.details_of(question, code)
    typed = answers.get(details.link_id) if details is not None else None
    if isinstance(typed, str) and typed.strip():
        # The words typed for "somewhere else" may name several places: the clinician reads
        # them here, beside the "no", rather than a bare "Somewhere else".
        visible = validation.quotable(typed.strip())
        return format_lazy(
            _("no (one place: {place}: “{typed}”; ask whether it is one place)"),
            place=place,
            typed=visible,
        )
    return format_lazy(_("no (one place: {place})"), place=place)


def muscle_loss(answers: Answers, intake: Questionnaire) -> Finding | None:
    """A muscle that looks smaller: wasting with twitching is the article's sign of a
    neurological condition, never part of harmless twitching."""
    return _ticked(answers, intake, "other-symptoms", ["muscle-loss"])


def bulbar(answers: Answers, intake: Questionnaire) -> Finding | None:
    """Swallowing or speech problems, or twitching of the tongue: the muscles of the mouth and
    throat. NICE NG42 asks for assessment without delay of these, and the article of weakness
    with twitching; a patient who cannot swallow safely cannot wait for a routine slot."""
    found = [
        f
        for f in (
            _ticked(answers, intake, "other-symptoms", ["trouble-swallowing", "speech-change"]),
            _ticked(answers, intake, "locations", ["tongue"]),
        )
        if f is not None
    ]
    return _together(found)


def no_bulbar_sign(answers: Answers, intake: Questionnaire) -> Text:
    """The negative of :func:`bulbar`, in one phrase rather than two lists."""
    return _("no (swallowing and speech problems not ticked; tongue not ticked)")


def breathing(answers: Answers, intake: Questionnaire) -> Finding | None:
    """Short of breath lying flat or with light activity: NICE NG42 names breathlessness on
    lying or exertion, the sign that the breathing muscles are weak."""
    return _ticked(answers, intake, "other-symptoms", ["breathless"])


def recent_emergency_signs(answers: Answers, intake: Questionnaire) -> Finding | None:
    """An emergency sign since the twitching started that has passed. Not an emergency now
    (the first page asks about now), but NHS advice is to seek advice about such a sign even when
    it has gone: a seizure three days ago must not leave the intake routine."""
    if answers.get("recent-emergency") is not True:
        return None
    return _ticked(answers, intake, "recent-emergency-signs")


def severe(answers: Answers, intake: Questionnaire) -> Finding | None:
    """Severe twitching: the article's "severe or persistent" reason for an appointment."""
    return _answered(answers, intake, "severity", ["severe"])


def persistent(answers: Answers, intake: Questionnaire) -> Finding | None:
    """A month or more. Harmless twitches usually last no more than a few days (MedlinePlus);
    the article counts persistent twitching as a reason for an appointment."""
    return _answered(answers, intake, "duration", ["months", "long-term"])


def lifestyle_triggers(answers: Answers, intake: Questionnaire) -> Finding | None:
    """Caffeine, hard exercise, stress and poor sleep: the article's common causes, and the
    self-care it suggests (rest, less caffeine)."""
    return _ticked(
        answers, intake, "triggers", ["caffeine", "exertion", "stress-anxiety", "poor-sleep"]
    )


def medication_link(answers: Answers, intake: Questionnaire) -> Finding | None:
    """Medicines that can cause twitching: benzodiazepine withdrawal (the article); diuretics,
    corticosteroids, estrogens and stimulants (MedlinePlus)."""
    return _ticked(answers, intake, "medication-flags")


def neuro_history(answers: Answers, intake: Questionnaire) -> Finding | None:
    """A diagnosed neurological condition among the article's causes of twitching."""
    return _ticked(
        answers,
        intake,
        "condition-flags",
        [
            "als",
            "multiple-sclerosis",
            "muscular-dystrophy",
            "tourette",
            "nerve-damage",
            "brain-injury",
        ],
    )


def metabolic_history(answers: Answers, intake: Questionnaire) -> Finding | None:
    """Kidney or thyroid disease: the article names kidney disease, and blood tests of thyroid
    hormone levels, among the causes a doctor looks for."""
    return _ticked(answers, intake, "condition-flags", ["kidney-disease", "thyroid-disease"])


def sensory_change(answers: Answers, intake: Questionnaire) -> Finding | None:
    """Numbness or tingling: MedlinePlus counts a change in sensation among the signs of a
    nervous system disorder; twitching with it points to a nerve, not the muscle."""
    return _ticked(answers, intake, "other-symptoms", ["numbness-tingling"])


def progressing(answers: Answers, intake: Questionnaire) -> Finding | None:
    """Worse, or spreading to new places: NICE NG42 names progressive symptoms. Context, not a
    red flag: it says how to read the rest, and weakness or many places already raise the level."""
    return _answered(answers, intake, "course", ["worse", "spreading"])


def family_history(answers: Answers, intake: Questionnaire) -> Finding | None:
    """A parent, sibling or child with a nerve or muscle disease: muscular dystrophy is
    inherited (the article), and NICE NG42 counts a family history of motor neurone disease."""
    return _answered(answers, intake, "family-history", ["yes"])


def pregnancy(answers: Answers, intake: Questionnaire) -> Finding | None:
    """Pregnant or recently gave birth: it changes which tests and medicines may be used (NHS)."""
    return _answered(answers, intake, "pregnancy", ["yes"])


@dataclass(frozen=True)
class MedicineKind:
    """Medicines the checklist asks about by kind, and the words a patient may type for them."""

    #: The ``medication-flags`` code of this kind.
    code: str
    #: What it is, for the evidence: "a benzodiazepine".
    name: Text
    words: tuple[str, ...]
    #: The question to ask when the word is typed but the code is not ticked.
    ask: Text


_NOT_TICKED = _("not ticked in the checklist: ask")

#: The contract's medicine words (CLINICAL.md, ``medicine-mentioned``), generic and brand names.
MEDICINE_WORDS: tuple[MedicineKind, ...] = (
    MedicineKind(
        "benzodiazepine-withdrawal",
        _("a benzodiazepine"),
        (
            "diazepam",
            "valium",
            "lorazepam",
            "ativan",
            "alprazolam",
            "xanax",
            "clonazepam",
            "klonopin",
            "rivotril",
            "orfidal",
            "trankimazin",
            "tafil",
        ),
        _("the checklist does not say it was stopped or cut down: ask"),
    ),
    MedicineKind(
        "stimulant",
        _("a stimulant"),
        (
            "methylphenidate",
            "ritalin",
            "concerta",
            "amphetamine",
            "adderall",
            "lisdexamfetamine",
            "vyvanse",
            "dexamfetamine",
        ),
        _NOT_TICKED,
    ),
    MedicineKind(
        "corticosteroid",
        _("a corticosteroid"),
        ("prednisone", "prednisolone", "dexamethasone", "methylprednisolone", "hydrocortisone"),
        _NOT_TICKED,
    ),
    MedicineKind(
        "diuretic",
        _("a diuretic"),
        (
            "furosemide",
            "lasix",
            "hydrochlorothiazide",
            "chlorthalidone",
            "bumetanide",
            "torsemide",
            "spironolactone",
        ),
        _NOT_TICKED,
    ),
    MedicineKind("estrogen", _("an estrogen"), ("estradiol", "premarin"), _NOT_TICKED),
)


def _mentions(text: str, word: str) -> bool:
    """``word`` as a whole word of ``text``, in any case ("Xanax 0.5 mg", not "xanaxine")."""
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is not None


def medicine_mentioned(answers: Answers, intake: Questionnaire) -> Finding | None:
    """A medicine typed in the medicines box whose kind the checklist did not tick. Patients
    know their medicines by name, not by class: "Xanax" typed and "benzodiazepine" left
    unticked is a question to ask, never a conclusion (the word may be in "I stopped Xanax
    years ago")."""
    text = answers.get("medications")
    if not isinstance(text, str) or not text:
        return None
    ticked = set(ticked_codes(answers, "medication-flags"))
    found = [
        (word, kind)
        for kind in MEDICINE_WORDS
        if kind.code not in ticked
        for word in kind.words
        if _mentions(text, word)
    ]
    if not found:
        return None

    def evidence() -> str:
        return "; ".join(
            gettext("typed “%(word)s”, %(kind)s; %(ask)s")
            % {"word": word, "kind": kind.name, "ask": kind.ask}
            for word, kind in found
        )

    return Finding(_words(evidence))


RULES: tuple[Rule, ...] = (
    Rule(
        "emergency-signs",
        Kind.RED,
        _("Emergency signs"),
        _(
            "Source article, “When should you see a doctor”: seek immediate care or call the emergency number"
        ),
        reads=("emergency-signs",),
        test=emergency_signs,
        level=Level.EMERGENCY,
        counts_withdrawn=True,
    ),
    Rule(
        "weakness",
        Kind.RED,
        _("Weakness with the twitching"),
        _("Source article: make an appointment when weakness accompanies the twitching"),
        reads=("other-symptoms", "weakness-where"),
        test=weakness,
        level=Level.PRIORITY,
        highlight=1,
    ),
    Rule(
        "multifocal",
        Kind.RED,
        _("Twitching in more than one place"),
        _("Source article: make an appointment when twitching occurs in more than one area"),
        reads=("locations", "more-than-one-location"),
        test=multifocal,
        negative=one_place,
        level=Level.PRIORITY,
        highlight=2,
    ),
    Rule(
        "muscle-loss",
        Kind.RED,
        _("Muscle looks smaller or thinner"),
        _("Source article, neurological conditions: twitching with muscle wasting"),
        reads=("other-symptoms",),
        test=muscle_loss,
        level=Level.PRIORITY,
    ),
    Rule(
        "bulbar",
        Kind.RED,
        _("Swallowing or speech problems, or tongue twitching"),
        _(
            "NICE NG42: speech or swallowing problems, or tongue twitching, need assessment "
            "without delay; source article: weakness with the twitching"
        ),
        reads=("other-symptoms", "locations"),
        test=bulbar,
        negative=no_bulbar_sign,
        level=Level.PRIORITY,
        highlight=3,
    ),
    Rule(
        "breathing",
        Kind.RED,
        _("Short of breath lying flat or with light activity"),
        _("NICE NG42: breathlessness lying flat or on exertion"),
        reads=("other-symptoms",),
        test=breathing,
        level=Level.PRIORITY,
        highlight=4,
    ),
    Rule(
        "recent-emergency-signs",
        Kind.RED,
        _("Emergency signs since the twitching started, now passed"),
        _(
            "Source article's emergency signs; NHS: seek advice about such a sign even if it "
            "has passed"
        ),
        reads=("recent-emergency", "recent-emergency-signs"),
        test=recent_emergency_signs,
        level=Level.PRIORITY,
    ),
    Rule(
        "severe",
        Kind.RED,
        _("Severe twitching"),
        _("Source article: make an appointment when twitching is severe or persistent"),
        reads=("severity",),
        test=severe,
        level=Level.PRIORITY,
    ),
    Rule(
        "persistent",
        Kind.RED,
        _("Twitching for a month or more"),
        _("Source article: severe or persistent twitching (persistent: a month or more)"),
        reads=("duration",),
        test=persistent,
        level=Level.PRIORITY,
    ),
    Rule(
        "lifestyle-triggers",
        Kind.CONTEXT,
        _("Lifestyle triggers"),
        _("Source article, common causes"),
        reads=("triggers",),
        test=lifestyle_triggers,
    ),
    Rule(
        "medication-link",
        Kind.CONTEXT,
        _("Medicines linked to twitching"),
        _(
            "Source article: benzodiazepine withdrawal; MedlinePlus: diuretics, corticosteroids, "
            "estrogens, stimulants"
        ),
        reads=("medication-flags",),
        test=medication_link,
    ),
    Rule(
        "medicine-mentioned",
        Kind.CONTEXT,
        _("A medicine typed that the checklist did not mention"),
        _(
            "Source article: benzodiazepine withdrawal; MedlinePlus: diuretics, corticosteroids, "
            "estrogens, stimulants"
        ),
        reads=("medications", "medication-flags"),
        test=medicine_mentioned,
    ),
    Rule(
        "neuro-history",
        Kind.CONTEXT,
        _("Neurological history"),
        _("Source article, neurological conditions and other causes"),
        reads=("condition-flags",),
        test=neuro_history,
    ),
    Rule(
        "metabolic-history",
        Kind.CONTEXT,
        _("Kidney or thyroid disease"),
        _("Source article: kidney disease; blood tests check thyroid hormone levels"),
        reads=("condition-flags",),
        test=metabolic_history,
    ),
    Rule(
        "sensory-change",
        Kind.CONTEXT,
        _("Numbness or tingling"),
        _("MedlinePlus: a change in sensation is a sign of a nervous system disorder"),
        reads=("other-symptoms",),
        test=sensory_change,
    ),
    Rule(
        "progressing",
        Kind.CONTEXT,
        _("Getting worse or spreading"),
        _("NICE NG42: progressive symptoms"),
        reads=("course",),
        test=progressing,
    ),
    Rule(
        "family-history",
        Kind.CONTEXT,
        _("Family history of nerve or muscle disease"),
        _("Source article: muscular dystrophy is inherited; NICE NG42: family history of MND"),
        reads=("family-history",),
        test=family_history,
    ),
    Rule(
        "pregnancy",
        Kind.CONTEXT,
        _("Pregnant or recently gave birth"),
        _("NHS: pregnancy changes which tests and medicines are used"),
        reads=("pregnancy",),
        test=pregnancy,
    ),
)


def rules() -> tuple[Rule, ...]:
    """Every rule, in the order the summary shows its flags (read when called, never kept)."""
    return RULES


def rule(code: str) -> Rule:
    return next(r for r in rules() if r.code == code)


def flag_codes() -> tuple[str, ...]:
    return tuple(r.code for r in rules())


def highlighted_rules() -> tuple[Rule, ...]:
    """The red rules shown under the banner whether raised or not, in their highlight order."""
    chosen = [r for r in rules() if r.highlight is not None]
    return tuple(sorted(chosen, key=lambda r: r.highlight or 0))


def emergency_questions() -> frozenset[str]:
    """The questions an emergency rule reads: saving one of them may call for care now."""
    return frozenset(link_id for r in rules() if r.is_emergency for link_id in r.reads)


def history_questions() -> frozenset[str]:
    """The questions whose earlier values ``assess`` reads (``earlier``): those read by rules
    that count a withdrawn answer."""
    return frozenset(link_id for r in rules() if r.counts_withdrawn for link_id in r.reads)


# --- Negatives ------------------------------------------------------------------------------

NOT_ANSWERED = _("not answered")
NOT_TICKED = _("not ticked")
NOT_TICKED_NEGATIVE = _("no (not ticked)")


def not_asked(version: str) -> Text:
    """What the summary says of a question the intake's version never asked."""
    return format_lazy(_("not asked (form version {version})"), version=version)


def _shows(rule: Rule, answers: Answers, intake: Questionnaire) -> Text:
    """What the answers show for a red rule that did not fire, worded as the answers: "no
    (answered “None of these”)", "no (one place: Eyelid)". Unanswered stays distinct from no, and
    a question the intake's version never asked is neither, so the clinician knows which."""
    read = [intake.question(link_id) for link_id in rule.reads if intake.has_question(link_id)]
    if not read:
        return not_asked(intake.version)
    shown = [q for q in read if q.is_enabled(answers)]
    if any(validation.is_blank(answers.get(q.link_id)) for q in shown):
        return NOT_ANSWERED
    asked, unasked = _firing_options(rule, answers, read)
    if unasked and not asked:
        return not_asked(intake.version)  # "breathless" was not an option in 1.0.0
    shows = _answered_negative(rule, answers, intake, shown)
    if not unasked:
        return shows
    return _words(
        lambda: (
            gettext("%(shows)s; not asked in form version %(version)s: %(answers)s")
            % {"shows": shows, "version": intake.version, "answers": _joined(unasked)}
        )
    )


def _firing_options(
    rule: Rule, answers: Answers, read: Sequence[Question]
) -> tuple[list[Text], list[Text]]:
    """The options of the questions ``rule`` reads that raise it alone: those the intake's
    version offered, and those only a later version offers (their labels). A 1.0.0 patient was
    never offered "short of breath", so its absence is "not asked", never "no"."""
    current = questionnaire.TWITCH_INTAKE
    asked: list[Text] = []
    unasked: list[Text] = []
    for question in read:
        full = (
            current.question(question.link_id)
            if current.has_question(question.link_id)
            else question
        )
        if full is question:
            continue  # the current version: every option was offered
        for option in full.options:
            alone = {**answers, question.link_id: [option.code] if full.repeats else option.code}
            if rule.test(alone, current) is not None:
                offered = option.code in question.codes
                (asked if offered else unasked).append(option.brief or option.label)
    return asked, unasked


def _answered_negative(
    rule: Rule, answers: Answers, intake: Questionnaire, shown: Sequence[Question]
) -> Text:
    if rule.negative is not None:
        return rule.negative(answers, intake)
    given = [_given(q, answers.get(q.link_id)) for q in shown]
    if len(given) == 1:
        if given[0] is NOT_TICKED:
            return NOT_TICKED_NEGATIVE
        return format_lazy(_("no (answered {answer})"), answer=given[0])
    return _words(
        lambda: (
            gettext("no (%(answers)s)")
            % {
                "answers": "; ".join(
                    f"{question.clinician_heading}: {answer}"
                    for question, answer in zip(shown, given, strict=True)
                )
            }
        )
    )


def _given(question: Question, value: Any) -> Text:
    """One answer as the patient gave it, for a negative: “None of these”, “Mild: …”, “no”."""
    if question.type is ItemType.BOOLEAN:
        return _("yes") if value is True else _("no")
    codes = _codes(value)
    if question.repeats and not set(codes) <= question.exclusive:
        # Other answers were ticked: the history lists them; the negative says only that this
        # one was not among them (quoting ten symptoms to say "no breathlessness" hides the no).
        return NOT_TICKED
    return _words(lambda: f"“{_joined([question.label(code) for code in codes])}”")


# --- Answers taken back ---------------------------------------------------------------------


def _codes(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(code) for code in value]
    return [str(value)]


def _withdrawals(
    r: Rule, answers: Answers, intake: Questionnaire, earlier: Earlier
) -> tuple[Withdrawal, ...]:
    """The answers of the questions ``r`` reads that made it fire at an earlier save and are no
    longer given, grouped by when they were given and when they were changed.

    An answer counts when ``r`` fires for it alone (a "none" or an answer no rule reads does
    not). It was reported when first saved, and changed by the first save after the last one
    that held it.
    """
    found: list[Withdrawal] = []
    for link_id in r.reads:
        saves = earlier.get(link_id) or ()
        if not saves or not intake.has_question(link_id):
            continue
        question = intake.question(link_id)
        current = set(_codes(answers.get(link_id)))
        first: dict[str, datetime] = {}
        last: dict[str, int] = {}
        fires: dict[str, bool] = {}
        for i, (at, value) in enumerate(saves):
            for code in _codes(value):
                if code in current:
                    continue
                if code not in fires:
                    alone = [code] if question.repeats else code
                    fires[code] = r.test({**answers, link_id: alone}, intake) is not None
                if fires[code]:
                    first.setdefault(code, at)
                    last[code] = i
        groups: dict[tuple[datetime, int], list[str]] = {}
        for code in sorted(first, key=lambda c: (first[c], last[c])):
            groups.setdefault((first[code], last[code] + 1), []).append(code)
        for (reported_at, after), codes in groups.items():
            changed_at, changed_to = saves[after] if after < len(saves) else (None, None)
            found.append(
                Withdrawal(
                    tuple(question.label(code) for code in codes),
                    reported_at,
                    changed_at,
                    tuple(question.label(code) for code in _codes(changed_to)),
                )
            )
    return tuple(found)


def _with_withdrawn(found: Finding | None, withdrawn: tuple[Withdrawal, ...]) -> Finding | None:
    """The finding with the answers taken back added to its evidence (or made of them alone)."""
    if not withdrawn:
        return found
    parts: list[Text] = [found.evidence] if found is not None else []
    parts += [w.evidence for w in withdrawn]
    return Finding(
        _words(lambda: "; ".join(str(part) for part in parts)),
        found.answers if found is not None else (),
        found.note if found is not None else "",
    )


# --- Assessing ------------------------------------------------------------------------------


def assess(
    answers: Mapping[str, Any],
    intake: Questionnaire | None = None,
    rule_set: Sequence[Rule] | None = None,
    earlier: Earlier | None = None,
) -> Assessment:
    """Apply every rule to ``answers`` (linkId -> answer; unanswered questions absent).

    The level is the most urgent a fired rule sets (routine when none does); context flags are
    listed but never move it. The evidence is worded when it is read, in the reader's language.
    With ``earlier`` (the values questions held at earlier saves), a rule that counts withdrawn
    answers also fires for one the patient gave and then took back, and says so.
    """
    intake = intake or questionnaire.TWITCH_INTAKE
    applied = rules() if rule_set is None else tuple(rule_set)
    flags: list[Flag] = []
    notes: list[Text] = []
    level = Level.ROUTINE
    for r in applied:
        found = r.test(answers, intake)
        withdrawn: tuple[Withdrawal, ...] = ()
        if earlier and r.counts_withdrawn:
            withdrawn = _withdrawals(r, answers, intake, earlier)
            found = _with_withdrawn(found, withdrawn)
        if found is None:
            continue
        flags.append(Flag(r, found.evidence, found.answers, withdrawn))
        if found.note:
            notes.append(found.note)
        if r.level.rank < level.rank:
            level = r.level
    return Assessment(level, tuple(flags), tuple(notes), answers, intake, applied)
