"""Answers in words: the patient's review page and the clinician's read-only answers share this."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext

from . import questionnaire, triage, validation
from .questionnaire import ItemType, Question, Questionnaire


def display_answer(question: Question, value: Any) -> str:
    if validation.is_blank(value):
        return gettext("Not answered")
    if question.type is ItemType.BOOLEAN:
        return gettext("Yes") if value else gettext("No")
    if question.type is ItemType.CHOICE:
        codes = triage.ticked_codes({question.link_id: value}, question.link_id)
        return ", ".join(str(question.label(c)) for c in codes)
    return str(value)


def answer_sections(
    answers: Mapping[str, Any], intake: Questionnaire | None = None
) -> list[dict[str, Any]]:
    """Each group with its shown questions and answers, in the questionnaire's order: the
    questionnaire as the intake's version asked it (``intake``; default the current one), so an
    old intake lists what it was asked."""
    sections = []
    for group in (intake or questionnaire.TWITCH_INTAKE).groups:
        rows = [
            {
                "link_id": q.link_id,
                "question": q.text,
                "answer": display_answer(q, answers.get(q.link_id)),
                "free_text": q.type in (ItemType.STRING, ItemType.TEXT),
            }
            for q in group.questions
            if q.is_enabled(answers)
        ]
        sections.append({"group": group, "rows": rows})
    return sections
