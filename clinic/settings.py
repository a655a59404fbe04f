"""The demo clinic's settings, read from the environment.

Development (``make demo``) sets ``DJANGO_DEBUG=1``; everything else is production-safe by
default: with DEBUG off, ``SECRET_KEY`` and ``ALLOWED_HOSTS`` must be given, and cookies are
secure with HSTS on. Importing this module never starts a database.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


DEBUG = _env_bool("DJANGO_DEBUG")


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY", "")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_DEBUG is off.")
    # Development only: one random key per checkout, kept out of git, so sessions survive restarts.
    path = BASE_DIR / ".pgdata.secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS")
if DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DJANGO_DEBUG is off.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "crispy_forms",
    "crispy_bootstrap5",
    "pgtrigger",
    "pghistory",  # the append-only history of answers and identity (triggers)
    "axes",
    "django_otp",  # staff second factor: TOTP apps and one-use backup codes
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "procrastinate.contrib.django",  # the alert queue's jobs table, admin and worker command
    "twitch_intake",
]

MIDDLEWARE = [
    "twitch_intake.middleware.SecurityHeadersMiddleware",  # the app's pages only, outermost
    "django.middleware.security.SecurityMiddleware",
    "twitch_intake.middleware.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "twitch_intake.middleware.RequestCharsetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(), after authentication
    "twitch_intake.mfa.SecondFactorMiddleware",  # no admin page before the second factor
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "twitch_intake.middleware.IdleSessionMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if not os.environ.get("DATABASE_URL"):
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. 'make demo' and 'make test' start an embedded PostgreSQL "
        "and set it for you; otherwise export DATABASE_URL=postgres://USER:PASSWORD@HOST/DBNAME."
    )
DATABASES = {"default": dj_database_url.config(conn_max_age=60, conn_health_checks=True)}
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Shared by every app server: rate limits and throttles must not be per process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "twitch_intake_cache",
    }
}

AUTHENTICATION_BACKENDS = [
    "twitch_intake.backends.AxesBackend",  # axes, for sign-ins over HTTP
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Proxies in front whose X-Forwarded-For is trusted: one rule for axes and the app's limits.
_TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
AXES_CLIENT_IP_CALLABLE = "twitch_intake.lockout.axes_client_address"

# Staff who read health data confirm a code from an authenticator app (TOTP) or a backup code.
# Required in production; the demo (DEBUG) stays usable with passwords unless REQUIRE_MFA=1.
_REQUIRE_MFA = _env_bool("REQUIRE_MFA", not DEBUG)
OTP_TOTP_ISSUER = os.environ.get("CLINIC_NAME", "Riverside Neurology Clinic")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin never shows a device's secret

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en")
LANGUAGES = [("en", "English"), ("es", "Español")]
TIME_ZONE = os.environ.get("TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
if not DEBUG:
    # collectstatic writes gzip and Brotli copies with hashed names; WhiteNoise serves them
    # compressed and cacheable for a year. (In DEBUG, runserver serves the app's files as they are.)
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Patients' and (STAFF_IDLE_TIMEOUT) staff sessions end after 30 idle minutes: IdleSessionMiddleware.
SESSION_COOKIE_AGE = 30 * 60
# Django's database sessions, read with one plain query (twitch_intake/sessions.py).
SESSION_ENGINE = "twitch_intake.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True

if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", True)
    if _TRUSTED_PROXY_COUNT:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

_EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
if django.VERSION >= (6, 1):  # MAILERS replaces EMAIL_BACKEND
    MAILERS = {"default": {"BACKEND": _EMAIL_BACKEND}}
else:
    EMAIL_BACKEND = _EMAIL_BACKEND
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "intake@clinic.example")

TWITCH_INTAKE = {
    "CLINIC_NAME": os.environ.get("CLINIC_NAME", "Riverside Neurology Clinic"),
    "CLINIC_PHONE": os.environ.get("CLINIC_PHONE", "555-0100"),
    "EMERGENCY_NUMBER": os.environ.get("EMERGENCY_NUMBER", "911"),
    "ALERT_EMAILS": _env_list("ALERT_EMAILS") or (["on-call@clinic.example"] if DEBUG else []),
    "SITE_URL": os.environ.get("SITE_URL", "http://127.0.0.1:8000" if DEBUG else ""),
    "SELF_START": _env_bool("SELF_START", DEBUG),
    # Text messages: printed by the worker in development (make demo), none in production
    # until a provider is set (README, "Invitations and reminders").
    "SMS_BACKEND": os.environ.get(
        "SMS_BACKEND", "twitch_intake.sms.backends.console.SMSBackend" if DEBUG else ""
    ),
    "PHONE_REGION": os.environ.get("PHONE_REGION", "US"),
    "TRUSTED_PROXY_COUNT": _TRUSTED_PROXY_COUNT,
    "REQUIRE_MFA": _REQUIRE_MFA,
    "STAFF_IDLE_TIMEOUT": timedelta(minutes=30),  # the demo's staff too
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_links": {"()": "twitch_intake.logs.RedactLinkTokens"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_links"]},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# The admin's messages name the patient ("The encounter “…” was changed"): on the server, not in
# Django's default cookie (signed, not encrypted).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
