"""Spanish: a complete shipped catalogue, every patient page in Spanish, clinicians in English.

The patient chooses their language (the browser's preference, or the switch on every page); the
clinic reads everything in its own language (``settings.LANGUAGE_CODE``), whatever the patient or
the clinician's browser used. Free text is never translated.
"""

from __future__ import annotations

import json
import re
import shutil
from html import unescape
from pathlib import Path
from typing import Any

import polib
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tests.factories import (
    emergency_answers,
    get_care_data,
    issue,
    make_encounter,
    make_submitted,
    page_data,
    refused_post,
    rich_answers,
)
from twitch_intake import fhir, validation
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

APP = Path(__file__).resolve().parent.parent / "twitch_intake"
CATALOGUE = APP / "locale" / "es" / "LC_MESSAGES"
DOB = "1980-05-17"  # make_encounter's date of birth
PAGE_IDS = [p.slug for p in TWITCH_INTAKE.pages()]

#: Words that are the same in both languages: allowed as their own translation.
SAME_IN_SPANISH = {"No", "Error:", "%(question)s %(answer)s"}


@pytest.fixture(autouse=True)
def _no_language_left_active():
    """LocaleMiddleware leaves the last request's language active in the thread: reset it."""
    yield
    translation.deactivate()


# --- Reading the catalogue ------------------------------------------------------------------

#: A number for each of Spanish's plural forms, in the order of the msgstr[n] they choose.
PLURAL_EXAMPLES = (1, 1_000_000, 2)


def open_po(path: Path) -> polib.POFile:
    assert path.is_file(), path  # polib reads a name that is no file as the catalogue's text
    return polib.pofile(str(path))


def open_mo(path: Path) -> polib.MOFile:
    assert path.is_file(), path
    return polib.mofile(str(path))


def live(po: polib.POFile) -> list[polib.POEntry]:
    """The entries in use: obsolete (``#~``) ones left out. polib keeps the header apart."""
    return [entry for entry in po if not entry.obsolete]


def key(entry: polib.POEntry | polib.MOEntry) -> str:
    """The entry as ``gettext`` looks it up: its context, if any, then its msgid."""
    return entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"


def translations(entry: polib.POEntry | polib.MOEntry) -> list[str]:
    """The msgstr, or each plural form's in order."""
    if not entry.msgid_plural:
        return [entry.msgstr]
    return [entry.msgstr_plural[index] for index in sorted(entry.msgstr_plural)]


def untranslated(po: polib.POFile) -> list[str]:
    """Entries a reader would see in English: fuzzy, empty, or a plural form blank or missing."""
    forms = int(re.findall(r"nplurals=(\d+)", po.metadata["Plural-Forms"])[0])
    return [
        key(entry)
        for entry in live(po)
        if not entry.translated() or (entry.msgid_plural and len(entry.msgstr_plural) != forms)
    ]


def compiled(entry: polib.POEntry | polib.MOEntry) -> tuple[str | None, str, str, list[str]]:
    """What ``msgfmt`` writes of an entry."""
    return (entry.msgctxt, entry.msgid, entry.msgid_plural or "", translations(entry))


_PLACEHOLDERS = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}|<[^>]+>")


def placeholders(text: str) -> list[str]:
    return sorted(_PLACEHOLDERS.findall(text))


# --- The catalogue --------------------------------------------------------------------------


def test_every_entry_has_a_spanish_translation():
    po = open_po(CATALOGUE / "django.po")
    assert po.metadata.get("Language") == "es" and "fuzzy" not in po.metadata_is_fuzzy
    assert len(live(po)) > 300
    assert untranslated(po) == []


def test_translations_keep_every_placeholder_and_tag():
    for entry in live(open_po(CATALOGUE / "django.po")):
        for text in translations(entry):
            source = entry.msgid_plural or entry.msgid
            assert placeholders(text) == placeholders(source), entry.msgid


def test_translations_are_spanish_not_copies():
    for entry in live(open_po(CATALOGUE / "django.po")):
        if entry.msgid not in SAME_IN_SPANISH:
            assert translations(entry)[0] != entry.msgid, entry.msgid


def test_compiled_catalogue_matches_the_po():
    """The committed .mo is what ``compilemessages`` makes of the committed .po: each translated
    entry (``msgfmt`` leaves fuzzy and empty ones out) and the header, less its creation date."""
    po = open_po(CATALOGUE / "django.po")
    mo = open_mo(CATALOGUE / "django.mo")
    expected = {key(entry): compiled(entry) for entry in po.translated_entries()}
    found = {key(entry): compiled(entry) for entry in mo}
    missing = sorted(expected.keys() - found.keys())
    extra = sorted(found.keys() - expected.keys())
    changed = sorted(k for k in expected.keys() & found.keys() if found[k] != expected[k])
    assert (missing, extra, changed) == ([], [], []), "run compilemessages"
    header = {name: value for name, value in po.metadata.items() if name != "POT-Creation-Date"}
    assert mo.metadata == header, "run compilemessages"


@pytest.mark.skipif(
    shutil.which("xgettext") is None, reason="needs GNU gettext (apt-get install gettext)"
)
def test_every_marked_string_is_in_the_catalogue_and_translated(tmp_path, monkeypatch):
    """``makemessages`` on a copy of the app finds no string the shipped catalogue lacks."""
    copy = tmp_path / "twitch_intake"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns("__pycache__", "static"))
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["es"], no_obsolete=True, verbosity=0)
    fresh = open_po(copy / "locale" / "es" / "LC_MESSAGES" / "django.po")
    assert untranslated(fresh) == [], "run makemessages, translate the new entries, compilemessages"
    shipped = {key(entry) for entry in live(open_po(CATALOGUE / "django.po"))}
    assert {key(entry) for entry in live(fresh)} == shipped, "run makemessages --no-obsolete"


def test_django_serves_our_spanish_for_every_entry():
    """No other app's catalogue (the admin's "Change" is "Modificar") wins over ours."""
    served = {}
    with translation.override("es"):
        for entry in live(open_po(CATALOGUE / "django.po")):
            context, msgid, plural = entry.msgctxt, entry.msgid, entry.msgid_plural
            if plural and context is not None:
                got = [translation.npgettext(context, msgid, plural, n) for n in PLURAL_EXAMPLES]
            elif plural:
                got = [translation.ngettext(msgid, plural, n) for n in PLURAL_EXAMPLES]
            elif context is not None:
                got = [translation.pgettext(context, msgid)]
            else:
                got = [translation.gettext(msgid)]
            served[key(entry)] = (got, translations(entry))
    assert {name: got for name, (got, ours) in served.items() if got != ours} == {}


def test_every_question_answer_and_help_reads_in_spanish():
    texts = [TWITCH_INTAKE.title]
    for group in TWITCH_INTAKE.groups:
        texts += [group.title, group.intro]
        for question in group.questions:
            texts += [question.text, *(o.label for o in question.options)]
            texts += [question.help] if question.help else []
    #: Words Spanish spells as English does: translated (the catalogue holds them) and the same.
    same_in_both = {"No": "No"}
    for text in texts:
        with translation.override("en"):
            english = str(text)
        with translation.override("es"):
            if english in same_in_both:
                assert str(text) == same_in_both[english]
            else:
                assert str(text) != english, english


# --- The patient, in Spanish ----------------------------------------------------------------


def spanish_client() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="es")


def words(response: Any) -> str:
    """The page's text, tags dropped and entities decoded, spaces collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    return re.sub(r" ([.,:;])", r"\1", text)


def assert_spanish(response: Any, *expected: str, status: int = 200) -> str:
    assert response.status_code == status, response.status_code
    assert '<html lang="es">' in response.content.decode()
    assert response["Content-Language"] == "es"
    text = words(response)
    for phrase in expected:
        assert phrase in text, phrase
    # The page's chrome is Spanish too: the English footer and title never show.
    assert "In an emergency, call" not in text
    assert "Before your visit" not in text
    return text


def spanish(text: Any) -> str:
    """A declaration's words as the catalogue gives them in Spanish (the questionnaire's own
    labels are checked to be translated by test_every_question_answer_and_help_reads_in_spanish;
    here, that the page shows them)."""
    with translation.override("es"):
        return " ".join(str(text).split())


def page_text(slug: str) -> list[str]:
    """Spanish the patient must see on a page of the intake: where they are in the form, and
    the page's title, questions and answers."""
    number = PAGE_IDS.index(slug) + 1
    page = TWITCH_INTAKE.page(slug)
    texts = [f"Paso {number} de {len(PAGE_IDS)}", spanish(page.title), "Continuar"]
    for question in page.questions:
        if question.emergency_response or question.show_when:
            continue  # asked on the get-care page, or shown only after an answer
        texts.append(spanish(question.text))
        texts += [spanish(option.label) for option in question.options]
    if number > 1:
        texts.append("Atrás")
    return texts


@pytest.mark.django_db
def test_a_spanish_speaking_patient_completes_the_intake_in_spanish():
    encounter = make_encounter()
    token = issue(encounter)
    client = spanish_client()
    answers = emergency_answers(
        **{
            "emergency-signs": ["seizure"],
            "medications": "Sertralina 50 mg",
            "notes": "Empezó después de un trabajo nuevo.",
        }
    )

    # The link: confirm the date of birth; a wrong one is refused in Spanish.
    link = f"/intake/link/{token}/"
    assert_spanish(
        client.get(link), "Su formulario antes de la cita", "Su fecha de nacimiento", "Empezar"
    )
    assert_spanish(
        refused_post(client, link, {"date_of_birth": "1981-01-01"}),
        "Hay un problema",
        "Esa fecha no coincide con la que tiene la clínica. Revísela e inténtelo otra vez.",
    )
    assert client.post(link, {"date_of_birth": DOB})["Location"] == "/intake/page/emergency/"

    # Page 1, with a missing answer first: the error is Spanish.
    page_one = "/intake/page/emergency/"
    assert_spanish(client.get(page_one), *page_text("emergency"))
    refused = client.post(page_one, {"_revealed": ""})
    assert (refused.status_code, refused["Location"]) == (303, page_one)
    assert_spanish(
        client.get(page_one),
        "Hay un problema",
        spanish(validation.validate_group(TWITCH_INTAKE.page("emergency"), {})[1][0].message),
    )
    assert (
        client.post(page_one, page_data("emergency", answers))["Location"]
        == "/intake/get-care-now/"
    )

    # The emergency page: Spanish, with the clinic's numbers.
    assert_spanish(
        client.get("/intake/get-care-now/"),
        "Busque atención médica ahora",
        "Usted nos dijo que tiene: "
        + spanish(TWITCH_INTAKE.question("emergency-signs").label("seizure")),
        "Llame al 911 ahora",
        "No maneje (no conduzca) usted mismo.",
        "¿Qué está haciendo al respecto?",
        "Seguir con el formulario",
    )
    assert (
        client.post("/intake/get-care-now/", get_care_data(answers))["Location"]
        == "/intake/get-care-now/"
    )
    assert_spanish(client.get("/intake/get-care-now/"), "Su respuesta quedó guardada:")

    # Every later page, each with the reminder of the sign.
    seizure = spanish(TWITCH_INTAKE.question("emergency-signs").label("seizure"))
    for slug in PAGE_IDS[1:]:
        url = f"/intake/page/{slug}/"
        assert_spanish(
            client.get(url),
            *page_text(slug),
            f"Nos dijo que tiene: {seizure}. Si todavía no ha recibido atención, llame al 911 "
            "ahora.",
        )
        assert client.post(url, page_data(slug, answers)).status_code == 302

    # The review: Spanish labels, free text as typed.
    assert_spanish(
        client.get("/intake/review/"),
        "Revise sus respuestas",
        "Último paso: revisar y enviar",
        seizure,
        spanish(TWITCH_INTAKE.question("locations").label("eyelid")),
        "Sertralina 50 mg",
        "Empezó después de un trabajo nuevo.",
        "Cambiar",
        "Aceptar y enviar",
    )
    assert client.post("/intake/submit/")["Location"] == "/intake/thanks/"
    assert_spanish(
        client.get("/intake/thanks/"),
        "Gracias: sus respuestas se enviaron",
        "Su médico leerá sus respuestas antes de su cita.",
        "No espere a que se pongan en contacto con usted",
        "En una emergencia, llame al 911.",
    )

    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.answers == answers  # codes and free text, never translations
    assert stored.is_submitted
    assert stored.language == "es"


@pytest.mark.django_db
def test_the_language_choice_switches_to_spanish_and_is_remembered():
    encounter = make_encounter()
    token = issue(encounter)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.post(f"/intake/link/{token}/", {"date_of_birth": DOB})
    english = client.get("/intake/page/emergency/")
    assert "Signs that need care now" in words(english)
    assert 'value="es" lang="es">Español</button>' in english.content.decode()  # in its own words

    response = client.post(
        "/intake/language/", {"language": "es", "next": "/intake/page/emergency/"}
    )
    assert response["Location"] == "/intake/page/emergency/"
    assert response.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "es"
    spanish = assert_spanish(client.get("/intake/page/emergency/"), *page_text("emergency"))
    assert "English" in spanish and "Inglés" not in spanish  # the way back, in its own words
    assert Encounter.objects.get(pk=encounter.pk).language == "es"


@pytest.mark.django_db
def test_a_walk_in_patient_starts_in_spanish():
    client = spanish_client()
    page = assert_spanish(
        client.get("/intake/start/"),
        "Empiece su formulario",
        "Su nombre completo",
        "La fecha de su cita",
    )
    assert "Start your form" not in page
    assert_spanish(
        refused_post(
            client,
            "/intake/start/",
            {"patient_name": "", "date_of_birth": "", "visit_date": "mañana"},
        ),
        "Hay un problema",
        "Escriba su nombre.",
        "Escriba su fecha de nacimiento.",
        "Escriba una fecha válida.",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "call", "advice"),
    [
        ("en", "Call 112 now", "For advice at any hour, day or night, call 0800 111 222."),
        (
            "es",
            "Llame al 112 ahora",
            "Para pedir consejo a cualquier hora, de día o de noche, llame al 0800 111 222.",
        ),
    ],
)
def test_the_emergency_number_and_advice_line_come_from_settings(settings, language, call, advice):
    settings.TWITCH_INTAKE = {
        **settings.TWITCH_INTAKE,
        "EMERGENCY_NUMBER": "112",
        "CLINIC_PHONE": "020 7946 0000",
        "ADVICE_PHONE": "0800 111 222",
    }
    encounter = make_encounter(
        answers={"emergency-signs": ["seizure"]}, completed_groups=["emergency"]
    )
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.post(f"/intake/link/{issue(encounter)}/", {"date_of_birth": DOB})
    response = client.get("/intake/get-care-now/")
    text = words(response)
    assert call in text and advice in text
    assert 'href="tel:112"' in response.content.decode()
    assert "911" not in text and "555-0100" not in text
    # Never "if you are not sure, call the clinic" (CLINICAL.md 1.1.0).
    assert "not sure" not in text and "dudas" not in text


# --- The clinic, in its own language --------------------------------------------------------


@pytest.fixture
def spanish_clinician_browser(db: Any) -> Client:
    """A clinician whose browser asks for Spanish (and still holds a patient's Spanish cookie)."""
    user = User.objects.create_user("doctor", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Clinicians"))
    client = Client(HTTP_ACCEPT_LANGUAGE="es")
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "es"
    client.force_login(user)
    return client


def spanish_patients_encounter() -> Encounter:
    answers = {
        **rich_answers(),
        "medications": "Sertralina 50 mg",
        "notes": "Empeora después del turno de noche.",
    }
    return make_submitted(answers, language="es")


def test_clinician_pages_are_in_the_clinics_language(spanish_clinician_browser):
    encounter = spanish_patients_encounter()
    client = spanish_clinician_browser
    for name in ("change", "print"):
        response = client.get(reverse(f"admin:twitch_intake_encounter_{name}", args=[encounter.pk]))
        assert response.status_code == 200
        text = words(response)
        assert '<html lang="en"' in response.content.decode(), name
        assert "Pre-visit summary: muscle twitching" in text, name
        assert "Resumen antes de la cita" not in text, name
        assert "Other red flags" in text and "Otras señales de alarma" not in text, name
        # Answers are labelled in English; free text stays as the patient typed it.
        assert "Eyelid" in text and "Párpado" not in text, name
        assert "Sertralina 50 mg" in text and "Empeora después del turno de noche." in text, name
        assert "Sertralina 50 mg (written in Spanish)" in text, name
        assert (
            '<span class="ti-free-text" lang="es">Sertralina 50 mg</span>'
            in response.content.decode()
        ), name


def test_the_text_summary_is_in_the_clinics_language(spanish_clinician_browser):
    encounter = spanish_patients_encounter()
    response = spanish_clinician_browser.get(
        reverse("admin:twitch_intake_encounter_text", args=[encounter.pk])
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert text.startswith("PRE-VISIT SUMMARY: MUSCLE TWITCHING\n")
    assert 'Patient: "Ada Example"' in text.splitlines()
    assert "Answered in: Spanish (interpreter may be needed)" in text.splitlines()
    assert "Resumen" not in text and "Paciente" not in text
    assert 'Medicines (as typed) [written in Spanish]: "Sertralina 50 mg"\n' in text
    assert 'Anything else [written in Spanish]: "Empeora después del turno de noche."\n' in text
    assert 'Conditions (as typed) [written in Spanish]: "Asthma"\n' in text


def test_the_admins_messages_are_in_the_clinics_language(spanish_clinician_browser):
    encounter = spanish_patients_encounter()
    client = spanish_clinician_browser
    response = client.post(
        reverse("admin:twitch_intake_encounter_review", args=[encounter.pk]), follow=True
    )
    assert [str(m) for m in response.context["messages"]] == [
        "Marked reviewed.",
        "No unreviewed intakes are left.",
    ]
    assert "Marked reviewed." in words(response)


def test_free_text_in_the_clinics_own_language_is_not_marked(spanish_clinician_browser):
    encounter = make_submitted(rich_answers(), language="en")
    client = spanish_clinician_browser
    text = client.get(
        reverse("admin:twitch_intake_encounter_text", args=[encounter.pk])
    ).content.decode()
    assert "Medicines (as typed):\n> Sertraline 50 mg\n> Vitamin D\n" in text
    assert "written in" not in text
    page = words(client.get(reverse("admin:twitch_intake_encounter_change", args=[encounter.pk])))
    assert "Worse after night shifts." in page and "written in" not in page


def test_the_fhir_export_keeps_codes_whatever_the_language(spanish_clinician_browser):
    encounter = spanish_patients_encounter()

    def codes(resource: dict[str, Any]) -> list[Any]:
        found = []
        for group in resource["item"]:
            for item in group["item"]:
                found.append(item["linkId"])
                found += [a.get("valueCoding", {}).get("code") for a in item["answer"]]
        return found

    with translation.override("en"):
        english = fhir.response_json(encounter)
    with translation.override("es"):
        spanish = fhir.response_json(encounter)
    assert codes(spanish) == codes(english)
    assert "seizure" not in codes(english) and "vision-change" in codes(english)

    response = spanish_clinician_browser.get(
        reverse("admin:twitch_intake_encounter_fhir", args=[encounter.pk])
    )
    exported = response.content.decode()
    assert codes(english) == codes(json.loads(exported))
    assert "Eyelid" in exported and "Párpado" not in exported


@pytest.mark.django_db
def test_a_spanish_reader_sees_language_names_in_lower_case(settings):
    """Spanish writes language names in lower case ("inglés"); Django's own catalogue does not."""
    from twitch_intake import summary

    settings.LANGUAGE_CODE = "es"
    english = make_submitted(rich_answers(), language="en")
    with translation.override("es"):
        built = summary.build(english)
        assert str(built.header.answered_in) == "inglés"
        assert "inglés" in str(built.written_in)
    with translation.override("en"):
        assert str(summary.build(english).header.answered_in) == "English"
