"""Tests: each message is appended to ``twitch_intake.sms.outbox``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import BaseSMSBackend

if TYPE_CHECKING:
    from .. import SMS


class SMSBackend(BaseSMSBackend):
    def send(self, message: SMS) -> None:
        from .. import outbox

        outbox.append(message)
