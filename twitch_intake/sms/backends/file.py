"""Development: each message is one file in ``SMS_OPTIONS["file_path"]``, like Django's file
email backend (a worker in another process writes them where the developer can read them)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import BaseSMSBackend

if TYPE_CHECKING:
    from .. import SMS


class SMSBackend(BaseSMSBackend):
    def __init__(self, *, file_path: str | Path = "", **options: Any) -> None:
        super().__init__(**options)
        if not file_path:
            raise ValueError("The file SMS backend needs SMS_OPTIONS['file_path'].")
        self.file_path = Path(file_path)

    def send(self, message: SMS) -> None:
        self.file_path.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        name = f"{stamp}-{secrets.token_hex(4)}.json"
        (self.file_path / name).write_text(
            json.dumps({"to": message.to, "body": message.body}, ensure_ascii=False),
            encoding="utf-8",
        )
