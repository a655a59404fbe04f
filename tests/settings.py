"""The smallest site that runs the app: proof that twitch_intake needs nothing from clinic/."""

import os
from datetime import time, timedelta

import dj_database_url
import django

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
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
    "django.middleware.security.SecurityMiddleware",
    "twitch_intake.middleware.DatabaseUnavailableMiddleware",
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
    "twitch_intake.middleware.SecurityHeadersMiddleware",
    "twitch_intake.middleware.IdleSessionMiddleware",
    "axes.middleware.AxesMiddleware",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
# make test always sets DATABASE_URL (the embedded server, or yours): never SQLite.
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=0)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "twitch_intake_cache",
    }
}
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "twitch_intake.lockout.axes_client_address"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
TIME_ZONE = "America/New_York"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
SESSION_COOKIE_AGE = 30 * 60
X_FRAME_OPTIONS = "DENY"
if django.VERSION >= (6, 1):  # MAILERS replaces EMAIL_BACKEND
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests read the mail they send (locmem), which in production would be error E029: a backend
# that delivers nothing. tests/test_checks.py checks E029 itself.
SILENCED_SYSTEM_CHECKS = ["twitch_intake.E029"]
TWITCH_INTAKE = {
    "CLINIC_NAME": "Test Clinic",
    "CLINIC_PHONE": "555-0100",
    "EMERGENCY_NUMBER": "911",
    "ALERT_EMAILS": ["on-call@clinic.test"],
    "SITE_URL": "https://intake.clinic.test",
    "SELF_START": True,
    # tests/test_admin.py signs clinicians in with force_login; tests/security/test_staff_mfa.py
    # turns this on (and proves the app's own default is on).
    "REQUIRE_MFA": False,
    # tests/test_admin.py holds staff to the idle limit too (off by default: the host decides).
    "STAFF_IDLE_TIMEOUT": timedelta(minutes=30),
    # Tests run at any hour, and a worker would hold a message back until 08:00: none here
    # (tests/test_invitations.py proves the default quiet hours with times of its own).
    "QUIET_HOURS": (time(0), time(0)),
}

# The admin's messages name the patient ("The encounter “…” was changed"): on the server, not in
# Django's default cookie (signed, not encrypted).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
