"""The app's settings: one ``TWITCH_INTAKE`` dict in the host's settings, read when used.

Every value has a safe default, so a clinic only sets what differs (its name and phone at
least). Reading on each access, not at import, is what lets ``override_settings`` work.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time, timedelta
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "CLINIC_NAME": "",
    "SITE_TITLE": "",
    "CLINIC_PHONE": "",
    "EMERGENCY_NUMBER": "911",
    "ADVICE_PHONE": "",
    "ALERT_EMAILS": [],
    "SITE_URL": "",
    "LINK_LIFETIME": timedelta(days=14),
    "SELF_START": False,
    "DOB_ATTEMPTS": 5,
    "LOCKOUT": timedelta(minutes=15),
    "TRUSTED_PROXY_COUNT": 0,
    "RATE_LIMIT": 20,
    "RATE_WINDOW": timedelta(minutes=15),
    "REQUIRE_MFA": True,
    "IDLE_TIMEOUT": timedelta(minutes=30),
    "STAFF_IDLE_TIMEOUT": None,
    "PHONE_REGION": "US",
    "SMS_BACKEND": "",
    "SMS_OPTIONS": {},
    "REMINDERS": [timedelta(days=7), timedelta(days=3)],
    "QUIET_HOURS": (time(21, 0), time(8, 0)),
    "MESSAGE_ATTEMPTS": 8,
}


class Settings:
    def _get(self, name: str) -> Any:
        # Any: the host's settings are untyped. Each property binds the value to the type it
        # documents (as before, the value is returned as the host set it, not converted).
        given = getattr(settings, "TWITCH_INTAKE", {})
        # Not a dict is check E000; until it is fixed every setting reads as its default, so
        # that the other checks report instead of crashing on it.
        return given.get(name, DEFAULTS[name]) if isinstance(given, Mapping) else DEFAULTS[name]

    @property
    def CLINIC_NAME(self) -> str:
        """Shown to patients on every page and in the alert email."""
        value: str = self._get("CLINIC_NAME")
        return value

    @property
    def SITE_TITLE(self) -> str:
        """The name on the app's staff screens (the queue, encounters, the access log, the
        second-factor pages) in place of "Django administration"; empty: ``CLINIC_NAME``. The
        host's own admin pages keep the host's header (the app is a guest in its admin)."""
        value: str = self._get("SITE_TITLE")
        return value or self.CLINIC_NAME

    @property
    def CLINIC_PHONE(self) -> str:
        """The number a patient calls with a question or when told to contact the clinic."""
        value: str = self._get("CLINIC_PHONE")
        return value

    @property
    def EMERGENCY_NUMBER(self) -> str:
        """The emergency number shown on the emergency page (911 in the US, 112 in the EU)."""
        value: str = self._get("EMERGENCY_NUMBER")
        return value

    @property
    def ADVICE_PHONE(self) -> str:
        """An advice line that answers at all hours (a nurse line, the health service's own),
        offered on the get-care page; empty: none is offered. Never the clinic's office number:
        a patient with an emergency sign must not be told to wait for office hours."""
        value: str = self._get("ADVICE_PHONE")
        return value

    @property
    def ALERT_EMAILS(self) -> list[str]:
        """Who is emailed (no health details) when a patient reports an emergency sign."""
        return list(self._get("ALERT_EMAILS"))

    @property
    def SITE_URL(self) -> str:
        """Scheme and host for links in emails, e.g. ``https://intake.clinic.example``."""
        return str(self._get("SITE_URL")).rstrip("/")

    @property
    def LINK_LIFETIME(self) -> timedelta:
        """How long a patient's link works after it is made."""
        value: timedelta = self._get("LINK_LIFETIME")
        return value

    @property
    def SELF_START(self) -> bool:
        """Whether walk-in patients may start an intake at ``start/`` without a link."""
        return bool(self._get("SELF_START"))

    @property
    def DOB_ATTEMPTS(self) -> int:
        """Wrong dates of birth allowed before a link is locked."""
        value: int = self._get("DOB_ATTEMPTS")
        return value

    @property
    def LOCKOUT(self) -> timedelta:
        """How long a link stays locked after too many wrong dates of birth."""
        value: timedelta = self._get("LOCKOUT")
        return value

    @property
    def TRUSTED_PROXY_COUNT(self) -> int:
        """Reverse proxies in front of the app whose X-Forwarded-For may be trusted (0: none)."""
        value: int = self._get("TRUSTED_PROXY_COUNT")
        return value

    @property
    def RATE_LIMIT(self) -> int:
        """Failed link, date-of-birth and self-start attempts allowed per client per window."""
        value: int = self._get("RATE_LIMIT")
        return value

    @property
    def RATE_WINDOW(self) -> timedelta:
        value: timedelta = self._get("RATE_WINDOW")
        return value

    @property
    def REQUIRE_MFA(self) -> bool:
        """Whether staff who may read summaries (``view_summary``, superusers too) must confirm
        a second factor before the app's admin shows them health data.

        On unless the host turns it off: a stolen or guessed password alone must not open every
        patient's answers. Needs ``django_otp`` and its TOTP and static plugins installed and
        ``django_otp.middleware.OTPMiddleware`` after ``AuthenticationMiddleware``.
        """
        value: bool = self._get("REQUIRE_MFA")
        return value

    @property
    def IDLE_TIMEOUT(self) -> timedelta:
        """A patient's session ends after this long without a request (a phone left on a
        waiting-room chair); the host's ``SESSION_COOKIE_AGE`` is left to its other users."""
        value: timedelta = self._get("IDLE_TIMEOUT")
        return value

    @property
    def STAFF_IDLE_TIMEOUT(self) -> timedelta | None:
        """When set, staff sessions (``is_staff``) end after this long idle too; ``None`` (the
        default) leaves them to the host's session settings."""
        value: timedelta | None = self._get("STAFF_IDLE_TIMEOUT")
        return value

    @property
    def PHONE_REGION(self) -> str:
        """The clinic's region (ISO 3166 code, e.g. ``"US"``, ``"ES"``): a mobile number typed
        without a country code is read as a number of this region."""
        return str(self._get("PHONE_REGION")).upper()

    @property
    def SMS_BACKEND(self) -> str:
        """Dotted path of the text-message backend (``twitch_intake.sms.backends.*``), in the
        manner of ``EMAIL_BACKEND``; empty: the clinic sends no text messages."""
        return str(self._get("SMS_BACKEND"))

    @property
    def SMS_OPTIONS(self) -> dict[str, Any]:
        """Keyword arguments for the text-message backend (a provider's account and sender)."""
        return dict(self._get("SMS_OPTIONS"))

    @property
    def REMINDERS(self) -> list[timedelta]:
        """How long before the visit each reminder goes, while the intake is not submitted."""
        return list(self._get("REMINDERS"))

    @property
    def QUIET_HOURS(self) -> tuple[time, time]:
        """From when to when (the clinic's ``TIME_ZONE``) no message is sent to a patient: one
        due then waits for the end of the quiet hours."""
        start, end = self._get("QUIET_HOURS")
        return start, end

    @property
    def MESSAGE_ATTEMPTS(self) -> int:
        """Tries to deliver one message before it is marked failed, for staff to phone."""
        value: int = self._get("MESSAGE_ATTEMPTS")
        return value

    def contact(self) -> dict[str, str]:
        """What every patient page shows: who to call, and the emergency number."""
        return {
            "clinic_name": self.CLINIC_NAME,
            "clinic_phone": self.CLINIC_PHONE,
            "emergency_number": self.EMERGENCY_NUMBER,
            "advice_phone": self.ADVICE_PHONE,
        }


app_settings = Settings()
