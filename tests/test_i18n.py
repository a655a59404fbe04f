"""Spanish: a complete shipped catalogue, every patient page in Spanish, clinicians in English.

The patient chooses their language (the browser's preference, or the switch on every page); the
clinic reads everything in its own language (``settings.LANGUAGE_CODE``), whatever the patient or
the clinician's browser used. Free text is never translated.
"""

from __future__ import annotations

import ast
import gettext
import json
import re
import shutil
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tests.factories import (
    emergency_answers,
    issue,
    make_encounter,
    make_submitted,
    page_data,
    rich_answers,
)
from twitch_intake import fhir
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

APP = Path(__file__).resolve().parent.parent / "twitch_intake"
CATALOGUE = APP / "locale" / "es" / "LC_MESSAGES"
DOB = "1980-05-17"  # make_encounter's date of birth
GROUP_IDS = [g.link_id for g in TWITCH_INTAKE.groups]

#: Words that are the same in both languages: allowed as their own translation.
SAME_IN_SPANISH = {"No", "%(question)s %(answer)s"}


@pytest.fixture(autouse=True)
def _no_language_left_active():
    """LocaleMiddleware leaves the last request's language active in the thread: reset it."""
    yield
    translation.deactivate()


# --- Reading the catalogue ------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"

    @property
    def translations(self) -> list[str]:
        return [self.msgstr.get(i, "") for i in range(max(self.msgstr, default=0) + 1)]


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$')


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file (obsolete ``#~`` ones left out); the header is the first."""
    entries: list[Entry] = []
    entry = Entry()
    target: tuple[str, int] | None = None
    started = False

    def append(text: str) -> None:
        assert target is not None
        name, index = target
        if name == "msgstr":
            entry.msgstr[index] = entry.msgstr.get(index, "") + text
        else:
            setattr(entry, name, (getattr(entry, name) or "") + text)

    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if started:
                entries.append(entry)
            entry, target, started = Entry(), None, False
        elif line.startswith("#~"):
            continue
        elif line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif match := _KEYWORD.match(line):
            keyword, index, text = match.groups()
            target = ("msgstr", int(index or 0)) if keyword.startswith("msgstr") else (keyword, 0)
            started = True
            append(ast.literal_eval(text))
        elif line.startswith('"'):
            append(ast.literal_eval(line))
        else:
            raise AssertionError(f"{path.name}: cannot read {line!r}")
    return entries


def catalogue_of(entries: list[Entry]) -> dict[Any, str]:
    """The entries keyed as ``gettext.GNUTranslations`` keys its catalogue."""
    catalogue: dict[Any, str] = {}
    for entry in entries:
        if entry.msgid == "":  # msgfmt leaves the creation date out of the compiled header
            catalogue[""] = re.sub(r"^POT-Creation-Date: .*\n", "", entry.msgstr[0], flags=re.M)
            continue
        if entry.msgid_plural is None:
            catalogue[entry.key] = entry.msgstr[0]
        else:
            for index, text in entry.msgstr.items():
                catalogue[(entry.key, index)] = text
    return catalogue


def untranslated(entries: list[Entry]) -> list[str]:
    return [
        entry.key
        for entry in entries[1:]
        if "fuzzy" in entry.flags or not entry.msgstr or not all(entry.translations)
    ]


_PLACEHOLDERS = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}|<[^>]+>")


def placeholders(text: str) -> list[str]:
    return sorted(_PLACEHOLDERS.findall(text))


# --- The catalogue --------------------------------------------------------------------------


def test_every_entry_has_a_spanish_translation():
    entries = read_po(CATALOGUE / "django.po")
    assert entries[0].msgid == "" and "fuzzy" not in entries[0].flags
    assert "Language: es\n" in entries[0].msgstr[0]
    assert len(entries) > 300
    assert untranslated(entries) == []


def test_translations_keep_every_placeholder_and_tag():
    for entry in read_po(CATALOGUE / "django.po")[1:]:
        for text in entry.translations:
            source = entry.msgid if entry.msgid_plural is None else entry.msgid_plural
            assert placeholders(text) == placeholders(source), entry.msgid


def test_translations_are_spanish_not_copies():
    for entry in read_po(CATALOGUE / "django.po")[1:]:
        if entry.msgid not in SAME_IN_SPANISH:
            assert entry.msgstr[0] != entry.msgid, entry.msgid


def test_compiled_catalogue_matches_the_po():
    """The committed .mo is what ``compilemessages`` makes of the committed .po."""
    with (CATALOGUE / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    expected = catalogue_of(read_po(CATALOGUE / "django.po"))
    missing = sorted(str(k) for k in expected.keys() - compiled._catalog.keys())
    extra = sorted(str(k) for k in compiled._catalog.keys() - expected.keys())
    changed = sorted(
        str(k) for k in expected if k in compiled._catalog and compiled._catalog[k] != expected[k]
    )
    assert (missing, extra, changed) == ([], [], []), "run compilemessages"


@pytest.mark.skipif(
    shutil.which("xgettext") is None, reason="needs GNU gettext (apt-get install gettext)"
)
def test_every_marked_string_is_in_the_catalogue_and_translated(tmp_path, monkeypatch):
    """``makemessages`` on a copy of the app finds no string the shipped catalogue lacks."""
    copy = tmp_path / "twitch_intake"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns("__pycache__", "static"))
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["es"], no_obsolete=True, verbosity=0)
    fresh = read_po(copy / "locale" / "es" / "LC_MESSAGES" / "django.po")
    assert untranslated(fresh) == [], "run makemessages, translate the new entries, compilemessages"
    shipped = {entry.key for entry in read_po(CATALOGUE / "django.po")}
    assert {entry.key for entry in fresh} == shipped, "run makemessages --no-obsolete"


def test_django_serves_our_spanish_for_every_entry():
    """No other app's catalogue (the admin's "Change" is "Modificar") wins over ours."""
    served = {}
    with translation.override("es"):
        for entry in read_po(CATALOGUE / "django.po")[1:]:
            if entry.msgid_plural is not None:
                got = [translation.ngettext(entry.msgid, entry.msgid_plural, n) for n in (1, 2)]
                served[entry.key] = (got, [entry.msgstr[0], entry.msgstr[2]])
            elif entry.msgctxt is not None:
                served[entry.key] = (
                    translation.pgettext(entry.msgctxt, entry.msgid),
                    entry.msgstr[0],
                )
            else:
                served[entry.key] = (translation.gettext(entry.msgid), entry.msgstr[0])
    assert {key: got for key, (got, ours) in served.items() if got != ours} == {}


def test_every_question_answer_and_help_reads_in_spanish():
    texts = [TWITCH_INTAKE.title]
    for group in TWITCH_INTAKE.groups:
        texts += [group.title, group.intro]
        for question in group.questions:
            texts += [question.text, *(o.label for o in question.options)]
            texts += [question.help] if question.help else []
    for text in texts:
        with translation.override("en"):
            english = str(text)
        with translation.override("es"):
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


#: For each page of the intake: Spanish the patient must see on it.
PAGE_TEXT = {
    "emergency": [
        "Paso 1 de 5",
        "Señales que necesitan atención ahora",
        "Ahora mismo, o en las últimas 24 horas, ¿ha tenido alguno de estos problemas?",
        "Una convulsión (ataque)",
        "Ninguna de estas opciones",
        "Siguiente",
    ],
    "history": [
        "Paso 2 de 5",
        "Sobre sus espasmos",
        "¿Desde hace cuánto tiempo tiene espasmos musculares?",
        "Párpado",
        "Pantorrilla (parte de abajo de la pierna)",
        "Otro lugar",
        "Sí",
        "Atrás",
    ],
    "symptoms": [
        "Paso 3 de 5",
        "Otros síntomas",
        "Debilidad",
        "Calambres",
        "¿En qué parte del cuerpo siente debilidad?",
    ],
    "background": [
        "Paso 4 de 5",
        "Medicinas, salud y hábitos recientes",
        "ELA (esclerosis lateral amiotrófica)",
        "Esclerosis múltiple (EM)",
        "Distrofia muscular",
        "Síndrome de Tourette",
        "Un diurético (“pastilla para orinar”)",
    ],
    "closing": ["Paso 5 de 5", "Algo más", "¿Hay algo más que quiera contarle a su médico?"],
}


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
        client.post(link, {"date_of_birth": "1981-01-01"}),
        "Por favor, revise estas respuestas",
        "Esa fecha no coincide con la que tiene la clínica. Revísela e inténtelo otra vez.",
    )
    assert client.post(link, {"date_of_birth": DOB})["Location"] == "/intake/page/emergency/"

    # Page 1, with a missing answer first: the error is Spanish.
    page_one = "/intake/page/emergency/"
    assert_spanish(client.get(page_one), *PAGE_TEXT["emergency"])
    assert_spanish(
        client.post(page_one, {"_revealed": ""}),
        "Por favor, revise estas respuestas",
        "Marque al menos una respuesta, o “Ninguna de estas opciones”.",
        status=400,
    )
    assert (
        client.post(page_one, page_data("emergency", answers))["Location"]
        == "/intake/get-care-now/"
    )

    # The emergency page: Spanish, with the clinic's numbers.
    assert_spanish(
        client.get("/intake/get-care-now/"),
        "Busque atención médica ahora",
        "Usted nos dijo que tiene: Una convulsión (ataque)",
        "Llame al 911 ahora",
        "Si tiene dudas, llame a la clínica al 555-0100.",
        "Seguir con el formulario",
    )

    # Pages 2 to 5.
    for group in GROUP_IDS[1:]:
        url = f"/intake/page/{group}/"
        assert_spanish(client.get(url), *PAGE_TEXT[group])
        assert client.post(url, page_data(group, answers)).status_code == 302

    # The review: Spanish labels, free text as typed.
    assert_spanish(
        client.get("/intake/review/"),
        "Revise sus respuestas",
        "Último paso: revisar y enviar",
        "Una convulsión (ataque)",
        "Párpado",
        "Sertralina 50 mg",
        "Empezó después de un trabajo nuevo.",
        "Cambiar",
        "Enviar mis respuestas",
    )
    assert client.post("/intake/submit/")["Location"] == "/intake/thanks/"
    assert_spanish(
        client.get("/intake/thanks/"),
        "Gracias: sus respuestas se enviaron",
        "Su médico leerá sus respuestas antes de su cita.",
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
    spanish = assert_spanish(client.get("/intake/page/emergency/"), *PAGE_TEXT["emergency"])
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
        client.post(
            "/intake/start/", {"patient_name": "", "date_of_birth": "", "visit_date": "mañana"}
        ),
        "Por favor, revise estas respuestas",
        "Escriba su nombre.",
        "Escriba su fecha de nacimiento.",
        "Escriba una fecha válida.",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "call", "clinic"),
    [
        ("en", "Call 112 now", "If you are not sure, call the clinic at 020 7946 0000."),
        ("es", "Llame al 112 ahora", "Si tiene dudas, llame a la clínica al 020 7946 0000."),
    ],
)
def test_the_emergency_number_and_clinic_phone_come_from_settings(settings, language, call, clinic):
    settings.TWITCH_INTAKE = {
        **settings.TWITCH_INTAKE,
        "EMERGENCY_NUMBER": "112",
        "CLINIC_PHONE": "020 7946 0000",
    }
    encounter = make_encounter(
        answers={"emergency-signs": ["seizure"]}, completed_groups=["emergency"]
    )
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.post(f"/intake/link/{issue(encounter)}/", {"date_of_birth": DOB})
    response = client.get("/intake/get-care-now/")
    text = words(response)
    assert call in text and clinic in text
    assert 'href="tel:112"' in response.content.decode()
    assert "911" not in text and "555-0100" not in text


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
    assert text.startswith('PRE-VISIT SUMMARY: MUSCLE TWITCHING\nPatient: "Ada Example"\n')
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
    assert [str(m) for m in response.context["messages"]] == ["Marked reviewed."]
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
