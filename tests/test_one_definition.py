"""One definition: a question or rule added in one place reaches every view.

Two halves. The proof defines, in this file only, a questionnaire with one extra question (one
new answer code) and one extra red rule, puts them in place of the intake's, and follows a
patient and a clinician through every view: nothing else is edited. The grep keeps it that way:
no module outside the domain spells a contract code (a linkId, an answer code, a flag code), so
no view can quietly handle only the questions it was written for.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.factories import make_encounter, make_submitted, routine_answers, staff_group
from tests.security.patient import bound_client
from twitch_intake import fhir, questionnaire, summary, triage
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import ItemType, Option, Page, Question, Questionnaire

APP = Path(questionnaire.__file__).parent

# --- The proof ------------------------------------------------------------------------------

QUESTION = "proof-hands-shake"
SHAKING, STILL = "proof-shaking", "proof-still"
FLAG = "proof-tremor"
PROOF_VERSION = "1.0.0-proof"


def _with_question(intake: Questionnaire) -> Questionnaire:
    """The intake with one more question at the end of the "Other symptoms" page."""
    extra = Question(
        QUESTION,
        "Do your hands shake when you hold a cup?",
        ItemType.CHOICE,
        required=True,
        options=(Option(SHAKING, "Yes, they shake"), Option(STILL, "No, they are still")),
        heading="Hands shake (proof)",
    )
    home = intake.group_of("other-symptoms")
    groups = tuple(
        dataclasses.replace(g, questions=(*g.questions, extra)) if g is home else g
        for g in intake.groups
    )
    return dataclasses.replace(intake, version=PROOF_VERSION, groups=groups)


def _shaking(answers: Any, intake: Questionnaire) -> triage.Finding | None:
    """Hands that shake holding a cup: a tremor, not a twitch (this test's rule only)."""
    if answers.get(QUESTION) != SHAKING:
        return None
    label = intake.question(QUESTION).label(SHAKING)
    return triage.Finding(f"answered: {label}", (label,))


PROOF_RULE = triage.Rule(
    FLAG,
    triage.Kind.RED,
    "Tremor (proof)",
    "This test's own source",
    reads=(QUESTION,),
    test=_shaking,
    level=triage.Level.PRIORITY,
)


@pytest.fixture
def proof(monkeypatch: pytest.MonkeyPatch) -> Questionnaire:
    intake = _with_question(questionnaire.TWITCH_INTAKE)
    monkeypatch.setattr(questionnaire, "TWITCH_INTAKE", intake)
    monkeypatch.setattr(triage, "RULES", (*triage.RULES, PROOF_RULE))
    return intake


def _post_page(client: Client, page: Page, answers: dict[str, Any]) -> Any:
    data: dict[str, Any] = {}
    for q in page.questions:
        if q.link_id in answers:
            value = answers[q.link_id]
            data[q.link_id] = ("yes" if value else "no") if isinstance(value, bool) else value
    data["_revealed"] = " ".join(
        q.link_id for q in page.questions if q.show_when and q.is_enabled(answers)
    )
    return client.post(f"/intake/page/{page.slug}/", data)


@pytest.fixture
def clinician_client(client: Client) -> Client:
    user = User.objects.create_user("proof-doctor", password="x", is_staff=True)
    user.groups.add(staff_group("Clinicians"))
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_a_new_question_and_rule_reach_every_view(
    proof: Questionnaire, clinician_client: Client
) -> None:
    answers = {**routine_answers(), QUESTION: SHAKING}
    encounter = make_encounter(patient_name="Proof Patient")
    assert encounter.questionnaire_version == PROOF_VERSION  # the default is read when made
    patient = bound_client(encounter)
    # The group's last page asks it.
    home = next(p for p in proof.pages() if any(q.link_id == QUESTION for q in p.questions))

    without = {k: v for k, v in answers.items() if k != QUESTION}
    for group in proof.pages():
        if group is home:
            # The form: the new question and both of its options, on its page.
            page = patient.get(f"/intake/page/{home.slug}/").content.decode()
            assert f'name="{QUESTION}"' in page
            assert "Do your hands shake when you hold a cup?" in page
            assert f'value="{SHAKING}"' in page and f'value="{STILL}"' in page
            # Required like any other: left out, the page says so and stores nothing.
            refused = _post_page(patient, group, without)
            assert refused.status_code == 303  # not saved: see the page again
            assert refused["Location"] == f"/intake/page/{home.slug}/"
            assert "Choose an answer." in patient.get(refused["Location"]).content.decode()
        response = _post_page(patient, group, answers)
        assert response.status_code == 302, (group.slug, response.content[:500])

    # The review page.
    review = patient.get("/intake/review/").content.decode()
    assert "Do your hands shake when you hold a cup?" in review
    assert "Yes, they shake" in review

    assert patient.post("/intake/submit/").status_code == 302
    encounter.refresh_from_db()
    assert encounter.is_submitted
    assert encounter.answers[QUESTION] == SHAKING
    assert FLAG in encounter.flags
    assert encounter.level == triage.Level.PRIORITY

    # The summary, as HTML (the admin's page), print and text.
    base = f"/admin/twitch_intake/encounter/{encounter.pk}"
    for url in (f"{base}/change/", f"{base}/print/", f"{base}/text/"):
        body = clinician_client.get(url).content.decode()
        assert "Hands shake (proof)" in body, url
        assert "Yes, they shake" in body, url
        assert "Tremor (proof)" in body, url
        assert "answered: Yes, they shake" in body, url

    # FHIR: the Questionnaire and the response.
    exported = json.dumps(fhir.questionnaire_json())
    assert QUESTION in exported and SHAKING in exported and STILL in exported
    assert fhir.questionnaire_json()["version"] == PROOF_VERSION
    response_json = json.loads(clinician_client.get(f"{base}/fhir/").content)
    codes = _answer_codes(response_json, QUESTION)
    assert codes == [SHAKING]

    # The queue: the new flag is a filter, and filtering by it finds this intake alone.
    other = make_submitted({**routine_answers(), QUESTION: STILL})
    queue = clinician_client.get("/admin/twitch_intake/encounter/").content.decode()
    assert f"flag={FLAG}" in queue and "Tremor (proof)" in queue
    # Its chip looks like the other red flags, from what the rule declares.
    assert f'class="ti-chip ti-chip-red" data-flag="{FLAG}"' in queue
    filtered = clinician_client.get(f"/admin/twitch_intake/encounter/?flag={FLAG}")
    shown = {e.pk for e in filtered.context["cl"].result_list}
    assert shown == {encounter.pk}

    # Not raised, the red rule is a pertinent negative naming the answer given.
    negatives = {line.code: str(line.negative) for line in summary.build(other).negatives}
    assert negatives[FLAG] == "no (answered “No, they are still”)"


def _answer_codes(resource: dict[str, Any], link_id: str) -> list[str]:
    found: list[str] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item.get("linkId") == link_id:
                found.extend(a["valueCoding"]["code"] for a in item.get("answer", []))
            walk(item.get("item", []))
            for answer in item.get("answer", []):
                walk(answer.get("item", []))

    walk(resource.get("item", []))
    return found


# --- The grep -------------------------------------------------------------------------------

#: The domain: the one place each question and rule is defined, and the drawing keyed by the
#: body-location codes. Everything else is glue and reads their declarations.
DOMAIN = {"questionnaire.py", "validation.py", "triage.py", "body_diagram.py", "steps.py"}

#: A string that equals a contract code but means something else, with why.
NOT_CODES = {
    ("tasks.py", "seconds"): "procrastinate's unit of a retry delay, not an episode length",
    ("forms.py", "yes"): "the radio value of every yes/no question, not the family-history answer",
    ("forms.py", "no"): "the radio value of every yes/no question, not the family-history answer",
    ("export.py", "patient"): "the contained FHIR Patient's id, not the answered-by answer",
    ("models.py", "patient"): "the access log's patient action, not the answered-by answer",
}


def contract_codes() -> set[str]:
    intake = questionnaire.TWITCH_INTAKE
    codes = {group.link_id for group in intake.groups}
    for question in intake.questions():
        codes.add(question.link_id)
        codes.update(question.codes)
    codes.update(triage.flag_codes())
    return codes


def _glue_modules() -> list[Path]:
    return sorted(
        path
        for path in APP.rglob("*.py")
        if path.name not in DOMAIN or path.parent != APP
        if "migrations" not in path.parts
    )


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def _template_literals(path: Path) -> list[tuple[int, str]]:
    """Quoted strings anywhere in a template: in tags and variables (``{% if x == "none" %}``)
    and in attributes (``data-flag="weakness"``)."""
    text = path.read_text()
    return [
        (text.count("\n", 0, literal.start()) + 1, literal.group(2))
        for literal in re.finditer(r"""(["'])([^"'\n]*)\1""", text)
    ]


def _static_names(path: Path) -> list[tuple[int, str]]:
    """What a stylesheet or script could key on a code: quoted strings in a script, class
    selectors in a stylesheet (``.ti-chip-weakness`` is read as ``weakness``)."""
    text = path.read_text()
    if path.suffix == ".js":
        pattern = r"""(["'])([^"'\n]*)\1"""
        return [
            (text.count("\n", 0, m.start()) + 1, m.group(2)) for m in re.finditer(pattern, text)
        ]
    found = []
    for m in re.finditer(r"\.(ti-[a-z]+-)?([a-z][a-z0-9-]*)", text):
        found.append((text.count("\n", 0, m.start()) + 1, m.group(2)))
    return found


def test_no_glue_module_or_template_spells_a_contract_code() -> None:
    codes = contract_codes()
    spelled = []
    for path in _glue_modules():
        for line, value in _string_constants(path):
            if value in codes and (path.name, value) not in NOT_CODES:
                spelled.append(f"{path.relative_to(APP)}:{line}: {value!r}")
    for path in sorted((APP / "templates").rglob("*")):
        if path.is_file():
            for line, value in _template_literals(path):
                if value in codes:
                    spelled.append(f"{path.relative_to(APP)}:{line}: {value!r}")
    flags = set(triage.flag_codes())
    for path in sorted((APP / "static").rglob("*")):
        if path.suffix in {".js", ".css"}:
            for line, value in _static_names(path):
                if value in (codes if path.suffix == ".js" else flags):
                    spelled.append(f"{path.relative_to(APP)}:{line}: {value!r}")
    assert spelled == [], "read the declarations instead:\n" + "\n".join(spelled)


def test_the_grep_finds_a_code_where_one_is_spelled(tmp_path: Path) -> None:
    """The grep itself can fail: a code in code, and one in a template tag, are both found."""
    module = tmp_path / "glue.py"
    module.write_text('"""Docstrings may name emergency-signs."""\nx = answers.get("severity")\n')
    template = tmp_path / "page.html"
    template.write_text('<p class="ti-x">{% if code == "weakness" %}\n<b data-flag="multifocal">')
    script = tmp_path / "page.js"
    script.write_text('if (box.value === "none") { hide("d-none"); }')
    sheet = tmp_path / "page.css"
    sheet.write_text(".ti-chip-weakness { color: red; }")
    assert _string_constants(module) == [(2, "severity")]
    assert _template_literals(template) == [(1, "ti-x"), (1, "weakness"), (2, "multifocal")]
    assert [value for _, value in _static_names(script)] == ["none", "d-none"]
    assert "weakness" in [value for _, value in _static_names(sheet)]
    assert {"severity", "weakness", "emergency-signs"} <= contract_codes()


def test_every_rule_reads_questions_of_the_intake() -> None:
    """A rule's ``reads`` is what the summary trusts to say "not answered"."""
    for rule in triage.rules():
        for link_id in rule.reads:
            assert questionnaire.TWITCH_INTAKE.has_question(link_id), (rule.code, link_id)


# --- What an outside review of the refactor found -------------------------------------------

CHEST_PAIN = "proof-chest-pain"


def _chest_pain(answers: Any, intake: Questionnaire) -> triage.Finding | None:
    """A yes to a yes/no emergency question: it quotes no ticked option."""
    if answers.get(CHEST_PAIN) is not True:
        return None
    return triage.Finding("answered yes to chest pain now")


@pytest.mark.django_db
def test_an_emergency_rule_that_quotes_no_ticked_answer_is_named_everywhere(
    monkeypatch: pytest.MonkeyPatch, clinician_client: Client
) -> None:
    intake = questionnaire.TWITCH_INTAKE
    extra = Question(CHEST_PAIN, "Do you have chest pain now?", ItemType.BOOLEAN)
    home = intake.group_of("other-symptoms")
    groups = tuple(
        dataclasses.replace(g, questions=(*g.questions, extra)) if g is home else g
        for g in intake.groups
    )
    monkeypatch.setattr(questionnaire, "TWITCH_INTAKE", dataclasses.replace(intake, groups=groups))
    rule = triage.Rule(
        "proof-chest-pain-now",
        triage.Kind.RED,
        "Chest pain now (proof)",
        "Proof test source",
        reads=(CHEST_PAIN,),
        test=_chest_pain,
        level=triage.Level.EMERGENCY,
    )
    monkeypatch.setattr(triage, "RULES", (*triage.RULES, rule))

    assessment = triage.assess({**routine_answers(), CHEST_PAIN: True})
    assert assessment.is_emergency
    assert [str(sign) for sign in assessment.emergency_signs] == ["Chest pain now (proof)"]

    encounter = make_submitted({**routine_answers(), CHEST_PAIN: True})
    base = f"/admin/twitch_intake/encounter/{encounter.pk}"
    for url in (f"{base}/change/", f"{base}/text/"):
        body = clinician_client.get(url).content.decode()
        banner = body[: body.index("Chest pain now (proof)") + 200]
        assert "Proof test source" in body, url
        assert "Chest pain now (proof)" in banner, url


@pytest.mark.django_db
@pytest.mark.parametrize(
    "odd",
    [{"locations": "eyelid"}, {"severity": ["severe"]}, {"locations": ["eyelid", ["x"]]}],
    ids=["one place, not a list", "a list for a single choice", "a list inside the list"],
)
def test_a_summary_of_answers_in_an_odd_shape_still_renders(
    odd: dict[str, Any], clinician_client: Client
) -> None:
    """Answers changed after submission (the integrity warning's case), or stored under a
    version where the question repeated or did not: the summary shows them, never a 500."""
    encounter = make_submitted()
    Encounter.objects.filter(pk=encounter.pk).update(answers={**encounter.answers, **odd})
    base = f"/admin/twitch_intake/encounter/{encounter.pk}"
    for url in (f"{base}/change/", f"{base}/print/", f"{base}/text/"):
        response = clinician_client.get(url)
        assert response.status_code == 200, url
        assert "changed after the patient submitted" in response.content.decode(), url


@pytest.mark.django_db
def test_submit_after_a_version_dropped_an_answered_question(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A patient part way through when a content version drops a question they answered can
    still send; the dropped answer is let go."""
    encounter = make_encounter(answers=routine_answers())
    encounter.completed_groups = [g.link_id for g in questionnaire.TWITCH_INTAKE.groups]
    encounter.save()
    patient = bound_client(encounter)
    intake = questionnaire.TWITCH_INTAKE
    closing = intake.group_of("notes")
    groups = tuple(
        dataclasses.replace(g, questions=tuple(q for q in g.questions if q.link_id != "notes"))
        if g is closing
        else g
        for g in intake.groups
    )
    monkeypatch.setattr(questionnaire, "TWITCH_INTAKE", dataclasses.replace(intake, groups=groups))

    response = patient.post("/intake/submit/")

    assert response.status_code == 302
    assert response["Location"].endswith("/intake/thanks/")
    encounter.refresh_from_db()
    assert encounter.is_submitted
    assert "notes" not in encounter.answers
