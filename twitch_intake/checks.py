"""System checks: a wrong setting or wiring is reported at start, not at a patient's visit.

Every ``TWITCH_INTAKE`` value is checked for its type and range, because settings often come
from environment variables: ``RATE_LIMIT="20"`` would fail on the first link and
``SELF_START="no"`` is truthy. The host's wiring the app relies on (sessions, CSRF, crispy's
template pack, a short ``LANGUAGES``) is checked too, so a missing line is an error with a hint
at ``manage.py check`` instead of a 500 for the first patient.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from datetime import time, timedelta
from typing import Any
from urllib.parse import urlsplit

import django
from django.conf import settings
from django.conf.global_settings import LANGUAGES as DJANGO_LANGUAGES
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connections

from .conf import DEFAULTS, app_settings
from .middleware import answers_outage_on_save

_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-.]{1,30}$")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _positive_duration(value: Any) -> bool:
    return isinstance(value, timedelta) and value > timedelta(0)


def _site_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if not value:
        return True
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and not parts.query


#: (key, is the value acceptable, what it must be, check id). Phone numbers, the alert
#: addresses and SITE_URL in production have checks of their own below.
_SHAPES: tuple[tuple[str, Callable[[Any], bool], str, str], ...] = (
    ("LINK_LIFETIME", _positive_duration, "a positive datetime.timedelta", "twitch_intake.E003"),
    ("CLINIC_NAME", lambda v: isinstance(v, str), "a string", "twitch_intake.E006"),
    (
        "SITE_TITLE",
        lambda v: isinstance(v, str) and "\n" not in v and len(v) <= 100,
        "a string of one line (at most 100 characters)",
        "twitch_intake.E048",
    ),
    (
        "SITE_URL",
        _site_url,
        "'' or an http(s) URL such as 'https://intake.example'",
        "twitch_intake.E007",
    ),
    (
        "SELF_START",
        lambda v: isinstance(v, bool),
        "True or False (not a string)",
        "twitch_intake.E008",
    ),
    ("DOB_ATTEMPTS", _positive_int, "a whole number of at least 1", "twitch_intake.E009"),
    ("LOCKOUT", _positive_duration, "a positive datetime.timedelta", "twitch_intake.E010"),
    (
        "TRUSTED_PROXY_COUNT",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 5,
        "a whole number from 0 to 5",
        "twitch_intake.E011",
    ),
    ("RATE_LIMIT", _positive_int, "a whole number of at least 1", "twitch_intake.E012"),
    ("RATE_WINDOW", _positive_duration, "a positive datetime.timedelta", "twitch_intake.E013"),
    ("IDLE_TIMEOUT", _positive_duration, "a positive datetime.timedelta", "twitch_intake.E018"),
    (
        "STAFF_IDLE_TIMEOUT",
        lambda v: v is None or _positive_duration(v),
        "None or a positive datetime.timedelta",
        "twitch_intake.E019",
    ),
)


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    given = getattr(settings, "TWITCH_INTAKE", {})
    if not isinstance(given, Mapping):
        return [Error("TWITCH_INTAKE must be a dict.", id="twitch_intake.E000")]
    for key in sorted(set(given) - set(DEFAULTS)):
        errors.append(
            Error(
                f"TWITCH_INTAKE has an unknown key {key!r}.",
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
                id="twitch_intake.E001",
            )
        )
    for key, acceptable, must_be, check_id in _SHAPES:
        value = given.get(key, DEFAULTS[key])
        if not acceptable(value):
            errors.append(
                Error(
                    f"TWITCH_INTAKE[{key!r}] must be {must_be}; it is {value!r}.",
                    hint="Settings read from the environment arrive as strings: convert them.",
                    id=check_id,
                )
            )
    number = given.get("EMERGENCY_NUMBER", DEFAULTS["EMERGENCY_NUMBER"])
    if not isinstance(number, str) or not _PHONE.match(number):
        errors.append(
            Error(
                "TWITCH_INTAKE['EMERGENCY_NUMBER'] must be a phone number such as '911' or '112'.",
                hint="Patients who report an emergency sign are told to call it.",
                id="twitch_intake.E002",
            )
        )
    errors += _check_alert_emails(given.get("ALERT_EMAILS", DEFAULTS["ALERT_EMAILS"]))
    errors += _check_messages(given)
    phone = given.get("CLINIC_PHONE", DEFAULTS["CLINIC_PHONE"])
    if not isinstance(phone, str):
        errors.append(
            Error(
                f"TWITCH_INTAKE['CLINIC_PHONE'] must be a string; it is {phone!r}.",
                id="twitch_intake.E015",
            )
        )
    elif not _PHONE.match(phone):
        errors.append(
            Warning(
                "TWITCH_INTAKE['CLINIC_PHONE'] is not set to a phone number.",
                hint="Patients are told to call the clinic; without it they are shown no number.",
                id="twitch_intake.W001",
            )
        )
    if not settings.DEBUG and not app_settings.SITE_URL:
        errors.append(
            Error(
                "TWITCH_INTAKE['SITE_URL'] is not set.",
                hint="Links in emails to staff and patients are built from it, e.g. "
                "'https://intake.clinic.example'.",
                id="twitch_intake.E016",
            )
        )
    site = app_settings.SITE_URL
    if (
        not settings.DEBUG
        and isinstance(site, str)
        and site.lower().startswith("http://")
        and urlsplit(site).hostname not in ("localhost", "127.0.0.1", "::1")  # this machine
    ):
        errors.append(
            Error(
                f"TWITCH_INTAKE['SITE_URL'] is {site!r}: links to the summary (in alerts) and "
                "to the intake would travel over plain HTTP.",
                hint="Serve the site over HTTPS and start SITE_URL with https://.",
                id="twitch_intake.E036",
            )
        )
    return errors


@register(Tags.compatibility)
def check_advice_phone(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``ADVICE_PHONE``: empty (no advice line offered) or a phone number, as a string."""
    given = getattr(settings, "TWITCH_INTAKE", {})
    if not isinstance(given, Mapping):
        return []  # check_settings reports it (E000)
    phone = given.get("ADVICE_PHONE", DEFAULTS["ADVICE_PHONE"])
    if isinstance(phone, str) and (phone == "" or _PHONE.match(phone)):
        return []
    return [
        Error(
            f"TWITCH_INTAKE['ADVICE_PHONE'] must be '' or a phone number as a string; it is "
            f"{phone!r}.",
            hint="The get-care page offers it to patients with an emergency sign: set it only "
            "to a line that answers at all hours, or leave it empty.",
            id="twitch_intake.E040",
        )
    ]


def _check_alert_emails(alerts: Any) -> list[CheckMessage]:
    # A single string would be read one character at a time: say so instead.
    if not isinstance(alerts, list | tuple) or not all(isinstance(a, str) for a in alerts):
        return [
            Error(
                f"TWITCH_INTAKE['ALERT_EMAILS'] must be a list of email addresses; it is {alerts!r}.",
                id="twitch_intake.E014",
            )
        ]
    errors: list[CheckMessage] = []
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
    if not alerts and not settings.DEBUG:
        # In production a clinic that cannot be alerted must not start as if it could: the
        # emergency alert is the app's only route to the clinic.
        errors.append(
            Error(
                "TWITCH_INTAKE['ALERT_EMAILS'] is empty: nobody is told when a patient reports "
                "an emergency sign.",
                hint="Set it to the addresses of whoever acts on an emergency while the clinic "
                "is open, e.g. ['on-call@clinic.example'].",
                id="twitch_intake.E017",
            )
        )
    elif not alerts:
        errors.append(
            Warning(
                "TWITCH_INTAKE['ALERT_EMAILS'] is empty: nobody is emailed when a patient reports an emergency sign.",
                hint="In production (DEBUG off) this is error twitch_intake.E017.",
                id="twitch_intake.W002",
            )
        )
    backend = _email_backend()
    if alerts and not settings.DEBUG and backend in _NO_DELIVERY_BACKENDS:
        # The patient is told "the clinic has been told" once the alert is queued; with a
        # backend that delivers nothing, that would be untrue for every emergency.
        errors.append(
            Error(
                f"The email backend is {backend!r}, which delivers no email: emergency alerts "
                "to ALERT_EMAILS would never arrive, while the patient is told the clinic was "
                "told.",
                hint="Use the SMTP backend (MAILERS['default'] on Django 6.1 and later, "
                "EMAIL_BACKEND with EMAIL_HOST, EMAIL_PORT and EMAIL_TIMEOUT before) or a "
                "provider's (django-anymail): see the README's mail settings.",
                id="twitch_intake.E029",
            )
        )
    return errors


def _reminders(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(_positive_duration(v) for v in value)


def _quiet_hours(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, time) and v.tzinfo is None for v in value)
    )


#: Text-message backends that print or store a message instead of sending it.
_NO_DELIVERY_SMS = frozenset(
    {
        "twitch_intake.sms.backends.console.SMSBackend",
        "twitch_intake.sms.backends.locmem.SMSBackend",
        "twitch_intake.sms.backends.file.SMSBackend",
    }
)


def _check_messages(given: Mapping[str, Any]) -> list[CheckMessage]:
    """Invitations and reminders: the region numbers are read with, the SMS backend, when."""
    import phonenumbers
    from django.utils.module_loading import import_string

    errors: list[CheckMessage] = []
    region = given.get("PHONE_REGION", DEFAULTS["PHONE_REGION"])
    if not isinstance(region, str) or region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        errors.append(
            Error(
                f"TWITCH_INTAKE['PHONE_REGION'] must be a region code such as 'US' or 'ES'; "
                f"it is {region!r}.",
                hint="Mobile numbers typed without a country code are read in this region.",
                id="twitch_intake.E041",
            )
        )
    backend = given.get("SMS_BACKEND", DEFAULTS["SMS_BACKEND"])
    options = given.get("SMS_OPTIONS", DEFAULTS["SMS_OPTIONS"])
    if not isinstance(options, dict):
        errors.append(
            Error(
                f"TWITCH_INTAKE['SMS_OPTIONS'] must be a dict; it is {type(options).__name__}.",
                id="twitch_intake.E042",
            )
        )
    if not isinstance(backend, str):
        errors.append(
            Error(
                f"TWITCH_INTAKE['SMS_BACKEND'] must be a dotted path; it is {backend!r}.",
                id="twitch_intake.E043",
            )
        )
    elif backend:
        try:
            import_string(backend)
        except ImportError as error:
            errors.append(
                Error(
                    f"TWITCH_INTAKE['SMS_BACKEND'] {backend!r} cannot be imported ({error}).",
                    hint="For Twilio: pip install 'twitch-intake[twilio]'.",
                    id="twitch_intake.E043",
                )
            )
        if not settings.DEBUG and backend in _NO_DELIVERY_SMS:
            errors.append(
                Error(
                    f"SMS_BACKEND is {backend!r}, which sends no text message: patients who "
                    "chose a text would never get their link.",
                    hint="Use a provider's backend (twitch_intake.sms.backends.twilio.SMSBackend)"
                    " or leave SMS_BACKEND empty to offer email and letters only.",
                    id="twitch_intake.E044",
                )
            )
    if not _reminders(given.get("REMINDERS", DEFAULTS["REMINDERS"])):
        errors.append(
            Error(
                "TWITCH_INTAKE['REMINDERS'] must be a list of positive datetime.timedelta "
                "(how long before the visit each reminder goes).",
                id="twitch_intake.E045",
            )
        )
    if not _quiet_hours(given.get("QUIET_HOURS", DEFAULTS["QUIET_HOURS"])):
        errors.append(
            Error(
                "TWITCH_INTAKE['QUIET_HOURS'] must be two datetime.time without a time zone, "
                "from and to, e.g. (time(21), time(8)): the clinic's TIME_ZONE applies.",
                id="twitch_intake.E046",
            )
        )
    if not _positive_int(given.get("MESSAGE_ATTEMPTS", DEFAULTS["MESSAGE_ATTEMPTS"])):
        errors.append(
            Error(
                "TWITCH_INTAKE['MESSAGE_ATTEMPTS'] must be a whole number of at least 1.",
                id="twitch_intake.E047",
            )
        )
    return errors


def _email_backend() -> str:
    """The default mailer's backend: ``MAILERS`` on Django 6.1 and later when set (earlier
    versions ignore it), else ``EMAIL_BACKEND``."""
    mailers = getattr(settings, "MAILERS", None) if django.VERSION >= (6, 1) else None
    if isinstance(mailers, dict) and isinstance(mailers.get("default"), dict):
        return str(mailers["default"].get("BACKEND", ""))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Django 6.1 deprecates EMAIL_BACKEND for MAILERS
        return str(getattr(settings, "EMAIL_BACKEND", ""))


#: Email backends that store or print a message instead of sending it: fine in development.
_NO_DELIVERY_BACKENDS = frozenset(
    {
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
    }
)


#: Middleware the patient's pages cannot work without, by the reason they are needed.
_REQUIRED_MIDDLEWARE = {
    "django.contrib.sessions.middleware.SessionMiddleware": "a patient's session holds their intake",
    "django.middleware.csrf.CsrfViewMiddleware": "every patient form is protected against CSRF",
}

#: The app's own middleware, each acting on the app's pages or sessions only (id, why, where).
_APP_MIDDLEWARE = (
    (
        "twitch_intake.middleware.SecurityHeadersMiddleware",
        "twitch_intake.E024",
        "the intake's pages promise a strict CSP, X-Frame-Options DENY and Referrer-Policy "
        "same-origin",
        "MIDDLEWARE.insert(0, 'twitch_intake.middleware.SecurityHeadersMiddleware')",
    ),
    (
        "twitch_intake.middleware.IdleSessionMiddleware",
        "twitch_intake.E025",
        "without it a patient's session lasts the site's SESSION_COOKIE_AGE (two weeks by "
        "default), not IDLE_TIMEOUT",
        "add it after SessionMiddleware and AuthenticationMiddleware",
    ),
    (
        "twitch_intake.middleware.DatabaseUnavailableMiddleware",
        "twitch_intake.E026",
        "a database outage would give patients a 500 page instead of a calm 503",
        "add it before SessionMiddleware (near the top); it answers only for the app's pages",
    ),
)


@register(Tags.compatibility)
def check_wiring(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    middleware = list(settings.MIDDLEWARE)
    for path, why in _REQUIRED_MIDDLEWARE.items():
        if path not in middleware:
            errors.append(
                Error(
                    f"{path} is not in MIDDLEWARE.",
                    hint=f"twitch_intake needs it: {why}.",
                    id="twitch_intake.E020",
                )
            )
    locale = "django.middleware.locale.LocaleMiddleware"
    session = "django.contrib.sessions.middleware.SessionMiddleware"
    if locale not in middleware:
        errors.append(
            Warning(
                f"{locale} is not in MIDDLEWARE: patients cannot switch language.",
                hint=f"Add it after {session}.",
                id="twitch_intake.W003",
            )
        )
    elif session in middleware and middleware.index(locale) < middleware.index(session):
        errors.append(
            Error(
                f"{locale} comes before {session} in MIDDLEWARE.",
                hint="Move it after the session middleware, as Django's documentation says.",
                id="twitch_intake.E021",
            )
        )
    unavailable = "twitch_intake.middleware.DatabaseUnavailableMiddleware"
    if (
        unavailable in middleware
        and session in middleware
        and not answers_outage_on_save(tuple(middleware))
    ):
        errors.append(
            Warning(
                f"{unavailable} comes after {session} in MIDDLEWARE.",
                hint="An outage while a patient's session is saved is then Django's 500, not "
                "the calm 503: move it before the session middleware.",
                id="twitch_intake.W008",
            )
        )
    if list(settings.LANGUAGES) == list(DJANGO_LANGUAGES):
        errors.append(
            Warning(
                "LANGUAGES is Django's default list of about 100 languages.",
                hint="Patients are offered every language in it; set the clinic's own, e.g. "
                "LANGUAGES = [('en', 'English'), ('es', 'Español')].",
                id="twitch_intake.W004",
            )
        )
    installed = set(settings.INSTALLED_APPS)
    for app in ("crispy_forms", "crispy_bootstrap5"):
        if app not in installed:
            errors.append(
                Error(
                    f"{app!r} is not in INSTALLED_APPS.",
                    hint="The patient's pages are drawn with django-crispy-forms and its "
                    "Bootstrap 5 pack.",
                    id="twitch_intake.E022",
                )
            )
    for path, check_id, why, where in _APP_MIDDLEWARE:
        if path not in middleware:
            errors.append(
                Error(f"{path} is not in MIDDLEWARE: {why}.", hint=where + ".", id=check_id)
            )
    charset = "twitch_intake.middleware.RequestCharsetMiddleware"
    csrf = "django.middleware.csrf.CsrfViewMiddleware"
    if charset not in middleware or (
        csrf in middleware and middleware.index(charset) > middleware.index(csrf)
    ):
        errors.append(
            Error(
                f"{charset} is not in MIDDLEWARE before {csrf}: a patient's page posted in "
                "another charset would be a 500, not a calm 400.",
                hint=f"MIDDLEWARE.insert(MIDDLEWARE.index({csrf!r}), {charset!r}).",
                id="twitch_intake.E034",
            )
        )
    engine = getattr(settings, "SESSION_ENGINE", "")
    if engine.endswith("signed_cookies"):
        errors.append(
            Error(
                f"SESSION_ENGINE is {engine!r}: a patient's session lives in their browser, so "
                "the server can neither end it after IDLE_TIMEOUT nor when a new link is issued.",
                hint="Use a server-side engine: django.contrib.sessions.backends.db (the "
                "default) or cached_db.",
                id="twitch_intake.E035",
            )
        )
    if "django_otp" in installed and not getattr(settings, "OTP_ADMIN_HIDE_SENSITIVE_DATA", False):
        errors.append(
            Error(
                "OTP_ADMIN_HIDE_SENSITIVE_DATA is not True: whoever may view a second-factor "
                "device in the admin reads its secret and the backup codes.",
                hint="Set OTP_ADMIN_HIDE_SENSITIVE_DATA = True.",
                id="twitch_intake.E037",
            )
        )
    session_at = middleware.index(session) if session in middleware else -1
    idle = "twitch_intake.middleware.IdleSessionMiddleware"
    if idle in middleware and middleware.index(idle) < max(
        session_at, _at(middleware, AUTH_MIDDLEWARE)
    ):
        errors.append(
            Error(
                f"{idle} comes before SessionMiddleware or AuthenticationMiddleware.",
                hint="Move it after both: it reads the session and the signed-in user.",
                id="twitch_intake.E027",
            )
        )
    packs = getattr(settings, "CRISPY_ALLOWED_TEMPLATE_PACKS", ())
    packs = (packs,) if isinstance(packs, str) else tuple(packs)
    if "bootstrap5" not in packs:
        errors.append(
            Error(
                "CRISPY_ALLOWED_TEMPLATE_PACKS does not include 'bootstrap5'.",
                hint="Add it (your site may keep its own default pack): "
                "CRISPY_ALLOWED_TEMPLATE_PACKS = ('bootstrap4', 'bootstrap5').",
                id="twitch_intake.E023",
            )
        )
    default = getattr(settings, "CRISPY_TEMPLATE_PACK", "bootstrap4")  # crispy's own default
    if packs and default not in packs:
        # crispy checks the site's default pack when it reads any {% crispy %} tag, even one
        # whose form names its own pack: every patient page would fail to compile.
        errors.append(
            Error(
                f"CRISPY_TEMPLATE_PACK ({default!r}) is not in CRISPY_ALLOWED_TEMPLATE_PACKS.",
                hint="Set CRISPY_TEMPLATE_PACK to one of the allowed packs (your site's own, or "
                "'bootstrap5'), or add it to the list.",
                id="twitch_intake.E028",
            )
        )
    return errors


def _at(middleware: list[str], path: str) -> int:
    return middleware.index(path) if path in middleware else -1


@register(Tags.security)
def check_axes(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """django-axes' defaults lock every user out from an address after three wrong passwords,
    for good: the app's staff sign-in needs a lock on user and address together, with a
    cool-off, and the client address taken by the app's proxy rule."""
    if "axes" not in settings.INSTALLED_APPS:
        return []
    errors: list[CheckMessage] = []
    parameters = getattr(settings, "AXES_LOCKOUT_PARAMETERS", ["ip_address"])
    combined = [p for p in parameters if not isinstance(p, str)]
    if not any(set(p) == {"username", "ip_address"} for p in combined) or any(
        isinstance(p, str) for p in parameters
    ):
        errors.append(
            Warning(
                f"AXES_LOCKOUT_PARAMETERS is {parameters!r}: wrong passwords lock out more than "
                "one user at one address.",
                hint='Set AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]].',
                id="twitch_intake.W005",
            )
        )
    if getattr(settings, "AXES_COOLOFF_TIME", None) is None:
        errors.append(
            Warning(
                "AXES_COOLOFF_TIME is not set: a locked-out user stays locked out until an "
                "administrator resets axes.",
                hint="Set AXES_COOLOFF_TIME = timedelta(minutes=15).",
                id="twitch_intake.W006",
            )
        )
    callable_path = getattr(settings, "AXES_CLIENT_IP_CALLABLE", None)
    if callable_path != "twitch_intake.lockout.axes_client_address":
        errors.append(
            Warning(
                "AXES_CLIENT_IP_CALLABLE is not twitch_intake.lockout.axes_client_address: "
                "behind a proxy every sign-in seems to come from the proxy.",
                hint='Set AXES_CLIENT_IP_CALLABLE = "twitch_intake.lockout.axes_client_address" '
                '(it follows TWITCH_INTAKE["TRUSTED_PROXY_COUNT"]).',
                id="twitch_intake.W007",
            )
        )
    return errors


@register(Tags.database)
def check_database(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
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
SECOND_FACTOR_MIDDLEWARE = "twitch_intake.mfa.SecondFactorMiddleware"


@register(Tags.security)
def check_mfa(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    required = app_settings.REQUIRE_MFA
    if not isinstance(required, bool):
        return [
            Error(
                "TWITCH_INTAKE['REQUIRE_MFA'] must be True or False.",
                hint="True makes clinicians confirm a second factor before they read a summary.",
                id="twitch_intake.E030",
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
                id="twitch_intake.E031",
            )
        )
    if SECOND_FACTOR_MIDDLEWARE not in middleware or (
        OTP_MIDDLEWARE in middleware
        and middleware.index(SECOND_FACTOR_MIDDLEWARE) < middleware.index(OTP_MIDDLEWARE)
    ):
        errors.append(
            Error(
                f"TWITCH_INTAKE['REQUIRE_MFA'] is on but {SECOND_FACTOR_MIDDLEWARE} is not in "
                "MIDDLEWARE after OTPMiddleware.",
                hint="Without it a password alone reaches the rest of the admin, django-otp's "
                "device pages included. Add it right after OTPMiddleware.",
                id="twitch_intake.E033",
            )
        )
    missing = [app for app in OTP_APPS if app not in settings.INSTALLED_APPS]
    if missing:
        errors.append(
            Error(
                f"TWITCH_INTAKE['REQUIRE_MFA'] is on but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not in INSTALLED_APPS.",
                hint="Add django_otp and its otp_totp and otp_static plugins, then migrate.",
                id="twitch_intake.E032",
            )
        )
    return errors
