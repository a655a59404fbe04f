"""The twitch_intake_retriage command: stored level and flags brought back in line with the rules."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.factories import emergency_answers, make_encounter, make_submitted, routine_answers
from twitch_intake.models import Encounter

pytestmark = pytest.mark.django_db


def retriage(*args: str) -> list[str]:
    out = StringIO()
    call_command("twitch_intake_retriage", *args, stdout=out)
    return out.getvalue().splitlines()


def stored(encounter: Encounter) -> tuple[str | None, list[str], int]:
    encounter.refresh_from_db()
    return encounter.level, encounter.flags, encounter.flag_count


def test_corrects_stale_results_and_reports_each_change():
    raised = make_submitted(emergency_answers())
    Encounter.objects.filter(pk=raised.pk).update(level="routine", flags=[], flag_count=0)
    lowered = make_submitted(routine_answers())
    Encounter.objects.filter(pk=lowered.pk).update(
        level="priority", flags=["weakness"], flag_count=1
    )
    untouched = make_submitted(routine_answers(severity="severe"))
    untouched_updated_at = Encounter.objects.get(pk=untouched.pk).updated_at
    make_encounter(status=Encounter.Status.IN_PROGRESS, answers=routine_answers())

    lines = retriage()

    assert stored(raised) == ("emergency", ["emergency-signs"], 1)
    assert stored(lowered) == ("routine", [], 0)
    assert stored(untouched) == ("priority", ["severe"], 1)
    assert Encounter.objects.get(pk=untouched.pk).updated_at == untouched_updated_at
    assert lines == [
        f"Encounter {raised.pk}: routine -> emergency; flags added: emergency-signs; removed: (none)",
        f"Encounter {lowered.pk}: priority -> routine; flags added: (none); removed: weakness",
        "3 encounters checked, 2 changed",
    ]


def test_reviewed_encounters_are_checked_too():
    encounter = make_submitted(routine_answers(duration="long-term"))
    Encounter.objects.filter(pk=encounter.pk).update(
        status=Encounter.Status.REVIEWED,
        reviewed_at=timezone.now(),
        level="routine",
        flags=[],
        flag_count=0,
    )

    lines = retriage()

    assert stored(encounter) == ("priority", ["persistent"], 1)
    assert lines[-1] == "1 encounters checked, 1 changed"


def test_dry_run_reports_the_same_changes_and_saves_nothing():
    encounter = make_submitted(emergency_answers())
    Encounter.objects.filter(pk=encounter.pk).update(level="routine", flags=[], flag_count=0)

    lines = retriage("--dry-run")

    assert stored(encounter) == ("routine", [], 0)
    assert lines[0].startswith(f"Encounter {encounter.pk}: routine -> emergency;")
    assert lines[-1] == "1 encounters checked, 1 changed"
    assert "Dry run: nothing was saved." in lines
    assert retriage()[0] == lines[0]
    assert stored(encounter)[0] == "emergency"


def test_output_names_no_patient_and_no_answer():
    encounter = make_submitted(
        emergency_answers(notes="Zebra-striped rash since Tuesday"),
        patient_name="Quentin Uniquename",
        record_number="MRN-445566",
    )
    Encounter.objects.filter(pk=encounter.pk).update(level="routine", flags=[], flag_count=0)

    output = "\n".join(retriage())

    assert f"Encounter {encounter.pk}:" in output
    for private in ("Quentin", "Uniquename", "MRN-445566", "Zebra", "Seizure", "headache"):
        assert private not in output


def test_nothing_to_change_prints_only_the_total():
    make_submitted(routine_answers())

    assert retriage() == ["1 encounters checked, 0 changed"]


@pytest.mark.django_db
def test_a_row_of_a_version_this_release_does_not_know_is_retriaged_not_crashed():
    """A row written by a newer release that was rolled back: read with the current rules."""
    from twitch_intake import services

    encounter = make_submitted()
    Encounter.objects.filter(pk=encounter.pk).update(
        questionnaire_version="9.0.0", level="priority"
    )
    report = services.retriage()
    encounter.refresh_from_db()
    assert report.checked >= 1 and encounter.level == "routine"
    assert encounter.questionnaire_version == "9.0.0"
