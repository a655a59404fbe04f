"""The question pages and check answers to GOV.UK's patterns (issue 19), with the test client.

Each test here failed on the code before issue 19: "Next" and "Send my answers", asterisk-free
labels without "(optional)", the error summary's links to the question's box rather than its
first input, the message below the options with every option marked, a 400 page drawn in reply
to a refused POST (so refresh and Back offered to send it again), a red error for a follow-up
the patient never saw, and a "Change" per section with multi-choice answers comma-joined.
"""

from __future__ import annotations

import pytest

from tests.factories import PAGE_IDS, issue, make_encounter, page_data, rich_answers
from tests.test_views import (
    PAGE_URL,
    REVIEW_URL,
    SUBMIT_URL,
    THANKS_URL,
    IntakeClient,
    Node,
    Page,
    answer_pages,
    assert_private,
    row,
    sign_in,
    summary_target,
)
from twitch_intake.models import Encounter
from twitch_intake.questionnaire import TWITCH_INTAKE, ItemType

pytestmark = pytest.mark.django_db

#: Every page done, every follow-up shown: any page may be posted again.
ANSWERS = rich_answers() | {
    "recent-emergency": True,
    "recent-emergency-signs": ["seizure", "consciousness-change"],
    "emergency-signs": ["none"],
}


@pytest.fixture
def client() -> IntakeClient:
    return IntakeClient()


@pytest.fixture
def done(client: IntakeClient) -> Encounter:
    """A patient signed in whose every page is answered (they are on the review page)."""
    encounter = make_encounter()
    sign_in(client, encounter)
    answer_pages(client, ANSWERS)
    return encounter


def buttons(page: Page) -> list[str]:
    return [" ".join(n.text().split()) for n in page.root.iter() if n.tag == "button"]


def within(node: Node) -> list[Node]:
    return list(node.iter())


def by_class(page: Page, name: str) -> list[Node]:
    return [n for n in page.root.iter() if name in n.classes()]


# --- 1. Continue, and the check-answers page's own wording -------------------------------------


def test_question_pages_continue_and_check_answers_accepts_and_sends(client, done):
    for slug in PAGE_IDS:
        page = Page(client.get(PAGE_URL.format(slug)))
        assert "Continue" in buttons(page), slug
        assert "Next" not in buttons(page), slug
    review = Page(client.get(REVIEW_URL))
    assert buttons(review)[-1] == "Accept and send"
    assert "Now send your answers" in review.text()


# --- 2. "(optional)", and no asterisks ------------------------------------------------------------


def test_optional_questions_say_so_and_required_ones_have_no_asterisk(client, done):
    for slug in PAGE_IDS:
        page = Page(client.get(PAGE_URL.format(slug)))
        assert "*" not in page.text(), slug
        assert not by_class(page, "asteriskField"), slug
        for question in TWITCH_INTAKE.page(slug).questions:
            if question.emergency_response:
                continue
            block = page.by_id(f"div_id_{question.link_id}")
            assert block is not None, question.link_id
            (title,) = [n for n in block.iter() if n.tag in ("legend", "label")][:1]
            words = " ".join(title.text().split())
            assert words.startswith(" ".join(str(question.text).split())), words
            assert words.endswith("(optional)") is (not question.required), question.link_id


# --- 3 and 4. The error summary, and the message above the options --------------------------


def test_the_error_summary_links_to_each_questions_first_input(client, done):
    response = client.post(PAGE_URL.format("history"), {"_revealed": ""})
    page = Page(client.get(response["Location"]))
    (summary,) = by_class(page, "error-summary")
    assert summary.attrs["role"] == "alert"
    assert summary.attrs["tabindex"] == "-1"
    assert "There is a problem" in summary.text()
    links = page.summary_links()
    assert links == [f"#{summary_target(q)}" for q in ("duration", "onset", "course", "severity")]
    for link, link_id in zip(links, ("duration", "onset", "course", "severity"), strict=True):
        target = page.by_id(link[1:])
        assert target is not None and target.tag == "input", link
        first = page.inputs(link_id)[0]
        assert first is target  # the first option of the question, as GOV.UK links to it


def test_a_text_box_in_error_is_linked_to_itself(client, done):
    response = client.post(
        PAGE_URL.format("closing"), {**page_data("closing", ANSWERS), "notes": "x" * 2001}
    )
    page = Page(client.get(response["Location"]))
    assert page.summary_links() == ["#id_notes"]
    assert page.by_id("id_notes").tag == "textarea"


def test_the_message_sits_above_the_options_and_only_the_question_is_marked(client, done):
    posted = {**page_data("history", ANSWERS), "severity": ""}
    response = client.post(PAGE_URL.format("history"), posted)
    page = Page(client.get(response["Location"]))
    assert page.title().startswith("Error: ")
    assert not Page(client.get(PAGE_URL.format("frequency"))).title().startswith("Error")
    block = page.by_id("div_id_severity")
    assert "form-group-error" in block.classes()
    # Only the question in error is marked.
    assert [n.attrs["id"] for n in by_class(page, "form-group-error")] == ["div_id_severity"]
    order = [
        n
        for n in within(block)
        if n.tag in ("legend", "input")
        or n.attrs.get("id") in ("id_severity_helptext",)
        or n.attrs.get("id") == "id_severity_error"
    ]
    kinds = [n.tag if n.tag in ("legend", "input") else n.attrs["id"] for n in order]
    assert kinds[0] == "legend"
    assert kinds.index("id_severity_error") < kinds.index("input")  # above the first option
    error = page.by_id("id_severity_error")
    assert error.parent is not None and error.parent.tag == "fieldset"  # inside the fieldset
    assert "Error:" in error.text()  # said first by a screen reader (visually hidden)
    # Labels keep their colour: no option is drawn as invalid.
    for node in page.inputs("severity"):
        assert "is-invalid" not in node.classes()
    assert not [n for n in page.root.iter() if "invalid-feedback" in n.classes()]


# --- 5. Redirect after every POST ------------------------------------------------------------


@pytest.mark.parametrize("slug", PAGE_IDS)
def test_a_refused_page_redirects_to_itself_and_keeps_what_was_typed(client, done, slug):
    before = row(done)
    # Every field of the page changed, one required question left out.
    posted = page_data(slug, ANSWERS)
    required = next(
        q
        for q in TWITCH_INTAKE.page(slug).questions
        if q.required and not q.emergency_response and not q.show_when
    )
    posted.pop(required.link_id, None)
    text_questions = [
        q for q in TWITCH_INTAKE.page(slug).questions if q.type in (ItemType.STRING, ItemType.TEXT)
    ]
    for question in text_questions:
        if question.link_id in posted:
            posted[question.link_id] = f"typed just now, {question.link_id}"
    response = client.post(PAGE_URL.format(slug), posted)
    assert response.status_code == 303  # not saved: see the page again
    assert response["Location"] == PAGE_URL.format(slug)
    assert row(done) == before  # nothing saved, nothing lost

    for _ in range(2):  # the page after the redirect, and a refresh of it
        shown = client.get(PAGE_URL.format(slug))
        assert shown.status_code == 200
        page = Page(shown)
        assert page.error(required.link_id), slug
        for question in text_questions:
            if question.link_id in posted:
                assert page.value(question.link_id) == posted[question.link_id]
    # Saved at last: the draft is gone, the page shows the saved answers.
    assert client.post(PAGE_URL.format(slug), page_data(slug, ANSWERS)).status_code == 302
    page = Page(client.get(PAGE_URL.format(slug)))
    assert not page.summary_links()
    assert_private(client.responses)


def test_a_draft_is_never_shown_to_another_encounter_in_the_same_browser(client, done):
    client.post(PAGE_URL.format("closing"), {"notes": "first patient's words", "_revealed": ""})
    assert "first patient&#x27;s words" in client.get(PAGE_URL.format("closing")).content.decode()
    other = make_encounter(patient_name="Other Patient")
    response = client.post(f"/intake/link/{issue(other)}/", {"date_of_birth": "1980-05-17"})
    assert response.status_code == 302
    answer_pages(client, ANSWERS, PAGE_IDS[:-1])
    body = client.get(PAGE_URL.format("closing")).content.decode()
    assert "first patient" not in body
    assert "There is a problem" not in body


def test_a_draft_keeps_only_the_pages_own_fields(client, done):
    posted = {
        "notes": "kept",
        "duration": "days",  # another page's question
        "csrfmiddlewaretoken": "x",
        "unexpected": "y" * 50,
        "_revealed": "weakness-where duration",
    }
    client.post(PAGE_URL.format("closing"), posted)
    kept = client.session["twitch_intake_drafts"]
    assert kept["encounter"] == done.pk
    assert set(kept["pages"]["closing"]["data"]) == {"notes", "_revealed"}
    assert kept["pages"]["closing"]["data"]["_revealed"] == [""]


# --- 6. Without JavaScript, an opened follow-up is a question, not an error ------------------


def test_without_javascript_an_opened_where_else_is_asked_not_scolded(client):
    encounter = make_encounter()
    sign_in(client, encounter)
    answer_pages(client, ANSWERS, PAGE_IDS[: PAGE_IDS.index("locations")])
    before = row(encounter)
    posted = {**page_data("locations", ANSWERS), "_revealed": ""}
    posted.pop("locations-other")  # never on screen
    response = client.post(PAGE_URL.format("locations"), posted)
    assert response["Location"] == PAGE_URL.format("locations")
    page = Page(client.get(PAGE_URL.format("locations")))
    assert page.shown("locations-other")
    assert page.error("locations-other") is None
    assert page.summary_links() == []
    assert not by_class(page, "form-group-error")
    assert not page.title().startswith("Error")
    assert "Please answer it too" in page.text()
    (note,) = by_class(page, "opened-note")
    assert "alert-danger" not in note.classes() and note.attrs.get("role") == "status"
    assert page.checked("locations") == ANSWERS["locations"]
    assert page.checked("side") == [ANSWERS["side"]]
    assert row(encounter) == before

    response = client.post(PAGE_URL.format("locations"), page_data("locations", ANSWERS))
    assert response["Location"] == PAGE_URL.format("pattern")
    stored = Encounter.objects.get(pk=encounter.pk).answers
    assert stored["locations-other"] == ANSWERS["locations-other"]


# --- 7. Check answers ------------------------------------------------------------------------


def test_every_answer_has_its_own_change_link_naming_the_question(client, done):
    review = Page(client.get(REVIEW_URL))
    rows = by_class(review, "summary-list-row")
    shown = [q for q in TWITCH_INTAKE.questions() if q.is_enabled(ANSWERS)]
    assert len(rows) == len(shown)
    for node, question in zip(rows, shown, strict=True):
        (link,) = [n for n in node.iter() if n.tag == "a"]
        (hidden,) = [n for n in link.iter() if "visually-hidden" in n.classes()]
        assert " ".join(hidden.text().split()) == " ".join(str(question.text).split())
        if question.emergency_response:
            assert link.attrs["href"] == "/intake/get-care-now/"
        else:
            slug = next(p.slug for p in TWITCH_INTAKE.pages() if question in p.questions)
            assert link.attrs["href"] == PAGE_URL.format(slug)


def test_multi_choice_answers_are_one_per_line_never_comma_joined(client, done):
    review = Page(client.get(REVIEW_URL))
    question = TWITCH_INTAKE.question("recent-emergency-signs")
    labels = [str(question.label(code)) for code in ANSWERS["recent-emergency-signs"]]
    assert any("," in label for label in labels)  # why a comma cannot separate them
    (node,) = [
        n
        for n in by_class(review, "summary-list-row")
        if " ".join(str(question.text).split()) in " ".join(n.text().split())
    ]
    items = [" ".join(li.text().split()) for li in node.iter() if li.tag == "li"]
    assert sorted(items) == sorted(labels)


def test_a_change_that_opens_a_required_question_asks_it_first(client, done):
    """JavaScript off: "Somewhere else" ticked from the review; its question comes first."""
    answers = ANSWERS | {"locations": ["eyelid"]}
    answers.pop("locations-other")
    assert (
        client.post(PAGE_URL.format("locations"), page_data("locations", answers))["Location"]
        == REVIEW_URL
    )
    posted = {**page_data("locations", answers), "locations": ["eyelid", "other"]}
    response = client.post(PAGE_URL.format("locations"), posted)
    assert response["Location"] == PAGE_URL.format("locations")
    page = Page(client.get(PAGE_URL.format("locations")))
    assert page.shown("locations-other") and page.error("locations-other") is None
    response = client.post(
        PAGE_URL.format("locations"), {**posted, "locations-other": "left big toe"}
    )
    assert response["Location"] == REVIEW_URL  # then straight back to check answers
    assert client.post(SUBMIT_URL)["Location"] == THANKS_URL
