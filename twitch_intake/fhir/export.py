"""The intake out, as FHIR R4: the Questionnaire and one encounter's QuestionnaireResponse.

Everything is read from :mod:`twitch_intake.questionnaire`, so the FHIR view of the intake cannot
drift from the web form: linkIds and answer codes are the contract's, labels become ``text`` and
``display`` in the active language.

Layout. Groups are the Questionnaire's top-level items, questions sit in their group, and a
show-when question is a sibling of the question it depends on, with an ``enableWhen``. The
response uses the same layout (flat in the group).

Versions. The Questionnaire carries its ``version``; a response names the version its encounter
was answered under (``<url>|1.0.0``) and holds only what that version asked, so a receiver checks
it against the right definition. An exclusive option ("None of these", "Not sure") carries the
standard ``questionnaire-optionExclusive`` extension, so that a FHIR form filler enforces what
our form does.
"""

from __future__ import annotations

from typing import Any

from django.utils import translation

from .. import questionnaire, validation
from ..models import Encounter
from ..questionnaire import ItemType, Question, Questionnaire, ShowWhen

#: Where our FHIR identifiers live; the code system and the Questionnaire hang off it.
BASE_URL = "https://twitch-intake.example.org/fhir"
#: The one code system for every answer code of the intake.
CODE_SYSTEM = f"{BASE_URL}/CodeSystem/twitch-intake"
#: The Questionnaire's canonical URL; a response names it (optionally ``|version``).
QUESTIONNAIRE_URL = f"{BASE_URL}/Questionnaire/twitch-intake"

#: The standard extension on an ``answerOption`` that cannot be chosen with any other (FHIR
#: Extensions Pack, "Questionnaire Option Exclusive"; context ``Questionnaire.item.answerOption``).
OPTION_EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"

#: The contained Patient's id in an export (``subject`` is ``#patient``).
PATIENT_ID = "patient"

#: Where each item type's answer goes in a response (``valueCoding``, ...).
VALUE_KEY = {
    ItemType.CHOICE: "valueCoding",
    ItemType.BOOLEAN: "valueBoolean",
    ItemType.STRING: "valueString",
    ItemType.TEXT: "valueString",
}


def _coding(question: Question, code: str) -> dict[str, str]:
    return {"system": CODE_SYSTEM, "code": code, "display": str(question.label(code))}


def _enable_when(when: ShowWhen) -> dict[str, Any]:
    """A show-when condition as FHIR's ``enableWhen`` (and ``enableBehavior`` when it takes two)."""
    if isinstance(when.code, bool):
        # A yes/no parent: asked when it was answered yes (or no).
        return {
            "enableWhen": [{"question": when.question, "operator": "=", "answerBoolean": when.code}]
        }
    coding = {"system": CODE_SYSTEM, "code": when.code}
    if when.other_than:
        # Answered, and with something other than the code: both must hold.
        return {
            "enableWhen": [
                {"question": when.question, "operator": "exists", "answerBoolean": True},
                {"question": when.question, "operator": "!=", "answerCoding": coding},
            ],
            "enableBehavior": "all",
        }
    return {"enableWhen": [{"question": when.question, "operator": "=", "answerCoding": coding}]}


def _answer_option(question: Question, code: str) -> dict[str, Any]:
    option: dict[str, Any] = {"valueCoding": _coding(question, code)}
    if code in question.exclusive:
        option["extension"] = [{"url": OPTION_EXCLUSIVE, "valueBoolean": True}]
    return option


def _question_item(question: Question) -> dict[str, Any]:
    item: dict[str, Any] = {
        "linkId": question.link_id,
        "text": str(question.text),
        "type": question.type.value,
        "required": question.required,
        "repeats": question.repeats,
    }
    if question.show_when is not None:
        item.update(_enable_when(question.show_when))
    if question.max_length is not None:
        item["maxLength"] = question.max_length
    if question.options:
        item["answerOption"] = [_answer_option(question, c) for c in question.codes]
    return item


def _answered_under(version: str | None) -> Questionnaire:
    """The questionnaire an encounter or response of ``version`` was answered under; the current
    one for an empty version, and for one this definition does not know (a row stored by a
    newer release): then the export names that version and holds what was stored, honestly."""
    return questionnaire.stored_under(version)


def questionnaire_json(version: str | None = None) -> dict[str, Any]:
    """The intake as an R4 Questionnaire, for other systems to render or to check responses:
    the current version, or an earlier one (as its intakes were asked it; a ``ValueError`` for
    a version this definition does not know).

    Texts are in the active language (which ``language`` names); linkIds and codes never change.
    """
    intake = questionnaire.for_version(version)
    language = translation.get_language()
    return {
        "resourceType": "Questionnaire",
        "id": "twitch-intake",
        **({"language": language} if language else {}),
        "url": QUESTIONNAIRE_URL,
        "version": intake.version,
        "name": "TwitchIntake",
        "title": str(intake.title),
        "status": "active",
        "subjectType": ["Patient"],
        "item": [
            {
                "linkId": group.link_id,
                "text": str(group.title),
                "type": "group",
                "required": any(q.required and q.show_when is None for q in group.questions),
                "repeats": False,
                "item": [_question_item(q) for q in group.questions],
            }
            for group in intake.groups
        ],
    }


def _answers(question: Question, value: Any) -> list[dict[str, Any]]:
    values = value if question.repeats else [value]
    if question.type is ItemType.CHOICE:
        return [{"valueCoding": _coding(question, code)} for code in values]
    return [{VALUE_KEY[question.type]: v} for v in values]


def response_json(encounter: Encounter) -> dict[str, Any]:
    """One encounter as an R4 QuestionnaireResponse, with the patient contained.

    A submitted (or reviewed) encounter is ``completed``; one still being filled in is exported
    honestly as ``in-progress`` with what is saved so far. Unanswered questions and empty
    groups are left out, as FHIR asks. It names, and holds the questions of, the version the
    encounter was answered under.
    """
    answers = encounter.answers or {}
    groups = []
    for group in _answered_under(encounter.questionnaire_version).groups:
        items = [
            {
                "linkId": q.link_id,
                "text": str(q.text),
                "answer": _answers(q, answers[q.link_id]),
            }
            for q in group.questions
            if not validation.is_blank(answers.get(q.link_id))
        ]
        if items:
            groups.append({"linkId": group.link_id, "text": str(group.title), "item": items})
    authored = encounter.submitted_at if encounter.is_submitted else encounter.updated_at
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "contained": [
            {
                "resourceType": "Patient",
                "id": PATIENT_ID,
                "name": [{"text": encounter.patient_name}],
                "birthDate": encounter.date_of_birth.isoformat(),
            }
        ],
        "questionnaire": f"{QUESTIONNAIRE_URL}|{encounter.questionnaire_version}",
        "status": "completed" if encounter.is_submitted else "in-progress",
        "subject": {"reference": f"#{PATIENT_ID}"},
    }
    if authored is not None:
        resource["authored"] = authored.isoformat()
    resource["item"] = groups
    return resource
