"""The intake in: a FHIR R4 QuestionnaireResponse read, checked and stored as an encounter.

Layout. A response is read in the layout the export writes (see :mod:`.export`), and a
show-when question may also sit nested under an answer to the question it depends on, which is
how some FHIR form fillers write it.

Versions. A response names the questionnaire version it answers (``<url>|1.0.0``; the URL alone
means the current one) and is checked against that version as its intakes were asked it: a
1.0.0 response need not answer the questions 1.1.0 added, and may not answer them. Its shape is
read against the current definition, which holds every version's questions, so an answer to a
later question is named as such rather than as an unknown linkId. The encounter stores the
version.

Checks. A response goes through exactly the checks the web form applies
(:func:`validation.validate`), plus the FHIR shape around them. Any problem refuses the whole
response and nothing is stored: a half-imported intake could hide a red flag. Every problem is
listed, each naming its linkId (or FHIR element), so the sender can fix them all in one go.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import questionnaire, services, validation
from ..models import EARLIEST_VISIT, Encounter, birth_date_plausible
from ..questionnaire import ItemType, Question, Questionnaire
from .export import CODE_SYSTEM, QUESTIONNAIRE_URL, VALUE_KEY

_NAME_MAX_LENGTH = Encounter._meta.get_field("patient_name").max_length or 200
#: It becomes the visit: the same fixed bound as every stored visit.
_EARLIEST_AUTHORED = EARLIEST_VISIT
#: A sender's clock may run a little ahead of ours.
_CLOCK_SKEW = dt.timedelta(minutes=5)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


@dataclass
class ParsedResponse:
    """What a QuestionnaireResponse says, in the app's terms, and everything wrong with it."""

    patient_name: str = ""
    date_of_birth: dt.date | None = None
    authored: dt.datetime | None = None
    #: The questionnaire version it was checked against: the one it names, or the current.
    questionnaire_version: str = ""
    #: Cleaned by :func:`validation.validate`: exactly what the web form would store.
    answers: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ImportResult:
    encounter: Encounter | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _kind(value: Any) -> str:
    """How a JSON value is named in a message: the sender sees what they actually sent."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _shown(text: str, limit: int = 60) -> str:
    """A sender's string quoted in a message, cut short: a message is not an echo chamber."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _found(value: Any) -> str:
    """What was sent where a string was expected: quoted when it is one, else its kind."""
    if value is None:
        return "nothing"
    return _shown(value) if isinstance(value, str) else _kind(value)


class _JsonObject(dict[str, Any]):
    """A parsed JSON object that remembers the keys it was given more than once.

    ``json.loads`` keeps the last of two equal keys without a word; a sender and we would then
    disagree on what the response says (which ``valueBoolean``? which ``birthDate``?).
    """

    duplicates: list[str]

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> _JsonObject:
        obj = cls(pairs)
        seen: set[str] = set()
        obj.duplicates = []
        for key, _value in pairs:
            if key in seen and key not in obj.duplicates:
                obj.duplicates.append(key)
            seen.add(key)
        return obj


class _NonFinite(float):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's JSON reads them, the standard has none."""

    spelled: str

    @classmethod
    def parse(cls, name: str) -> _NonFinite:
        number = cls(name)
        number.spelled = name
        return number


def _path(path: tuple[str | int, ...]) -> str:
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", step):
            text += f".{step}" if text else step
        else:
            text += f"[{_shown(step)}]"
    return text


def _json_problems(resource: Any) -> list[str]:
    """What JSON itself lets through and we refuse: duplicate keys, NaN and infinities.

    Anywhere in the document, read by us or not, each named by the nearest linkId and the
    path. Walked with a stack, not recursion: a document as deep as the parser allows must not
    overflow here.
    """
    problems = []
    stack: list[tuple[Any, tuple[str | int, ...], str]] = [(resource, (), "resource")]
    while stack:
        value, path, where = stack.pop()
        at = f" (at {_path(path)})" if path else ""
        if isinstance(value, float) and not math.isfinite(value):
            spelled = getattr(value, "spelled", None)
            what = f"{spelled} is not a JSON number" if spelled else "a number out of range"
            problems.append(f"{where}: {what}{at}.")
        elif isinstance(value, list):
            children = [(child, (*path, i), where) for i, child in enumerate(value)]
            stack.extend(reversed(children))  # popped in document order
        elif isinstance(value, dict):
            link_id = value.get("linkId")
            if isinstance(link_id, str) and link_id:
                where = link_id
            problems.extend(
                f"{where}: key {_shown(key)} appears more than once{at}."
                for key in getattr(value, "duplicates", ())
            )
            members = [(child, (*path, key), where) for key, child in value.items()]
            stack.extend(reversed(members))
    return problems


class _Reader:
    """Walks one response, collecting answers by linkId and every shape problem on the way.

    ``intake`` is the current definition, whatever version the response names: it knows every
    question any version asked, so the shape of each answer is checked, and validation then
    says which questions the named version did not ask.
    """

    def __init__(self, intake: Questionnaire) -> None:
        self.intake = intake
        self.raw: dict[str, Any] = {}
        self.problems: list[str] = []
        #: linkIds with a shape problem: the questionnaire's own messages about them would only
        #: repeat it (e.g. "required" for an answer that was there but of the wrong type).
        self.reported: set[str] = set()
        self.seen: set[str] = set()

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def question_problem(self, link_id: str, message: str) -> None:
        self.reported.add(link_id)
        self.problem(link_id, message)

    def is_group(self, link_id: str) -> bool:
        return any(g.link_id == link_id for g in self.intake.groups)

    def items(self, value: Any, where: str) -> list[dict[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(where, f"item must be an array (found {_kind(value)}).")
            return []
        good = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                self.problem(f"{where}[{index}]", f"must be an object (found {_kind(item)}).")
            elif item.get("linkId") is None or item["linkId"] == "":
                self.problem(f"{where}[{index}]", "linkId is missing.")
            elif not isinstance(item["linkId"], str):
                self.problem(
                    f"{where}[{index}]",
                    f"linkId must be a string (found {_kind(item['linkId'])}).",
                )
            else:
                good.append(item)
        return good

    def top_level(self, resource: Mapping[str, Any]) -> None:
        for item in self.items(resource.get("item"), "item"):
            link_id = item["linkId"]
            if self.is_group(link_id):
                self.group(item)
            elif self.intake.has_question(link_id):
                home = self.intake.group_of(link_id).link_id
                self.question_problem(link_id, f"must sit inside group {home!r}.")
            else:
                self.problem(link_id, "unknown linkId.")

    def group(self, item: Mapping[str, Any]) -> None:
        link_id = item["linkId"]
        if item.get("answer"):
            self.problem(link_id, "a group has no answer of its own.")
        for child in self.items(item.get("item"), f"{link_id}.item"):
            child_id = child["linkId"]
            if self.is_group(child_id):
                self.problem(child_id, "a group cannot sit inside another group.")
                continue
            if not self.intake.has_question(child_id):
                self.problem(child_id, "unknown linkId.")
                continue
            home = self.intake.group_of(child_id).link_id
            if home != link_id:
                self.question_problem(
                    child_id, f"belongs in group {home!r} (found in {link_id!r})."
                )
                continue
            self.question(child)

    def question(self, item: Mapping[str, Any], nested_under: str | None = None) -> None:
        link_id = item["linkId"]
        question = self.intake.question(link_id)
        if nested_under is not None and (
            question.show_when is None or question.show_when.question != nested_under
        ):
            self.question_problem(
                link_id, f"cannot sit under an answer to {nested_under!r}; put it in its group."
            )
            return
        if link_id in self.seen:
            self.question_problem(link_id, "answered more than once.")
            return
        self.seen.add(link_id)
        if item.get("item"):
            self.question_problem(
                link_id, "items may be nested under an answer, not directly under a question."
            )
        answers = item.get("answer")
        if answers is None:
            answers = []
        if not isinstance(answers, list):
            self.question_problem(link_id, f"answer must be an array (found {_kind(answers)}).")
            return
        if len(answers) > 1 and not question.repeats:
            self.question_problem(link_id, f"takes one answer (found {len(answers)}).")
        values = []
        for answer in answers:
            if not isinstance(answer, dict):
                self.question_problem(
                    link_id, f"an answer must be an object (found {_kind(answer)})."
                )
                continue
            value = self.value(question, answer)
            if value is not None:
                values.append(value)
            for child in self.items(answer.get("item"), f"{link_id}.answer.item"):
                if self.intake.has_question(child["linkId"]):
                    self.question(child, nested_under=link_id)
                else:
                    self.problem(child["linkId"], "unknown linkId.")
        if link_id in self.reported or not values:
            return
        self.raw[link_id] = values if question.repeats else values[0]

    def value(self, question: Question, answer: Mapping[str, Any]) -> Any:
        link_id = question.link_id
        expected = VALUE_KEY[question.type]
        given = sorted(k for k in answer if isinstance(k, str) and k.startswith("value"))
        if given != [expected]:
            found = ", ".join(given) if given else "no value"
            self.question_problem(link_id, f"answer must be {expected} (found {found}).")
            return None
        value = answer[expected]
        if question.type is ItemType.CHOICE:
            return self.code(link_id, value)
        if question.type is ItemType.BOOLEAN:
            if not isinstance(value, bool):
                self.question_problem(
                    link_id, f"valueBoolean must be true or false (found {_kind(value)})."
                )
                return None
            return value
        if not isinstance(value, str):
            self.question_problem(link_id, f"valueString must be a string (found {_kind(value)}).")
            return None
        if _has_surrogate(value):
            self.question_problem(link_id, _SURROGATE_MESSAGE)
            return None
        return value

    def code(self, link_id: str, coding: Any) -> str | None:
        if not isinstance(coding, dict):
            self.question_problem(
                link_id, f"valueCoding must be an object (found {_kind(coding)})."
            )
            return None
        system, code = coding.get("system"), coding.get("code")
        if system != CODE_SYSTEM:
            shown = repr(system) if isinstance(system, str) else "no system"
            self.question_problem(link_id, f"code system must be {CODE_SYSTEM!r} (found {shown}).")
            return None
        if not isinstance(code, str) or not code:
            self.question_problem(link_id, "valueCoding has no code.")
            return None
        return code


#: JSON can escape half of a UTF-16 pair ("\ud800"); no database can store it as text.
_SURROGATE_MESSAGE = "has an invalid character (a lone UTF-16 surrogate)."


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def _patient(resource: Mapping[str, Any], problems: list[str]) -> Mapping[str, Any] | None:
    """The contained Patient the response is about (``subject``, or the only one contained)."""
    contained = resource.get("contained")
    if contained is None:
        contained = []
    if not isinstance(contained, list):
        problems.append(f"contained: must be an array (found {_kind(contained)}).")
        return None
    ids: set[str] = set()
    for index, entry in enumerate(contained):
        if not isinstance(entry, dict):
            problems.append(f"contained[{index}]: must be an object (found {_kind(entry)}).")
            continue
        # A reference ("#patient") must name one resource, or the answers could be anyone's.
        id_ = entry.get("id")
        if isinstance(id_, str) and id_ in ids:
            problems.append(f"contained: id {_shown(id_)} is used by more than one resource.")
        elif isinstance(id_, str):
            ids.add(id_)
    patients = [r for r in contained if isinstance(r, dict) and r.get("resourceType") == "Patient"]
    subject = resource.get("subject")
    if subject is None:
        if len(patients) == 1:
            return patients[0]
        problems.append(
            'subject: must reference the contained Patient, e.g. {"reference": "#patient"}.'
        )
        return None
    reference = subject.get("reference") if isinstance(subject, dict) else None
    if not isinstance(reference, str) or not reference.startswith("#"):
        problems.append(
            'subject: must reference a contained Patient, e.g. {"reference": "#patient"}.'
        )
        return None
    for patient in patients:
        if patient.get("id") == reference[1:]:
            return patient
    problems.append(f"subject: no contained Patient with id {reference[1:]!r}.")
    return None


def _patient_name(patient: Mapping[str, Any], problems: list[str]) -> str:
    names = patient.get("name")
    first = names[0] if isinstance(names, list) and names else None
    if not isinstance(first, dict):
        problems.append("Patient.name: missing.")
        return ""
    text = first.get("text")
    if not isinstance(text, str) or not text.strip():
        given = first.get("given")
        if not isinstance(given, list):
            given = []
        family = first.get("family")
        parts = [*given, family] if isinstance(family, str) else list(given)
        if not all(isinstance(p, str) for p in parts):
            problems.append("Patient.name: given and family must be strings.")
            return ""
        text = " ".join(p.strip() for p in parts if p.strip())
    name = text.strip()
    if not name:
        problems.append("Patient.name: missing.")
    elif _has_surrogate(name):
        problems.append(f"Patient.name: {_SURROGATE_MESSAGE}")
    elif validation.has_control_character(name):
        problems.append("Patient.name: has a control character.")
    elif len(name) > _NAME_MAX_LENGTH:
        problems.append(
            f"Patient.name: keep to {_NAME_MAX_LENGTH} characters or fewer (it has {len(name)})."
        )
    return name


def _birth_date(patient: Mapping[str, Any], problems: list[str]) -> dt.date | None:
    value = patient.get("birthDate")
    if value is None:
        problems.append("Patient.birthDate: missing.")
        return None
    if not isinstance(value, str) or not _DATE.match(value):
        problems.append("Patient.birthDate: must be a full date, YYYY-MM-DD.")
        return None
    try:
        born = dt.date.fromisoformat(value)
    except ValueError:
        problems.append(f"Patient.birthDate: {value!r} is not a real date.")
        return None
    if not birth_date_plausible(born):
        problems.append(f"Patient.birthDate: {value!r} is not a plausible date of birth.")
        return None
    return born


def _authored(resource: Mapping[str, Any], problems: list[str]) -> dt.datetime | None:
    """When the patient answered; a bare date means its start, in the clinic's time zone.

    It becomes the encounter's submitted and visit time, so it must be plausible: a date far
    outside that range stores, but cannot be read back into Python (years 0 and 10000).
    """
    value = resource.get("authored")
    if value is None:
        return None
    authored = None
    try:
        if isinstance(value, str) and _DATE.match(value):
            day = dt.date.fromisoformat(value)
            authored = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
        elif isinstance(value, str) and _DATE_TIME.match(value):
            # Python keeps microseconds; FHIR allows up to nine digits of a second.
            authored = dt.datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value))
    except ValueError:
        pass
    if authored is None:
        problems.append(
            "authored: must be a FHIR dateTime with a time zone, e.g. 2025-03-01T09:30:00Z."
        )
        return None
    latest = timezone.now() + _CLOCK_SKEW
    if not _EARLIEST_AUTHORED <= authored <= latest:
        problems.append(f"authored: {value!r} is not a plausible time (in the future?).")
        return None
    return authored


def _named_questionnaire(resource: Mapping[str, Any], problems: list[str]) -> Questionnaire:
    """The questionnaire version the response answers: ``<url>|<version>``, or the URL alone
    for the current one. When it names no questionnaire we read, a problem, and the current
    version, so that its answers are still checked and every problem is listed at once."""
    current = questionnaire.TWITCH_INTAKE
    versions = ", ".join(current.versions)
    named = resource.get("questionnaire")
    # Any JSON type may arrive here: only a string can name a questionnaire.
    url, bar, version = named.partition("|") if isinstance(named, str) else ("", "", "")
    if url != QUESTIONNAIRE_URL:
        problems.append(
            f"questionnaire: must be {QUESTIONNAIRE_URL!r} (versions {versions}); "
            f"found {_found(named)}."
        )
        return current
    if not bar:
        return current
    if version:  # "<url>|" names no version, which is not "the current one"
        try:
            return questionnaire.for_version(version)
        except ValueError:
            pass
    problems.append(
        f"questionnaire: version {_shown(version)} is not known; "
        f"this server reads versions {versions}."
    )
    return current


def _status_problems(resource: Mapping[str, Any]) -> list[str]:
    status = resource.get("status")
    if status != "completed":
        return [f"status: only a completed response can be imported (found {_found(status)})."]
    return []


def _condition(show_when: questionnaire.ShowWhen, parent: Question) -> str:
    """When a show-when question is asked, in a message: "'pattern' is 'comes-and-goes'"."""
    if isinstance(show_when.code, bool):
        return f"{parent.link_id!r} is {json.dumps(show_when.code)}"
    if show_when.other_than:
        verb = "holds an answer other than" if parent.repeats else "is answered, and not"
    else:
        verb = "includes" if parent.repeats else "is"
    return f"{parent.link_id!r} {verb} {show_when.code!r}"


def _validation_message(
    problem: validation.Problem, raw: Mapping[str, Any], intake: Questionnaire
) -> str:
    """The web form's message, named by linkId; an unknown code or a condition is spelled out."""
    message = f"{problem.link_id}: {problem.message}"
    if problem.code == "not_applicable":
        show_when = intake.question(problem.link_id).show_when
        assert show_when is not None  # only a show-when question can not apply
        condition = _condition(show_when, intake.question(show_when.question))
        message = f"{message.removesuffix('.')} (asked only when {condition})."
    if problem.code == "unknown_code":
        value = raw.get(problem.link_id)
        given = value if isinstance(value, list) else [value]
        codes = intake.question(problem.link_id).codes
        # A code a later version offers: the sender named the wrong version, or used a new code.
        latest = questionnaire.TWITCH_INTAKE.question(problem.link_id)
        later = {
            c: o.since
            for c in given
            if isinstance(c, str) and c not in codes and (o := latest.option(c)) is not None
        }
        unknown = ", ".join(repr(c) for c in given if c not in codes and c not in later)
        if unknown:
            message += f" (unknown code {unknown})"
        for code, since in later.items():
            message += (
                f" (code {code!r} was added in questionnaire version {since}; a version "
                f"{intake.version} response cannot use it)"
            )
    return message


def _hides_behind(problem: validation.Problem, reported: set[str], intake: Questionnaire) -> bool:
    """A question "does not apply" only because the one it depends on was sent in a shape we
    reported: that report is the whole story, the sender did answer it."""
    if problem.code != "not_applicable":
        return False
    show_when = intake.question(problem.link_id).show_when
    return show_when is not None and show_when.question in reported


def read_response(resource: Any) -> ParsedResponse:
    """Check a parsed QuestionnaireResponse and turn it into what an encounter stores.

    Touches no database, so it can vet a response before anything is written. The response is
    checked against the questionnaire version it names, read once here so that one definition
    holds for the whole response.
    """
    if not isinstance(resource, dict):
        return ParsedResponse(
            problems=[f"resource: must be a JSON object (found {_kind(resource)})."]
        )
    kind = resource.get("resourceType")
    if kind != "QuestionnaireResponse":
        return ParsedResponse(
            problems=[f"resourceType: must be 'QuestionnaireResponse' (found {_found(kind)})."]
        )
    parsed = ParsedResponse()
    parsed.problems.extend(_json_problems(resource))
    intake = _named_questionnaire(resource, parsed.problems)
    parsed.questionnaire_version = intake.version
    parsed.problems.extend(_status_problems(resource))
    parsed.authored = _authored(resource, parsed.problems)
    patient = _patient(resource, parsed.problems)
    if patient is not None:
        parsed.patient_name = _patient_name(patient, parsed.problems)
        parsed.date_of_birth = _birth_date(patient, parsed.problems)
    reader = _Reader(questionnaire.TWITCH_INTAKE)
    reader.top_level(resource)
    parsed.problems.extend(reader.problems)
    # The web form clears an answer to a question it no longer shows; a sender never saw the
    # form, so such an answer is a mistake to report, not to drop silently.
    cleaned, found = validation.validate(reader.raw, intake, refuse_inapplicable=True)
    parsed.problems.extend(
        _validation_message(p, reader.raw, intake)
        for p in found
        if p.link_id not in reader.reported and not _hides_behind(p, reader.reported, intake)
    )
    parsed.answers = cleaned
    return parsed


def import_response(resource: Any) -> ImportResult:
    """Store a QuestionnaireResponse as a submitted encounter, or refuse it whole.

    One transaction: the encounter, its triage and (for an emergency) the clinic's alert are
    stored together or not at all.
    """
    parsed = read_response(resource)
    if not parsed.ok:
        return ImportResult(problems=parsed.problems)
    assert parsed.date_of_birth is not None  # no problem means a patient was read
    with transaction.atomic():
        result = services.create_submitted(
            patient_name=parsed.patient_name,
            date_of_birth=parsed.date_of_birth,
            answers=parsed.answers,
            authored=parsed.authored,
            questionnaire_version=parsed.questionnaire_version,
        )
    if not result.ok:  # pragma: no cover - read_response ran the same validation
        return ImportResult(problems=[f"{p.link_id}: {p.message}" for p in result.problems])
    return ImportResult(encounter=result.encounter)


def import_json(text: str | bytes) -> ImportResult:
    """:func:`import_response` for raw JSON, as it comes from a file or a request body."""
    try:
        resource = json.loads(
            text, object_pairs_hook=_JsonObject.from_pairs, parse_constant=_NonFinite.parse
        )
    except (ValueError, RecursionError) as error:
        # UnicodeDecodeError is a ValueError too: bytes that are not UTF-8 are not JSON.
        return ImportResult(problems=[f"not valid JSON: {error}"])
    return import_response(resource)


def summary(result: ImportResult) -> dict[str, Any]:
    """The outcome in a few plain values: what a caller logs or prints for one response."""
    if result.encounter is None:
        return {"errors": result.problems}
    encounter = result.encounter
    return {
        "encounter": encounter.pk,
        "level": encounter.level,
        "flags": list(encounter.flags),
    }
