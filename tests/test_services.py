"""The write paths below the views: guards the views never let a request reach."""

import ast
import dataclasses
import datetime as dt
import smtplib
from pathlib import Path

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone, translation

from tests.alerting import SMTPServer
from tests.factories import (
    answers_1_0_0,
    emergency_answers,
    make_encounter,
    make_submitted,
    routine_answers,
)
from twitch_intake import questionnaire, services, triage
from twitch_intake.models import Encounter
from twitch_intake.services import answers_digest
from twitch_intake.steps import Steps

pytestmark = pytest.mark.django_db


def test_save_page_leaves_a_submitted_encounter_alone():
    encounter = make_submitted(routine_answers())
    before = Encounter.objects.get(pk=encounter.pk)
    group = questionnaire.TWITCH_INTAKE.group("emergency")
    result = services.save_page(encounter.pk, group, {"emergency-signs": ["seizure"]})
    assert result.already_submitted
    after = Encounter.objects.get(pk=encounter.pk)
    assert after.answers == before.answers and after.updated_at == before.updated_at
    assert mail.outbox == []


def test_submit_refuses_an_incomplete_intake_and_changes_nothing():
    encounter = make_encounter(answers={"emergency-signs": ["none"]})
    result = services.submit(encounter.pk)
    assert not result.ok
    assert {p.link_id for p in result.problems} >= {"duration", "locations", "triggers"}
    assert Encounter.objects.get(pk=encounter.pk).status == "invited"


def test_the_alert_email_is_in_the_clinics_language(settings):
    settings.LANGUAGE_CODE = "es"
    encounter = make_encounter()
    with translation.override("en"):
        services.deliver_emergency_alert(encounter.pk)
    with translation.override("es"):
        expected = translation.gettext("Intake needs attention now")
    assert expected != "Intake needs attention now"
    assert mail.outbox[0].subject == expected


def test_a_failed_alert_is_recorded_without_patient_data_and_raised_for_the_queue(caplog):
    """The queue retries while the delivery raises; nothing is reset for a "next save"."""
    encounter = make_encounter(patient_name="Zed Quill")
    with (
        SMTPServer("refuse") as smtp,
        override_settings(**smtp.settings()),
        pytest.raises(smtplib.SMTPConnectError),
    ):
        services.deliver_emergency_alert(encounter.pk)
    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.alert_sent_at is None and stored.alert_attempts == 1
    assert stored.alert_last_error.startswith("SMTPConnectError: 421")
    assert "Zed Quill" not in stored.alert_last_error and "Zed Quill" not in caplog.text


# --- Every write is here ------------------------------------------------------------------------


def test_the_language_is_stored_until_the_intake_is_submitted():
    started = make_encounter(language="en")
    assert services.set_language(started.pk, "es")
    assert Encounter.objects.get(pk=started.pk).language == "es"

    sent = make_submitted(routine_answers(), language="en")
    assert not services.set_language(sent.pk, "es")
    assert Encounter.objects.get(pk=sent.pk).language == "en"
    assert not services.set_language(0, "es")  # no such encounter (deleted meanwhile)


def test_create_encounter_stores_only_new_ones():
    new = Encounter(patient_name="Ada", date_of_birth=dt.date(1980, 5, 17), visit_at=timezone.now())
    assert services.create_encounter(new).pk is not None
    assert new.questionnaire_version == questionnaire.TWITCH_INTAKE.version
    with pytest.raises(ValueError, match="new encounters only"):
        services.create_encounter(new)


def test_a_new_encounter_is_stored_against_the_active_questionnaires_version(monkeypatch):
    later = dataclasses.replace(questionnaire.TWITCH_INTAKE, version="9.9.9")
    monkeypatch.setattr(questionnaire, "TWITCH_INTAKE", later)
    assert make_encounter().questionnaire_version == "9.9.9"


def test_retriage_reports_each_change_and_a_dry_run_saves_none():
    stale = make_submitted(emergency_answers())
    Encounter.objects.filter(pk=stale.pk).update(level="routine", flags=[], flag_count=0)
    make_submitted(routine_answers())

    dry = services.retriage(dry_run=True)
    assert Encounter.objects.get(pk=stale.pk).level == "routine"
    report = services.retriage()

    assert dry == report
    assert report.checked == 2
    assert report.changed == [
        services.Retriaged(stale.pk, "routine", "emergency", ("emergency-signs",), ())
    ]
    assert Encounter.objects.get(pk=stale.pk).level == "emergency"


#: Methods that write a model, called on a model or through its manager.
WRITES = frozenset(
    {"save", "delete", "create", "bulk_create", "get_or_create", "update_or_create", "update"}
)


def _writes(path: Path) -> list[str]:
    """``Model.objects....write(...)`` and ``instance.save()``/``.delete()`` calls in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method, receiver = node.func.attr, ast.unparse(node.func.value)
        through_manager = ".objects" in receiver or "_set" in receiver
        if method in WRITES and (through_manager or method in {"save", "delete"}):
            found.append(f"{path.name}:{node.lineno}: {receiver}.{method}()")
    return found


def test_views_admin_and_commands_write_only_through_services():
    app = Path(services.__file__).parent
    glue = [app / "views.py", app / "admin.py", *sorted((app / "management/commands").glob("*.py"))]
    assert [write for path in glue for write in _writes(path)] == []


# --- Versions -------------------------------------------------------------------------------

OLD = "1.0.0"


def _in_progress_1_0_0(**fields):
    """An intake started under 1.0.0, every page of it answered, not sent: its completed
    pages stored as 1.0.0 stored them, by group."""
    answers = answers_1_0_0()
    return make_encounter(
        answers=answers,
        questionnaire_version=OLD,
        completed_groups=[g.link_id for g in questionnaire.TWITCH_INTAKE.groups],
        status=Encounter.Status.IN_PROGRESS,
        **fields,
    )


def test_a_page_save_moves_an_older_intake_not_yet_sent_to_the_current_version():
    encounter = _in_progress_1_0_0()
    frequency = questionnaire.TWITCH_INTAKE.page("frequency")
    result = services.save_page(
        encounter.pk, frequency, {"frequency": "daily", "movement": ["flicker"]}
    )
    stored = Encounter.objects.get(pk=result.encounter.pk)
    assert stored.questionnaire_version == questionnaire.VERSION
    # Completion read again from the answers: a page counts when its answers are complete and
    # 1.0.0 showed all of it; a page with a question or answer added since is shown again (the
    # first page offers a new sign, "Other symptoms" new symptoms, "Pregnancy" is new).
    assert stored.completed_groups == ["frequency", "pattern", "background", "conditions"]
    steps = Steps.stored(stored.completed_groups, stored.answers)
    assert steps.completed_in_order == tuple(stored.completed_groups)  # read as stored now
    assert steps.resume == "emergency"
    assert [s for s in steps if steps.may_open(s)] == ["emergency"]
    # The answers stay as they were, with the new ones added.
    assert stored.answers == {**answers_1_0_0(), "frequency": "daily", "movement": ["flicker"]}


def test_submit_checks_an_intake_against_its_own_version():
    # Never moved (no page saved since): valid under 1.0.0 without the 1.1.0 questions.
    encounter = _in_progress_1_0_0()
    result = services.submit(encounter.pk)
    assert result.ok, result.problems
    sent = Encounter.objects.get(pk=encounter.pk)
    assert sent.questionnaire_version == OLD
    assert sent.level == "routine" and sent.flags == []

    # The same answers under the current version lack its required questions.
    current = make_encounter(answers=answers_1_0_0())
    result = services.submit(current.pk)
    assert {p.link_id for p in result.problems} >= {"onset", "course", "answered-by"}
    assert not Encounter.objects.get(pk=current.pk).is_submitted


def test_a_sent_1_0_0_intake_is_never_moved():
    encounter = make_submitted(answers_1_0_0(), questionnaire_version=OLD)
    before = Encounter.objects.get(pk=encounter.pk)
    page = questionnaire.TWITCH_INTAKE.page("frequency")
    result = services.save_page(encounter.pk, page, {"frequency": "daily", "movement": ["jerk"]})
    assert result.already_submitted
    after = Encounter.objects.get(pk=encounter.pk)
    assert after.questionnaire_version == OLD
    assert after.answers == before.answers and after.updated_at == before.updated_at


def test_retriage_assesses_each_encounter_with_its_own_version(monkeypatch):
    old = make_submitted(answers_1_0_0(severity="severe"), questionnaire_version=OLD)
    new = make_submitted(routine_answers(severity="severe"))
    Encounter.objects.filter(pk__in=[old.pk, new.pk]).update(
        level="routine", flags=[], flag_count=0, red_flag_count=0
    )
    seen: dict[str, str] = {}
    assess = triage.assess

    def spy(answers, intake=None, *args, **kwargs):
        seen[answers_digest(answers)] = intake.version if intake else "(none)"
        return assess(answers, intake, *args, **kwargs)

    monkeypatch.setattr(triage, "assess", spy)
    report = services.retriage()
    assert {c.encounter_id for c in report.changed} == {old.pk, new.pk}
    assert seen[answers_digest(old.answers)] == OLD
    assert seen[answers_digest(new.answers)] == questionnaire.VERSION
    for encounter in (old, new):
        encounter.refresh_from_db()
        assert (encounter.level, encounter.flags) == ("priority", ["severe"])
    assert Encounter.objects.get(pk=old.pk).questionnaire_version == OLD
