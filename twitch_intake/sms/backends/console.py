"""Development: each message is written to standard output, like Django's console email."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from .base import BaseSMSBackend

if TYPE_CHECKING:
    from .. import SMS


class SMSBackend(BaseSMSBackend):
    def __init__(self, *, stream: TextIO | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.stream = stream or sys.stdout

    def send(self, message: SMS) -> None:
        self.stream.write(f"Text message to {message.to}\n{message.body}\n{'-' * 79}\n")
        self.stream.flush()
