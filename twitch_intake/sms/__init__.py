"""Text messages to patients, through a pluggable backend in the manner of Django's email.

``TWITCH_INTAKE["SMS_BACKEND"]`` names a class with ``send(to, body)``: the console, file and
locmem backends here are for development and tests, and ``twilio`` talks to a real provider
through its official client (``pip install twitch-intake[twilio]``). A backend raises
:class:`SMSError` when a message was not accepted, saying whether trying again could help.

A message body holds the patient's link: backends never log it, and neither does anything here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.module_loading import import_string

from ..conf import app_settings
from .backends.base import BaseSMSBackend

#: The locmem backend's sent messages, like ``django.core.mail.outbox`` (tests empty it).
outbox: list[SMS] = []


@dataclass(frozen=True)
class SMS:
    to: str  # E.164
    body: str


class SMSError(Exception):
    """The provider did not accept a message. ``permanent``: trying again cannot help (a number
    that cannot receive texts, an account refused); otherwise the queue tries again later.
    The text is the provider's error code and class, never the number or the message."""

    def __init__(self, text: str, *, permanent: bool = False) -> None:
        super().__init__(text)
        self.permanent = permanent


def get_backend(path: str | None = None, **options: Any) -> BaseSMSBackend:
    """The configured backend (or ``path``), made with ``SMS_OPTIONS`` and then ``options``."""
    backend: type[BaseSMSBackend] = import_string(path or app_settings.SMS_BACKEND)
    return backend(**{**app_settings.SMS_OPTIONS, **options})


def send_sms(to: str, body: str) -> None:
    """Send one text message now, or raise (:class:`SMSError`, or the transport's error)."""
    get_backend().send(SMS(to=to, body=body))
