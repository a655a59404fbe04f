"""FHIR out and in: the Questionnaire, an encounter's response, imports and the command."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire
from fhir.resources.R4B.questionnaireresponse import (
    QuestionnaireResponse as FhirQuestionnaireResponse,
)
from procrastinate.contrib.django.models import ProcrastinateJob

from tests.factories import (
    answers_1_0_0,
    emergency_answers,
    every_flag_answers,
    make_encounter,
    make_submitted,
    rich_answers,
    routine_answers,
)
from twitch_intake import fhir, questionnaire, services, tasks, triage, validation
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = pytest.mark.django_db

SYSTEM = fhir.CODE_SYSTEM


def _response(answers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A valid response built the way an export builds it, from an unsaved encounter."""
    encounter = Encounter(
        patient_name="Ada Example",
        date_of_birth=dt.date(1980, 5, 17),
        answers=answers if answers is not None else routine_answers(),
        status=Encounter.Status.SUBMITTED,
        submitted_at=dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC),
    )
    return fhir.response_json(encounter)


def _item(resource: dict[str, Any], link_id: str) -> dict[str, Any]:
    """The response item for a question, wherever it sits (flat or nested under an answer)."""

    def walk(items: list[dict[str, Any]]) -> dict[str, Any] | None:
        for item in items:
            if item["linkId"] == link_id:
                return item
            for child in [item.get("item", [])] + [
                a.get("item", []) for a in item.get("answer", [])
            ]:
                found = walk(child)
                if found is not None:
                    return found
        return None

    found = walk(resource["item"])
    assert found is not None, link_id
    return found


def _group(resource: dict[str, Any], link_id: str) -> dict[str, Any]:
    return next(g for g in resource["item"] if g["linkId"] == link_id)


def _remove(resource: dict[str, Any], link_id: str) -> None:
    group = _group(resource, TWITCH_INTAKE.group_of(link_id).link_id)
    group["item"] = [i for i in group["item"] if i["linkId"] != link_id]


def _coding(code: str) -> dict[str, Any]:
    return {"valueCoding": {"system": SYSTEM, "code": code}}


def _submitted_1_0_0(answers: dict[str, Any] | None = None, **fields: Any) -> Encounter:
    """A submitted encounter answered under questionnaire 1.0.0 (stored as an import stores it)."""
    result = services.create_submitted(
        patient_name=fields.pop("patient_name", "Ada Example"),
        date_of_birth=fields.pop("date_of_birth", dt.date(1980, 5, 17)),
        answers=answers if answers is not None else answers_1_0_0(),
        authored=dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC),
        questionnaire_version="1.0.0",
    )
    assert result.ok, result.problems
    assert result.encounter.questionnaire_version == "1.0.0"
    return result.encounter


def _refused(resource: Any) -> list[str]:
    """Import ``resource``, check it was refused and stored nothing; return the messages."""
    before = Encounter.objects.count()
    result = fhir.import_response(resource)
    assert not result.ok
    assert result.encounter is None
    assert Encounter.objects.count() == before
    return result.problems


# --- The Questionnaire ----------------------------------------------------------------------


def test_questionnaire_is_valid_r4_with_our_identity():
    data = fhir.questionnaire_json()
    parsed = FhirQuestionnaire.model_validate(data)
    assert parsed.url == fhir.QUESTIONNAIRE_URL
    assert parsed.url.endswith("/Questionnaire/twitch-intake")
    assert parsed.url.startswith(fhir.BASE_URL) and SYSTEM.startswith(fhir.BASE_URL)
    assert parsed.version == questionnaire.VERSION
    assert parsed.status == "active"
    assert parsed.title == str(TWITCH_INTAKE.title)


def test_questionnaire_has_every_group_and_question_in_order():
    data = fhir.questionnaire_json()
    assert [g["linkId"] for g in data["item"]] == [g.link_id for g in TWITCH_INTAKE.groups]
    for group_item, group in zip(data["item"], TWITCH_INTAKE.groups, strict=True):
        assert group_item["type"] == "group"
        assert group_item["text"] == str(group.title)
        assert [i["linkId"] for i in group_item["item"]] == [q.link_id for q in group.questions]


@pytest.mark.parametrize("question", list(TWITCH_INTAKE.questions()), ids=lambda q: q.link_id)
def test_questionnaire_item_mirrors_the_definition(question):
    group = next(
        g
        for g in fhir.questionnaire_json()["item"]
        if g["linkId"] == TWITCH_INTAKE.group_of(question.link_id).link_id
    )
    item = next(i for i in group["item"] if i["linkId"] == question.link_id)
    assert item["text"] == str(question.text)
    assert item["type"] == question.type.value
    assert item["required"] is question.required
    assert item["repeats"] is question.repeats
    assert item.get("maxLength") == question.max_length
    options = [o["valueCoding"] for o in item.get("answerOption", [])]
    assert [o["code"] for o in options] == list(question.codes)
    assert all(o["system"] == SYSTEM for o in options)
    assert [o["display"] for o in options] == [str(question.label(c)) for c in question.codes]
    exclusive = [
        o["valueCoding"]["code"]
        for o in item.get("answerOption", [])
        if o.get("extension") == [{"url": fhir.export.OPTION_EXCLUSIVE, "valueBoolean": True}]
    ]
    assert exclusive == [c for c in question.codes if c in question.exclusive]
    assert all(set(o) <= {"valueCoding", "extension"} for o in item.get("answerOption", []))
    if question.show_when is None:
        assert "enableWhen" not in item
    elif isinstance(question.show_when.code, bool):
        assert item["enableWhen"] == [
            {
                "question": question.show_when.question,
                "operator": "=",
                "answerBoolean": question.show_when.code,
            }
        ]
    elif question.show_when.other_than:
        assert item["enableWhen"] == [
            {"question": question.show_when.question, "operator": "exists", "answerBoolean": True},
            {
                "question": question.show_when.question,
                "operator": "!=",
                "answerCoding": {"system": SYSTEM, "code": question.show_when.code},
            },
        ]
        assert item["enableBehavior"] == "all"
    else:
        assert item["enableWhen"] == [
            {
                "question": question.show_when.question,
                "operator": "=",
                "answerCoding": {"system": SYSTEM, "code": question.show_when.code},
            }
        ]


#: The clinical contract's table (shared/CLINICAL.md): type, repeats, required when shown.
CONTRACT = {
    "emergency-signs": ("choice", True, True),
    "emergency-action": ("choice", False, True),
    "duration": ("choice", False, True),
    "onset": ("choice", False, True),
    "course": ("choice", False, True),
    "severity": ("choice", False, True),
    "frequency": ("choice", False, True),
    "movement": ("choice", True, True),
    "locations": ("choice", True, True),
    "locations-other": ("string", False, True),
    "side": ("choice", False, True),
    "more-than-one-location": ("boolean", False, True),
    "pattern": ("choice", False, True),
    "episode-length": ("choice", False, True),
    "other-symptoms": ("choice", True, True),
    "weakness-where": ("string", False, False),
    "recent-emergency": ("boolean", False, True),
    "recent-emergency-signs": ("choice", True, True),
    "family-history": ("choice", False, True),
    "medications": ("text", False, False),
    "medication-flags": ("choice", True, True),
    "conditions": ("text", False, False),
    "condition-flags": ("choice", True, True),
    "pregnancy": ("choice", False, False),
    "triggers": ("choice", True, True),
    "notes": ("text", False, False),
    "answered-by": ("choice", False, True),
}
#: The questions 1.1.0 added (CLINICAL.md, "What changed in 1.1.0").
ADDED_IN_1_1_0 = {
    "emergency-action",
    "onset",
    "course",
    "frequency",
    "movement",
    "side",
    "recent-emergency",
    "recent-emergency-signs",
    "family-history",
    "pregnancy",
    "answered-by",
}
#: The options 1.1.0 added to questions 1.0.0 asked.
OPTIONS_ADDED_IN_1_1_0 = {
    "emergency-signs": {"breathing-difficulty"},
    "other-symptoms": {"speech-change", "breathless"},
}


def test_questionnaire_items_carry_the_contracts_types():
    items = {i["linkId"]: i for g in fhir.questionnaire_json()["item"] for i in g["item"]}
    assert {k: (i["type"], i["repeats"], i["required"]) for k, i in items.items()} == CONTRACT


def test_show_when_questions_are_the_contracts_five():
    conditions = {
        i["linkId"]: tuple(
            (
                w["question"],
                w["operator"],
                w.get("answerCoding", {}).get("code", w.get("answerBoolean")),
            )
            for w in i["enableWhen"]
        )
        for g in fhir.questionnaire_json()["item"]
        for i in g["item"]
        if "enableWhen" in i
    }
    assert conditions == {
        # Asked when a sign is ticked: answered, and not "None of these".
        "emergency-action": (
            ("emergency-signs", "exists", True),
            ("emergency-signs", "!=", "none"),
        ),
        "locations-other": (("locations", "=", "other"),),
        "episode-length": (("pattern", "=", "comes-and-goes"),),
        "weakness-where": (("other-symptoms", "=", "weakness"),),
        # Asked when the patient answered yes: a boolean, not a coding.
        "recent-emergency-signs": (("recent-emergency", "=", True),),
    }


def test_questionnaire_texts_follow_the_language_and_codes_do_not():
    def codes(data: dict[str, Any]) -> list[Any]:
        return [
            (i["linkId"], [o["valueCoding"]["code"] for o in i.get("answerOption", [])])
            for g in data["item"]
            for i in g["item"]
        ]

    with translation.override("en"):
        english = fhir.questionnaire_json()
    with translation.override("es"):
        spanish = fhir.questionnaire_json()
        eyelid = str(TWITCH_INTAKE.question("locations").label("eyelid"))
    assert (english["language"], spanish["language"]) == ("en", "es")
    assert codes(spanish) == codes(english)
    assert spanish["title"] != english["title"]
    spanish_locations = next(
        i for g in spanish["item"] for i in g["item"] if i["linkId"] == "locations"
    )
    assert spanish_locations["answerOption"][0]["valueCoding"]["display"] == eyelid != "Eyelid"
    FhirQuestionnaire.model_validate(spanish)


# --- Export ---------------------------------------------------------------------------------


def test_export_of_a_rich_encounter_is_valid_r4_and_names_the_patient():
    encounter = make_submitted(rich_answers())
    data = fhir.response_json(encounter)
    parsed = FhirQuestionnaireResponse.model_validate(data)
    assert parsed.questionnaire.split("|")[0] == fhir.QUESTIONNAIRE_URL
    assert parsed.status == "completed"
    assert dt.datetime.fromisoformat(data["authored"]) == encounter.submitted_at
    assert parsed.subject.reference == "#" + parsed.contained[0].id
    patient = data["contained"][0]
    assert patient["resourceType"] == "Patient"
    assert patient["name"] == [{"text": "Ada Example"}]
    assert patient["birthDate"] == "1980-05-17"


def test_export_uses_the_value_type_of_each_question():
    data = fhir.response_json(make_submitted(rich_answers()))
    assert _item(data, "locations")["answer"] == [
        {
            "valueCoding": {
                "system": SYSTEM,
                "code": code,
                "display": str(TWITCH_INTAKE.question("locations").label(code)),
            }
        }
        for code in ["eyelid", "thigh", "calf", "other"]  # the questionnaire's order
    ]
    assert _item(data, "duration")["answer"] == [
        {"valueCoding": {"system": SYSTEM, "code": "long-term", "display": "More than 6 months"}}
    ]
    assert _item(data, "more-than-one-location")["answer"] == [{"valueBoolean": True}]
    assert _item(data, "locations-other")["answer"] == [{"valueString": "left big toe"}]
    assert _item(data, "medications")["answer"] == [{"valueString": "Sertraline 50 mg\nVitamin D"}]


def test_every_item_type_has_its_fhir_value():
    """A question of any declared type is exported and read: no type is left without a value."""
    assert set(fhir.export.VALUE_KEY) == set(questionnaire.ItemType)


def test_export_puts_show_when_questions_flat_in_their_group():
    data = fhir.response_json(make_submitted(rich_answers()))
    history = [i["linkId"] for i in _group(data, "history")["item"]]
    assert history == [q.link_id for q in TWITCH_INTAKE.group("history").questions]
    assert all("item" not in a for g in data["item"] for i in g["item"] for a in i["answer"])


def test_export_leaves_out_unanswered_questions_and_empty_groups():
    data = fhir.response_json(make_submitted(routine_answers()))
    linked = {i["linkId"] for g in data["item"] for i in g["item"]}
    assert "notes" not in linked and "locations-other" not in linked
    FhirQuestionnaireResponse.model_validate(data)
    # 1.0.0 asked nothing in the closing group but the optional notes: none answered, no group.
    old = fhir.response_json(_submitted_1_0_0())
    assert "closing" not in [g["linkId"] for g in old["item"]]
    FhirQuestionnaireResponse.model_validate(old)


def test_export_of_an_unfinished_intake_is_in_progress():
    encounter = make_encounter(
        answers={"emergency-signs": ["none"]}, status=Encounter.Status.IN_PROGRESS
    )
    data = fhir.response_json(encounter)
    FhirQuestionnaireResponse.model_validate(data)
    assert data["status"] == "in-progress"
    assert [g["linkId"] for g in data["item"]] == ["emergency"]
    problems = _refused(data)
    assert problems[0] == "status: only a completed response can be imported (found 'in-progress')."
    assert "duration: Choose an answer." in problems


# --- Whatever questionnaire is active -------------------------------------------------------


@pytest.fixture
def extended(monkeypatch):
    """The intake with two questions more, swapped in as the active definition at run time."""
    extra = (
        questionnaire.Question(
            link_id="test-extra",
            text="A question only this test asks",
            type=questionnaire.ItemType.CHOICE,
            options=(questionnaire.Option("test-code", "The test's one answer"),),
        ),
        questionnaire.Question(
            link_id="test-extra-detail",
            text="Tell us more",
            type=questionnaire.ItemType.STRING,
            max_length=40,
            show_when=questionnaire.ShowWhen("test-extra", "test-code"),
        ),
    )
    last = TWITCH_INTAKE.groups[-1]
    groups = (
        *TWITCH_INTAKE.groups[:-1],
        dataclasses.replace(last, questions=(*last.questions, *extra)),
    )
    intake = questionnaire.Questionnaire(version="9.9.9", title="Test", groups=groups)
    monkeypatch.setattr(questionnaire, "TWITCH_INTAKE", intake)
    return intake


def test_the_export_follows_the_active_questionnaire(extended):
    data = fhir.questionnaire_json()
    FhirQuestionnaire.model_validate(data)
    assert data["version"] == "9.9.9"
    last = data["item"][-1]
    assert [i["linkId"] for i in last["item"]] == [q.link_id for q in extended.groups[-1].questions]
    added, detail = last["item"][-2:]
    assert added["answerOption"] == [
        {"valueCoding": {"system": SYSTEM, "code": "test-code", "display": "The test's one answer"}}
    ]
    assert detail["enableWhen"][0]["question"] == "test-extra"
    assert detail["maxLength"] == 40

    answers = {**routine_answers(), "test-extra": "test-code", "test-extra-detail": "left toe"}
    response = _response(answers)
    FhirQuestionnaireResponse.model_validate(response)
    assert response["questionnaire"].endswith(f"|{extended.version}")  # what it was filled in
    assert _item(response, "test-extra")["answer"] == [
        {"valueCoding": {"system": SYSTEM, "code": "test-code", "display": "The test's one answer"}}
    ]
    assert _item(response, "test-extra-detail")["answer"] == [{"valueString": "left toe"}]


def test_the_reader_follows_the_active_questionnaire(extended):
    answers = {**routine_answers(), "test-extra": "test-code", "test-extra-detail": "left toe"}
    response = _response(answers)
    response["questionnaire"] = f"{fhir.QUESTIONNAIRE_URL}|9.9.9"
    parsed = fhir.read_response(response)
    assert parsed.ok, parsed.problems
    assert parsed.answers == answers
    assert parsed.questionnaire_version == "9.9.9"

    response["questionnaire"] = f"{fhir.QUESTIONNAIRE_URL}|9.9.8"
    _item(response, "test-extra")["answer"] = [_coding("not-a-code")]
    version, code = fhir.read_response(response).problems
    assert version == (
        "questionnaire: version '9.9.8' is not known; "
        "this server reads versions 1.0.0, 1.1.0, 9.9.9."
    )
    assert code.startswith("test-extra: ") and code.endswith("(unknown code 'not-a-code')")
    del answers["test-extra"]
    assert fhir.read_response(_response(answers)).problems[-1] == (
        "test-extra-detail: This question does not apply to the answers given "
        "(asked only when 'test-extra' is 'test-code')."
    )


# --- Import: accepted -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "answers",
    [rich_answers(), routine_answers(), emergency_answers()],
    ids=["rich", "routine", "emergency"],
)
def test_round_trip_keeps_every_answer_and_the_triage(answers):
    original = make_submitted(
        answers, patient_name="Zoë O'Neil", date_of_birth=dt.date(1955, 12, 31)
    )
    result = fhir.import_response(json.loads(json.dumps(fhir.response_json(original))))
    assert result.ok, result.problems
    copy_ = Encounter.objects.get(pk=result.encounter.pk)
    assert copy_.pk != original.pk
    assert copy_.answers == original.answers
    assert copy_.level == original.level
    assert copy_.flags == original.flags
    assert copy_.status == Encounter.Status.SUBMITTED
    assert copy_.patient_name == "Zoë O'Neil"
    assert copy_.date_of_birth == dt.date(1955, 12, 31)
    assert copy_.submitted_at == original.submitted_at


def test_round_trip_of_every_answer_raises_every_flag():
    original = make_submitted(every_flag_answers())
    assert set(original.answers) == set(CONTRACT)  # every question answered, so every value type
    copy_ = fhir.import_response(fhir.response_json(original)).encounter
    assert copy_.answers == original.answers
    assert copy_.questionnaire_version == questionnaire.VERSION
    assert copy_.level == triage.Level.EMERGENCY
    assert copy_.flags == original.flags == list(triage.flag_codes())
    assert copy_.red_flag_count == original.red_flag_count


def test_import_accepts_show_when_questions_nested_under_their_parents_answer():
    flat = _response(rich_answers())
    nested = copy.deepcopy(flat)
    for child, parent, code in [
        ("locations-other", "locations", "other"),
        ("episode-length", "pattern", "comes-and-goes"),
        ("weakness-where", "other-symptoms", "weakness"),
    ]:
        moved = _item(nested, child)
        _remove(nested, child)
        answer = next(
            a for a in _item(nested, parent)["answer"] if a["valueCoding"]["code"] == code
        )
        answer["item"] = [moved]
    FhirQuestionnaireResponse.model_validate(nested)
    result = fhir.import_response(nested)
    assert result.ok, result.problems
    expected, _ = validation.validate(rich_answers())
    assert result.encounter.answers == fhir.import_response(flat).encounter.answers == expected


def test_import_accepts_other_fhir_spellings_of_the_envelope():
    resource = _response()
    resource["questionnaire"] = fhir.QUESTIONNAIRE_URL  # no |version
    resource["authored"] = "2025-02-03"  # a bare date
    del resource["subject"]  # the only contained Patient is the subject
    resource["contained"][0]["name"] = [{"given": ["Ada", "May"], "family": "Example"}]
    result = fhir.import_response(resource)
    assert result.ok, result.problems
    assert result.encounter.patient_name == "Ada May Example"
    assert result.encounter.submitted_at.date() == dt.date(2025, 2, 3)


def test_import_reads_nanosecond_times_with_an_offset():
    resource = _response()
    resource["authored"] = "2025-03-01T10:30:00.123456789+01:00"
    encounter = fhir.import_response(resource).encounter
    assert encounter.submitted_at == dt.datetime(2025, 3, 1, 9, 30, 0, 123456, tzinfo=dt.UTC)


def test_import_without_authored_is_submitted_now():
    resource = _response()
    del resource["authored"]
    before = dt.datetime.now(dt.UTC)
    encounter = fhir.import_response(resource).encounter
    assert encounter.submitted_at >= before


def test_import_refuses_an_answer_the_form_would_clear():
    """The form clears an episode length when the pattern turns constant; a sender never saw
    the form, so it is told instead (tests/security/test_fhir_import_gaps.py has the rest)."""
    resource = _response(routine_answers())
    _item(resource, "pattern")["answer"] = [_coding("constant")]
    assert _refused(resource) == [
        "episode-length: This question does not apply to the answers given "
        "(asked only when 'pattern' is 'comes-and-goes')."
    ]


def test_import_of_an_emergency_needs_what_the_patient_is_doing_about_it():
    """``emergency-action`` is required once a sign is ticked, and applies only then."""
    answers = emergency_answers()
    del answers["emergency-action"]
    assert _refused(_response(answers)) == [
        "emergency-action: Choose what you are doing about this."
    ]
    resource = _response(emergency_answers())
    _item(resource, "emergency-signs")["answer"] = [_coding("none")]
    assert _refused(resource) == [
        "emergency-action: This question does not apply to the answers given "
        "(asked only when 'emergency-signs' holds an answer other than 'none')."
    ]


def test_an_emergency_round_trips_with_the_patients_action():
    answers = emergency_answers(**{"emergency-action": "long-standing"})
    encounter = fhir.import_response(_response(answers)).encounter
    assert encounter.answers["emergency-action"] == "long-standing"
    assert encounter.level == "emergency"  # the answer never lowers the level


def test_an_imported_emergency_alerts_the_clinic(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = fhir.import_response(_response(emergency_answers()))
    assert result.encounter.level == "emergency"
    [job] = ProcrastinateJob.objects.filter(task_name="twitch_intake.send_emergency_alert")
    assert job.args == {"encounter_id": result.encounter.pk}
    tasks.send_emergency_alert(**job.args)  # tests/test_alerts.py runs it on the real worker
    assert len(mail.outbox) == 1


# --- Import: refused ------------------------------------------------------------------------


def _set_answer(link_id: str, *answers: dict[str, Any]):
    """Replace a question's answers, adding the question to its group if it was unanswered."""

    def mutate(resource: dict[str, Any]) -> None:
        group = _group(resource, TWITCH_INTAKE.group_of(link_id).link_id)
        if not any(i["linkId"] == link_id for i in group["item"]):
            group["item"].append({"linkId": link_id})
        _item(resource, link_id)["answer"] = list(answers)

    return mutate


def _set_patient(**fields: Any):
    def mutate(resource: dict[str, Any]) -> None:
        patient = resource["contained"][0]
        for key, value in fields.items():
            if value is None:
                patient.pop(key, None)
            else:
                patient[key] = value

    return mutate


def _set(key: str, value: Any):
    def mutate(resource: dict[str, Any]) -> None:
        resource[key] = value

    return mutate


def _move_to_group(link_id: str, group: str):
    def mutate(resource: dict[str, Any]) -> None:
        item = _item(resource, link_id)
        _remove(resource, link_id)
        _group(resource, group)["item"].append(item)

    return mutate


def _duplicate(link_id: str):
    def mutate(resource: dict[str, Any]) -> None:
        group = _group(resource, TWITCH_INTAKE.group_of(link_id).link_id)
        group["item"].append(copy.deepcopy(_item(resource, link_id)))

    return mutate


def _nest_under(link_id: str, parent: str):
    def mutate(resource: dict[str, Any]) -> None:
        item = _item(resource, link_id)
        _remove(resource, link_id)
        _item(resource, parent)["answer"][0]["item"] = [item]

    return mutate


def _add_to_history(item: dict[str, Any]):
    def mutate(resource: dict[str, Any]) -> None:
        _group(resource, "history")["item"].append(item)

    return mutate


REFUSALS = {
    # The web form's own rules, named by linkId.
    "missing required": (lambda r: _remove(r, "duration"), "duration: Choose an answer."),
    "none with another code": (
        _set_answer("triggers", _coding("none"), _coding("caffeine")),
        "triggers: You ticked “None of these” and something else.",
    ),
    "other without text": (
        _set_answer("locations", _coding("eyelid"), _coding("other")),
        "locations-other: You ticked “Somewhere else”. Tell us where.",
    ),
    "too long": (
        lambda r: (
            _set_answer("locations", _coding("other"))(r),
            _set_answer("locations-other", {"valueString": "x" * 201})(r),
        ),
        "locations-other: Keep this to 200 characters or fewer (it has 201).",
    ),
    "control character": (
        _set_answer("medications", {"valueString": "aspirin\x00"}),
        "medications: This answer has a hidden character",
    ),
    "lone surrogate in text": (
        _set_answer("medications", {"valueString": "aspirin \ud800"}),
        "medications: has an invalid character (a lone UTF-16 surrogate).",
    ),
    "unknown code": (
        _set_answer("locations", _coding("elbow")),
        "locations: Choose only from the list. (unknown code 'elbow')",
    ),
    # FHIR shape.
    "wrong resourceType": (
        _set("resourceType", "Questionnaire"),
        "resourceType: must be 'QuestionnaireResponse' (found 'Questionnaire').",
    ),
    "unknown linkId": (
        _add_to_history({"linkId": "favourite-colour", "answer": [{"valueString": "blue"}]}),
        "favourite-colour: unknown linkId.",
    ),
    "string for a choice": (
        _set_answer("duration", {"valueString": "days"}),
        "duration: answer must be valueCoding (found valueString).",
    ),
    "string for a boolean": (
        _set_answer("more-than-one-location", {"valueBoolean": "false"}),
        "more-than-one-location: valueBoolean must be true or false (found a string).",
    ),
    "number for text": (
        _set_answer("medications", {"valueString": 42}),
        "medications: valueString must be a string (found a number).",
    ),
    "answer without a value": (
        _set_answer("severity", {}),
        "severity: answer must be valueCoding (found no value).",
    ),
    "two answers to a single choice": (
        _set_answer("severity", _coding("mild"), _coding("severe")),
        "severity: takes one answer (found 2).",
    ),
    "wrong code system": (
        _set_answer(
            "duration", {"valueCoding": {"system": "http://snomed.info/sct", "code": "days"}}
        ),
        f"duration: code system must be {SYSTEM!r} (found 'http://snomed.info/sct').",
    ),
    "coding without system": (
        _set_answer("duration", {"valueCoding": {"code": "days"}}),
        f"duration: code system must be {SYSTEM!r} (found no system).",
    ),
    "question in the wrong group": (
        _move_to_group("severity", "symptoms"),
        "severity: belongs in group 'history' (found in 'symptoms').",
    ),
    "question answered twice": (_duplicate("pattern"), "pattern: answered more than once."),
    "nested under the wrong answer": (
        _nest_under("more-than-one-location", "duration"),
        "more-than-one-location: cannot sit under an answer to 'duration'",
    ),
    "question outside any group": (
        lambda r: r["item"].append({"linkId": "notes", "answer": [{"valueString": "hi"}]}),
        "notes: must sit inside group 'closing'.",
    ),
    "item not an array": (
        _set("item", {"linkId": "history"}),
        "item: item must be an array (found an object).",
    ),
    "wrong questionnaire": (
        _set("questionnaire", "http://example.org/Questionnaire/phq-9"),
        "questionnaire: must be 'https://twitch-intake.example.org/fhir/Questionnaire/twitch-intake'",
    ),
    "other questionnaire version": (
        _set("questionnaire", fhir.QUESTIONNAIRE_URL + "|0.9"),
        "questionnaire: version '0.9' is not known; this server reads versions 1.0.0, 1.1.0.",
    ),
    "not completed": (_set("status", "in-progress"), "status: only a completed response"),
    "authored without a time zone": (
        _set("authored", "2025-03-01T09:30:00"),
        "authored: must be a FHIR dateTime",
    ),
    "authored not a date": (_set("authored", "yesterday"), "authored: must be a FHIR dateTime"),
    "authored in the future": (
        _set("authored", "9999-12-31T23:59:59-14:00"),
        "authored: '9999-12-31T23:59:59-14:00' is not a plausible time",
    ),
    "authored in year 1": (_set("authored", "0001-01-01"), "is not a plausible time"),
    # The patient.
    "no Patient name": (_set_patient(name=None), "Patient.name: missing."),
    "blank Patient name": (_set_patient(name=[{"text": "  "}]), "Patient.name: missing."),
    "Patient name with a control character": (
        _set_patient(name=[{"text": "Ada\x07Example"}]),
        "Patient.name: has a control character.",
    ),
    "Patient name too long": (
        _set_patient(name=[{"text": "A" * 201}]),
        "Patient.name: keep to 200 characters or fewer (it has 201).",
    ),
    "Patient name with a lone surrogate": (
        _set_patient(name=[{"text": "Ada \udc00"}]),
        "Patient.name: has an invalid character",
    ),
    "no birthDate": (_set_patient(birthDate=None), "Patient.birthDate: missing."),
    "partial birthDate": (_set_patient(birthDate="1980"), "Patient.birthDate: must be a full date"),
    "impossible birthDate": (
        _set_patient(birthDate="1980-02-30"),
        "Patient.birthDate: '1980-02-30' is not a real date.",
    ),
    "future birthDate": (_set_patient(birthDate="2999-01-01"), "is not a plausible date of birth."),
    "birthDate before 1900": (
        _set_patient(birthDate="1899-12-31"),
        "is not a plausible date of birth.",
    ),
    "subject not contained": (
        _set("subject", {"reference": "Patient/123"}),
        "subject: must reference a contained Patient",
    ),
    "subject names a missing Patient": (
        _set("subject", {"reference": "#someone"}),
        "subject: no contained Patient with id 'someone'.",
    ),
    "no contained Patient": (
        _set("contained", []),
        "subject: no contained Patient with id 'patient'.",
    ),
}


@pytest.mark.parametrize(("mutate", "expected"), REFUSALS.values(), ids=REFUSALS.keys())
def test_a_bad_response_is_refused_whole_and_stores_nothing(mutate, expected):
    resource = _response()
    mutate(resource)
    problems = _refused(resource)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("resource", "kind"),
    [([], "an array"), ("QuestionnaireResponse", "a string"), (None, "null"), (3, "a number")],
)
def test_a_response_that_is_not_an_object_is_refused(resource, kind):
    assert _refused(resource) == [f"resource: must be a JSON object (found {kind})."]


@pytest.mark.parametrize(
    "text",
    ["{", "", b"\xff\xfe\x00garbage", "[" * 100_000],
    ids=["truncated", "empty", "not utf", "too deep"],
)
def test_invalid_json_is_refused(text):
    before = Encounter.objects.count()
    result = fhir.import_json(text)
    assert not result.ok
    assert result.problems[0].startswith("not valid JSON")
    assert Encounter.objects.count() == before


def test_every_problem_is_listed_at_once():
    resource = _response(emergency_answers())
    _set_patient(birthDate="1980-13-01", name=None)(resource)
    _set("status", "amended")(resource)
    _remove(resource, "duration")
    _set_answer("triggers", _coding("none"), _coding("caffeine"))(resource)
    _set_answer("severity", {"valueString": "severe"})(resource)
    _set_answer("condition-flags", {"valueCoding": {"system": "http://loinc.org", "code": "als"}})(
        resource
    )
    _add_to_history({"linkId": "shoe-size", "answer": [{"valueString": "9"}]})(resource)
    _set_answer("medications", {"valueString": "x" * 2001})(resource)
    problems = _refused(resource)
    named = [p.split(":")[0] for p in problems]
    assert sorted(named) == sorted(
        [
            "status",
            "Patient.name",
            "Patient.birthDate",
            "duration",
            "triggers",
            "severity",
            "condition-flags",
            "shoe-size",
            "medications",
        ]
    )


def test_a_wrongly_typed_answer_is_not_also_reported_missing():
    resource = _response()
    _set_answer("severity", {"valueBoolean": True})(resource)
    assert _refused(resource) == ["severity: answer must be valueCoding (found valueBoolean)."]


def test_a_refused_emergency_sends_no_alert(django_capture_on_commit_callbacks):
    resource = _response(emergency_answers())
    _remove(resource, "duration")
    with django_capture_on_commit_callbacks(execute=True):
        _refused(resource)
    assert mail.outbox == []
    assert not ProcrastinateJob.objects.exists()


# --- The contract's bad answers (CLINICAL.md, "Bad answers") ------------------------------

#: Each bad answer the contract names, as a sender would make it, and the one problem it must
#: get: refused whole, that problem listed, nothing stored.
BAD_ANSWERS = {
    "exclusive not-sure with another": (
        _set_answer("movement", _coding("flicker"), _coding("not-sure")),
        "movement: You ticked “Not sure” and something else. Untick one of them.",
    ),
    "exclusive none with another": (
        _set_answer("other-symptoms", _coding("none"), _coding("breathless")),
        "other-symptoms: You ticked “None of these” and something else. Untick one of them.",
    ),
    "recent signs when recent-emergency is false": (
        _set_answer("recent-emergency-signs", _coding("seizure")),
        "recent-emergency-signs: This question does not apply to the answers given "
        "(asked only when 'recent-emergency' is true).",
    ),
    "recent-emergency true without the signs": (
        _set_answer("recent-emergency", {"valueBoolean": True}),
        "recent-emergency-signs: Tick at least one answer.",
    ),
    "missing emergency-action after a sign": (
        _set_answer("emergency-signs", _coding("breathing-difficulty")),
        "emergency-action: Choose what you are doing about this.",
    ),
    "emergency-action without a sign": (
        _set_answer("emergency-action", _coding("getting-care-now")),
        "emergency-action: This question does not apply to the answers given "
        "(asked only when 'emergency-signs' holds an answer other than 'none').",
    ),
    "a line break in a one-line field": (
        lambda r: (
            _set_answer("locations", _coding("eyelid"), _coding("other"))(r),
            _set_answer("locations-other", {"valueString": "left\nbig toe"})(r),
        ),
        "locations-other: Keep this answer to one line.",
    ),
    "a Unicode line separator in a one-line field": (
        lambda r: (
            _set_answer("other-symptoms", _coding("weakness"))(r),
            _set_answer("weakness-where", {"valueString": "right\u2028hand"})(r),
        ),
        "weakness-where: Keep this answer to one line.",
    ),
    "an unknown code": (
        _set_answer("side", _coding("middle")),
        "side: Choose one of the answers shown. (unknown code 'middle')",
    ),
    "none among the recent signs": (
        lambda r: (
            _set_answer("recent-emergency", {"valueBoolean": True})(r),
            _set_answer("recent-emergency-signs", _coding("none"))(r),
        ),
        "recent-emergency-signs: Choose only from the list. (unknown code 'none')",
    ),
    "an answer to a question that does not apply": (
        _set_answer("weakness-where", {"valueString": "right hand"}),
        "weakness-where: This question does not apply to the answers given "
        "(asked only when 'other-symptoms' includes 'weakness').",
    ),
    "missing answered-by": (
        lambda r: _remove(r, "answered-by"),
        "answered-by: Choose an answer.",
    ),
}


@pytest.mark.parametrize(("mutate", "expected"), BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_each_bad_answer_of_the_contract_is_refused_whole(mutate, expected):
    resource = _response()
    mutate(resource)
    assert _refused(resource) == [expected]


def test_every_bad_answer_of_the_contract_is_listed_at_once():
    resource = _response()
    for name in [
        "exclusive not-sure with another",
        "recent signs when recent-emergency is false",
        "missing emergency-action after a sign",
        "a line break in a one-line field",
        "an unknown code",
        "an answer to a question that does not apply",
        "missing answered-by",
    ]:
        BAD_ANSWERS[name][0](resource)
    assert sorted(_refused(resource)) == sorted(
        BAD_ANSWERS[name][1]
        for name in [
            "exclusive not-sure with another",
            "recent signs when recent-emergency is false",
            "missing emergency-action after a sign",
            "a line break in a one-line field",
            "an unknown code",
            "an answer to a question that does not apply",
            "missing answered-by",
        ]
    )


# --- Versions -------------------------------------------------------------------------------


def _response_1_0_0(answers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A 1.0.0 response, as a 1.0.0 encounter's export writes it."""
    encounter = Encounter(
        patient_name="Ada Example",
        date_of_birth=dt.date(1980, 5, 17),
        answers=answers if answers is not None else answers_1_0_0(),
        status=Encounter.Status.SUBMITTED,
        submitted_at=dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC),
        questionnaire_version="1.0.0",
    )
    return fhir.response_json(encounter)


def test_the_questionnaire_of_an_earlier_version_asks_only_what_it_asked():
    data = fhir.questionnaire_json("1.0.0")
    FhirQuestionnaire.model_validate(data)
    assert data["version"] == "1.0.0"
    assert data["url"] == fhir.QUESTIONNAIRE_URL
    items = {i["linkId"]: i for g in data["item"] for i in g["item"]}
    assert set(items) == set(CONTRACT) - ADDED_IN_1_1_0
    for link_id, added in OPTIONS_ADDED_IN_1_1_0.items():
        codes = {o["valueCoding"]["code"] for o in items[link_id]["answerOption"]}
        assert codes == set(TWITCH_INTAKE.question(link_id).codes) - added
    current = {i["linkId"] for g in fhir.questionnaire_json()["item"] for i in g["item"]}
    assert current == set(CONTRACT)
    assert fhir.questionnaire_json(None) == fhir.questionnaire_json(questionnaire.VERSION)


def test_the_questionnaire_of_an_unknown_version_is_an_error():
    with pytest.raises(ValueError, match="'0.9'"):
        fhir.questionnaire_json("0.9")


def test_a_1_0_0_encounter_exports_as_1_0_0_and_round_trips():
    original = _submitted_1_0_0(answers_1_0_0(locations=["tongue"]))
    data = json.loads(json.dumps(fhir.response_json(original)))
    FhirQuestionnaireResponse.model_validate(data)
    assert data["questionnaire"] == f"{fhir.QUESTIONNAIRE_URL}|1.0.0"
    linked = {i["linkId"] for g in data["item"] for i in g["item"]}
    assert not linked & ADDED_IN_1_1_0
    copy_ = fhir.import_response(data).encounter
    assert copy_.questionnaire_version == "1.0.0"
    assert copy_.answers == original.answers
    # Today's rules run on the answers it has: tongue twitching is bulbar, in 1.0.0 too.
    assert copy_.flags == original.flags == ["bulbar"]
    assert copy_.level == original.level == triage.Level.PRIORITY


def test_a_1_0_0_emergency_needs_no_emergency_action_and_alerts(
    django_capture_on_commit_callbacks,
):
    """1.0.0 never asked what the patient is doing about a sign: its emergency is whole without."""
    answers = answers_1_0_0(**{"emergency-signs": ["seizure"]})
    assert "emergency-action" not in answers
    with django_capture_on_commit_callbacks(execute=True):
        result = fhir.import_response(_response_1_0_0(answers))
    assert result.ok, result.problems
    assert result.encounter.questionnaire_version == "1.0.0"
    assert result.encounter.level == triage.Level.EMERGENCY
    assert result.encounter.emergency_reported_at is not None
    [job] = ProcrastinateJob.objects.filter(task_name="twitch_intake.send_emergency_alert")
    assert job.args == {"encounter_id": result.encounter.pk}


def test_an_encounter_of_a_version_this_release_does_not_know_still_exports():
    """A row written by a newer release: exported honestly under its own version, never a 500."""
    encounter = Encounter(
        patient_name="Ada Example",
        date_of_birth=dt.date(1980, 5, 17),
        answers=routine_answers(),
        status=Encounter.Status.SUBMITTED,
        submitted_at=dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC),
        questionnaire_version="9.0.0",
    )
    data = fhir.response_json(encounter)
    FhirQuestionnaireResponse.model_validate(data)
    assert data["questionnaire"] == f"{fhir.QUESTIONNAIRE_URL}|9.0.0"
    assert {i["linkId"] for g in data["item"] for i in g["item"]} == set(routine_answers())
    assert _refused(data) == [
        "questionnaire: version '9.0.0' is not known; this server reads versions 1.0.0, 1.1.0."
    ]


VERSIONS_ACCEPTED = {
    "1.0.0 without the 1.1.0 questions": ("|1.0.0", _response_1_0_0, answers_1_0_0(), "1.0.0"),
    "1.1.0 named": ("|1.1.0", _response, routine_answers(), "1.1.0"),
    "no version is the current one": ("", _response, routine_answers(), "1.1.0"),
}


@pytest.mark.parametrize(
    ("version", "build", "answers", "stored"),
    VERSIONS_ACCEPTED.values(),
    ids=VERSIONS_ACCEPTED.keys(),
)
def test_a_response_is_stored_with_the_version_it_names(version, build, answers, stored):
    resource = build(answers)
    resource["questionnaire"] = fhir.QUESTIONNAIRE_URL + version
    result = fhir.import_response(resource)
    assert result.ok, result.problems
    encounter = Encounter.objects.get(pk=result.encounter.pk)
    assert encounter.questionnaire_version == stored
    assert encounter.answers == answers
    assert (encounter.level, encounter.flags) == ("routine", [])


VERSIONS_REFUSED = {
    "1.0.0 answering a 1.1.0 question": (
        "|1.0.0",
        _set_answer("onset", _coding("sudden")),
        [
            "onset: This question was added in questionnaire version 1.1.0; a version 1.0.0 "
            "response cannot answer it."
        ],
    ),
    "1.0.0 answering the 1.1.0 yes/no and its follow-up": (
        "|1.0.0",
        lambda r: (
            _set_answer("recent-emergency", {"valueBoolean": True})(r),
            _set_answer("recent-emergency-signs", _coding("seizure"))(r),
        ),
        [
            f"{link_id}: This question was added in questionnaire version 1.1.0; a version "
            "1.0.0 response cannot answer it."
            for link_id in ("recent-emergency", "recent-emergency-signs")
        ],
    ),
    "1.0.0 using a 1.1.0 code": (
        "|1.0.0",
        _set_answer("other-symptoms", _coding("cramps"), _coding("speech-change")),
        [
            "other-symptoms: Choose only from the list. (code 'speech-change' was added in "
            "questionnaire version 1.1.0; a version 1.0.0 response cannot use it)"
        ],
    ),
    "1.0.0 using a 1.1.0 emergency sign": (
        "|1.0.0",
        lambda r: (_set_answer("emergency-signs", _coding("breathing-difficulty"))(r),),
        [
            "emergency-signs: Choose only from the list. (code 'breathing-difficulty' was "
            "added in questionnaire version 1.1.0; a version 1.0.0 response cannot use it)"
        ],
    ),
    "1.0.0 answers sent as the current version": (
        "",
        lambda r: None,
        [
            "onset: Choose an answer.",
            "course: Choose an answer.",
            "frequency: Choose an answer.",
            "movement: Tick at least one answer, or “Not sure”.",
            "side: Choose an answer.",
            "recent-emergency: Choose an answer.",
            "family-history: Choose an answer.",
            "answered-by: Choose an answer.",
        ],
    ),
}


@pytest.mark.parametrize(
    ("version", "mutate", "expected"), VERSIONS_REFUSED.values(), ids=VERSIONS_REFUSED.keys()
)
def test_a_1_0_0_response_is_checked_against_1_0_0(version, mutate, expected):
    resource = _response_1_0_0()
    resource["questionnaire"] = fhir.QUESTIONNAIRE_URL + version
    mutate(resource)
    assert _refused(resource) == expected


@pytest.mark.parametrize("version", ["2.0.0", "", "1.0", "1.1.0 ", "one"])
def test_a_response_naming_an_unknown_version_is_refused_clearly(version):
    resource = _response()
    resource["questionnaire"] = f"{fhir.QUESTIONNAIRE_URL}|{version}"
    assert _refused(resource) == [
        f"questionnaire: version {version!r} is not known; this server reads versions 1.0.0, 1.1.0."
    ]


def test_an_unknown_version_still_lists_the_other_problems():
    resource = _response()
    resource["questionnaire"] = f"{fhir.QUESTIONNAIRE_URL}|2.0.0"
    _remove(resource, "duration")
    assert _refused(resource) == [
        "questionnaire: version '2.0.0' is not known; this server reads versions 1.0.0, 1.1.0.",
        "duration: Choose an answer.",
    ]


def test_command_prints_the_questionnaire_of_a_version():
    out, error = _run("questionnaire", "1.0.0")
    assert error is None
    assert json.loads(out) == fhir.questionnaire_json("1.0.0")
    out, error = _run("questionnaire", "0.9")
    assert out == ""
    assert str(error) == "No questionnaire version '0.9'; this release knows 1.0.0, 1.1.0."
    assert error.returncode == 1


# --- The command ----------------------------------------------------------------------------


def _run(*args: str, **kwargs: Any) -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("twitch_intake_fhir", *args, stdout=out, **kwargs)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def _lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines()]


def test_command_prints_the_questionnaire():
    out, error = _run("questionnaire")
    assert error is None
    assert json.loads(out) == fhir.questionnaire_json()


def test_command_exports_an_encounter():
    encounter = make_submitted(rich_answers())
    out, error = _run("export", str(encounter.pk))
    assert error is None
    data = json.loads(out)
    FhirQuestionnaireResponse.model_validate(data)
    assert data == json.loads(json.dumps(fhir.response_json(encounter)))


def test_command_export_of_an_unknown_id_is_a_clear_error():
    out, error = _run("export", "999999")
    assert out == ""
    assert str(error) == "No encounter with id 999999."
    assert error.returncode == 1


def test_command_export_needs_a_number():
    _out, error = _run("export", "abc")
    assert error is not None and "invalid int value" in str(error)


def test_command_imports_files_in_order_each_on_its_own(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_response(rich_answers())), encoding="utf-8")
    bad = _response()
    _remove(bad, "duration")
    refused = tmp_path / "refused.json"
    refused.write_text(json.dumps(bad), encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    routine = tmp_path / "routine.json"
    routine.write_text(json.dumps(_response()), encoding="utf-8")
    missing = tmp_path / "missing.json"
    before = Encounter.objects.count()

    out, error = _run(
        "import", str(good), str(refused), str(broken), str(missing), str(tmp_path), str(routine)
    )

    lines = _lines(out)
    assert [line["source"] for line in lines] == [
        str(p) for p in (good, refused, broken, missing, tmp_path, routine)
    ]
    stored = Encounter.objects.get(pk=lines[0]["encounter"])
    assert lines[0] == {
        "source": str(good),
        "encounter": stored.pk,
        "level": "emergency",
        "flags": stored.flags,
    }
    assert lines[1] == {"source": str(refused), "errors": ["duration: Choose an answer."]}
    assert lines[2]["errors"][0].startswith("not valid JSON")
    assert lines[3]["errors"] == ["cannot read: No such file or directory"]
    assert lines[4]["errors"][0].startswith("cannot read:")
    assert lines[5]["level"] == "routine" and lines[5]["flags"] == []
    assert Encounter.objects.count() == before + 2
    assert error is not None and error.returncode == 1
    assert str(error) == "2 imported, 4 refused."


def test_command_import_of_good_files_exits_zero(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(_response()), encoding="utf-8")
    err = io.StringIO()
    out, error = _run("import", str(path), stderr=err)
    assert error is None
    assert Encounter.objects.filter(pk=_lines(out)[0]["encounter"]).exists()
    assert err.getvalue() == "1 imported, 0 refused.\n"


def test_command_import_reads_standard_input(monkeypatch):
    payload = json.dumps(_response(rich_answers()), ensure_ascii=False).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(payload), encoding="utf-8"))
    out, error = _run("import", "-")
    assert error is None
    [line] = _lines(out)
    assert line["source"] == "-"
    assert Encounter.objects.get(pk=line["encounter"]).answers["locations-other"] == "left big toe"


def test_command_import_takes_stdin_from_call_command():
    out, error = _run("import", "-", stdin=io.StringIO("[]"))
    assert _lines(out) == [
        {"source": "-", "errors": ["resource: must be a JSON object (found an array)."]}
    ]
    assert error.returncode == 1


def test_command_line_reports_bad_input_without_a_traceback(tmp_path):
    """The real command line: bad files are reported on stdout, a summary on stderr, exit 1."""
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    odd = tmp_path / "odd.json"  # a message quoting it must still print as valid JSON
    odd.write_text('{"resourceType": "QuestionnaireResponse", "item": [{"linkId": "\\ud800"}]}')
    paths = [str(broken), str(tmp_path / "nope.json"), str(odd)]
    completed = subprocess.run(
        [sys.executable, "manage.py", "twitch_intake_fhir", "import", *paths],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in completed.stderr
    assert completed.returncode == 1
    assert completed.stderr == "CommandError: 0 imported, 3 refused.\n"
    lines = _lines(completed.stdout)
    assert [line["source"] for line in lines] == paths
    assert "\ud800: unknown linkId." in lines[2]["errors"]
