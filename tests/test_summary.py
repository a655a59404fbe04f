"""The clinician's summary: the view-model, the HTML partial, the print page and the text note."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.test.html import Element, parse_html

from tests.factories import emergency_answers, make_submitted, rich_answers, routine_answers
from twitch_intake import body_diagram, summary, triage
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE

pytestmark = pytest.mark.django_db

CSS = Path(summary.__file__).parent / "static" / "twitch_intake" / "summary.css"


def label(link_id: str, code: str) -> str:
    return str(TWITCH_INTAKE.question(link_id).label(code))


def elements(node: Element, test: Callable[[Element], bool]) -> Iterator[Element]:
    for child in node.children:
        if isinstance(child, Element):
            if test(child):
                yield child
            yield from elements(child, test)


def attr(element: Element, name: str) -> str | None:
    return dict(element.attributes).get(name)


def text_of(node: Element | str) -> str:
    if isinstance(node, str):
        return node
    return " ".join(text_of(child) for child in node.children)


def has_class(name: str) -> Callable[[Element], bool]:
    return lambda el: name in (attr(el, "class") or "").split()


def one(node: Element, test: Callable[[Element], bool]) -> Element:
    found = list(elements(node, test))
    assert len(found) == 1, found
    return found[0]


def tamper(encounter: Encounter, **changes: object) -> Encounter:
    """Change stored answers behind the app's back, as a direct database edit would."""
    Encounter.objects.filter(pk=encounter.pk).update(answers={**encounter.answers, **changes})
    return Encounter.objects.get(pk=encounter.pk)


# --- build() ---------------------------------------------------------------------------------


def test_emergency_summary_lists_signs_and_red_flags_in_table_order():
    encounter = make_submitted(
        emergency_answers(**{"other-symptoms": ["weakness"], "locations": ["hand", "calf"]})
    )

    result = summary.build(encounter)

    assert result.is_emergency
    assert str(result.header.level_label) == "Emergency"
    assert [str(s) for s in result.emergency_signs] == [
        label("emergency-signs", "seizure"),
        label("emergency-signs", "severe-headache"),
    ]
    assert [line.code for line in result.red_flags] == ["emergency-signs", "weakness", "multifocal"]
    assert all(line.raised and line.evidence and line.source for line in result.red_flags)
    assert "Weakness" in result.red_flags[1].evidence
    assert [line.code for line in result.negatives] == ["muscle-loss", "severe", "persistent"]
    assert result.header.flag_count == 3
    assert [line.code for line in result.highlights] == ["weakness", "multifocal"]
    assert result.other_red_flags == ()


def test_priority_summary_keeps_negatives_for_flags_not_raised():
    encounter = make_submitted(routine_answers(severity="severe", duration="months"))

    result = summary.build(encounter)

    assert result.header.level is triage.Level.PRIORITY
    assert [line.code for line in result.red_flags] == ["severe", "persistent"]
    negatives = {line.code: str(line.negative) for line in result.negatives}
    assert negatives["emergency-signs"] == "patient ticked none of these"
    assert negatives["weakness"] == "not reported"
    assert negatives["multifocal"] == "not reported"
    assert [line.raised for line in result.highlights] == [False, False]
    assert result.emergency_flag is None


def test_routine_summary_has_every_red_flag_as_a_negative_in_table_order():
    result = summary.build(make_submitted(routine_answers()))

    assert result.header.level is triage.Level.ROUTINE
    assert result.red_flags == ()
    assert [line.code for line in result.negatives] == [r.code for r in triage.rules() if r.is_red]
    severity = next(line for line in result.negatives if line.code == "severe")
    assert str(severity.negative) == f"not reported (answered: {label('severity', 'mild')})"
    assert result.context_flags == ()
    assert len(result.references) == 6
    assert "does not replace" in str(result.disclaimer)


def test_age_is_counted_on_the_local_date_of_the_visit():
    # 03:00 UTC on the 17th is still the 16th in New York (TIME_ZONE): the day before the birthday.
    before = make_submitted(
        date_of_birth=dt.date(1980, 5, 17),
        visit_at=dt.datetime(2025, 5, 17, 3, 0, tzinfo=dt.UTC),
        record_number="MRN-77",
    )
    on_the_day = make_submitted(
        date_of_birth=dt.date(1980, 5, 17), visit_at=dt.datetime(2025, 5, 17, 16, 0, tzinfo=dt.UTC)
    )

    header = summary.build(before).header

    assert header.age == 44
    assert summary.build(on_the_day).header.age == 45
    assert header.record_number == "MRN-77"
    assert header.submitted_at == before.submitted_at
    assert summary.age_on(dt.date(2000, 2, 29), dt.date(2021, 2, 28)) == 20


def test_history_is_in_clinical_order_with_the_questionnaire_labels():
    result = summary.build(make_submitted(rich_answers()))

    assert [item.link_id for item in result.history] == [
        "duration",
        "severity",
        "locations",
        "more-than-one-location",
        "pattern",
        "episode-length",
        "other-symptoms",
        "weakness-where",
        "medications",
        "medication-flags",
        "conditions",
        "condition-flags",
        "triggers",
        "notes",
    ]
    items = {item.link_id: item for item in result.history}
    assert [str(v) for v in items["locations"].values] == [
        "Eyelid",
        "Thigh",
        "Calf (lower leg)",
        "Somewhere else: left big toe",
    ]
    assert [str(v) for v in items["more-than-one-location"].values] == ["Yes"]
    assert items["medications"].values == ("Sertraline 50 mg\nVitamin D",)
    assert items["medications"].free_text
    assert items["weakness-where"].values == ("right hand",)


def test_history_leaves_out_follow_ups_never_shown_and_marks_blank_answers():
    encounter = make_submitted(routine_answers(pattern="constant", **{"episode-length": None}))

    result = summary.build(encounter)
    html = summary.render_html(encounter)

    codes = [item.link_id for item in result.history]
    assert "episode-length" not in codes
    assert "weakness-where" not in codes
    medications = next(item for item in result.history if item.link_id == "medications")
    assert not medications.answered
    dom = parse_html(html)
    row = one(dom, lambda el: el.name == "dt" and attr(el, "data-question") == "medications")
    assert "Medicines" in text_of(row)
    assert html.count("not answered") == 3  # medicines, conditions, notes


def test_context_flags_carry_evidence_and_source():
    encounter = make_submitted(rich_answers())

    result = summary.build(encounter)
    html = summary.render_html(encounter)

    assert [line.code for line in result.context_flags] == [
        "lifestyle-triggers",
        "medication-link",
        "neuro-history",
        "metabolic-history",
    ]
    context = one(parse_html(html), has_class("ti-context-flags"))
    for line in result.context_flags:
        assert str(line.label) in text_of(context)
        assert str(line.source) in text_of(context)
    assert label("condition-flags", "thyroid-disease") in text_of(context)


# --- The HTML partial ------------------------------------------------------------------------


def test_emergency_banner_lists_each_sign_first():
    html = summary.render_html(make_submitted(emergency_answers()))

    banner = one(parse_html(html), has_class("ti-emergency"))
    assert attr(banner, "role") == "alert"
    signs = [text_of(li).strip() for li in elements(banner, lambda el: el.name == "li")]
    assert signs == [
        label("emergency-signs", "seizure"),
        label("emergency-signs", "severe-headache"),
    ]
    assert html.index("ti-emergency") < html.index("ti-highlights") < html.index("ti-history")


def test_weakness_and_multifocal_are_highlighted_under_the_banner_never_folded():
    answers = rich_answers()
    encounter = make_submitted(answers)
    evidence = {line.code: line.evidence for line in summary.build(encounter).red_flags}

    html = summary.render_html(encounter)

    assert "<details" not in html
    dom = parse_html(html)
    highlights = one(dom, has_class("ti-highlights"))
    for code in ("weakness", "multifocal"):
        box = one(highlights, lambda el, code=code: attr(el, "data-flag") == code)
        assert "ti-highlight-raised" in attr(box, "class")
        assert str(evidence[code]) in text_of(box)
    assert (
        html.index("ti-emergency")
        < html.index('data-flag="weakness"')
        < html.index('data-flag="multifocal"')
        < html.index("ti-body-diagram")
        < html.index("ti-context-flags")
    )
    # The other raised red flags follow, each with its evidence.
    others = list(elements(dom, has_class("ti-red-flag")))
    assert [attr(el, "data-flag") for el in others] == ["muscle-loss", "severe", "persistent"]
    for el in others:
        assert str(evidence[attr(el, "data-flag")]) in text_of(el)


def test_routine_patient_sees_pertinent_negatives_and_no_alert():
    html = summary.render_html(make_submitted(routine_answers()))
    dom = parse_html(html)

    assert 'role="alert"' not in html
    highlights = text_of(one(dom, has_class("ti-highlights")))
    assert "Weakness with the twitching: not reported" in highlights
    assert "Twitching in more than one place: not reported" in highlights
    negatives = text_of(one(dom, has_class("ti-negatives")))
    assert "Emergency signs: patient ticked none of these" in negatives
    assert "Muscle looks smaller or thinner: not reported" in negatives
    references = text_of(one(dom, has_class("ti-references")))
    assert "not a recommendation" in references
    assert "Nerve conduction study" in references
    assert "does not replace" in text_of(one(dom, has_class("ti-disclaimer")))


def test_a_red_flag_question_left_unanswered_says_not_answered_not_not_reported():
    encounter = make_submitted(routine_answers())
    altered = Encounter.objects.get(pk=encounter.pk)
    answers = dict(altered.answers)
    del answers["other-symptoms"]
    Encounter.objects.filter(pk=encounter.pk).update(answers=answers)

    result = summary.build(Encounter.objects.get(pk=encounter.pk))

    negatives = {line.code: str(line.negative) for line in result.negatives}
    assert negatives["weakness"] == "not answered"
    assert negatives["muscle-loss"] == "not answered"
    assert negatives["severe"] != "not answered"


def test_disagreement_note_is_shown_in_both_versions():
    encounter = make_submitted(routine_answers(locations=["eyelid", "hand"]))

    result = summary.build(encounter)

    assert [line.code for line in result.red_flags] == ["multifocal"]
    assert len(result.notes) == 1
    assert "disagree" in result.notes[0]
    notes = text_of(one(parse_html(summary.render_html(encounter)), has_class("ti-notes")))
    assert str(result.notes[0]) in notes
    assert str(result.notes[0]) in summary.render_text(encounter)


def test_free_text_is_escaped_in_html_and_kept_as_typed_in_text():
    typed = '<script>alert("x")</script> & <b>bold</b>'
    encounter = make_submitted(
        rich_answers() | {"notes": typed, "locations-other": "<img src=x onerror=alert(1)>"}
    )

    html = summary.render_html(encounter)
    text = summary.render_text(encounter)

    assert "<script" not in html
    assert "<b>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html
    assert typed in text
    assert "<img src=x onerror=alert(1)>" in text


def test_integrity_warning_only_when_answers_change_after_submit():
    encounter = make_submitted(routine_answers())
    assert summary.build(encounter).integrity_ok
    assert str(summary.INTEGRITY_WARNING) not in summary.render_html(encounter)

    altered = tamper(encounter, severity="severe")

    result = summary.build(altered)
    assert not result.integrity_ok
    warning = one(parse_html(summary.render_html(altered)), has_class("ti-integrity"))
    assert attr(warning, "role") == "alert"
    assert str(summary.INTEGRITY_WARNING) in text_of(warning)
    assert str(summary.INTEGRITY_WARNING) in summary.render_text(altered)
    # The summary shows what the answers now say.
    assert [line.code for line in result.red_flags] == ["severe"]


def test_flags_are_recomputed_from_answers_not_read_from_the_queue_fields():
    encounter = make_submitted(emergency_answers())
    assert summary.build(encounter).triage_notice == ""
    Encounter.objects.filter(pk=encounter.pk).update(level="routine", flags=[], flag_count=0)

    stale = Encounter.objects.get(pk=encounter.pk)
    result = summary.build(stale)

    assert result.is_emergency
    assert result.header.flag_count == 1
    assert result.red_flags[0].evidence
    assert "Routine" in str(result.triage_notice)
    assert str(result.triage_notice) in summary.render_html(stale)


# --- The body diagram ------------------------------------------------------------------------


def test_body_diagram_marks_exactly_the_places_ticked():
    encounter = make_submitted(rich_answers())  # eyelid, thigh, calf, other

    svg = one(parse_html(summary.render_html(encounter)), lambda el: el.name == "svg")

    groups = list(elements(svg, lambda el: attr(el, "data-location") is not None))
    assert {attr(g, "data-location") for g in groups} == {"eyelid", "thigh", "calf"}
    circles = list(elements(svg, lambda el: el.name == "circle"))
    assert len(circles) == sum(len(body_diagram.MARKERS[c]) for c in ("eyelid", "thigh", "calf"))
    drawn = {(int(attr(c, "cx")), int(attr(c, "cy"))) for c in circles}
    assert set(body_diagram.MARKERS["calf"]) <= drawn
    assert attr(svg, "role") == "img"
    description = attr(svg, "aria-label")
    for place in ("Eyelid", "Thigh", "Calf (lower leg)", "Somewhere else: left big toe"):
        assert place in description
    assert "Hand" not in description
    title = next(c for c in svg.children if isinstance(c, Element) and c.name == "title")
    assert text_of(title).strip() == description
    legend = text_of(one(parse_html(summary.render_html(encounter)), has_class("ti-body-legend")))
    assert "left big toe" in legend


def test_every_location_but_other_has_distinct_markers_inside_the_drawing():
    codes = set(TWITCH_INTAKE.question("locations").codes)
    _, _, width, height = body_diagram.VIEWBOX

    assert set(body_diagram.MARKERS) == codes - {"other"}
    points = [p for places in body_diagram.MARKERS.values() for p in places]
    assert len(points) == len(set(points))
    assert all(0 < x < width and 0 < y < height - 15 for x, y in points)


# --- Text and print versions -----------------------------------------------------------------


def test_text_version_has_the_same_highlights_and_evidence_and_no_html():
    encounter = make_submitted(rich_answers())
    result = summary.build(encounter)

    text = summary.render_text(encounter)

    assert not re.search(r"</?[a-zA-Z][^>]*>", text)
    assert "&lt;" not in text and "&amp;" not in text and "&#" not in text
    assert "\n\n\n" not in text
    assert "EMERGENCY SIGNS REPORTED" in text
    assert label("emergency-signs", "vision-change") in text
    # The banner lists the signs; every other flag reads "label (evidence)".
    for line in result.red_flags[1:] + result.context_flags:
        assert f"{line.label} ({line.evidence})" in text
    for item in result.history:
        assert f"{item.heading}:" in text
    assert "Medicines (as typed):\n> Sertraline 50 mg\n> Vitamin D\n" in text
    assert 'Where weak: "right hand"' in text
    order = [
        "Ada Example",
        "EMERGENCY SIGNS REPORTED",
        "Weakness with the twitching (",
        "Twitching in more than one place (",
        "OTHER RED FLAGS",
        "HISTORY",
        "CONTEXT",
        "REFERENCE",
        str(result.disclaimer),
    ]
    assert [text.index(part) for part in order] == sorted(text.index(part) for part in order)


def test_text_version_of_a_routine_patient_lists_the_negatives():
    text = summary.render_text(make_submitted(routine_answers()))

    assert "EMERGENCY" not in text
    assert "- Emergency signs: patient ticked none of these" in text
    assert "Weakness with the twitching: not reported" in text
    assert "Anything else: not answered" in text


def test_print_page_is_standalone_and_obeys_the_content_security_policy():
    encounter = make_submitted(rich_answers())

    page = summary.render_print(encounter)

    assert page.lower().startswith("<!doctype html>")
    assert 'href="/static/twitch_intake/vendor/bootstrap.min.css"' in page
    assert 'href="/static/twitch_intake/summary.css"' in page
    assert "ti-emergency" in page and "Ada Example" in page
    assert "Test Clinic" in page
    for forbidden in ("<script", "<style", " style=", "//cdn", "http://", "https://"):
        assert forbidden not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    css = CSS.read_text()
    assert "@media print" in css
    for used in ("ti-marker", "ti-emergency", "ti-highlight-raised", "ti-free-text"):
        assert f".{used}" in css


# --- Contract 1.1.0: the header, the one-line story, versions --------------------------------


def als_like_answers() -> dict:
    """The clinical review's case: a patient whose 1.0.0 summary came out routine."""
    return routine_answers(
        **{
            "duration": "months",
            "onset": "gradual",
            "course": "worse",
            "severity": "moderate",
            "frequency": "many-times-a-day",
            "locations": ["tongue", "forearm", "hand", "thigh"],
            "side": "right",
            "more-than-one-location": True,
            "pattern": "constant",
            "episode-length": None,
            "other-symptoms": ["weakness", "muscle-loss", "trouble-swallowing", "speech-change"],
            "weakness-where": "right hand",
        }
    )


def als_like_encounter() -> Encounter:
    visit = dt.datetime(2031, 3, 10, 15, 0, tzinfo=dt.UTC)
    return make_submitted(
        als_like_answers(),
        patient_name="Ramón Ejemplo",
        date_of_birth=dt.date(1962, 7, 1),  # 68 at the visit
        visit_at=visit,
        record_number="MRN-68",
    )


def test_the_als_like_patient_is_read_in_the_first_three_lines_of_the_chart_note():
    text = summary.render_text(als_like_encounter())

    first = "\n".join(text.splitlines()[:3])
    for words in (
        "68 years old",
        "1 to 6 months",  # duration
        "4 places in 3 body regions",
        "Tongue",
        'Weakness ("right hand")',
        "Muscle loss",
        "Trouble swallowing",
        "Speech change",
        "Got worse",  # course
        "Slowly, over weeks or months",  # onset
    ):
        assert words in first, (words, first)
    print(text)
