"""Realistic answers: mostly routine, some red flags, a few emergencies, some free text.

Deterministic for a given seed. Codes come from the questionnaire itself, and every response is
put through :func:`validation.validate`, so what the benchmark stores or posts is exactly what
the patient's form would have stored.
"""

from __future__ import annotations

import random
from typing import Any

from twitch_intake import questionnaire, validation
from twitch_intake.questionnaire import NONE, TWITCH_INTAKE

MEDICINES = [
    "Sertraline 50 mg",
    "Vitamin D",
    "Levothyroxine 75 mcg",
    "Ibuprofen as needed",
    "Metformin 500 mg twice a day",
]
CONDITIONS = ["Asthma", "High blood pressure", "Migraine", "Type 2 diabetes", "Anxiety"]
NOTES = [
    "Worse after night shifts.",
    "Started after a stressful month at work.",
    "My mother had something similar.",
    "I drink about five coffees a day.",
]
PLACES = ["left big toe", "right side of the jaw", "between the shoulder blades"]
WEAK = ["right hand", "both legs", "left arm when lifting"]


def _codes(link_id: str) -> list[str]:
    return [c for c in TWITCH_INTAKE.question(link_id).codes if c != NONE]


def _some(rng: random.Random, link_id: str, p_none: float, most: int = 3) -> list[str]:
    if rng.random() < p_none:
        return [NONE]
    return rng.sample(_codes(link_id), rng.randint(1, most))


def realistic_answers(rng: random.Random, emergency_share: float = 0.04) -> dict[str, Any]:
    """One complete, valid response drawn from a plausible clinic mix."""
    locations = rng.sample(_codes("locations"), rng.choices([1, 2, 3, 4], [60, 25, 10, 5])[0])
    several = len(locations) > 1
    if rng.random() < 0.1:  # patients answer the two location questions inconsistently
        several = not several
    pattern = rng.choices(["constant", "comes-and-goes"], [25, 75])[0]
    answers: dict[str, Any] = {
        "emergency-signs": (
            rng.sample(_codes("emergency-signs"), rng.choice([1, 1, 2]))
            if rng.random() < emergency_share
            else [NONE]
        ),
        "duration": rng.choices(["days", "weeks", "months", "long-term"], [35, 30, 20, 15])[0],
        "severity": rng.choices(["mild", "moderate", "severe"], [55, 35, 10])[0],
        "locations": locations,
        "more-than-one-location": several,
        "pattern": pattern,
        "other-symptoms": _some(rng, "other-symptoms", 0.55),
        "medication-flags": _some(rng, "medication-flags", 0.8, most=1),
        "condition-flags": _some(rng, "condition-flags", 0.85, most=1),
        "triggers": _some(rng, "triggers", 0.4),
        # The questions the 11-page form added (questionnaire 1.1.0).
        "onset": rng.choices(["sudden", "over-days", "gradual", "not-sure"], [10, 20, 55, 15])[0],
        "course": rng.choices(["better", "same", "worse", "spreading"], [20, 55, 20, 5])[0],
        "frequency": rng.choice(["many-times-a-day", "daily", "weekly", "rarely"]),
        "movement": rng.sample(["flicker", "jerk", "tightening", "urge"], rng.randint(1, 2)),
        "side": rng.choices(["left", "right", "both", "not-sure"], [30, 30, 30, 10])[0],
        "recent-emergency": False,
        "family-history": rng.choices(["yes", "no", "not-sure"], [10, 70, 20])[0],
        "answered-by": rng.choices(["patient", "with-help", "parent-or-carer"], [85, 10, 5])[0],
    }
    if answers["emergency-signs"] != [NONE]:  # answered on the get-care page
        answers["emergency-action"] = rng.choice(_codes("emergency-action"))
    if "other" in locations:
        answers["locations-other"] = rng.choice(PLACES)
    if pattern == "comes-and-goes":
        answers["episode-length"] = rng.choices(
            ["seconds", "minutes", "hours", "days"], [60, 25, 10, 5]
        )[0]
    if "weakness" in answers["other-symptoms"] and rng.random() < 0.7:
        answers["weakness-where"] = rng.choice(WEAK)
    if rng.random() < 0.5:
        answers["medications"] = "\n".join(rng.sample(MEDICINES, rng.randint(1, 3)))
    if rng.random() < 0.3:
        answers["conditions"] = rng.choice(CONDITIONS)
    if rng.random() < 0.25:
        answers["notes"] = rng.choice(NOTES)
    if answers["emergency-signs"] != [NONE]:
        answers["emergency-action"] = rng.choice(_codes("emergency-action"))
    _complete(rng, answers)
    cleaned, problems = validation.validate(answers)
    if problems:  # pragma: no cover - a bug in this generator, not in the app
        raise AssertionError(f"generated answers are invalid: {problems}")
    return cleaned


def _complete(rng: random.Random, answers: dict[str, Any]) -> None:
    """Every required question the mix above leaves out (the questionnaire grows): a plausible
    answer drawn from its own options, so a new question never breaks the benchmark."""
    for question in TWITCH_INTAKE.questions():
        if question.link_id in answers or not question.is_enabled(answers):
            continue
        if question.type is questionnaire.ItemType.BOOLEAN:
            # "Yes" opens follow-ups (recent emergency signs): a few patients say it.
            answers[question.link_id] = rng.random() < 0.05
        elif question.type is questionnaire.ItemType.CHOICE:
            codes = _codes(question.link_id)
            if question.repeats:
                plain = [c for c in codes if c not in question.exclusive]
                answers[question.link_id] = rng.sample(plain, rng.randint(1, min(2, len(plain))))
            elif question.required or rng.random() < 0.7:
                answers[question.link_id] = rng.choice(codes)
        elif question.required:
            answers[question.link_id] = rng.choice(PLACES)


def answer_mix(count: int, seed: int = 8) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [realistic_answers(rng) for _ in range(count)]


def page_form(
    group: questionnaire.Group | questionnaire.Page, answers: dict[str, Any]
) -> list[tuple[str, str]]:
    """What a browser with JavaScript on posts for ``group`` (a page of the form, or a whole group:
    the peer wizard asks a group per step) when the patient gave ``answers``."""
    fields: list[tuple[str, str]] = []
    revealed = []
    for question in group.questions:
        if question.emergency_response:
            continue  # asked on the get-care page, never on its group's page
        if question.show_when:
            if not question.is_enabled(answers):
                if question.type in (questionnaire.ItemType.STRING, questionnaire.ItemType.TEXT):
                    fields.append((question.link_id, ""))  # hidden by CSS, still posted
                continue
            revealed.append(question.link_id)
        value = answers.get(question.link_id)
        if isinstance(value, list):
            fields.extend((question.link_id, v) for v in value)
        elif isinstance(value, bool):
            fields.append((question.link_id, "yes" if value else "no"))
        elif value is not None:
            fields.append((question.link_id, str(value)))
        elif question.type in (questionnaire.ItemType.STRING, questionnaire.ItemType.TEXT):
            fields.append((question.link_id, ""))  # an empty text box is still posted
    fields.append(("_revealed", " ".join(sorted(revealed))))
    return fields
