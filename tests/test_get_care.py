"""The patient's side of an emergency (CLINICAL.md, "What the patient is told"), walked with the
test client, so with JavaScript off: the get-care page and its question, the reminder line on
every later page, the review and the thanks page.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.factories import (
    GET_CARE_URL,
    PAGE_IDS,
    emergency_answers,
    make_encounter,
    page_data,
    routine_answers,
)
from tests.test_views import (
    PAGE_URL,
    REVIEW_URL,
    SUBMIT_URL,
    THANKS_URL,
    IntakeClient,
    Page,
    answer_pages,
    label,
    set_intake_settings,
    sign_in,
)
from twitch_intake.models import Encounter

pytestmark = pytest.mark.django_db

ALWAYS = [
    "Do not drive yourself.",
    "If someone is with you, show them this page.",
    "Take your medicines with you, or a list of them.",
]
CLINIC_TOLD = "We have told the clinic. They may not see it straight away"
GET_THERE = "Go to an emergency department now."
CANNOT_GET_THERE = "If you cannot get there safely, call 112."
CALL_NOW = "Call 112 now."


def words(response: Any) -> str:
    return " ".join(Page(response).root.text().split())


@pytest.fixture
def patient(client: Client, settings: Any) -> tuple[Client, Encounter]:
    set_intake_settings(settings, EMERGENCY_NUMBER="112")
    encounter = make_encounter()
    sign_in(client, encounter)
    return client, encounter


def report(client: Client, *signs: str) -> Any:
    response = client.post(
        PAGE_URL.format("emergency"), page_data("emergency", {"emergency-signs": list(signs)})
    )
    assert response.status_code == 302
    assert response["Location"] == GET_CARE_URL
    return client.get(GET_CARE_URL)


# --- The message, by the signs ticked -------------------------------------------------------


@pytest.mark.parametrize(
    "signs",
    [["seizure"], ["breathing-difficulty"], ["vomiting", "paralysis"], ["coordination-loss"]],
)
def test_a_call_now_sign_says_call_the_emergency_number_now(patient, signs):
    client, _ = patient
    page = words(report(client, *signs))
    assert CALL_NOW in page
    assert GET_THERE not in page
    for sign in signs:
        assert label("emergency-signs", sign) in page


@pytest.mark.parametrize(
    "signs", [["high-fever"], ["vomiting"], ["thinking-difficulty", "vomiting"]]
)
def test_fever_vomiting_or_thinking_alone_say_get_care_now(patient, signs):
    client, _ = patient
    page = words(report(client, *signs))
    assert GET_THERE in page
    assert CANNOT_GET_THERE in page
    assert CALL_NOW not in page
    assert 'href="tel:112"' in report(client, *signs).content.decode()


def test_the_page_always_says_do_not_drive_show_someone_take_your_medicines(patient):
    client, _ = patient
    page = words(report(client, "vomiting"))
    for line in ALWAYS:
        assert line in page
    assert "not sure" not in page  # never "if you are not sure, call the clinic"


# --- "The clinic was told": only when an alert was really queued ----------------------------


def test_the_clinic_was_told_when_an_alert_was_queued(patient):
    client, encounter = patient
    page = words(report(client, "seizure"))
    assert Encounter.objects.get(pk=encounter.pk).alerted_at is not None
    assert CLINIC_TOLD in page
    assert "do not wait for them to contact you" in page


def test_no_alert_route_means_the_clinic_is_not_said_to_know(patient, settings):
    set_intake_settings(settings, ALERT_EMAILS=[])
    client, _ = patient
    page = words(report(client, "seizure"))
    assert "told the clinic" not in page
    assert "clinic has been told" not in page


def test_an_encounter_never_alerted_does_not_say_the_clinic_knows(patient):
    client, encounter = patient
    report(client, "seizure")
    # As if the alert had not been queued (a row from before alerts, say).
    Encounter.objects.filter(pk=encounter.pk).update(alerted_at=None)
    assert "told the clinic" not in words(client.get(GET_CARE_URL))


# --- The advice line ------------------------------------------------------------------------


def test_an_all_hours_advice_line_is_offered_only_when_set(patient, settings):
    client, _ = patient
    assert "For advice at any hour" not in words(report(client, "seizure"))
    set_intake_settings(settings, ADVICE_PHONE="0800 111 222")
    response = client.get(GET_CARE_URL)
    assert "For advice at any hour, day or night, call 0800 111 222." in words(response)
    assert 'href="tel:0800 111 222"' in response.content.decode()


# --- The emergency-action question, on the get-care page --------------------------------------


def test_the_question_is_on_the_get_care_page_not_the_first_page(patient):
    client, _ = patient
    first = Page(client.get(PAGE_URL.format("emergency")))
    assert first.inputs("emergency-action") == []
    page = Page(report(client, "seizure"))
    assert page.error("emergency-action") is None  # asked, not yet reproached
    assert page.options("emergency-action") == ["getting-care-now", "already-seen", "long-standing"]
    assert "What are you doing about this?" in page.root.text()


def test_the_answer_is_saved_with_the_signs_and_the_page_shown_again(patient):
    client, encounter = patient
    report(client, "seizure", "vomiting")
    response = client.post(GET_CARE_URL, {"emergency-action": "already-seen"})
    assert response.status_code == 302
    assert response["Location"] == GET_CARE_URL  # redirect after POST
    stored = Encounter.objects.get(pk=encounter.pk).answers
    assert stored == {
        "emergency-signs": ["seizure", "vomiting"],
        "emergency-action": "already-seen",
    }
    page = client.get(GET_CARE_URL)
    assert Page(page).checked("emergency-action") == ["already-seen"]
    assert "Your answer is saved: A doctor has already seen me for this" in words(page)
    # The warning stays: the answer never lowers what the patient is told.
    assert CALL_NOW in words(page)


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ({}, "Choose what you are doing about this."),
        ({"emergency-action": "all-fine"}, "Choose only from the answers shown."),
        ({"emergency-action": ""}, "Choose what you are doing about this."),
    ],
)
def test_a_bad_answer_is_shown_on_the_page_and_nothing_is_lost(patient, posted, message):
    client, encounter = patient
    report(client, "seizure")
    client.post(GET_CARE_URL, {"emergency-action": "getting-care-now"})
    before = Encounter.objects.get(pk=encounter.pk).answers
    response = client.post(GET_CARE_URL, posted)
    assert response.status_code == 400
    page = Page(response)
    assert page.error("emergency-action") == message
    assert "#id_emergency-action_0" in page.summary_links()
    assert CALL_NOW in words(response)  # still the get-care page, warning first
    assert Encounter.objects.get(pk=encounter.pk).answers == before


def test_ticking_none_of_these_clears_the_answer(patient):
    client, encounter = patient
    report(client, "seizure")
    client.post(GET_CARE_URL, {"emergency-action": "long-standing"})
    client.post(PAGE_URL.format("emergency"), page_data("emergency", {"emergency-signs": ["none"]}))
    assert Encounter.objects.get(pk=encounter.pk).answers == {"emergency-signs": ["none"]}
    # No sign: no get-care page, and nothing to post there.
    assert client.get(GET_CARE_URL).status_code == 302
    assert client.post(GET_CARE_URL, {"emergency-action": "long-standing"}).status_code == 302
    assert "emergency-action" not in Encounter.objects.get(pk=encounter.pk).answers


def test_saving_the_first_page_again_keeps_the_answer(patient):
    client, encounter = patient
    report(client, "seizure")
    client.post(GET_CARE_URL, {"emergency-action": "already-seen"})
    report(client, "seizure", "paralysis")
    assert Encounter.objects.get(pk=encounter.pk).answers["emergency-action"] == "already-seen"


def test_sending_without_the_answer_goes_back_to_the_get_care_page(patient):
    client, encounter = patient
    answers = emergency_answers()
    del answers["emergency-action"]
    locations = [
        client.post(PAGE_URL.format(slug), page_data(slug, answers))["Location"]
        for slug in PAGE_IDS
    ]
    assert locations == [GET_CARE_URL, *[PAGE_URL.format(p) for p in PAGE_IDS[2:]], REVIEW_URL]
    response = client.post(SUBMIT_URL)
    assert response["Location"] == GET_CARE_URL
    assert not Encounter.objects.get(pk=encounter.pk).is_submitted
    # There, the missing answer is said at once.
    page = Page(client.get(GET_CARE_URL))
    assert page.error("emergency-action") == "Choose what you are doing about this."
    assert "#id_emergency-action_0" in page.summary_links()
    client.post(GET_CARE_URL, {"emergency-action": "getting-care-now"})
    assert client.post(SUBMIT_URL)["Location"] == THANKS_URL
    assert Encounter.objects.get(pk=encounter.pk).level == "emergency"


# --- The reminder line, the review and the thanks page -------------------------------------


REMINDER = (
    f"You told us about: {label('emergency-signs', 'seizure')}, "
    f"{label('emergency-signs', 'severe-headache')}. If you have not got care yet, call 112 now."
)


def test_every_later_page_review_and_thanks_repeat_the_reminder(patient):
    client, _ = patient
    answers = emergency_answers()
    answer_pages(client, answers, PAGE_IDS[:1])
    for slug in PAGE_IDS[1:]:
        page = client.get(PAGE_URL.format(slug))
        assert REMINDER in words(page), slug
        assert client.post(PAGE_URL.format(slug), page_data(slug, answers)).status_code == 302
    review = client.get(REVIEW_URL)
    assert REMINDER in words(review)
    # The answer given on the get-care page is changed there.
    links = [a.attrs.get("href") for a in Page(review).root.iter() if a.tag == "a"]
    assert GET_CARE_URL in links
    assert client.post(SUBMIT_URL)["Location"] == THANKS_URL
    thanks = words(client.get(THANKS_URL))
    assert REMINDER in thanks
    # An emergency intake is never promised a call back.
    assert "will contact you" not in thanks
    assert "Do not wait for them to contact you" in thanks


def test_a_routine_intake_has_no_reminder_and_keeps_its_thanks(patient):
    client, _ = patient
    answer_pages(client, routine_answers())
    assert "You told us about" not in words(client.get(REVIEW_URL))
    client.post(SUBMIT_URL)
    thanks = words(client.get(THANKS_URL))
    assert "You told us about" not in thanks
    assert "If something needs attention sooner, the clinic will contact you." in thanks


def test_the_first_page_shows_no_reminder_while_the_signs_are_changed(patient):
    client, _ = patient
    report(client, "seizure")
    assert "You told us about" not in words(client.get(PAGE_URL.format("emergency")))


def test_benzodiazepine_withdrawal_adds_its_advice_to_the_thanks_page(patient):
    client, _ = patient
    answer_pages(client, routine_answers(**{"medication-flags": ["benzodiazepine-withdrawal"]}))
    client.post(SUBMIT_URL)
    thanks = words(client.get(THANKS_URL))
    assert "Do not stop, restart or change this medicine on your own." in thanks
    assert "see or hear things that are not there, call the emergency number" in thanks


def test_no_benzodiazepine_advice_without_the_tick(patient):
    client, _ = patient
    answer_pages(client, routine_answers(**{"medication-flags": ["diuretic"]}))
    client.post(SUBMIT_URL)
    assert "Do not stop, restart" not in words(client.get(THANKS_URL))


def test_the_first_page_says_we_ask_first_to_tell_them_if_they_need_care_now(patient):
    client, _ = patient
    page = words(client.get(PAGE_URL.format("emergency")))
    assert "We ask this first so that we can tell you straight away if you need care now." in page


# --- Spanish --------------------------------------------------------------------------------


def test_the_get_care_page_reminder_and_thanks_in_spanish(settings):
    set_intake_settings(settings, EMERGENCY_NUMBER="112", ADVICE_PHONE="0800 111 222")
    client = Client(HTTP_ACCEPT_LANGUAGE="es")
    encounter = make_encounter()
    sign_in(client, encounter)
    page = words(report(client, "vomiting"))
    assert "servicio de urgencias" in page
    assert "No maneje" in page
    assert "Llame al 112 si no puede llegar sin peligro." in page
    assert "¿Qué está haciendo al respecto?" in page
    assert "Le avisamos a la clínica" in page
    response = client.post(GET_CARE_URL, {"emergency-action": "otro"})
    assert response.status_code == 400
    assert (
        Page(response).error("emergency-action")
        == "Elija solo entre las respuestas que se muestran."
    )
    answers = emergency_answers(**{"emergency-signs": ["seizure"]})
    client.post(GET_CARE_URL, {"emergency-action": "getting-care-now"})
    for slug in PAGE_IDS[1:]:
        assert client.post(PAGE_URL.format(slug), page_data(slug, answers)).status_code == 302
    review = words(client.get(REVIEW_URL))
    assert "Nos dijo que tiene: Vómitos" in review
    client.post(SUBMIT_URL)
    thanks = words(client.get(THANKS_URL))
    assert "Si todavía no ha recibido atención, llame al 112 ahora." in thanks
    assert "la clínica se pondrá en contacto" not in thanks


def test_an_invalid_stored_first_page_is_never_overwritten_from_the_get_care_page(client):
    """Answers stored another way (not by the form) that its page would refuse: saving the
    group from here would drop them, so nothing is saved and the patient is told where to go."""
    encounter = make_encounter(
        answers={"emergency-signs": ["seizure", "none"]}, completed_groups=["emergency"]
    )
    sign_in(client, encounter)
    response = client.post(GET_CARE_URL, {"emergency-action": "already-seen"})
    assert response.status_code == 400
    assert "Please go back to the first page and check your answers there." in words(response)
    assert Encounter.objects.get(pk=encounter.pk).answers == {
        "emergency-signs": ["seizure", "none"]
    }


def test_after_sending_the_get_care_page_asks_nothing_and_changes_nothing(patient):
    client, encounter = patient
    answer_pages(client, emergency_answers())
    assert client.post(SUBMIT_URL)["Location"] == THANKS_URL
    page = client.get(GET_CARE_URL)
    assert page.status_code == 200
    assert Page(page).inputs("emergency-action") == []
    assert CALL_NOW in words(page)
    response = client.post(GET_CARE_URL, {"emergency-action": "long-standing"})
    assert response.status_code == 302
    assert Encounter.objects.get(pk=encounter.pk).answers == emergency_answers()


def test_the_benzodiazepine_advice_in_spanish():
    client = Client(HTTP_ACCEPT_LANGUAGE="es")
    encounter = make_encounter()
    sign_in(client, encounter)
    answer_pages(client, routine_answers(**{"medication-flags": ["benzodiazepine-withdrawal"]}))
    client.post(SUBMIT_URL)
    thanks = words(client.get(THANKS_URL))
    assert "No deje, vuelva a empezar ni cambie este medicamento por su cuenta." in thanks
    assert "convulsión o crisis epiléptica" in thanks


def test_the_get_care_page_offers_no_office_line_only_an_all_hours_advice_line(client, settings):
    set_intake_settings(settings, CLINIC_PHONE="020 7946 0000", ADVICE_PHONE="")
    encounter = make_encounter()
    sign_in(client, encounter)
    page = words(report(client, "breathing-difficulty"))
    assert "Call 911 now." in page  # trouble breathing: call now
    assert "020 7946 0000" not in page and "Call the clinic" not in page
    # Nor do the later pages that repeat "call now"; an intake without a sign keeps it.
    assert "020 7946 0000" not in words(client.get(PAGE_URL.format("history")))
    calm = IntakeClient()
    sign_in(calm, make_encounter(patient_name="No Sign"))
    calm.post(PAGE_URL.format("emergency"), {"emergency-signs": ["none"]})
    assert "020 7946 0000" in words(calm.get(PAGE_URL.format("history")))
    set_intake_settings(settings, CLINIC_PHONE="020 7946 0000", ADVICE_PHONE="0800 111 222")
    page = words(client.get(GET_CARE_URL))
    assert "For advice at any hour, day or night, call 0800 111 222." in page
    assert "020 7946 0000" not in page


def test_a_sign_taken_back_still_gets_the_emergency_thanks_page(patient):
    """The intake stays an emergency once a sign was saved (CLINICAL.md): its thanks page
    never promises that the clinic will call, even with no sign left in the answers."""
    client, encounter = patient
    report(client, "breathing-difficulty")
    answers = routine_answers()  # then "None of these" on the first page, and the rest
    answer_pages(client, answers)
    # No sign is ticked now, but the one taken back is still told, with "call now".
    assert "You told us about" in words(client.get(REVIEW_URL))
    assert client.post(SUBMIT_URL)["Location"] == THANKS_URL
    assert Encounter.objects.get(pk=encounter.pk).level == "emergency"
    thanks = words(client.get(THANKS_URL))
    assert "will contact you" not in thanks
    assert "Do not wait for them to contact you" in thanks
