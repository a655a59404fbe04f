"""A patient's browser for the security tests: a test client whose session is bound to one
encounter, reached the way a patient reaches it (the link, then the date of birth)."""

from __future__ import annotations

from django.test import Client

from tests.factories import issue
from twitch_intake.models import Encounter


def bound_client(encounter: Encounter) -> Client:
    client = Client()
    token = issue(encounter)
    response = client.post(
        f"/intake/link/{token}/", {"date_of_birth": encounter.date_of_birth.isoformat()}
    )
    assert response.status_code == 302, response.status_code
    return client
