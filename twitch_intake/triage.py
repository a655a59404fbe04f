"""From a patient's answers to the level and flags of the pre-visit summary.

The rules are the clinical contract's (``shared/CLINICAL.md``, "Rules"). Each flag names the
answers that raised it, in the patient's own terms, and the source it rests on, so a clinician
can see at a glance why it is there and disagree with it.

Red flags set the level:

* ``emergency-signs``: any sign other than "none". The article says to seek immediate care or
  call the emergency number for any of them, so nothing else matters until that is dealt with.
* ``weakness``, ``multifocal``, ``severe``, ``persistent``: the article's reasons to make an
  appointment (weakness with the twitching; more than one area; severe or persistent).
* ``muscle-loss``: atrophy with twitching is how the article describes ALS.

Context flags (lifestyle, medicines, neurological and metabolic history) are shown beside the
answers but never change the level: they explain twitching, they do not make it urgent.

``assess`` is a pure function of the answers: no database, no request, no clock. Its evidence
is worded in the language active when it is called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.core.signals import setting_changed
from django.utils.autoreload import file_changed
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .questionnaire import NONE, TWITCH_INTAKE, Questionnaire


class Level(StrEnum):
    """Sorted as the clinician's queue is: the alphabetical order is also the clinical one."""

    EMERGENCY = "emergency"
    PRIORITY = "priority"
    ROUTINE = "routine"


class Kind(StrEnum):
    RED = "red"
    CONTEXT = "context"


@dataclass(frozen=True)
class Flag:
    code: str
    kind: Kind
    label: str | Promise
    evidence: str
    source: str | Promise


@dataclass(frozen=True)
class Assessment:
    level: Level
    flags: tuple[Flag, ...]
    #: Things the answers disagree on that the clinician should ask about.
    notes: tuple[str, ...] = ()

    @property
    def codes(self) -> list[str]:
        return [flag.code for flag in self.flags]

    @property
    def red_flags(self) -> tuple[Flag, ...]:
        return tuple(f for f in self.flags if f.kind is Kind.RED)

    @property
    def context_flags(self) -> tuple[Flag, ...]:
        return tuple(f for f in self.flags if f.kind is Kind.CONTEXT)

    def flag(self, code: str) -> Flag | None:
        return next((f for f in self.flags if f.code == code), None)


@dataclass(frozen=True)
class Rule:
    code: str
    kind: Kind
    label: str | Promise
    source: str | Promise
    #: Returns the evidence text when the rule fires, ``None`` when it does not.
    test: Callable[[Mapping[str, Any], Questionnaire], str | None]


# --- Words in the patient's language ----------------------------------------------------------
# The evidence quotes the answers in the patient's own terms: the labels of the ticked options,
# in the language active when ``assess`` runs (the summary is read in the reader's language).
# Translating a lazy label is a catalog lookup through a context-local every time, and a full
# intake quotes a dozen labels, so each label is translated once per language and kept. Django
# keeps its catalogs for the life of the process in the same way; this cache is emptied whenever
# Django reloads them (a changed .mo file under the autoreloader, or a test overriding the
# language settings).

#: Words already translated, keyed by ``id()`` of the label or template they came from.
_Words = dict[int, tuple[str | Promise, str]]

#: The words of each language. Each entry keeps its label alive, so no other label can take its
#: ``id()`` while the entry exists.
_words_by_language: dict[str | None, _Words] = {}
#: Labels of questionnaires built on the fly would otherwise pile up: start over past this size.
_MAX_WORDS = 2048
_LANGUAGE_SETTINGS = frozenset(
    {"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "INSTALLED_APPS", "USE_I18N"}
)


def _forget_words(**kwargs: Any) -> None:
    """Drop every kept translation when Django drops its catalogs."""
    file_path = kwargs.get("file_path")
    if kwargs.get("setting") in _LANGUAGE_SETTINGS or (
        file_path is not None and file_path.suffix == ".mo"
    ):
        _words_by_language.clear()


setting_changed.connect(_forget_words, dispatch_uid="twitch_intake.triage.words")
file_changed.connect(_forget_words, dispatch_uid="twitch_intake.triage.words")


def _words() -> _Words:
    """The words kept for the active language (one context-local lookup)."""
    language = get_language()
    words = _words_by_language.get(language)
    if words is None:
        words = _words_by_language[language] = {}
    return words


def _say(words: _Words, message: str | Promise) -> str:
    """``str(message)`` in the active language, translated at most once per language."""
    kept = words.get(id(message))
    if kept is not None and kept[0] is message:
        return kept[1]
    text = str(message)
    if len(words) >= _MAX_WORDS:
        words.clear()
    words[id(message)] = (message, text)
    return text


class _CodeLabels(dict[str, "str | Promise"]):
    """One question's code -> label, answering as ``Question.label`` does: the first option
    with the code wins, and a code without an option is its own label."""

    def __missing__(self, code: str) -> str:
        return code


#: The labels of the intake's questions, looked up once rather than scanned on every call.
_INTAKE_LABELS: dict[str, _CodeLabels] = {}
for _question in TWITCH_INTAKE.questions():
    _labels = _INTAKE_LABELS[_question.link_id] = _CodeLabels()
    for _option in _question.options:
        _labels.setdefault(_option.code, _option.label)
del _question, _labels, _option


def _label_of(questionnaire: Questionnaire, link_id: str) -> Callable[[str], str | Promise]:
    if questionnaire is TWITCH_INTAKE:
        return _INTAKE_LABELS[link_id].__getitem__
    return questionnaire.question(link_id).label


_TICKED = _("ticked: %(answers)s")
_QUESTION_ANSWER = _("%(question)s %(answer)s")
_SAID_MORE_THAN_ONE = _("answered yes to “more than one place”")
_DISAGREE = _(
    "The answers disagree: the patient said the twitching is not in more than one "
    "place but ticked %(count)s places. Ask which is right."
)


def _ticked_evidence(
    words: _Words, questionnaire: Questionnaire, link_id: str, chosen: Sequence[str]
) -> str:
    """ "ticked: Calf (lower leg), Thigh": the ticked options, as the patient read them."""
    label = _label_of(questionnaire, link_id)
    answers = ", ".join([_say(words, label(code)) for code in chosen])
    return _say(words, _TICKED) % {"answers": answers}


# --- Rule tests ---------------------------------------------------------------------------------
# A test is called as ``test(answers, questionnaire)`` and returns the evidence, or ``None`` when
# its rule does not fire. It comes in two halves: ``match`` looks at the answers only (most rules
# do not fire for most patients), ``describe`` words the evidence of a rule that did. ``assess``
# calls the halves, so that it looks the language up once, and only when something fired.


class _Test:
    __slots__ = ()

    def match(self, answers: Mapping[str, Any]) -> Any:
        """What raised the flag (truthy), or something falsy when the rule does not fire."""
        raise NotImplementedError

    def describe(self, found: Any, questionnaire: Questionnaire, words: _Words) -> str:
        raise NotImplementedError

    def __call__(self, answers: Mapping[str, Any], questionnaire: Questionnaire) -> str | None:
        found = self.match(answers)
        if not found:
            return None
        return self.describe(found, questionnaire, _words())


class _Ticked(_Test):
    """Fires when any of ``codes`` (default: anything but "none") is ticked for ``link_id``."""

    __slots__ = ("codes", "link_id")

    def __init__(self, link_id: str, codes: Sequence[str] | None = None) -> None:
        self.link_id = link_id
        self.codes = tuple(codes) if codes is not None else None

    def match(self, answers: Mapping[str, Any]) -> list[str]:
        value = answers.get(self.link_id) or []
        codes = self.codes
        if codes is None:
            return [code for code in value if code != NONE]
        return [code for code in value if code in codes]

    def describe(self, found: list[str], questionnaire: Questionnaire, words: _Words) -> str:
        return _ticked_evidence(words, questionnaire, self.link_id, found)


class _Answered(_Test):
    """Fires when the single-choice answer to ``link_id`` is one of ``codes``."""

    __slots__ = ("codes", "link_id")

    def __init__(self, link_id: str, codes: Sequence[str]) -> None:
        self.link_id = link_id
        self.codes = tuple(codes)

    def match(self, answers: Mapping[str, Any]) -> tuple[Any] | None:
        value = answers.get(self.link_id)
        return (value,) if value in self.codes else None

    def describe(self, found: tuple[Any], questionnaire: Questionnaire, words: _Words) -> str:
        question = questionnaire.question(self.link_id)
        return _say(words, _QUESTION_ANSWER) % {
            "question": _say(words, question.text),
            "answer": _say(words, _label_of(questionnaire, self.link_id)(found[0])),
        }


class _Multifocal(_Test):
    """Fires on a yes to "more than one place", or on two or more ticked locations.

    Either answer is the article's "more than one area", so either raises the flag; ``other``
    is one location, however many places its free text names. When the two answers disagree
    the flag stands and ``assess`` adds a note for the clinician.
    """

    __slots__ = ()

    def match(self, answers: Mapping[str, Any]) -> tuple[bool, Any] | None:
        locations = answers.get("locations") or []
        said_yes = answers.get("more-than-one-location") is True
        if not said_yes and len(locations) < 2:
            return None
        return said_yes, locations

    def describe(self, found: tuple[bool, Any], questionnaire: Questionnaire, words: _Words) -> str:
        said_yes, locations = found
        parts = []
        if said_yes:
            parts.append(_say(words, _SAID_MORE_THAN_ONE))
        if len(locations) >= 2:
            parts.append(_ticked_evidence(words, questionnaire, "locations", locations))
        return "; ".join(parts)


_multifocal = _Multifocal()


RED_RULES: tuple[Rule, ...] = (
    Rule(
        "emergency-signs",
        Kind.RED,
        _("Emergency signs"),
        _(
            "Source article, “When should you see a doctor”: seek immediate care or call the emergency number"
        ),
        _Ticked("emergency-signs"),
    ),
    Rule(
        "weakness",
        Kind.RED,
        _("Weakness with the twitching"),
        _("Source article: make an appointment when weakness accompanies the twitching"),
        _Ticked("other-symptoms", ["weakness"]),
    ),
    Rule(
        "multifocal",
        Kind.RED,
        _("Twitching in more than one place"),
        _("Source article: make an appointment when twitching occurs in more than one area"),
        _multifocal,
    ),
    Rule(
        "muscle-loss",
        Kind.RED,
        _("Muscle looks smaller or thinner"),
        _("Source article, neurological conditions: ALS leads to twitching and atrophy"),
        _Ticked("other-symptoms", ["muscle-loss"]),
    ),
    Rule(
        "severe",
        Kind.RED,
        _("Severe twitching"),
        _("Source article: make an appointment when twitching is severe or persistent"),
        _Answered("severity", ["severe"]),
    ),
    Rule(
        "persistent",
        Kind.RED,
        _("Twitching for a month or more"),
        _(
            "Source article: severe or persistent twitching; MedlinePlus: harmless twitches "
            "usually last no more than a few days"
        ),
        _Answered("duration", ["months", "long-term"]),
    ),
)

CONTEXT_RULES: tuple[Rule, ...] = (
    Rule(
        "lifestyle-triggers",
        Kind.CONTEXT,
        _("Lifestyle triggers"),
        _("Source article, common causes; self-care: rest and less caffeine"),
        _Ticked("triggers", ["caffeine", "exertion", "stress-anxiety", "poor-sleep"]),
    ),
    Rule(
        "medication-link",
        Kind.CONTEXT,
        _("Medicines linked to twitching"),
        _(
            "Source article: benzodiazepine withdrawal; MedlinePlus: diuretics, corticosteroids, "
            "estrogens, stimulants"
        ),
        _Ticked("medication-flags"),
    ),
    Rule(
        "neuro-history",
        Kind.CONTEXT,
        _("Neurological history"),
        _("Source article, neurological conditions and other causes"),
        _Ticked(
            "condition-flags",
            [
                "als",
                "multiple-sclerosis",
                "muscular-dystrophy",
                "tourette",
                "nerve-damage",
                "brain-injury",
            ],
        ),
    ),
    Rule(
        "metabolic-history",
        Kind.CONTEXT,
        _("Kidney or thyroid disease"),
        _("Source article: kidney disease; blood tests check thyroid hormone levels"),
        _Ticked("condition-flags", ["kidney-disease", "thyroid-disease"]),
    ),
)

RULES: tuple[Rule, ...] = RED_RULES + CONTEXT_RULES
#: Every flag code, in the order the summary shows them.
FLAG_CODES: tuple[str, ...] = tuple(rule.code for rule in RULES)


def rule(code: str) -> Rule:
    return next(r for r in RULES if r.code == code)


#: The levels from most to least urgent (the index is a rule's rank below).
_LEVELS: tuple[Level, ...] = (Level.EMERGENCY, Level.PRIORITY, Level.ROUTINE)


def _rank(r: Rule) -> int:
    """The most urgent level ``r`` can set: emergency signs first, any red flag, else none."""
    if r.code == "emergency-signs":
        return _LEVELS.index(Level.EMERGENCY)
    if r.kind is Kind.RED:
        return _LEVELS.index(Level.PRIORITY)
    return _LEVELS.index(Level.ROUTINE)


#: What ``assess`` walks: each rule's fields, the halves of its test and its rank, looked up once
#: here rather than on every call.
_PLAN = tuple(
    (r.code, r.kind, r.label, r.source, r.test.match, r.test.describe, _rank(r))
    for r in RULES
    if isinstance(r.test, _Test)
)
if len(_PLAN) != len(RULES):  # pragma: no cover - a rule written without _Test
    raise TypeError("every triage rule's test must be a _Test")


def assess(answers: Mapping[str, Any], questionnaire: Questionnaire = TWITCH_INTAKE) -> Assessment:
    """Apply every rule to ``answers`` (linkId -> answer; unanswered questions absent).

    The level follows from the red flags alone: ``emergency`` when an emergency sign is ticked
    (nothing else matters until that is dealt with), ``priority`` for any other red flag,
    ``routine`` otherwise. Context flags are listed but never move the level. The evidence is
    worded in the language active at the time of the call.
    """
    flags = []
    words = None
    rank = len(_LEVELS) - 1
    for code, kind, label, source, match, describe, raises in _PLAN:
        found = match(answers)
        if not found:
            continue
        if words is None:
            words = _words()
        flags.append(Flag(code, kind, label, describe(found, questionnaire, words), source))
        if raises < rank:
            rank = raises
    notes: tuple[str, ...] = ()
    if answers.get("more-than-one-location") is False and len(answers.get("locations") or []) >= 2:
        # The patient said "not in more than one place" yet ticked several: ``multifocal`` is
        # raised on the ticked places all the same, and the clinician is asked to check.
        if words is None:  # pragma: no cover - multifocal has fired, so the words are at hand
            words = _words()
        notes = (_say(words, _DISAGREE) % {"count": len(answers["locations"])},)
    return Assessment(_LEVELS[rank], tuple(flags), notes)
