"""Twilio's Programmable Messaging through Twilio's official client (``twitch-intake[twilio]``).

``SMS_OPTIONS``: ``account_sid``, ``auth_token``, and ``from_`` (a number in E.164) or
``messaging_service_sid``; ``timeout`` in seconds (default 10), so a stalled provider holds a
worker for that long at most; ``api_url`` only to point the client elsewhere (the tests' fake
provider). Twilio's client logs requests at INFO without their bodies; this backend logs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import SMSError
from .base import BaseSMSBackend

if TYPE_CHECKING:
    from .. import SMS

#: Twilio error codes after which the same message to the same number can never succeed:
#: invalid or unreachable "To", a landline, an opted-out number, an unverified trial number.
PERMANENT_CODES = frozenset({21211, 21214, 21408, 21610, 21612, 21614, 21608})


class SMSBackend(BaseSMSBackend):
    def __init__(
        self,
        *,
        account_sid: str = "",
        auth_token: str = "",
        from_: str = "",
        messaging_service_sid: str = "",
        timeout: float = 10,
        api_url: str = "",
        **options: Any,
    ) -> None:
        super().__init__(**options)
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        if api_url:
            self.client.api.base_url = api_url
        self.sender = (
            {"messaging_service_sid": messaging_service_sid} if messaging_service_sid else {}
        ) or {"from_": from_}

    def send(self, message: SMS) -> None:
        from requests import RequestException
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            self.client.messages.create(to=message.to, body=message.body, **self.sender)
        except TwilioRestException as error:
            # Never error.msg: Twilio's texts quote the number.
            permanent = error.code in PERMANENT_CODES or error.status in {401, 403}
            raise SMSError(
                f"Twilio HTTP {error.status} error {error.code}", permanent=permanent
            ) from None
        except (TwilioException, RequestException) as error:
            # A timeout or a refused connection: worth another try later.
            raise SMSError(f"Twilio {type(error).__name__}") from None
