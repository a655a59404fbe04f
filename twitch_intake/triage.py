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

``assess`` is a pure function of the answers: no database, no request, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.utils.functional import Promise
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


def _ticked(link_id: str, codes: Sequence[str] | None = None) -> Callable[..., str | None]:
    """Fires when any of ``codes`` (default: anything but "none") is ticked for ``link_id``."""

    def test(answers: Mapping[str, Any], questionnaire: Questionnaire) -> str | None:
        value = answers.get(link_id) or []
        chosen = [c for c in value if (c in codes if codes is not None else c != NONE)]
        if not chosen:
            return None
        question = questionnaire.question(link_id)
        return _("ticked: %(answers)s") % {
            "answers": ", ".join(str(question.label(c)) for c in chosen)
        }

    return test


def _answered(link_id: str, codes: Sequence[str]) -> Callable[..., str | None]:
    def test(answers: Mapping[str, Any], questionnaire: Questionnaire) -> str | None:
        value = answers.get(link_id)
        if value not in codes:
            return None
        question = questionnaire.question(link_id)
        return _("%(question)s %(answer)s") % {
            "question": question.text,
            "answer": question.label(value),
        }

    return test


def _multifocal(answers: Mapping[str, Any], questionnaire: Questionnaire) -> str | None:
    locations = answers.get("locations") or []
    said_yes = answers.get("more-than-one-location") is True
    if not said_yes and len(locations) < 2:
        return None
    parts = []
    if said_yes:
        parts.append(str(_("answered yes to “more than one place”")))
    if len(locations) >= 2:
        question = questionnaire.question("locations")
        parts.append(
            str(_("ticked: %(answers)s"))
            % {"answers": ", ".join(str(question.label(c)) for c in locations)}
        )
    return "; ".join(parts)


RED_RULES: tuple[Rule, ...] = (
    Rule(
        "emergency-signs",
        Kind.RED,
        _("Emergency signs"),
        _("Source article, “When should you see a doctor”: seek immediate care or call the emergency number"),
        _ticked("emergency-signs"),
    ),
    Rule(
        "weakness",
        Kind.RED,
        _("Weakness with the twitching"),
        _("Source article: make an appointment when weakness accompanies the twitching"),
        _ticked("other-symptoms", ["weakness"]),
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
        _ticked("other-symptoms", ["muscle-loss"]),
    ),
    Rule(
        "severe",
        Kind.RED,
        _("Severe twitching"),
        _("Source article: make an appointment when twitching is severe or persistent"),
        _answered("severity", ["severe"]),
    ),
    Rule(
        "persistent",
        Kind.RED,
        _("Twitching for a month or more"),
        _(
            "Source article: severe or persistent twitching; MedlinePlus: harmless twitches "
            "usually last no more than a few days"
        ),
        _answered("duration", ["months", "long-term"]),
    ),
)

CONTEXT_RULES: tuple[Rule, ...] = (
    Rule(
        "lifestyle-triggers",
        Kind.CONTEXT,
        _("Lifestyle triggers"),
        _("Source article, common causes; self-care: rest and less caffeine"),
        _ticked("triggers", ["caffeine", "exertion", "stress-anxiety", "poor-sleep"]),
    ),
    Rule(
        "medication-link",
        Kind.CONTEXT,
        _("Medicines linked to twitching"),
        _(
            "Source article: benzodiazepine withdrawal; MedlinePlus: diuretics, corticosteroids, "
            "estrogens, stimulants"
        ),
        _ticked("medication-flags"),
    ),
    Rule(
        "neuro-history",
        Kind.CONTEXT,
        _("Neurological history"),
        _("Source article, neurological conditions and other causes"),
        _ticked(
            "condition-flags",
            ["als", "multiple-sclerosis", "muscular-dystrophy", "tourette", "nerve-damage", "brain-injury"],
        ),
    ),
    Rule(
        "metabolic-history",
        Kind.CONTEXT,
        _("Kidney or thyroid disease"),
        _("Source article: kidney disease; blood tests check thyroid hormone levels"),
        _ticked("condition-flags", ["kidney-disease", "thyroid-disease"]),
    ),
)

RULES: tuple[Rule, ...] = RED_RULES + CONTEXT_RULES
#: Every flag code, in the order the summary shows them.
FLAG_CODES: tuple[str, ...] = tuple(rule.code for rule in RULES)


def rule(code: str) -> Rule:
    return next(r for r in RULES if r.code == code)


def assess(answers: Mapping[str, Any], questionnaire: Questionnaire = TWITCH_INTAKE) -> Assessment:
    """Apply every rule to ``answers`` (linkId -> answer; unanswered questions absent)."""
    flags = []
    for r in RULES:
        evidence = r.test(answers, questionnaire)
        if evidence is not None:
            flags.append(Flag(r.code, r.kind, r.label, evidence, r.source))
    codes = {f.code for f in flags}
    if "emergency-signs" in codes:
        level = Level.EMERGENCY
    elif any(f.kind is Kind.RED for f in flags):
        level = Level.PRIORITY
    else:
        level = Level.ROUTINE
    notes = []
    if answers.get("more-than-one-location") is False and len(answers.get("locations") or []) >= 2:
        notes.append(
            str(
                _(
                    "The answers disagree: the patient said the twitching is not in more than one "
                    "place but ticked %(count)s places. Ask which is right."
                )
                % {"count": len(answers["locations"])}
            )
        )
    return Assessment(level, tuple(flags), tuple(notes))
