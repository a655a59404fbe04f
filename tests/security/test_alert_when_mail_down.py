"""Issue 13, finding 15: an emergency reported while the mail server is down must still reach
the clinic once the mail server is back.

Before the alert queue, a failed send reset ``alerted_at`` "for the next save", and after
submission there is no next save: the one email that tells the clinic was dropped for good.
"""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.alerting import SMTPServer, make_retries_due, run_workers
from tests.factories import answer_get_care, emergency_answers, issue, make_encounter, page_data
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = pytest.mark.usefixtures("queue")  # the worker reads committed rows


def test_an_emergency_submitted_while_mail_is_down_reaches_the_clinic_when_it_is_back(client):
    encounter = make_encounter()
    token = issue(encounter)
    assert client.post(f"/intake/link/{token}/", {"date_of_birth": "1980-05-17"}).status_code == 302
    answers = emergency_answers()

    with SMTPServer("refuse") as smtp, override_settings(**smtp.settings()):
        # The patient reports a seizure and submits while every attempt to send is refused.
        for page in TWITCH_INTAKE.pages():
            response = client.post(f"/intake/page/{page.slug}/", page_data(page.slug, answers))
            assert response.status_code == 302, page.slug
            answer_get_care(client, response, answers)
        assert client.post("/intake/submit/")["Location"] == "/intake/thanks/"
        assert client.get("/intake/thanks/").status_code == 200
        run_workers()  # the workers try now, and are refused too
        assert smtp.messages == []

        # The mail server comes back; nothing the patient does is needed any more.
        smtp.mode = "accept"
        make_retries_due()
        run_workers()
        run_workers()  # a second pass finds nothing left to send

    assert len(smtp.messages) == 1, "the emergency alert was never delivered"
    message = smtp.messages[0]
    assert message.rcpt_to == ["<on-call@clinic.test>"]
    assert f"/admin/twitch_intake/encounter/{encounter.pk}/change/" in message.body
    assert message.subject == "Intake needs attention now"
    assert "Ada" not in message.data and "seizure" not in message.body.lower()
