"""The clinician's summary: the view-model, the HTML partial, the print page and the text note."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.test.html import Element, parse_html
from django.utils import timezone

from tests.factories import (
    answers_1_0_0,
    emergency_answers,
    make_encounter,
    make_submitted,
    rich_answers,
    routine_answers,
)
from twitch_intake import body_diagram, services, summary, triage
from twitch_intake.models import Encounter, Status
from twitch_intake.questionnaire import TWITCH_INTAKE, Side, for_version

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


def submitted_1_0_0(answers: dict, **fields: object) -> Encounter:
    """An encounter submitted under questionnaire 1.0.0, stored as it was then (its level and
    flags by the rules on its answers): it stays at its version forever."""
    encounter = Encounter(
        patient_name="Ada Example",
        date_of_birth=dt.date(1980, 5, 17),
        visit_at=timezone.now() + dt.timedelta(days=3),
        answers=answers,
        questionnaire_version="1.0.0",
        status=Status.SUBMITTED,
        submitted_at=timezone.now(),
        answers_digest=services.answers_digest(answers),
        **fields,
    )
    services.apply_assessment(encounter, triage.assess(answers, for_version("1.0.0")))
    encounter.save()
    return encounter


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
    assert [line.code for line in result.negatives] == [
        "muscle-loss",
        "bulbar",
        "breathing",
        "recent-emergency-signs",
        "severe",
        "persistent",
    ]
    assert (result.header.red_flag_count, result.header.context_flag_count) == (3, 0)
    assert result.header.flag_count == 3
    assert [line.code for line in result.highlights] == [
        "weakness",
        "multifocal",
        "bulbar",
        "breathing",
    ]
    assert [line.raised for line in result.highlights] == [True, True, False, False]
    assert result.other_red_flags == ()


def test_priority_summary_keeps_negatives_for_flags_not_raised():
    encounter = make_submitted(routine_answers(severity="severe", duration="months"))

    result = summary.build(encounter)

    assert result.header.level is triage.Level.PRIORITY
    assert [line.code for line in result.red_flags] == ["severe", "persistent"]
    negatives = {line.code: str(line.negative) for line in result.negatives}
    assert negatives["emergency-signs"] == "no (answered “None of these”)"
    assert negatives["weakness"] == "no (answered “None of these”)"
    assert negatives["multifocal"] == "no (one place: Eyelid)"
    assert negatives["breathing"] == "no (answered “None of these”)"
    assert [line.raised for line in result.highlights] == [False, False, False, False]
    assert result.emergency_flag is None


def test_routine_summary_has_every_red_flag_as_a_negative_in_table_order():
    result = summary.build(make_submitted(routine_answers()))

    assert result.header.level is triage.Level.ROUTINE
    assert result.red_flags == ()
    assert [line.code for line in result.negatives] == [r.code for r in triage.rules() if r.is_red]
    severity = next(line for line in result.negatives if line.code == "severe")
    assert str(severity.negative) == f"no (answered “{label('severity', 'mild')}”)"
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

    # The contract's clinical order ("What the summary holds", 4), every 1.1.0 question.
    assert [item.link_id for item in result.history] == [
        "duration",
        "onset",
        "course",
        "severity",
        "frequency",
        "movement",
        "locations",
        "side",
        "more-than-one-location",
        "pattern",
        "episode-length",
        "other-symptoms",
        "recent-emergency",
        "family-history",
        "medications",
        "medication-flags",
        "conditions",
        "condition-flags",
        "pregnancy",
        "triggers",
        "notes",
    ]
    items = {item.link_id: item for item in result.history}
    assert [str(v) for v in items["locations"].values] == [
        "Eyelid",
        "Thigh",
        label("locations", "calf"),
        "Somewhere else: left big toe",
    ]
    assert [str(v) for v in items["more-than-one-location"].values] == ["Yes"]
    assert items["medications"].values == ("Sertraline 50 mg\nVitamin D",)
    assert items["medications"].free_text
    # Where weak says more about the weakness ticked: it follows that option's label.
    assert "Weakness: right hand" in [str(v) for v in items["other-symptoms"].values]
    assert all(not item.not_asked for item in result.history)


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

    # Only the reference list is folded away; the red flags never are.
    assert html.count("<details") == 1
    assert html.index("<details") == html.index('<details class="ti-references"')
    assert html.index("<details") > html.index("ti-context-flags")
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
        < html.index('data-flag="bulbar"')
        < html.index('data-flag="breathing"')
        < html.index("ti-red-flags")
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
    assert "Weakness with the twitching: no (answered “None of these”)" in highlights
    assert "Twitching in more than one place: no (one place: Eyelid)" in highlights
    assert "Short of breath lying flat or with light activity: no (answered" in highlights
    negatives = text_of(one(dom, has_class("ti-negatives")))
    assert "Emergency signs: no (answered “None of these”)" in negatives
    assert "Muscle looks smaller or thinner: no (answered “None of these”)" in negatives
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
    assert typed.replace('"', '\\"') in text  # as typed, its quotes escaped in ours
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


def drawn(html: str) -> set[tuple[int, int]]:
    svg = one(parse_html(html), lambda el: el.name == "svg")
    circles = elements(svg, lambda el: el.name == "circle")
    return {(int(attr(c, "cx")), int(attr(c, "cy"))) for c in circles}


def points(codes: tuple[str, ...], sides: set[Side | None]) -> set[tuple[int, int]]:
    return {(x, y) for c in codes for x, y, side in body_diagram.MARKERS[c] if side in sides}


def test_body_diagram_marks_exactly_the_places_ticked_on_the_side_answered():
    encounter = make_submitted(rich_answers())  # eyelid, thigh, calf, other; side: left

    html = summary.render_html(encounter)
    svg = one(parse_html(html), lambda el: el.name == "svg")

    groups = list(elements(svg, lambda el: attr(el, "data-location") is not None))
    assert {attr(g, "data-location") for g in groups} == {"eyelid", "thigh", "calf"}
    # The left eyelid and thigh are on the reader's right of the front view (it faces them);
    # the left calf on the reader's left of the back view.
    assert drawn(html) == {(67, 15), (72, 168), (188, 214)}
    assert drawn(html) == points(("eyelid", "thigh", "calf"), {Side.LEFT})
    assert attr(svg, "role") == "img"
    description = attr(svg, "aria-label")
    for place in ("Eyelid", "Thigh", label("locations", "calf"), "Somewhere else: left big toe"):
        assert place in description
    assert "Hand" not in description
    title = next(c for c in svg.children if isinstance(c, Element) and c.name == "title")
    assert text_of(title).strip() == description
    legend = text_of(one(parse_html(summary.render_html(encounter)), has_class("ti-body-legend")))
    assert "left big toe" in legend
    assert "Side: Left. Paired places are marked on that side only." in legend


@pytest.mark.parametrize(
    ("side", "sides"),
    [
        ("right", {Side.RIGHT, None}),
        ("left", {Side.LEFT, None}),
        ("both", {Side.RIGHT, Side.LEFT, None}),
        ("not-sure", {Side.RIGHT, Side.LEFT, None}),
    ],
)
def test_body_diagram_marks_paired_places_on_the_side_answered_and_midline_ones_always(side, sides):
    places = ("eyelid", "tongue", "hand", "back", "calf", "foot")
    answers = routine_answers(locations=list(places), side=side, **{"more-than-one-location": True})

    html = summary.render_html(make_submitted(answers))

    assert drawn(html) == points(places, sides)
    assert {(60, 30), (200, 92)} <= drawn(html)  # tongue and back: the midline


def test_body_diagram_of_a_side_never_asked_marks_both_sides_and_says_why():
    answers = answers_1_0_0(locations=["hand", "calf"], **{"more-than-one-location": True})
    encounter = submitted_1_0_0(answers)

    html = summary.render_html(encounter)

    assert drawn(html) == points(("hand", "calf"), {Side.LEFT, Side.RIGHT})
    legend = text_of(one(parse_html(html), has_class("ti-body-legend")))
    assert "Side: not asked (form version 1.0.0), so paired places are marked on both sides." in (
        " ".join(legend.split())
    )


def test_every_location_but_other_has_distinct_markers_inside_the_drawing():
    codes = set(TWITCH_INTAKE.question("locations").codes)
    _, _, width, height = body_diagram.VIEWBOX

    assert set(body_diagram.MARKERS) == codes - {"other"}
    marks = [(x, y) for places in body_diagram.MARKERS.values() for x, y, _ in places]
    assert len(marks) == len(set(marks))
    assert all(0 < x < width and 0 < y < height - 15 for x, y in marks)
    for code, places in body_diagram.MARKERS.items():
        sides = [side for _, _, side in places]
        assert sides in ([None], [Side.RIGHT, Side.LEFT], [Side.LEFT, Side.RIGHT]), code
        for x, _, side in places:
            # The front view (x < 120) faces the reader: the patient's right on the reader's
            # left of its middle (60); the back view (middle 200) is seen from behind.
            middle = 60 if x < 120 else 200
            if side is not None:
                on_readers_left = x < middle
                assert on_readers_left is ((side is Side.RIGHT) == (middle == 60)), code


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
    assert 'Weakness: "right hand"' in text
    order = [
        "Ada Example",
        "EMERGENCY SIGNS REPORTED",
        "Weakness with the twitching (",
        "Twitching in more than one place (",
        "OTHER RED FLAGS",
        "HISTORY",
        "CONTEXT",
        str(result.disclaimer),
    ]
    assert [text.index(part) for part in order] == sorted(text.index(part) for part in order)
    # The reference list is for the screen, folded away; the chart note leaves it out.
    assert "REFERENCE" not in text
    assert all(str(reference) not in text for reference in result.references)


def test_text_version_of_a_routine_patient_lists_the_negatives():
    text = summary.render_text(make_submitted(routine_answers()))

    assert "EMERGENCY" not in text
    assert "- Emergency signs: no (answered “None of these”)" in text
    assert "Weakness with the twitching: no (answered “None of these”)" in text
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
    assert first.splitlines()[1].startswith("68 years old · ")  # under the title, one line


def test_the_story_is_one_line_in_the_contracts_order_built_only_from_the_answers():
    result = summary.build(als_like_encounter())

    assert [str(part) for part in result.story] == [
        "68 years old",
        "Duration: 1 to 6 months",
        "Onset: Slowly, over weeks or months; Course: Got worse",
        "4 places in 3 body regions (Tongue, Forearm, Hand, Thigh); Side: Right",
        "Pattern: All the time",
        "Severity: Moderate",
        'Weakness ("right hand"), Muscle loss, Trouble swallowing, Speech change',
    ]
    # Nothing the patient did not say: no level, no diagnosis, no "none of these".
    line = summary.STORY_SEPARATOR.join(str(part) for part in result.story)
    for absent in ("ALS", "Priority", "None of these", "Emergency"):
        assert absent not in line


def test_the_story_counts_other_as_a_region_of_its_own_and_quotes_typed_words_in_the_note():
    answers = routine_answers(
        locations=["eyelid", "other"],
        **{"locations-other": 'toe "x"\nLevel: Routine', "more-than-one-location": True},
    )
    encounter = make_submitted({**answers, "locations-other": "toe"})
    encounter = tamper(encounter, **answers)  # a line break, stored behind the form's back

    result = summary.build(encounter)

    places = next(str(p) for p in result.story if "places" in str(p))
    assert places.startswith('2 places in 2 body regions (Eyelid, Somewhere else ("toe')
    assert "\n" not in result.story_as_text
    assert '(Eyelid, Somewhere else ("toe \\"x\\"[U+000A]Level: Routine"))' in result.story_as_text
    text = summary.render_text(encounter)
    assert text.splitlines()[1] == result.story_as_text
    assert [line for line in text.splitlines() if line.startswith("Level:")] == ["Level: Priority"]


def test_the_story_names_current_and_withdrawn_emergency_signs_and_recent_ones():
    answers = emergency_answers(
        **{
            "emergency-signs": ["seizure"],
            "recent-emergency": True,
            "recent-emergency-signs": ["vomiting"],
            "other-symptoms": ["breathless"],
        }
    )
    encounter = make_submitted(answers)

    result = summary.build(encounter)

    line = summary.STORY_SEPARATOR.join(str(part) for part in result.story)
    seizure, vomiting = label("emergency-signs", "seizure"), label("emergency-signs", "vomiting")
    assert f"Emergency signs: {seizure}" in line
    assert f"Emergency signs since the twitching started: {vomiting}" in line
    assert "Breathless lying flat or on light activity" in line
    assert line.index("Breathless") < line.index("Emergency signs:")


def test_the_story_names_a_sign_the_patient_took_back():
    encounter = make_encounter(answers=emergency_answers(**{"emergency-signs": ["seizure"]}))
    # The patient's next save takes it back; the history's trigger keeps the first.
    Encounter.objects.filter(pk=encounter.pk).update(answers=routine_answers())
    encounter = Encounter.objects.get(pk=encounter.pk)

    line = summary.STORY_SEPARATOR.join(str(part) for part in summary.build(encounter).story)

    assert f"Emergency signs taken back: {label('emergency-signs', 'seizure')}" in line
    assert not line.startswith("Emergency signs: ")


def test_the_header_counts_red_and_context_flags_apart_and_says_who_answered_in_what():
    encounter = make_submitted(
        rich_answers() | {"answered-by": "with-help"}, language="es"
    )  # red: emergency, weakness, multifocal, muscle loss, severe, persistent

    result = summary.build(encounter)
    header = result.header
    html = summary.render_html(encounter)
    text = summary.render_text(encounter)

    assert (header.red_flag_count, header.context_flag_count) == (
        len(result.red_flags),
        len(result.context_flags),
    )
    assert header.red_flag_count == 6 and header.context_flag_count == 4
    assert header.questionnaire_version == "1.1.0"
    assert [str(item.heading) for item in header.about] == ["Filled in by"]
    assert [str(v) for v in header.about[0].values] == [label("answered-by", "with-help")]
    assert str(header.answered_in) == "Spanish" and header.interpreter_needed
    dom = parse_html(html)
    assert text_of(one(dom, has_class("ti-red-flag-count"))).strip() == "6"
    assert text_of(one(dom, has_class("ti-context-flag-count"))).strip() == "4"
    assert "(interpreter may be needed)" in text_of(one(dom, has_class("ti-answered-in")))
    lines = text.splitlines()
    for expected in (
        "Red flags: 6",
        "Context flags: 4",
        "Form version: 1.1.0",
        f"Filled in by: {label('answered-by', 'with-help')}",
        "Answered in: Spanish (interpreter may be needed)",
    ):
        assert expected in lines, expected


def test_no_interpreter_line_in_the_clinics_language_and_an_unknown_language_is_said(settings):
    english = summary.build(make_submitted(routine_answers(), language="en"))
    unknown = summary.build(make_submitted(routine_answers()))

    assert str(english.header.answered_in) == "English" and not english.header.interpreter_needed
    assert unknown.header.answered_in == "" and not unknown.header.interpreter_needed
    settings.LANGUAGE_CODE = "es"
    assert summary.build(make_submitted(routine_answers(), language="en")).header.interpreter_needed


def test_benzodiazepine_withdrawal_is_shown_in_the_top_block_as_context():
    encounter = make_submitted(
        routine_answers(**{"medication-flags": ["benzodiazepine-withdrawal"]})
    )

    result = summary.build(encounter)
    html = summary.render_html(encounter)
    text = summary.render_text(encounter)

    assert result.header.level is triage.Level.ROUTINE  # context: no change of level
    ticked = label("medication-flags", "benzodiazepine-withdrawal")
    assert [str(answer.label) for answer in result.shown_first] == [ticked]
    assert str(result.shown_first[0].source) == str(triage.rule("medication-link").source)
    top = text_of(
        one(one(parse_html(html), has_class("ti-highlights")), has_class("ti-shown-first"))
    )
    assert ticked in top and "changes no level" in top
    # Under the four highlights, which stay right under the emergency block.
    assert html.index('data-flag="breathing"') < html.index("ti-shown-first")
    assert html.index("ti-shown-first") < html.index("ti-red-flags")
    assert text.index(f">> Medicines linked to twitching: {ticked}") < text.index("HISTORY")
    assert summary.build(make_submitted(routine_answers())).shown_first == ()


# --- Version 1.0.0 ---------------------------------------------------------------------------


def test_a_1_0_0_encounter_renders_with_the_1_1_0_questions_not_asked(client):
    from django.contrib.auth.models import Group, User

    encounter = submitted_1_0_0(
        answers_1_0_0(**{"other-symptoms": ["weakness"], "weakness-where": "left leg"})
    )
    not_asked = "not asked (form version 1.0.0)"

    result = summary.build(encounter)
    html = summary.render_html(encounter)
    text = summary.render_text(encounter)

    assert result.integrity_ok and result.triage_notice == ""
    assert result.header.questionnaire_version == "1.0.0"
    assert [line.code for line in result.red_flags] == ["weakness"]
    items = {item.link_id: item for item in result.history}
    added = [q.link_id for q in TWITCH_INTAKE.history({}) if q.since == "1.1.0"]
    assert added == [
        "onset",
        "course",
        "frequency",
        "movement",
        "side",
        "recent-emergency",
        "family-history",
        "pregnancy",
    ]
    for link_id in added:
        assert str(items[link_id].not_asked) == not_asked, link_id
        assert f"{items[link_id].heading}: {not_asked}" in text.splitlines()
    assert all(not items[q].not_asked for q in items if q not in added)
    assert f"Filled in by: {not_asked}" in text.splitlines()
    # Rules that read only 1.1.0 questions say so rather than "no".
    negatives = {line.code: str(line.negative) for line in result.negatives}
    assert negatives["recent-emergency-signs"] == not_asked
    # Breathlessness was not an option in 1.0.0: its absence is "not asked", never "no".
    assert negatives["breathing"] == not_asked
    # The story just lacks what was not asked.
    assert [str(p) for p in result.story] == [
        f"{result.header.age} years old",
        "Duration: Less than 1 week",
        "1 place in 1 body region (Eyelid)",
        "Pattern: It comes and goes",
        "Severity: Mild",
        'Weakness ("left leg")',
    ]
    dom = parse_html(html)
    assert len(list(elements(dom, has_class("ti-not-asked")))) == len(added) + 1
    assert text_of(one(dom, has_class("ti-version"))).strip() == "1.0.0"

    # The admin page: the summary and the answers as 1.0.0 asked them, and an access event.
    doctor = User.objects.create_user("doctor-1", password="x", is_staff=True)
    doctor.groups.add(Group.objects.get(name="Clinicians"))
    client.force_login(doctor)
    base = f"/admin/twitch_intake/encounter/{encounter.pk}"
    for view in ("change", "print", "text"):
        response = client.get(f"{base}/{view}/")
        assert response.status_code == 200, view
        assert not_asked in response.content.decode(), view
    page = client.get(f"{base}/change/").content.decode()
    answers = page[page.index('id="ti-answers-title"') :]
    assert str(TWITCH_INTAKE.question("onset").text) not in answers
    assert str(TWITCH_INTAKE.question("duration").text) in answers
    assert encounter.access_events.count() == 4


# --- The admin page and the print page ----------------------------------------------------------

ADMIN_CSS = CSS.with_name("admin.css")


def _rules(css: str) -> dict[str, str]:
    """Each selector of a stylesheet (outside @media) with its declarations."""
    flat = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules: dict[str, str] = {}
    for selectors, body in re.findall(r"([^{}@]+)\{([^{}]*)\}", flat):
        for selector in selectors.split(","):
            rules[" ".join(selector.split())] = body
    return rules


def _px(body: str) -> int:
    found = re.search(r"font-size:\s*(\d+)px", body)
    return int(found.group(1)) if found else 0


def test_the_emergency_block_is_the_loudest_thing_on_the_admin_page(client):
    """The admin loads no Bootstrap: the block's fill, border and size are admin.css's own, and
    they outrank the pink of any other alert (same selector weight or more)."""
    rules = _rules(ADMIN_CSS.read_text())
    block = rules[".ti-summary-panel section.alert.ti-emergency"]
    heading = rules[".ti-summary-panel .ti-emergency .h5"]
    assert "background: #b00020" in block and "color: #fff" in block and "border: 4px" in block
    panel_sizes = {s: _px(b) for s, b in rules.items() if s.startswith(".ti-summary-panel")}
    assert _px(heading) == max(panel_sizes.values())
    assert sorted(panel_sizes.values())[-2] < _px(heading)  # nothing else as big
    assert _px(rules[".ti-summary-panel .ti-emergency .ti-emergency-signs"]) >= max(
        size for s, size in panel_sizes.items() if "ti-emergency" not in s
    )

    from django.contrib.auth.models import Group, User

    doctor = User.objects.create_user("doctor-e", password="x", is_staff=True)
    doctor.groups.add(Group.objects.get(name="Clinicians"))
    client.force_login(doctor)
    encounter = make_submitted(emergency_answers())
    page = client.get(f"/admin/twitch_intake/encounter/{encounter.pk}/change/").content.decode()
    assert "/static/twitch_intake/admin.css" in page
    assert 'class="alert alert-danger ti-emergency"' in page
    panel = page[page.index('class="ti-summary-panel"') :]
    assert panel.index("ti-emergency") < panel.index("ti-highlights") < panel.index("ti-history")


def test_the_print_page_puts_who_it_is_about_at_the_top_of_every_printed_page():
    encounter = make_submitted(
        rich_answers(), patient_name="Ada <b>Example</b>", record_number="MRN-9"
    )

    page = summary.render_print(encounter)
    dom = parse_html(page)

    table = one(dom, has_class("ti-print-pages"))
    assert attr(table, "role") == "presentation"
    running = one(table, has_class("ti-running-header"))
    assert running.name == "thead"  # browsers repeat a table's header group on each page
    words = " ".join(text_of(running).split())
    assert "Ada <b>Example</b>" in words  # the text, escaped: no element made of it
    assert "born 1980-05-17" in words and "Record number MRN-9" in words
    assert "<b>Example" not in page
    body = next(c for c in table.children if isinstance(c, Element) and c.name == "tbody")
    assert one(body, has_class("ti-summary"))
    css = CSS.read_text()
    screen, printed = css.split("@media print", 1)
    assert re.search(r"\.ti-running-header\s*\{\s*display:\s*none;", screen)
    assert re.search(r"\.ti-running-header\s*\{\s*display:\s*table-header-group;", printed)


def test_the_summary_reads_the_history_once_and_the_access_log_once(django_assert_num_queries):
    """Nothing the 1.1.0 summary adds (story, header, sides, version) reads the database."""
    small = Encounter.objects.get(pk=make_submitted(routine_answers()).pk)
    large = Encounter.objects.get(pk=make_submitted(rich_answers()).pk)
    old = Encounter.objects.get(pk=submitted_1_0_0(answers_1_0_0(locations=["hand", "calf"])).pk)

    for encounter in (small, large, old):
        with django_assert_num_queries(2):  # the answer history, the access log
            summary.build(encounter)


def test_a_1_0_0_emergency_says_the_get_care_answer_was_not_asked():
    encounter = submitted_1_0_0(
        answers_1_0_0(**{"emergency-signs": ["seizure"]}), emergency_reported_at=timezone.now()
    )

    report = summary.build(encounter).header.emergency
    text = summary.render_text(encounter)

    assert report is not None and report.response == ()
    heading = TWITCH_INTAKE.question("emergency-action").clinician_heading
    assert str(report.response_question) == str(heading)
    assert f"{heading}: not asked (form version 1.0.0)" in text.splitlines()
    cell = one(parse_html(summary.render_html(encounter)), has_class("ti-emergency-response"))
    assert "not asked (form version 1.0.0)" in text_of(cell)
    # Of the current version, unanswered stays "not answered".
    current = make_submitted(emergency_answers())
    Encounter.objects.filter(pk=current.pk).update(
        answers={k: v for k, v in current.answers.items() if k != "emergency-action"}
    )
    again = summary.build(Encounter.objects.get(pk=current.pk)).header.emergency
    assert again is not None and str(again.no_response_text) == "not answered"
