"""One test per system check id: a wrong setting is caught at start, with a stable id."""

from datetime import timedelta

import pytest

from twitch_intake.checks import check_database, check_settings

BASE = {
    "CLINIC_NAME": "Test Clinic",
    "CLINIC_PHONE": "555-0100",
    "EMERGENCY_NUMBER": "911",
    "ALERT_EMAILS": ["on-call@clinic.test"],
}


def ids(settings, **values):
    settings.TWITCH_INTAKE = {**BASE, **values}
    return [message.id for message in check_settings()]


def test_good_settings_pass(settings):
    assert ids(settings) == []


def test_not_a_dict(settings):
    settings.TWITCH_INTAKE = ["nope"]
    assert [m.id for m in check_settings()] == ["twitch_intake.E000"]


def test_unknown_key(settings):
    assert ids(settings, EMERGENCY_NUMBR="112") == ["twitch_intake.E001"]


@pytest.mark.parametrize("number", ["", "call us", 911, None])
def test_emergency_number(settings, number):
    assert ids(settings, EMERGENCY_NUMBER=number) == ["twitch_intake.E002"]


@pytest.mark.parametrize("lifetime", [timedelta(0), timedelta(days=-1), 14])
def test_link_lifetime(settings, lifetime):
    assert ids(settings, LINK_LIFETIME=lifetime) == ["twitch_intake.E003"]


def test_alert_email(settings):
    assert ids(settings, ALERT_EMAILS=["not-an-address"]) == ["twitch_intake.E004"]


def test_clinic_phone_missing(settings):
    assert ids(settings, CLINIC_PHONE="") == ["twitch_intake.W001"]


def test_no_alert_addresses(settings):
    assert ids(settings, ALERT_EMAILS=[]) == ["twitch_intake.W002"]


@pytest.mark.django_db
def test_database_check_accepts_postgresql():
    assert check_database(databases=["default"]) == []


def test_database_check_refuses_another_vendor(monkeypatch):
    from django.db import connections

    monkeypatch.setattr(connections["default"], "vendor", "mysql")
    assert [m.id for m in check_database(databases=["default"])] == ["twitch_intake.E005"]
