"""``tests.settings`` for a queue worker that a test runs as its own process (to kill it): mail
goes over SMTP to the test's server on 127.0.0.1, at the port in ``TWITCH_TEST_SMTP_PORT``."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import django

_backend = "django.core.mail.backends.smtp.EmailBackend"
_port = int(os.environ["TWITCH_TEST_SMTP_PORT"])
if django.VERSION >= (6, 1):
    MAILERS = {"default": {"BACKEND": _backend, "OPTIONS": {"host": "127.0.0.1", "port": _port}}}
else:
    EMAIL_BACKEND = _backend
    EMAIL_HOST = "127.0.0.1"
    EMAIL_PORT = _port
