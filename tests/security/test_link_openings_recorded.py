"""The outside review after finding 2: the link front desk saw when creating an encounter keeps
working after the patient has started (links are only sent, never shown, with the invitations
work). Until then every opening of a link is an access event with its address, and the summary
says how often and from how many addresses the intake was opened, so that a second person
opening it is visible to the clinician.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import issue, make_encounter, routine_answers
from twitch_intake import services, summary
from twitch_intake.models import AccessEvent

pytestmark = pytest.mark.django_db


def open_link(token: str, address: str) -> int:
    client = Client(REMOTE_ADDR=address)
    return client.post(f"/intake/link/{token}/", {"date_of_birth": "1980-05-17"}).status_code


def test_every_opening_of_a_link_is_an_access_event_with_its_address():
    encounter = make_encounter(answers=routine_answers())
    token = issue(encounter)

    assert open_link(token, "198.51.100.7") == 302
    assert open_link(token, "203.0.113.9") == 302

    events = AccessEvent.objects.filter(encounter=encounter, action=AccessEvent.Action.PATIENT)
    assert sorted(e.client_address for e in events) == ["198.51.100.7", "203.0.113.9"]
    assert all(e.user_id is None for e in events)


def test_a_wrong_date_is_not_an_opening():
    encounter = make_encounter()
    token = issue(encounter)

    Client().post(f"/intake/link/{token}/", {"date_of_birth": "1999-09-09"})

    assert not AccessEvent.objects.filter(action=AccessEvent.Action.PATIENT).exists()


def test_the_summary_says_how_often_and_from_how_many_addresses():
    encounter = make_encounter(answers=routine_answers())
    token = issue(encounter)
    for address in ("198.51.100.7", "198.51.100.7", "203.0.113.9"):
        open_link(token, address)
    services.submit(encounter.pk)
    encounter.refresh_from_db()

    built = summary.build(encounter)
    assert (built.link_openings.times, built.link_openings.addresses) == (3, 2)
    text = summary.render_text(encounter)
    assert "Opened with the patient's link 3 times from 2 addresses" in text
    assert "Opened with the patient's link 3 times from 2 addresses" in summary.render_html(
        encounter
    )


def test_staff_events_still_need_a_user():
    from django.db import IntegrityError, transaction

    encounter = make_encounter()
    with pytest.raises(IntegrityError), transaction.atomic():
        AccessEvent.objects.create(encounter=encounter, user=None, action=AccessEvent.Action.VIEW)
