"""Finding 12 of the security review: FHIR import gaps.

A ``questionnaire`` that was not a string crashed the import and stopped a batch midway;
duplicate JSON keys, duplicate contained ids, NaN/Infinity and answers to questions that do not
apply were accepted. Each file of a batch is its own result, and every problem of a file is
listed at once, so the sender can fix them all in one go.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import logging
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.factories import answers_1_0_0, rich_answers, routine_answers
from twitch_intake import fhir, questionnaire, services, validation
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = pytest.mark.django_db

SYSTEM = fhir.CODE_SYSTEM


def _response(answers: dict[str, Any] | None = None, name: str = "Ada Example") -> dict[str, Any]:
    encounter = Encounter(
        patient_name=name,
        date_of_birth=dt.date(1980, 5, 17),
        answers=answers if answers is not None else routine_answers(),
        status=Encounter.Status.SUBMITTED,
        submitted_at=dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC),
    )
    return json.loads(json.dumps(fhir.response_json(encounter)))


def _item(resource: dict[str, Any], link_id: str) -> dict[str, Any]:
    group = TWITCH_INTAKE.group_of(link_id).link_id
    items = next(g for g in resource["item"] if g["linkId"] == group)["item"]
    found = next((i for i in items if i["linkId"] == link_id), None)
    if found is None:
        found = {"linkId": link_id}
        items.append(found)
    return found


def _answer(resource: dict[str, Any], link_id: str, *answers: dict[str, Any]) -> None:
    _item(resource, link_id)["answer"] = list(answers)


def _coding(code: str) -> dict[str, Any]:
    return {"valueCoding": {"system": SYSTEM, "code": code}}


def _at(link_id: str, *rest: str) -> str:
    """Where a question sits in the routine response (``item[1].item[3]``), and below it: as
    import messages name a place, counted from the document, not from a list kept here."""
    resource = _response()
    for g, group in enumerate(resource["item"]):
        for i, item in enumerate(group["item"]):
            if item["linkId"] == link_id:
                return "".join([f"item[{g}].item[{i}]", *rest])
    raise KeyError(link_id)


def _history_items() -> int:
    """How many items the routine response's history group holds: the next one's index."""
    return len(next(g for g in _response()["item"] if g["linkId"] == "history")["item"])


def _refused_json(text: str) -> list[str]:
    before = Encounter.objects.count()
    result = fhir.import_json(text)
    assert not result.ok, "imported"
    assert result.encounter is None
    assert Encounter.objects.count() == before
    return result.problems


def _run(*args: str) -> tuple[list[dict[str, Any]], CommandError | None, str]:
    out, err = io.StringIO(), io.StringIO()
    error = None
    try:
        call_command("twitch_intake_fhir", *args, stdout=out, stderr=err)
    except CommandError as raised:
        error = raised
    return [json.loads(line) for line in out.getvalue().splitlines()], error, err.getvalue()


# --- One file never stops or undoes the others ------------------------------------------


@pytest.mark.parametrize("questionnaire_value", [["x"], {"url": fhir.QUESTIONNAIRE_URL}])
def test_a_batch_survives_a_questionnaire_that_is_not_a_string(tmp_path, questionnaire_value):
    paths = []
    for index, name in enumerate(["First Patient", "Second Patient", "Third Patient"]):
        resource = _response(name=name)
        if index == 1:
            resource["questionnaire"] = questionnaire_value
        path = tmp_path / f"{index}.json"
        path.write_text(json.dumps(resource), encoding="utf-8")
        paths.append(str(path))
    before = Encounter.objects.count()

    lines, error, err = _run("import", *paths)

    assert [line["source"] for line in lines] == paths
    assert "encounter" in lines[0] and "encounter" in lines[2]
    kind = "an array" if isinstance(questionnaire_value, list) else "an object"
    assert lines[1] == {
        "source": paths[1],
        "errors": [
            f"questionnaire: must be {fhir.QUESTIONNAIRE_URL!r} "
            f"(versions {', '.join(TWITCH_INTAKE.versions)}); found {kind}."
        ],
    }
    assert Encounter.objects.count() == before + 2
    assert not Encounter.objects.filter(patient_name="Second Patient").exists()
    assert error is not None and error.returncode == 1
    assert str(error) == "2 imported, 1 refused."


def test_a_batch_that_imports_every_file_says_so(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(_response()), encoding="utf-8")
    lines, error, err = _run("import", str(path), str(path))
    assert error is None
    assert [("encounter" in line) for line in lines] == [True, True]
    assert err.strip() == "2 imported, 0 refused."


def test_an_unexpected_crash_in_one_file_is_a_refusal_without_patient_data(
    tmp_path, monkeypatch, caplog
):
    """Whatever goes wrong inside one import, the batch goes on and the log holds no answers."""
    real = services.create_submitted

    def crash_for_the_second(**kwargs: Any) -> services.SubmitResult:
        if kwargs["patient_name"] == "Second Patient":
            raise RuntimeError(f"boom for {kwargs['patient_name']} born {kwargs['date_of_birth']}")
        return real(**kwargs)

    monkeypatch.setattr(services, "create_submitted", crash_for_the_second)
    paths = []
    for index, name in enumerate(["First Patient", "Second Patient", "Third Patient"]):
        path = tmp_path / f"{index}.json"
        path.write_text(json.dumps(_response(name=name)), encoding="utf-8")
        paths.append(str(path))

    with caplog.at_level(logging.DEBUG):
        lines, error, err = _run("import", *paths)

    assert "encounter" in lines[0] and "encounter" in lines[2]
    assert lines[1] == {
        "source": paths[1],
        "errors": [
            "could not be imported: an unexpected error (RuntimeError); nothing was stored."
        ],
    }
    assert Encounter.objects.filter(patient_name="First Patient").exists()
    assert not Encounter.objects.filter(patient_name="Second Patient").exists()
    assert str(error) == "2 imported, 1 refused."
    assert "Traceback" not in err
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged
    assert "Second Patient" not in logged and "1980" not in logged and "boom" not in logged
    assert all(r.exc_info is None for r in caplog.records)


# --- Refused whole, the problem named -----------------------------------------------------

DUPLICATE_KEYS = {
    "top level": (
        '"status": "completed"',
        '"status": "completed", "status": "completed"',
        "resource: key 'status' appears more than once.",
    ),
    "in a question": (
        '"linkId": "severity"',
        '"linkId": "severity", "linkId": "severity"',
        f"severity: key 'linkId' appears more than once (at {_at('severity')}).",
    ),
    "in an answer": (
        '{"valueBoolean": false}',
        '{"valueBoolean": false, "valueBoolean": true}',
        "more-than-one-location: key 'valueBoolean' appears more than once "
        f"(at {_at('more-than-one-location', '.answer[0]')}).",
    ),
    "in the Patient": (
        '"birthDate": "1980-05-17"',
        '"birthDate": "1980-05-17", "birthDate": "1981-05-17"',
        "resource: key 'birthDate' appears more than once (at contained[0]).",
    ),
}


@pytest.mark.parametrize(("old", "new", "expected"), DUPLICATE_KEYS.values(), ids=DUPLICATE_KEYS)
def test_duplicate_json_keys_are_refused(old, new, expected):
    text = json.dumps(_response())
    assert old in text  # the first place it is, which ``expected`` names
    problems = _refused_json(text.replace(old, new, 1))
    assert expected in problems, problems


@pytest.mark.parametrize(
    "other",
    [
        {"resourceType": "Patient", "id": "patient", "name": [{"text": "Eve Other"}]},
        {"resourceType": "Practitioner", "id": "patient"},
    ],
    ids=["two patients", "a patient and a practitioner"],
)
def test_duplicate_contained_ids_are_refused(other):
    resource = _response()
    resource["contained"].append(other)
    problems = _refused_json(json.dumps(resource))
    assert "contained: id 'patient' is used by more than one resource." in problems, problems


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            '{"valueBoolean": false}',
            '{"valueBoolean": NaN}',
            "more-than-one-location: NaN is not a JSON number "
            f"(at {_at('more-than-one-location', '.answer[0].valueBoolean')}).",
        ),
        (
            '"status": "completed"',
            '"meta": {"x": Infinity}, "status": "completed"',
            "resource: Infinity is not a JSON number (at meta.x).",
        ),
        (
            '"status": "completed"',
            '"meta": [-Infinity], "status": "completed"',
            "resource: -Infinity is not a JSON number (at meta[0]).",
        ),
        (
            '"status": "completed"',
            '"meta": [1e999], "status": "completed"',
            "resource: a number out of range (at meta[0]).",
        ),
    ],
    ids=["NaN in an answer", "Infinity unread", "-Infinity unread", "overflow to infinity"],
)
def test_nan_and_infinity_are_refused(old, new, expected):
    text = json.dumps(_response())
    assert old in text  # the first place it is, which ``expected`` names
    problems = _refused_json(text.replace(old, new, 1))
    assert expected in problems, problems


def _episode_with_a_constant_pattern(resource: dict[str, Any]) -> None:
    _answer(resource, "pattern", _coding("constant"))


def _other_place_without_other(resource: dict[str, Any]) -> None:
    _answer(resource, "locations-other", {"valueString": "left big toe"})


def _weakness_where_without_weakness(resource: dict[str, Any]) -> None:
    _answer(resource, "weakness-where", {"valueString": "right hand"})


def _episode_nested_under_constant(resource: dict[str, Any]) -> None:
    episode = copy.deepcopy(_item(resource, "episode-length"))
    history = next(g for g in resource["item"] if g["linkId"] == "history")
    history["item"] = [i for i in history["item"] if i["linkId"] != "episode-length"]
    _answer(resource, "pattern", {**_coding("constant"), "item": [episode]})


NOT_APPLICABLE = {
    "episode-length with a constant pattern": (
        _episode_with_a_constant_pattern,
        "episode-length: This question does not apply to the answers given "
        "(asked only when 'pattern' is 'comes-and-goes').",
    ),
    "episode-length nested under a constant pattern": (
        _episode_nested_under_constant,
        "episode-length: This question does not apply to the answers given "
        "(asked only when 'pattern' is 'comes-and-goes').",
    ),
    "locations-other without other": (
        _other_place_without_other,
        "locations-other: This question does not apply to the answers given "
        "(asked only when 'locations' includes 'other').",
    ),
    "weakness-where without weakness": (
        _weakness_where_without_weakness,
        "weakness-where: This question does not apply to the answers given "
        "(asked only when 'other-symptoms' includes 'weakness').",
    ),
}


@pytest.mark.parametrize(("mutate", "expected"), NOT_APPLICABLE.values(), ids=NOT_APPLICABLE)
def test_an_answer_to_a_question_that_does_not_apply_is_refused(mutate, expected):
    resource = _response()
    mutate(resource)
    problems = _refused_json(json.dumps(resource))
    assert problems == [expected]


def test_a_follow_up_is_not_called_inapplicable_when_its_parent_was_malformed():
    resource = _response()
    _answer(resource, "pattern", {"valueString": "comes-and-goes"})
    problems = _refused_json(json.dumps(resource))
    assert problems == ["pattern: answer must be valueCoding (found valueString)."]


def test_the_web_form_still_clears_an_answer_that_does_not_apply():
    """Same rule, two outcomes: the patient who changes their mind loses nothing else."""
    answers = routine_answers(pattern="constant")
    assert "episode-length" in answers
    cleaned, problems = validation.validate(answers)
    assert problems == [] and "episode-length" not in cleaned
    _cleaned, problems = validation.validate(answers, refuse_inapplicable=True)
    assert [(p.link_id, p.code) for p in problems] == [("episode-length", "not_applicable")]


WRONG_TYPES = {
    "questionnaire a number": (lambda r: r.update(questionnaire=3), "questionnaire: must be"),
    "questionnaire null": (lambda r: r.update(questionnaire=None), "questionnaire: must be"),
    "status an array": (lambda r: r.update(status=["completed"]), "status: only a completed"),
    "resourceType an object": (lambda r: r.update(resourceType={}), "resourceType: must be"),
    "subject an array": (lambda r: r.update(subject=["#patient"]), "subject: must reference"),
    "contained holds a number": (lambda r: r["contained"].append(7), "contained[1]: must be"),
    "answer not a list": (
        lambda r: _item(r, "severity").update(answer=_coding("mild")),
        "severity: answer must be an array (found an object).",
    ),
    "value of the wrong type": (
        lambda r: _answer(r, "severity", {"valueCoding": "mild"}),
        "severity: valueCoding must be an object (found a string).",
    ),
    "linkId a number": (
        lambda r: r["item"][1]["item"].append({"linkId": 7}),
        f"history.item[{_history_items()}]: linkId must be a string (found a number).",
    ),
    "linkId an array": (
        lambda r: r["item"][1]["item"].append({"linkId": ["severity"]}),
        f"history.item[{_history_items()}]: linkId must be a string (found an array).",
    ),
    "nested item an object": (
        lambda r: _item(r, "pattern")["answer"][0].update(item={"linkId": "episode-length"}),
        "pattern.answer.item: item must be an array (found an object).",
    ),
    "nested item a string": (
        lambda r: _item(r, "pattern")["answer"][0].update(item=["episode-length"]),
        "pattern.answer.item[0]: must be an object (found a string).",
    ),
    "group item a number": (
        lambda r: r["item"][1].update(item=5),
        "history.item: item must be an array (found a number).",
    ),
}


@pytest.mark.parametrize(("mutate", "expected"), WRONG_TYPES.values(), ids=WRONG_TYPES)
def test_wrong_json_types_are_refused_not_crashes(mutate, expected):
    resource = _response()
    mutate(resource)
    problems = _refused_json(json.dumps(resource))
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_of_a_file_is_listed_at_once():
    resource = _response()
    resource["questionnaire"] = ["x"]
    resource["contained"].append({"resourceType": "Patient", "id": "patient"})
    _episode_with_a_constant_pattern(resource)
    _weakness_where_without_weakness(resource)
    text = json.dumps(resource)
    text = text.replace('"status": "completed"', '"status": "completed", "status": "completed"')
    # The first false is more-than-one-location's (recent-emergency's comes later).
    text = text.replace(
        '{"valueBoolean": false}', '{"valueBoolean": false, "valueBoolean": NaN}', 1
    )
    problems = _refused_json(text)
    named = sorted(p.split(":")[0] for p in problems)
    assert named == sorted(
        [
            "questionnaire",
            "contained",
            "episode-length",
            "weakness-where",
            "resource",
            "more-than-one-location",
            "more-than-one-location",
            "more-than-one-location",
        ]
    ), problems


# --- Fuzzing: any shape, anywhere ---------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["completed", "#patient", "patient", fhir.QUESTIONNAIRE_URL, SYSTEM, "other"])
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["linkId", "item", "answer", "valueCoding", "code", "id"])
            | st.text(max_size=6),
            children,
            max_size=3,
        )
    ),
    max_leaves=10,
)


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document, as a path of keys and indexes."""
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _nodes(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _nodes(child, (*path, index))
    return found


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return document


@st.composite
def mangled_responses(draw: st.DrawFn) -> tuple[str, bool]:
    """A valid response with some places replaced by any JSON, maybe with text-level poison.

    Returns the text and whether it must be refused (poison is never acceptable).
    """
    kind = draw(st.sampled_from(["routine", "rich", "1.0.0"]))
    document = json.loads(json.dumps(fhir.response_json(_unsaved(kind))))
    for _ in range(draw(st.integers(1, 3))):
        places = _nodes(document)
        path = draw(st.sampled_from(places))
        document = _replace(document, path, draw(json_values))
    text = json.dumps(document)
    poison = draw(st.sampled_from([None, "duplicate", "NaN", "Infinity", "-Infinity"]))
    if poison == "duplicate" and text.startswith("{") and len(text) > 2:
        key = json.dumps(draw(st.sampled_from(["status", "item", "questionnaire", "x"])))
        text = "{" + f"{key}: 1, {key}: 2, " + text[1:]
    elif poison in {"NaN", "Infinity", "-Infinity"} and text.startswith("{") and len(text) > 2:
        text = "{" + f'"meta": {poison}, ' + text[1:]
    else:
        poison = None
    return text, poison is not None


def _unsaved(kind: str) -> Encounter:
    """A routine or rich 1.1.0 intake, or a 1.0.0 one (its response names ``|1.0.0``)."""
    answers = {"routine": routine_answers, "rich": rich_answers, "1.0.0": answers_1_0_0}[kind]()
    return Encounter(
        patient_name="Ada Example",
        date_of_birth=dt.date(1980, 5, 17),
        answers=answers,
        status=Encounter.Status.SUBMITTED,
        submitted_at=dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC),
        questionnaire_version="1.0.0" if kind == "1.0.0" else questionnaire.VERSION,
    )


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mangled_responses())
def test_any_shape_anywhere_is_imported_or_refused_never_a_crash(case):
    text, poisoned = case
    before = Encounter.objects.count()
    result = fhir.import_json(text)
    if result.ok:
        assert not poisoned
        assert Encounter.objects.count() == before + 1
        return
    assert result.encounter is None and result.problems
    assert all(isinstance(p, str) and p for p in result.problems)
    assert Encounter.objects.count() == before
