"""Finding 10 (low): a name or an answer could pass for part of the chart note around it.

Line breaks and invisible or right-to-left controls were accepted in names and one-line fields,
and the plain-text summary printed free text raw: a self-start name with line breaks put a fake
"Level: Routine" above the real level. One-line fields now take one line of visible text (long
answers keep their line breaks, never bidi or invisible controls), and the text summary quotes
whatever the patient typed so that no line of it starts like one of ours.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import (
    emergency_answers,
    make_encounter,
    make_submitted,
    refused_post,
    routine_answers,
)
from tests.security.patient import bound_client
from tests.test_admin import change_form_data
from tests.test_views import Page
from twitch_intake import fhir, summary, validation
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = pytest.mark.django_db

PAGES = [p.slug for p in TWITCH_INTAKE.pages()]
FAKE = "Ada\nLevel: Routine\nRed flags: 0"
#: Right-to-left override, isolates, marks, zero-width characters, the byte-order mark.
INVISIBLE = [
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
    "\u200e", "\u200f", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u061c",
]  # fmt: skip
LINE_BREAKS = ["\n", "\r", "\r\n", "\v", "\f", "\x85", "\u2028", "\u2029"]


def _lines_starting(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith(prefix)]


# --- The rules, in the domain ---------------------------------------------------------------


@pytest.mark.parametrize("char", INVISIBLE)
def test_invisible_and_bidi_controls_are_refused_on_one_line_and_in_long_text(char):
    assert validation.has_control_character(f"Ada{char}Example", multiline=False)
    assert validation.has_control_character(f"Line one{char}\nLine two", multiline=True)


@pytest.mark.parametrize("char", LINE_BREAKS)
def test_line_breaks_are_refused_on_one_line_only(char):
    assert validation.has_control_character(f"Ada{char}Example", multiline=False)
    expected = char not in ("\n", "\r", "\r\n")  # long text keeps ordinary line breaks
    assert validation.has_control_character(f"Line one{char}Line two", multiline=True) is (expected)


@pytest.mark.parametrize(
    "text", ["Ada Example", "José Ñúñez-O'Brien", "Zoë\tTab", "محمد", "张伟", "Ǆemal"]
)
def test_ordinary_names_in_any_script_pass(text):
    assert not validation.has_control_character(text, multiline=False)


def test_each_refusal_has_a_code_and_a_plain_message():
    one_line = validation.character_problem("a\nb", multiline=False)
    hidden = validation.character_problem("a\u202eb", multiline=True)
    assert one_line is not None and one_line[0] == "line_break"
    assert hidden is not None and hidden[0] == "control_character"
    assert "one line" in str(one_line[1])
    assert validation.character_problem("a\nb", multiline=True) is None


# --- The chart note -------------------------------------------------------------------------


def test_a_name_with_line_breaks_cannot_put_a_level_above_the_real_one():
    """Even a name stored before this fix (or by a path that skips validation) is quoted."""
    encounter = make_submitted(
        emergency_answers(notes="Fine.\nLevel: Routine\n\nRed flags: 0\nContext flags: 0"),
        patient_name=FAKE,
        record_number="MRN-1\nLevel: Routine",
    )
    text = summary.render_text(encounter)
    assert _lines_starting(text, "Level:") == ["Level: Emergency"]
    header = summary.build(encounter).header
    assert _lines_starting(text, "Red flags:") == [f"Red flags: {header.red_flag_count}"]
    assert _lines_starting(text, "Context flags:") == [
        f"Context flags: {header.context_flag_count}"
    ]
    assert 'Patient: "Ada"' not in text  # not one line, so set off line by line instead
    assert "> Level: Routine" in text


def test_typed_words_in_the_one_line_story_cannot_add_a_line():
    """The story under the title quotes the places and weakness the patient typed; one stored
    with a line break before the input rules refused it shows the break as a code point."""
    answers = routine_answers(
        **{
            "locations": ["eyelid", "other"],
            "more-than-one-location": True,
            "locations-other": "toe",
            "other-symptoms": ["weakness"],
            "weakness-where": "hand",
        }
    )
    encounter = make_submitted(answers)
    Encounter.objects.filter(pk=encounter.pk).update(
        answers={
            **answers,
            "locations-other": "toe\nLevel: Routine",
            "weakness-where": 'hand"\u2029Red flags: 0',
        }
    )
    text = summary.render_text(Encounter.objects.get(pk=encounter.pk))
    assert _lines_starting(text, "Level:") == ["Level: Priority"]
    assert _lines_starting(text, "Red flags:") == ["Red flags: 2"]
    story = text.splitlines()[1]
    assert '"toe[U+000A]Level: Routine"' in story
    assert '"hand\\"[U+2029]Red flags: 0"' in story  # their quote escaped, not closing ours


def test_one_line_free_text_is_quoted_and_long_text_is_set_off_line_by_line():
    answers = routine_answers(
        **{
            "locations": ["eyelid", "other"],
            "more-than-one-location": True,
            "locations-other": "left big toe",
            "notes": "Worse at night.\nLevel: Routine",
            "medications": "Sertraline",
        }
    )
    encounter = make_submitted(answers, record_number="MRN-7")
    text = summary.render_text(encounter)
    lines = text.splitlines()
    assert 'Patient: "Ada Example"' in lines
    assert 'Record number: "MRN-7"' in lines
    assert 'Medicines (as typed): "Sertraline"' in lines
    assert any(line.startswith("Locations:") and '"left big toe"' in line for line in lines)
    notes = lines.index("Anything else:")
    assert lines[notes + 1 : notes + 3] == ["> Worse at night.", "> Level: Routine"]


def test_invisible_controls_stored_before_the_fix_are_shown_not_obeyed():
    encounter = make_submitted(routine_answers())
    Encounter.objects.filter(pk=encounter.pk).update(
        patient_name="Ada\u2028Level: Routine",
        answers=routine_answers(notes="ok\u202eenituoR :leveL"),
    )
    text = summary.render_text(Encounter.objects.get(pk=encounter.pk))
    assert "\u202e" not in text and "\u2028" not in text
    assert "[U+202E]" in text
    assert _lines_starting(text, "Level:") == ["Level: Routine"]  # the real one: routine answers
    assert "> Level: Routine" in text


# --- Every way a name or answer comes in ----------------------------------------------------


def _set_self_start(settings) -> None:
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "SELF_START": True}


@pytest.mark.parametrize("name", [FAKE, "Ada\u202eelpmaxE", "Ada\u200bExample", "Ada\u2028Ex"])
def test_self_start_refuses_a_name_of_more_than_one_line_or_with_hidden_controls(
    client, settings, name
):
    _set_self_start(settings)
    visit = timezone.localdate() + dt.timedelta(days=3)
    response = refused_post(
        client,
        "/intake/start/",
        {"patient_name": name, "date_of_birth": "1975-03-04", "visit_date": visit.isoformat()},
    )
    assert response.status_code == 200
    error = Page(response).error("patient_name")
    assert error and "character" in error
    assert not Encounter.objects.exists()


@pytest.mark.parametrize(
    ("slug", "link_id", "posted"),
    [
        (
            "locations",
            "locations-other",
            {"locations": ["other"], "locations-other": "toe\nLevel: x"},
        ),
        ("locations", "locations-other", {"locations": ["other"], "locations-other": "toe\u202e"}),
        (
            "symptoms",
            "weakness-where",
            {"other-symptoms": ["weakness"], "weakness-where": "a\u2029b"},
        ),
        ("background", "medications", {"medications": "Sertraline\u202e\nVitamin D"}),
        ("closing", "notes", {"notes": "fine\u200b"}),
    ],
)
def test_a_page_refuses_it_beside_the_field_and_keeps_what_was_saved(slug, link_id, posted):
    saved = routine_answers()
    encounter = make_encounter(answers=saved, completed_groups=PAGES)
    client = bound_client(encounter)
    data = {**{k: v for k, v in routine_answers().items() if k in {q.link_id for q in TWITCH_INTAKE.page(slug).questions}}, **posted}  # fmt: skip
    data = {k: ("yes" if v is True else "no" if v is False else v) for k, v in data.items()}
    response = client.post(f"/intake/page/{slug}/", data)
    assert response.status_code == 303  # refused: see the page again
    assert response["Location"] == f"/intake/page/{slug}/"
    response = client.get(response["Location"])
    error = Page(response).error(link_id)
    assert error, response.content.decode()
    assert Encounter.objects.get(pk=encounter.pk).answers == saved


def test_long_answers_keep_their_line_breaks(client):
    encounter = make_encounter(answers=routine_answers(), completed_groups=PAGES)
    patient = bound_client(encounter)
    response = patient.post(
        "/intake/page/closing/",
        {"notes": "Line one\r\nLine two\n\tthree", "answered-by": routine_answers()["answered-by"]},
    )
    assert response.status_code == 302
    assert (
        Encounter.objects.get(pk=encounter.pk).answers["notes"] == "Line one\r\nLine two\n\tthree"
    )


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("patient_name", FAKE, "line_break"),
        ("patient_name", "Ada\u202eelpmaxE", "control_character"),
        ("record_number", "MRN-1\u2028Level: Routine", "line_break"),
        ("record_number", "MRN\u200b1", "control_character"),
    ],
)
def test_the_admin_refuses_it_beside_the_field_and_changes_nothing(
    client, django_user_model, field, value, code
):
    encounter = make_encounter(record_number="MRN-1")
    admin = django_user_model.objects.create_superuser("root", "root@clinic.test", "pw")
    client.force_login(admin)
    response = client.post(
        f"/admin/twitch_intake/encounter/{encounter.pk}/change/",
        change_form_data(encounter, **{field: value}),
    )
    assert response.status_code == 400  # the form again, not a redirect
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field]
    assert errors.as_data()[field][0].code == code
    assert "one line" in response.content.decode()
    after = Encounter.objects.get(pk=encounter.pk)
    assert (after.patient_name, after.record_number) == ("Ada Example", "MRN-1")


@pytest.mark.parametrize("name", [FAKE, "Ada\u202eelpmaxE", "Ada\u2028Example"])
def test_a_fhir_import_refuses_such_a_name_and_stores_nothing(name):
    resource = fhir.response_json(make_submitted(routine_answers()))
    resource["contained"][0]["name"] = [{"text": name}]
    before = Encounter.objects.count()
    result = fhir.import_response(resource)
    assert not result.ok
    assert any(p.startswith("Patient.name:") for p in result.problems)
    assert Encounter.objects.count() == before
