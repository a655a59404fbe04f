"""System checks: a wrong ``TWITCH_INTAKE`` value is reported at start, not at a patient's visit."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connections

from .conf import DEFAULTS, app_settings

_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-.]{1,30}$")


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    errors: list[Error | Warning] = []
    given = getattr(settings, "TWITCH_INTAKE", {})
    if not isinstance(given, dict):
        return [Error("TWITCH_INTAKE must be a dict.", id="twitch_intake.E000")]
    for key in sorted(set(given) - set(DEFAULTS)):
        errors.append(
            Error(
                f"TWITCH_INTAKE has an unknown key {key!r}.",
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
                id="twitch_intake.E001",
            )
        )
    number = app_settings.EMERGENCY_NUMBER
    if not isinstance(number, str) or not _PHONE.match(number):
        errors.append(
            Error(
                "TWITCH_INTAKE['EMERGENCY_NUMBER'] must be a phone number such as '911' or '112'.",
                hint="Patients who report an emergency sign are told to call it.",
                id="twitch_intake.E002",
            )
        )
    lifetime = app_settings.LINK_LIFETIME
    if not isinstance(lifetime, timedelta) or lifetime <= timedelta(0):
        errors.append(
            Error(
                "TWITCH_INTAKE['LINK_LIFETIME'] must be a positive datetime.timedelta.",
                id="twitch_intake.E003",
            )
        )
    alerts = app_settings.ALERT_EMAILS
    for address in alerts:
        try:
            validate_email(address)
        except ValidationError:
            errors.append(
                Error(
                    f"TWITCH_INTAKE['ALERT_EMAILS'] has an invalid address {address!r}.",
                    id="twitch_intake.E004",
                )
            )
    phone = app_settings.CLINIC_PHONE
    if not phone or not _PHONE.match(str(phone)):
        errors.append(
            Warning(
                "TWITCH_INTAKE['CLINIC_PHONE'] is not set to a phone number.",
                hint="Patients are told to call the clinic; without it they are shown no number.",
                id="twitch_intake.W001",
            )
        )
    if not alerts:
        errors.append(
            Warning(
                "TWITCH_INTAKE['ALERT_EMAILS'] is empty: nobody is emailed when a patient reports an emergency sign.",
                id="twitch_intake.W002",
            )
        )
    return errors


@register(Tags.database)
def check_database(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    for alias in databases or []:
        if connections[alias].vendor != "postgresql":
            errors.append(
                Error(
                    f"Database {alias!r} is {connections[alias].vendor}; twitch_intake needs PostgreSQL.",
                    hint="It relies on JSONB, arrays, GIN indexes and triggers.",
                    id="twitch_intake.E005",
                )
            )
    return errors


#: What ``REQUIRE_MFA`` needs from the host: django-otp's apps, and its middleware after Django's
#: authentication (it gives ``request.user.is_verified()``).
OTP_APPS = ("django_otp", "django_otp.plugins.otp_totp", "django_otp.plugins.otp_static")
OTP_MIDDLEWARE = "django_otp.middleware.OTPMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


@register(Tags.security)
def check_mfa(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    required = app_settings.REQUIRE_MFA
    if not isinstance(required, bool):
        return [
            Error(
                "TWITCH_INTAKE['REQUIRE_MFA'] must be True or False.",
                hint="True makes clinicians confirm a second factor before they read a summary.",
                id="twitch_intake.E020",
            )
        ]
    if not required:
        return []
    errors = []
    middleware = list(settings.MIDDLEWARE)
    if (
        OTP_MIDDLEWARE not in middleware
        or AUTH_MIDDLEWARE not in middleware
        or middleware.index(OTP_MIDDLEWARE) < middleware.index(AUTH_MIDDLEWARE)
    ):
        errors.append(
            Error(
                f"TWITCH_INTAKE['REQUIRE_MFA'] is on but {OTP_MIDDLEWARE} is not in MIDDLEWARE "
                "after AuthenticationMiddleware.",
                hint="Add it right after django.contrib.auth.middleware.AuthenticationMiddleware.",
                id="twitch_intake.E021",
            )
        )
    missing = [app for app in OTP_APPS if app not in settings.INSTALLED_APPS]
    if missing:
        errors.append(
            Error(
                f"TWITCH_INTAKE['REQUIRE_MFA'] is on but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not in INSTALLED_APPS.",
                hint="Add django_otp and its otp_totp and otp_static plugins, then migrate.",
                id="twitch_intake.E022",
            )
        )
    return errors
