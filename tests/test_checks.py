"""One test per system check id: a wrong setting is caught at start, with a stable id."""

from datetime import timedelta

import django
import pytest
from django.conf import settings as django_settings
from django.core import checks

from twitch_intake.checks import (
    check_advice_phone,
    check_axes,
    check_database,
    check_mfa,
    check_settings,
    check_wiring,
)

BASE = {
    "SITE_URL": "https://intake.clinic.test",
    "CLINIC_NAME": "Test Clinic",
    "CLINIC_PHONE": "555-0100",
    "EMERGENCY_NUMBER": "911",
    "ALERT_EMAILS": ["on-call@clinic.test"],
}


@pytest.fixture(autouse=True)
def delivering_email(settings):
    """pytest-django's locmem backend delivers nothing, which is itself an error (E029) in
    production: these tests check the rest with a backend that would deliver."""
    use_backend(settings, "django.core.mail.backends.smtp.EmailBackend")


def use_backend(settings, backend):
    """The default mailer, where this Django reads it (``MAILERS`` from 6.1, which deprecates
    ``EMAIL_BACKEND``)."""
    if django.VERSION >= (6, 1):
        settings.MAILERS = {"default": {"BACKEND": backend}}
    else:
        settings.EMAIL_BACKEND = backend


def check_settings_with(settings, **values):
    settings.TWITCH_INTAKE = {**BASE, **values}
    return check_settings()


def ids(settings, **values):
    return [message.id for message in check_settings_with(settings, **values)]


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


@pytest.mark.parametrize(
    ("key", "value", "check_id"),
    [
        ("CLINIC_NAME", 42, "twitch_intake.E006"),
        ("SITE_URL", "intake.clinic.test", "twitch_intake.E007"),
        ("SITE_URL", "ftp://intake.clinic.test", "twitch_intake.E007"),
        ("SITE_URL", None, "twitch_intake.E007"),
        ("SELF_START", "no", "twitch_intake.E008"),
        ("SELF_START", 1, "twitch_intake.E008"),
        ("DOB_ATTEMPTS", 0, "twitch_intake.E009"),
        ("DOB_ATTEMPTS", "5", "twitch_intake.E009"),
        ("DOB_ATTEMPTS", True, "twitch_intake.E009"),
        ("LOCKOUT", 900, "twitch_intake.E010"),
        ("LOCKOUT", timedelta(0), "twitch_intake.E010"),
        ("TRUSTED_PROXY_COUNT", -1, "twitch_intake.E011"),
        ("TRUSTED_PROXY_COUNT", "1", "twitch_intake.E011"),
        ("TRUSTED_PROXY_COUNT", 50, "twitch_intake.E011"),
        ("RATE_LIMIT", "20", "twitch_intake.E012"),
        ("RATE_LIMIT", 0, "twitch_intake.E012"),
        ("RATE_WINDOW", 60, "twitch_intake.E013"),
        ("ALERT_EMAILS", "on-call@clinic.test", "twitch_intake.E014"),
        ("ALERT_EMAILS", [None], "twitch_intake.E014"),
        ("CLINIC_PHONE", 5550100, "twitch_intake.E015"),
        ("IDLE_TIMEOUT", 1800, "twitch_intake.E018"),
        ("IDLE_TIMEOUT", None, "twitch_intake.E018"),
        ("STAFF_IDLE_TIMEOUT", "30m", "twitch_intake.E019"),
        ("STAFF_IDLE_TIMEOUT", timedelta(0), "twitch_intake.E019"),
    ],
)
def test_every_setting_has_its_type_and_range_checked(settings, key, value, check_id):
    assert ids(settings, **{key: value}) == [check_id]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SELF_START", True),
        ("DOB_ATTEMPTS", 3),
        ("LOCKOUT", timedelta(minutes=5)),
        ("TRUSTED_PROXY_COUNT", 0),
        ("TRUSTED_PROXY_COUNT", 2),
        ("RATE_LIMIT", 50),
        ("RATE_WINDOW", timedelta(hours=1)),
        ("ALERT_EMAILS", ("a@clinic.test", "b@clinic.test")),
        ("SITE_URL", "http://127.0.0.1:8000"),
        ("IDLE_TIMEOUT", timedelta(minutes=10)),
        ("STAFF_IDLE_TIMEOUT", None),
        ("STAFF_IDLE_TIMEOUT", timedelta(hours=8)),
    ],
)
def test_good_values_pass(settings, key, value):
    assert ids(settings, **{key: value}) == []


def test_site_url_is_required_in_production(settings):
    settings.DEBUG = False
    assert ids(settings, SITE_URL="") == ["twitch_intake.E016"]
    settings.DEBUG = True
    assert ids(settings, SITE_URL="") == []


def test_alert_email(settings):
    assert ids(settings, ALERT_EMAILS=["not-an-address"]) == ["twitch_intake.E004"]


def test_clinic_phone_missing(settings):
    assert ids(settings, CLINIC_PHONE="") == ["twitch_intake.W001"]


def test_no_alert_addresses_in_development(settings):
    settings.DEBUG = True
    assert ids(settings, ALERT_EMAILS=[]) == ["twitch_intake.W002"]


def test_no_alert_addresses_in_production_is_an_error(settings):
    settings.DEBUG = False
    [message] = check_settings_with(settings, ALERT_EMAILS=[])
    assert message.id == "twitch_intake.E017"
    assert message.level == checks.ERROR and message.hint
    settings.DEBUG = True
    assert [m.level for m in check_settings_with(settings, ALERT_EMAILS=[])] == [checks.WARNING]


@pytest.mark.django_db
def test_database_check_accepts_postgresql():
    assert check_database(databases=["default"]) == []


def test_database_check_refuses_another_vendor(monkeypatch):
    from django.db import connections

    monkeypatch.setattr(connections["default"], "vendor", "mysql")
    assert [m.id for m in check_database(databases=["default"])] == ["twitch_intake.E005"]


def wiring_ids():
    return [message.id for message in check_wiring()]


def test_the_test_site_is_wired_right():
    assert wiring_ids() == []


@pytest.mark.parametrize(
    "middleware",
    [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ],
)
def test_required_middleware(settings, middleware):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != middleware]
    assert "twitch_intake.E020" in wiring_ids()


def test_locale_middleware_missing(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "LocaleMiddleware" not in m]
    assert wiring_ids() == ["twitch_intake.W003"]


def test_locale_middleware_before_sessions(settings):
    locale = "django.middleware.locale.LocaleMiddleware"
    settings.MIDDLEWARE = [locale, *(m for m in settings.MIDDLEWARE if m != locale)]
    assert wiring_ids() == ["twitch_intake.E021"]


def test_default_language_list(settings):
    from django.conf import global_settings

    settings.LANGUAGES = global_settings.LANGUAGES
    assert wiring_ids() == ["twitch_intake.W004"]


@pytest.mark.parametrize("app", ["crispy_forms", "crispy_bootstrap5"])
def test_crispy_installed(settings, monkeypatch, app):
    # Set without override_settings, which would rebuild the app registry,
    # which a check only reading the list does not need.
    monkeypatch.setattr(
        django_settings, "INSTALLED_APPS", [a for a in settings.INSTALLED_APPS if a != app]
    )
    assert wiring_ids() == ["twitch_intake.E022"]


def test_crispy_pack_allowed(settings):
    settings.CRISPY_TEMPLATE_PACK = "bootstrap4"
    settings.CRISPY_ALLOWED_TEMPLATE_PACKS = ("bootstrap4",)
    assert wiring_ids() == ["twitch_intake.E023"]
    settings.CRISPY_ALLOWED_TEMPLATE_PACKS = ("bootstrap4", "bootstrap5")
    assert wiring_ids() == []


def test_checks_are_registered():
    registered = checks.registry.registry.get_checks()
    assert {
        check_settings,
        check_wiring,
        check_database,
        check_mfa,
        check_advice_phone,
        check_axes,
    } <= set(registered)


def test_the_second_factor_middleware_is_required_with_mfa(settings):
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "REQUIRE_MFA": True}
    assert [m.id for m in check_mfa()] == []
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "SecondFactor" not in m]
    assert [m.id for m in check_mfa()] == ["twitch_intake.E033"]


@pytest.mark.parametrize("phone", ["", "0800 111 222", "+34 900 123 456"])
def test_advice_phone_empty_or_a_number_passes(settings, phone):
    settings.TWITCH_INTAKE = {**BASE, "ADVICE_PHONE": phone}
    assert check_advice_phone() == []
    assert ids(settings, ADVICE_PHONE=phone) == []  # a known key


@pytest.mark.parametrize("phone", [8001112222, None, "ask the nurse", ["0800 111 222"]])
def test_advice_phone(settings, phone):
    settings.TWITCH_INTAKE = {**BASE, "ADVICE_PHONE": phone}
    assert [m.id for m in check_advice_phone()] == ["twitch_intake.E040"]


def test_every_setting_is_checked_for_its_type(settings):
    """Each key of DEFAULTS has a type check (so a new setting cannot go unchecked)."""
    from twitch_intake.conf import DEFAULTS

    wrong = object()
    for key in DEFAULTS:
        settings.TWITCH_INTAKE = {**BASE, key: wrong}
        found = [m for check in (check_settings, check_advice_phone, check_mfa) for m in check()]
        assert [m.level for m in found] == [checks.ERROR], key


@pytest.mark.parametrize(
    ("middleware", "check_id"),
    [
        ("twitch_intake.middleware.SecurityHeadersMiddleware", "twitch_intake.E024"),
        ("twitch_intake.middleware.IdleSessionMiddleware", "twitch_intake.E025"),
        ("twitch_intake.middleware.DatabaseUnavailableMiddleware", "twitch_intake.E026"),
    ],
)
def test_the_apps_middleware_is_required(settings, middleware, check_id):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != middleware]
    assert wiring_ids() == [check_id]


def test_idle_middleware_after_sessions_and_authentication(settings):
    idle = "twitch_intake.middleware.IdleSessionMiddleware"
    rest = [m for m in settings.MIDDLEWARE if m != idle]
    auth = rest.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    settings.MIDDLEWARE = [*rest[:auth], idle, *rest[auth:]]
    assert wiring_ids() == ["twitch_intake.E027"]


def axes_ids():
    return [message.id for message in check_axes()]


def test_axes_settings_of_the_test_site_pass():
    assert axes_ids() == []


@pytest.mark.parametrize(
    "parameters", [["ip_address"], ["username"], [["username"], "ip_address"], "absent"]
)
def test_axes_must_lock_by_user_and_address(settings, parameters):
    if parameters == "absent":
        del settings.AXES_LOCKOUT_PARAMETERS  # axes' own default: the address alone
    else:
        settings.AXES_LOCKOUT_PARAMETERS = parameters
    assert axes_ids() == ["twitch_intake.W005"]


def test_axes_needs_a_cool_off(settings):
    del settings.AXES_COOLOFF_TIME
    assert axes_ids() == ["twitch_intake.W006"]


def test_axes_takes_the_apps_client_address(settings):
    del settings.AXES_CLIENT_IP_CALLABLE
    assert axes_ids() == ["twitch_intake.W007"]


def test_no_axes_no_axes_checks(settings, monkeypatch):
    monkeypatch.setattr(
        django_settings, "INSTALLED_APPS", [a for a in settings.INSTALLED_APPS if a != "axes"]
    )
    del settings.AXES_COOLOFF_TIME
    assert axes_ids() == []


@pytest.mark.parametrize("default", ["bootstrap4", "absent"])
def test_the_sites_default_pack_must_be_allowed(settings, default):
    # crispy refuses every {% crispy %} tag when the site's default pack is not allowed.
    if default == "absent":
        del settings.CRISPY_TEMPLATE_PACK  # crispy's own default: bootstrap4
    else:
        settings.CRISPY_TEMPLATE_PACK = default
    settings.CRISPY_ALLOWED_TEMPLATE_PACKS = ("bootstrap5",)
    assert wiring_ids() == ["twitch_intake.E028"]


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
    ],
)
def test_alerts_through_a_backend_that_delivers_nothing_are_an_error_in_production(
    settings, backend
):
    use_backend(settings, backend)
    settings.DEBUG = False
    [message] = check_settings_with(settings)
    assert message.id == "twitch_intake.E029" and message.hint
    settings.DEBUG = True
    assert check_settings_with(settings) == []


def test_alerts_through_smtp_or_a_provider_pass(settings):
    settings.DEBUG = False
    for backend in (
        "django.core.mail.backends.smtp.EmailBackend",
        "anymail.backends.amazon_ses.EmailBackend",
    ):
        use_backend(settings, backend)
        assert check_settings_with(settings) == []


@pytest.mark.skipif(django.VERSION < (6, 1), reason="MAILERS exists from Django 6.1")
def test_the_mailer_is_read_from_mailers_where_django_has_them(settings):
    settings.DEBUG = False
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
    assert ids(settings) == ["twitch_intake.E029"]


def test_a_session_engine_the_server_cannot_end_is_an_error(settings):
    from twitch_intake.checks import check_wiring

    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    assert "twitch_intake.E035" in [m.id for m in check_wiring()]
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    assert "twitch_intake.E035" not in [m.id for m in check_wiring()]


@pytest.mark.parametrize("where", ["missing", "after csrf"])
def test_the_charset_middleware_must_come_before_csrf(settings, where):
    from twitch_intake.checks import check_wiring

    charset = "twitch_intake.middleware.RequestCharsetMiddleware"
    middleware = [m for m in settings.MIDDLEWARE if m != charset]
    if where == "after csrf":
        middleware.append(charset)
    settings.MIDDLEWARE = middleware
    assert "twitch_intake.E034" in [m.id for m in check_wiring()]


def test_the_wiring_as_the_tests_have_it_has_neither(settings):
    from twitch_intake.checks import check_wiring

    assert not {"twitch_intake.E034", "twitch_intake.E035"} & {m.id for m in check_wiring()}


def test_a_site_url_over_plain_http_in_production_is_an_error(settings):
    settings.DEBUG = False
    assert ids(settings, SITE_URL="http://intake.clinic.example") == ["twitch_intake.E036"]
    settings.DEBUG = True
    assert ids(settings, SITE_URL="http://localhost:8000") == []


def test_settings_that_are_not_a_dict_are_reported_not_a_crash(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.TWITCH_INTAKE = "oops"
    with pytest.raises(SystemCheckError, match="E000"):
        call_command("check")


def test_mailers_are_read_only_where_django_reads_them(settings):
    settings.DEBUG = False
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend"}}
    dummy = "django.core.mail.backends.dummy.EmailBackend"
    if django.VERSION < (6, 1):
        settings.EMAIL_BACKEND = dummy  # what 5.2 sends with, MAILERS unread
        assert ids(settings) == ["twitch_intake.E029"]
    else:
        assert ids(settings) == []


def test_second_factor_secrets_shown_in_the_admin_are_an_error(settings):
    from twitch_intake.checks import check_wiring

    settings.OTP_ADMIN_HIDE_SENSITIVE_DATA = False
    assert "twitch_intake.E037" in [m.id for m in check_wiring()]
    settings.OTP_ADMIN_HIDE_SENSITIVE_DATA = True
    assert "twitch_intake.E037" not in [m.id for m in check_wiring()]


def test_settings_in_any_mapping_are_read(settings):
    from types import MappingProxyType

    from twitch_intake.conf import app_settings

    settings.TWITCH_INTAKE = MappingProxyType({**BASE, "ALERT_EMAILS": ["a@clinic.test"]})
    assert app_settings.ALERT_EMAILS == ["a@clinic.test"]
    assert check_settings(None) == []
