from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .. import SMS


class BaseSMSBackend:
    """Takes the ``SMS_OPTIONS`` it knows as keyword arguments; sends one message or raises."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    def send(self, message: SMS) -> None:  # pragma: no cover - the interface
        raise NotImplementedError
