"""The write paths below the views: guards the views never let a request reach."""

import smtplib

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import translation

from tests.alerting import SMTPServer
from tests.factories import make_encounter, make_submitted, routine_answers
from twitch_intake import questionnaire, services
from twitch_intake.models import Encounter

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
