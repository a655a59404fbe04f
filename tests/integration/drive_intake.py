"""One intake through a host site that followed the README, run inside that site's own venv.

``tests/integration/test_host_site.py`` runs this with the host venv's Python in the
``startproject`` folder (``DJANGO_SETTINGS_MODULE=hostsite.settings``), after ``migrate``. It
imports only Django, the installed ``twitch_intake`` wheel and the standard library: nothing from
this repository. The patient's pages are filled from the forms the site draws and the installed
questionnaire's declarations, following the site's redirects, so the walk holds whatever
questions and pages the questionnaire has. Exits non-zero (an ``AssertionError``) on the first
broken promise; prints one line per step.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hostsite.settings")
django.setup()

from django import forms  # noqa: E402
from django.contrib.auth import authenticate, get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import resolve, reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

setup_test_environment()  # response.context, and the locmem mail backend

from twitch_intake import headers, questionnaire  # noqa: E402
from twitch_intake.models import Encounter  # noqa: E402
from twitch_intake.questionnaire import ItemType  # noqa: E402

PASSWORD = "a-long-host-site-password"
HOST_PAGE = os.environ["HOST_PAGE"]  # the host's own page with an inline script
INLINE_SCRIPT = os.environ["INLINE_SCRIPT"]
MAX_STEPS = 60  # a bound on the walk, far above any questionnaire's pages


def step(text: str) -> None:
    print(f"ok: {text}", flush=True)


def csrf(client: Client) -> str:
    return client.cookies["csrftoken"].value


def post(client: Client, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, {**data, "csrfmiddlewaretoken": csrf(client)})


def staff(username: str, group: str) -> Any:
    user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def sign_in(client: Client, username: str) -> Any:
    client.get(reverse("admin:login"))
    return post(
        client,
        reverse("admin:login"),
        {"username": username, "password": PASSWORD, "next": reverse("admin:index")},
    )


# --- the host's own pages -------------------------------------------------------------------


def host_pages_are_the_hosts() -> None:
    page = Client().get(HOST_PAGE)
    assert page.status_code == 200, page.status_code
    assert INLINE_SCRIPT in page.content.decode()
    assert "Content-Security-Policy" not in page, page.get("Content-Security-Policy")
    step("the host's page keeps its inline script: no CSP of the app's on it")
    login = Client().get(reverse("admin:login"))
    assert login.status_code == 200
    assert "Content-Security-Policy" not in login
    step("the host's admin login page has no app CSP")
    unusable = Client().get(reverse("twitch_intake:link", args=["not-a-token"]))
    assert unusable["Content-Security-Policy"] == headers.CONTENT_SECURITY_POLICY
    assert unusable["X-Frame-Options"] == "DENY"
    assert unusable["Referrer-Policy"] == "same-origin"
    assert "no-store" in unusable["Cache-Control"]
    step("the app's pages carry its CSP, X-Frame-Options, Referrer-Policy and no-store")


# --- front desk -------------------------------------------------------------------------------


def front_desk_makes_a_link() -> tuple[int, str]:
    staff("frontdesk", "Front desk")
    client = Client(enforce_csrf_checks=True)
    assert sign_in(client, "frontdesk").status_code == 302
    step("front desk signs in through the host's admin login")
    add = reverse("admin:twitch_intake_encounter_add")
    client.get(add)
    response = post(
        client,
        add,
        {
            "patient_name": "Ada Example",
            "date_of_birth": "1980-05-17",
            "record_number": "MRN-1",
            "visit_at_0": (timezone.localdate() + timedelta(days=7)).isoformat(),
            "visit_at_1": "10:00:00",
            "email": "",
            "mobile": "",
            "preferred_channel": "",
            "language": "",
        },
    )
    assert response.status_code == 302, (
        response.status_code,
        response.context and response.context["adminform"].form.errors,
    )
    encounter = Encounter.objects.get()
    step("front desk creates the encounter (redirected: the link is never shown on a screen)")
    # A patient without email or a phone gets a printed letter: the one place the link appears.
    client.get(reverse("admin:twitch_intake_encounter_change", args=[encounter.pk]))
    letter = post(client, reverse("admin:twitch_intake_encounter_letter", args=[encounter.pk]), {})
    context = letter.context
    assert letter.status_code == 200 and context is not None and "link" in context, (
        letter.status_code
    )
    assert "no-store" in letter["Cache-Control"]
    step("front desk prints the invitation letter, with the link and its QR code")
    return encounter.pk, urlsplit(context["link"]).path


# --- the patient ------------------------------------------------------------------------------


def answers_for(form: forms.Form) -> dict[str, Any]:
    """A valid answer to each question the page asks, from the form and the questionnaire.

    A repeating choice takes its exclusive answer ("None of these") where it has one, else its
    first; one choice takes its first answer; yes/no takes "no"; text takes a short sentence. A
    question shown only for certain answers is answered only when those answers were given.
    """
    # The form of a page (``page``; a group's form before groups had pages: ``group``).
    asked = getattr(form, "page", None) or getattr(form, "group", None)
    questions = {q.link_id: q for q in asked.questions} if asked is not None else {}
    data: dict[str, Any] = {}
    given: dict[str, Any] = {}
    revealed = []
    for name, field in form.fields.items():
        if isinstance(field.widget, forms.HiddenInput):
            continue
        question = questions.get(name)
        if question is not None and question.show_when is not None:
            if not question.is_enabled(given):
                continue
            revealed.append(name)
        codes = [str(code) for code, _ in getattr(field, "choices", [])]
        if isinstance(field, forms.MultipleChoiceField):
            exclusive = _exclusive(question)
            value: Any = [exclusive] if exclusive in codes else codes[:1]
        elif codes:
            value = "no" if question is not None and question.type is ItemType.BOOLEAN else codes[0]
        else:
            value = "An answer typed on a phone"
        data[name] = value
        if question is not None and question.type is ItemType.BOOLEAN:
            given[name] = value == "yes"
        else:
            given[name] = value
    hidden = [n for n, f in form.fields.items() if isinstance(f.widget, forms.HiddenInput)]
    for name in hidden:
        data[name] = " ".join(revealed) if asked is not None else (form[name].value() or "")
    return data


def _exclusive(question: Any) -> str | None:
    """A repeating choice's "None of these" (or, failing that, another exclusive answer): one
    code, or a set of them, as the questionnaire's version declares it."""
    declared = getattr(question, "exclusive", None)
    if not declared or isinstance(declared, str):
        return declared or None
    none = getattr(questionnaire, "NONE", "none")
    return none if none in declared else sorted(declared)[0]


def languages_offered(client: Client, page: Any, link: str) -> None:
    """The clinic's languages only (not Django's ~100), and switching really switches."""
    buttons = re.findall(r'name="language" value="([^"]+)"', page.content.decode())
    assert buttons == ["es"], buttons
    switched = post(client, reverse("twitch_intake:language"), {"language": "es", "next": link})
    assert switched.status_code == 302
    assert '<html lang="es">' in client.get(link).content.decode()
    post(client, reverse("twitch_intake:language"), {"language": "en", "next": link})
    assert '<html lang="en">' in client.get(link).content.decode()
    step("the patient is offered English and Spanish only, and Spanish switches the page")


def patient_completes(link: str) -> Client:
    client = Client(enforce_csrf_checks=True)
    confirm = client.get(link)
    assert confirm.status_code == 200, confirm.status_code
    languages_offered(client, confirm, link)
    response = post(client, link, {"date_of_birth": "1980-05-17"})
    assert response.status_code == 302, response.status_code
    step("the patient confirms their date of birth on the link (CSRF checked)")
    url, pages = response["Location"], 0
    for _ in range(MAX_STEPS):
        page = client.get(url)
        if page.status_code == 302:
            url = page["Location"]
            continue
        assert page.status_code == 200, (url, page.status_code)
        name = resolve(urlsplit(url).path).url_name
        if name == "thanks":
            step(f"the patient answered {pages} pages, submitted and sees the thanks page")
            return client
        if name == "review":
            response = post(client, reverse("twitch_intake:submit"), {})
        else:
            form = page.context.get("form") if page.context is not None else None
            assert form is not None, f"no form on {url}"
            response = post(client, url, answers_for(form))
            if response.status_code in (302, 303) and response["Location"] == url:
                # Back to the page (303: not saved): a follow-up shown before going on, to
                # answer too; never an error, which the page after the redirect would show.
                again = client.get(url)
                assert not _errors(again), (url, _errors(again))
                response = post(client, url, answers_for(again.context["form"]))
            pages += 1
        assert response.status_code == 302, (url, response.status_code, _errors(response))
        url = response["Location"]
    raise AssertionError(f"the intake did not end in {MAX_STEPS} steps")


def _errors(response: Any) -> Any:
    form = response.context.get("form") if response.context is not None else None
    return form.errors if form is not None else None


# --- the clinician ----------------------------------------------------------------------------


def the_sign_in_lockout_is_per_user_and_address() -> None:
    from django.conf import settings

    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.get(reverse("admin:login"))
        wrong = {"username": "frontdesk", "password": "wrong", "next": reverse("admin:index")}
        client.post(reverse("admin:login"), {**wrong, "csrfmiddlewaretoken": csrf(client)})
    locked = sign_in(Client(), "frontdesk")
    assert locked.status_code != 302, "front desk should be locked out after the wrong passwords"
    step(f"{settings.AXES_FAILURE_LIMIT} wrong passwords lock that user out from that address")
    assert authenticate(username="clinician", password=PASSWORD) is not None
    step("authenticate() without a request still works (the host's scripts)")


def clinician_reads_the_summary(pk: int) -> None:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    clinician = staff("clinician", "Clinicians")
    device = TOTPDevice.objects.create(user=clinician, name="phone", confirmed=True)
    the_sign_in_lockout_is_per_user_and_address()
    client = Client(enforce_csrf_checks=True)
    assert sign_in(client, "clinician").status_code == 302
    step("the clinician signs in from the same address while front desk is locked out")
    change = reverse("admin:twitch_intake_encounter_change", args=[pk])
    response = client.get(change)
    assert response.status_code == 302 and "two-factor" in response["Location"], response
    verify = response["Location"]
    client.get(verify)
    code = f"{totp(device.bin_key, device.step, device.t0, device.digits):0{device.digits}d}"
    confirmed = post(client, urlsplit(verify).path, {"code": code, "next": change})
    assert confirmed.status_code == 302, confirmed.status_code
    step("the clinician confirms a second factor (REQUIRE_MFA, on by default)")
    summary = client.get(change)
    assert summary.status_code == 200, summary.status_code
    html = summary.content.decode()
    assert "Ada Example" in html
    assert summary["Content-Security-Policy"] == headers.CONTENT_SECURITY_POLICY
    text = client.get(reverse("admin:twitch_intake_encounter_text", args=[pk]))
    assert text.status_code == 200 and "Ada Example" in text.content.decode()
    encounter = Encounter.objects.get(pk=pk)
    assert encounter.is_submitted and encounter.level, (encounter.status, encounter.level)
    step(f"the clinician reads the summary (level {encounter.level}) and its text copy")


# --- logs and outages -------------------------------------------------------------------------


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def no_token_in_the_request_log() -> None:
    captured = Captured()
    logging.getLogger("django.request").addHandler(captured)
    secret = "S3cretLinkToken0123456789"
    Client().get(f"{reverse('twitch_intake:link', args=[secret])}no-such-page/")
    logging.getLogger("django.request").removeHandler(captured)
    assert captured.lines, "Django logged nothing for a 404"
    assert not any(secret in line for line in captured.lines), captured.lines
    step("a link token in a 404's path is redacted from django.request's log")


def a_database_outage_is_a_503(patient: Client) -> None:
    thanks = reverse("twitch_intake:thanks")
    real = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = "twitch_no_such_database"
    try:
        down = Client(raise_request_exception=False, enforce_csrf_checks=True)
        down.cookies = patient.cookies
        response = down.get(thanks)
    finally:
        connection.close()
        connection.settings_dict["NAME"] = real
    assert response.status_code == 503, response.status_code
    assert response["Retry-After"]
    step("with the database down the app's page is a 503 with Retry-After")
    assert Client().get(HOST_PAGE).status_code == 200
    step("the database back, the next request reconnects")


def main() -> int:
    host_pages_are_the_hosts()
    pk, link = front_desk_makes_a_link()
    patient = patient_completes(link)
    clinician_reads_the_summary(pk)
    no_token_in_the_request_log()
    a_database_outage_is_a_503(patient)
    print("host site: every step passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
