"""Screenshots for the docs: every patient page at phone size, and the clinician's summaries.

``make screenshots`` runs this with ``TWITCH_SCREENSHOTS=docs/screenshots``; without that
variable nothing is written, but every page must still render.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.utils import translation
from playwright.sync_api import Page, expect

from tests.browser.steps import (
    DATE_OF_BIRTH,
    answer_get_care,
    at,
    confirm,
    fill,
    heading,
    log_in,
    next_page,
    page_url,
    send,
)
from tests.factories import PAGE_IDS, make_submitted, rich_answers, routine_answers
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shoot(page: Page, name: str) -> None:
    expect(page.locator("main, #content").first).to_be_visible()
    folder = os.environ.get("TWITCH_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(folder) / f"{name}.png", full_page=True, animations="disabled")


def test_screenshots_of_every_page(new_page, invite, clinician):
    _, link = invite()
    page = new_page("phone")
    page.goto(link)
    expect(heading(page)).to_have_text("Your form before your visit")
    shoot(page, "confirm")
    confirm(page)
    expect(page).to_have_url(page_url("emergency"))
    shoot(page, "page-1-emergency")
    page.get_by_label(
        str(TWITCH_INTAKE.question("emergency-signs").label("severe-headache"))
    ).check()
    next_page(page)
    expect(heading(page)).to_have_text("Get medical care now")
    shoot(page, "get-care-now")
    answer_get_care(page, "getting-care-now")
    shoot(page, "get-care-now-answered")
    page.get_by_role("link", name="Continue the form").click()

    answers = {**rich_answers(), "emergency-signs": ["severe-headache"]}
    expect(page).to_have_url(page_url("history"))
    next_page(page)
    expect(page.locator(".error-summary")).to_be_focused()
    shoot(page, "page-2-history-errors")
    for number, slug in enumerate(PAGE_IDS[1:], start=2):
        expect(page).to_have_url(page_url(slug))
        fill(page, answers)
        shoot(page, f"page-{number}-{slug}")
        next_page(page)
    expect(page).to_have_url(at("/intake/review/"))
    shoot(page, "review")
    send(page)
    expect(page.locator(".emergency-reminder")).to_be_visible()
    shoot(page, "thanks-emergency")

    walk_in = new_page("phone")
    walk_in.goto("/intake/start/")
    expect(heading(walk_in)).to_have_text("Start your form")
    shoot(walk_in, "self-start")

    emergency = make_submitted(rich_answers(), patient_name="Eve Example", record_number="MRN-1042")
    routine = make_submitted(routine_answers(), patient_name="Rita Example")
    admin = new_page("desktop")
    log_in(admin, clinician.username, "/admin/twitch_intake/encounter/")
    shoot(admin, "queue")
    for encounter, name in ((emergency, "summary-emergency"), (routine, "summary-routine")):
        admin.goto(f"/admin/twitch_intake/encounter/{encounter.pk}/change/")
        expect(admin.locator(".ti-summary")).to_contain_text(encounter.patient_name)
        shoot(admin, name)


def test_screenshots_of_an_emergency_in_spanish(new_page, invite):
    """The get-care page (fever, vomiting or thinking alone: the "get there" message), a later
    page with the reminder line, and the emergency thanks page, in Spanish."""
    _, link = invite()
    page = new_page("phone")
    page.goto(link)
    page.get_by_role("button", name="Español").click()
    expect(heading(page)).to_have_text("Su formulario antes de la cita")
    page.get_by_label("Su fecha de nacimiento").fill(DATE_OF_BIRTH)
    page.get_by_role("button", name="Empezar").click()
    expect(page).to_have_url(page_url("emergency"))
    answers = {**rich_answers(), "emergency-signs": ["vomiting"]}
    with translation.override("es"):
        fill(page, answers, next_button="Continuar")
        page.get_by_role("button", name="Continuar").click()
        expect(heading(page)).to_have_text("Busque atención médica ahora")
        expect(page.locator("section.get-care")).to_contain_text("servicio de urgencias")
        shoot(page, "es-get-care-now")
        [question] = TWITCH_INTAKE.emergency_responses()
        page.get_by_label(str(question.label("getting-care-now"))).check()
        page.get_by_role("button", name="Guardar mi respuesta").click()
        expect(page.get_by_role("status")).to_contain_text("Su respuesta quedó guardada")
        page.get_by_role("link", name="Seguir con el formulario").click()
        for slug in PAGE_IDS[1:]:
            expect(page).to_have_url(page_url(slug))
            fill(page, answers, next_button="Continuar")
            expect(page.locator(".emergency-reminder")).to_contain_text("Nos dijo que tiene")
            if slug == "history":
                shoot(page, "es-page-2-history-reminder")
            page.get_by_role("button", name="Continuar").click()
        expect(page).to_have_url(at("/intake/review/"))
        page.get_by_role("button", name="Aceptar y enviar").click()
        expect(page).to_have_url(at("/intake/thanks/"))
        expect(page.locator(".emergency-reminder")).to_contain_text("llame al 911 ahora")
        shoot(page, "es-thanks-emergency")


def test_screenshots_of_invitations(new_page, settings):
    """Front desk's encounter page with its delivery record, the invitation email and text in
    English and Spanish, and the printable letter with its QR code."""
    import datetime as dt
    import html

    from django.contrib.auth.models import User
    from django.core import mail
    from django.utils import timezone

    from tests.browser.steps import PASSWORD
    from tests.factories import make_encounter, staff_group
    from twitch_intake import services, sms
    from twitch_intake.models import PatientMessage

    settings.TWITCH_INTAKE = {
        **settings.TWITCH_INTAKE,
        "SMS_BACKEND": "twitch_intake.sms.backends.locmem.SMSBackend",
    }
    sms.outbox.clear()
    front = User.objects.create_user("front", password=PASSWORD, is_staff=True)
    front.groups.add(staff_group("Front desk"))
    visit = timezone.now() + dt.timedelta(days=12)
    sent = make_encounter(
        patient_name="Sam Example",
        visit_at=visit,
        email="sam@example.test",
        mobile="+12025550143",
        preferred_channel="email",
    )
    services.send_invitation(sent.pk, front, "127.0.0.1")
    invitation = PatientMessage.objects.get(encounter=sent, kind="invitation")
    services.deliver_patient_message(invitation.pk)
    for language, channel in (("en", "sms"), ("es", "email"), ("es", "sms")):
        other = make_encounter(
            visit_at=visit,
            email="sam@example.test",
            mobile="+34612345678",
            preferred_channel=channel,
            language=language,
        )
        services.send_invitation(other.pk, front, None)
        services.deliver_patient_message(
            PatientMessage.objects.get(encounter=other, kind="invitation").pk
        )
    letter_patient = make_encounter(patient_name="Lee Example", visit_at=visit)

    admin = new_page("desktop")
    log_in(admin, front.username, f"/admin/twitch_intake/encounter/{sent.pk}/change/")
    expect(admin.locator(".ti-delivery")).to_contain_text("Sent")
    expect(admin.locator("body")).not_to_contain_text("/intake/link/")
    shoot(admin, "front-desk-delivery-record")

    texts = [message.body for message in sms.outbox]
    emails = [f"Subject: {m.subject}\n\n{m.body}" for m in mail.outbox]
    for name, text in (
        ("invitation-email", emails[0]),
        ("invitation-text", texts[0]),
        ("es-invitation-email", emails[1]),
        ("es-invitation-text", texts[1]),
    ):
        view = new_page("phone")
        view.set_content(
            '<main style="font: 16px/1.45 sans-serif; padding: 1em; white-space: pre-wrap; '
            f'overflow-wrap: anywhere">{html.escape(text)}</main>'
        )
        shoot(view, name)

    admin.goto(f"/admin/twitch_intake/encounter/{letter_patient.pk}/change/")
    with admin.context.expect_page() as opened:
        admin.get_by_role("button", name="Print a letter instead").click()
    letter = opened.value
    expect(letter.locator(".ti-qr img")).to_be_visible()
    shoot(letter, "invitation-letter")
    sms.outbox.clear()
