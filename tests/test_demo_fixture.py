"""The demo data (``fixtures/demo.json``, what ``make demo`` loads) is data the app could have made.

Each stored level, flag list and red-flag count is what the rules give for the encounter's
answers, under its questionnaire version, with its answer history (a sign saved and taken back
stays an emergency); every submitted intake is complete and valid under its version, matches its
integrity digest, renders a summary without the warning and goes through FHIR and back under
its version. And it shows what it is there to
show: every flag of the rules, one intake answered under 1.0.0, an emergency abandoned on the
get-care page, a sign withdrawn, and the ALS-like patient of issue 16.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from twitch_intake import fhir, history, questionnaire, services, summary, triage, validation
from twitch_intake.models import Encounter, Status

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "demo.json"
#: The fixture's encounters as written, last row of each pk (a pk listed twice is saved twice:
#: that is how an earlier answer gets into the history, which only the triggers write).
ROWS: dict[int, dict[str, Any]] = {
    row["pk"]: row["fields"]
    for row in json.loads(FIXTURE.read_text(encoding="utf-8"))
    if row["model"] == "twitch_intake.encounter"
}
SUBMITTED = sorted(
    pk for pk, f in ROWS.items() if f["status"] in (Status.SUBMITTED, Status.REVIEWED)
)
IN_PROGRESS_EMERGENCIES = sorted(
    pk for pk, f in ROWS.items() if f["status"] == Status.IN_PROGRESS and f["emergency_reported_at"]
)


@pytest.fixture
def demo() -> dict[int, Encounter]:
    call_command("loaddata", str(FIXTURE), verbosity=0)
    return {e.pk: e for e in Encounter.objects.all()}


def _assess(encounter: Encounter) -> triage.Assessment:
    """What the rules give for a stored encounter: its version, its history."""
    intake = questionnaire.for_version(encounter.questionnaire_version)
    earlier = history.earlier_answers(encounter.pk)
    return triage.assess(encounter.answers, intake, earlier=earlier)


def _name(pk: int) -> str:
    return f"{pk}-{ROWS[pk]['patient_name']}"


@pytest.mark.parametrize("pk", SUBMITTED, ids=_name)
def test_a_submitted_encounter_stores_what_the_rules_give(demo, pk):
    encounter = demo[pk]
    assessment = _assess(encounter)
    assert encounter.level == assessment.level.value
    assert encounter.flags == assessment.codes
    assert encounter.flag_count == len(assessment.codes)
    assert encounter.red_flag_count == len(assessment.red_flags)
    assert (encounter.emergency_reported_at is not None) == assessment.is_emergency
    assert (encounter.alerted_at is not None) == assessment.is_emergency


@pytest.mark.parametrize("pk", SUBMITTED, ids=_name)
def test_a_submitted_encounter_is_complete_under_its_version(demo, pk):
    encounter = demo[pk]
    intake = questionnaire.for_version(encounter.questionnaire_version)
    cleaned, problems = validation.validate(encounter.answers, intake, refuse_inapplicable=True)
    assert problems == []
    assert cleaned == encounter.answers
    assert encounter.submitted_at is not None


@pytest.mark.parametrize("pk", SUBMITTED, ids=_name)
def test_a_submitted_encounter_renders_its_summary_without_the_integrity_warning(demo, pk):
    encounter = demo[pk]
    assert services.digest_matches(encounter)
    assert encounter.answers_digest == services.answers_digest(encounter.answers)
    text = summary.render_text(encounter)
    assert encounter.patient_name in text
    assert str(summary.INTEGRITY_WARNING) not in text


@pytest.mark.parametrize("pk", IN_PROGRESS_EMERGENCIES, ids=_name)
def test_an_emergency_in_progress_is_an_emergency_with_its_emergency_flags(demo, pk):
    encounter = demo[pk]
    assessment = _assess(encounter)
    assert assessment.is_emergency
    assert encounter.level == triage.Level.EMERGENCY
    emergency = [flag.code for flag in assessment.emergency_flags]
    assert encounter.flags == emergency
    assert encounter.flag_count == encounter.red_flag_count == len(emergency)
    assert encounter.alerted_at is not None and encounter.submitted_at is None


def test_every_encounter_not_in_progress_as_an_emergency_is_accounted_for(demo):
    """No stored result the rules would not give: the rest are not assessed yet."""
    rest = set(demo) - set(SUBMITTED) - set(IN_PROGRESS_EMERGENCIES)
    assert rest  # the invited patient whose link ``make demo`` prints
    for pk in rest:
        encounter = demo[pk]
        assert not encounter.is_submitted and encounter.emergency_reported_at is None
        assert (encounter.level, encounter.flags, encounter.red_flag_count) == (None, [], 0)
        assert encounter.questionnaire_version == questionnaire.VERSION
    assert Encounter.objects.filter(record_number="DEMO-LINK", pk__in=rest).exists()


def test_the_demo_raises_every_flag_of_the_rules(demo):
    raised = {code for pk in SUBMITTED for code in demo[pk].flags}
    assert raised == set(triage.flag_codes())


def test_one_submitted_encounter_was_answered_under_1_0_0_and_stays_so(demo):
    [old] = [
        demo[pk] for pk in SUBMITTED if demo[pk].questionnaire_version != questionnaire.VERSION
    ]
    assert old.questionnaire_version == "1.0.0"
    first = questionnaire.for_version("1.0.0")
    assert all(first.has_question(link_id) for link_id in old.answers)
    assert set(old.answers) < {q.link_id for q in questionnaire.TWITCH_INTAKE.questions()}
    current = [demo[pk] for pk in SUBMITTED if demo[pk] is not old]
    assert all(e.questionnaire_version == questionnaire.VERSION for e in current)


def test_an_emergency_abandoned_on_the_get_care_page(demo):
    [abandoned] = [demo[pk] for pk in IN_PROGRESS_EMERGENCIES]
    responses = {q.link_id for q in questionnaire.TWITCH_INTAKE.emergency_responses()}
    assert responses and not responses & set(abandoned.answers)  # never said what they did
    assert abandoned.status == Status.IN_PROGRESS


def test_a_sign_saved_and_withdrawn_stays_an_emergency_with_its_history(demo):
    withdrawn = [pk for pk in SUBMITTED if _assess(demo[pk]).withdrawn_signs]
    assert len(withdrawn) == 1
    encounter = demo[withdrawn[0]]
    signs = set(triage.ticked_codes(encounter.answers, "emergency-signs"))
    assert signs == {questionnaire.NONE}  # nothing ticked now
    assert encounter.level == triage.Level.EMERGENCY
    assert "emergency-signs" in encounter.flags


def test_the_history_stays_consistent_when_the_demo_is_loaded_again(demo):
    """``make demo`` loads the fixture at every start."""
    call_command("loaddata", str(FIXTURE), verbosity=0)
    for pk in [*SUBMITTED, *IN_PROGRESS_EMERGENCIES]:
        encounter = Encounter.objects.get(pk=pk)
        assessment = _assess(encounter)
        assert (encounter.level, encounter.flags) == (
            assessment.level.value if encounter.is_submitted else triage.Level.EMERGENCY,
            assessment.codes
            if encounter.is_submitted
            else [f.code for f in assessment.emergency_flags],
        )
    assert Encounter.objects.count() == len(demo)


def test_the_als_like_patient_of_issue_16(demo):
    """68 at the visit, tongue, hand, forearm and thigh, weak in the right hand, muscle loss,
    trouble swallowing and a speech change, a gradual onset, worse, for months."""
    [patient] = [
        demo[pk]
        for pk in SUBMITTED
        if {"tongue", "hand", "forearm", "thigh"} <= set(demo[pk].answers.get("locations", []))
    ]
    answers = patient.answers
    visit = timezone.localdate(patient.visit_at)
    assert summary.age_on(patient.date_of_birth, visit) == 68
    assert answers["weakness-where"] == "right hand"
    assert {"weakness", "muscle-loss", "trouble-swallowing", "speech-change"} <= set(
        answers["other-symptoms"]
    )
    assert (answers["onset"], answers["course"], answers["duration"]) == (
        "gradual",
        "worse",
        "months",
    )
    assert patient.level == triage.Level.PRIORITY
    assert {"weakness", "multifocal", "muscle-loss", "bulbar", "persistent", "progressing"} <= set(
        patient.flags
    )


@pytest.mark.parametrize("pk", SUBMITTED, ids=_name)
def test_a_submitted_encounter_round_trips_through_fhir_under_its_version(demo, pk):
    """The export carries the answers and the version, not the answer history: a copy is
    triaged on its answers alone (a withdrawn sign stays only in the original)."""
    encounter = demo[pk]
    result = fhir.import_response(json.loads(json.dumps(fhir.response_json(encounter))))
    assert result.ok, result.problems
    copy_ = result.encounter
    assert copy_.questionnaire_version == encounter.questionnaire_version
    assert copy_.answers == encounter.answers
    intake = questionnaire.for_version(encounter.questionnaire_version)
    assert copy_.flags == triage.assess(encounter.answers, intake).codes
