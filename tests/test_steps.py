"""The step navigator, a row per case, on a throw-away questionnaire of four pages.

``a`` stands for the emergency page: first, and never skipped.
"""

from __future__ import annotations

import dataclasses

import pytest

from twitch_intake import questionnaire
from twitch_intake.questionnaire import Group, ItemType, Option, Question, Questionnaire
from twitch_intake.steps import Steps


def _group(link_id: str) -> Group:
    return Group(link_id, link_id, "", (Question(f"{link_id}-q", link_id, ItemType.BOOLEAN),))


FOUR = Questionnaire(version="t", title="test", groups=tuple(_group(g) for g in "abcd"))


def steps(completed: str = "") -> Steps:
    return Steps.of(completed, FOUR)


def test_the_order_is_the_questionnaires():
    nav = steps()
    assert nav.all == ("a", "b", "c", "d")
    assert nav.count == len(nav) == 4
    assert list(nav) == ["a", "b", "c", "d"]
    assert (nav.first, nav.last) == ("a", "d")
    assert [nav.index(s) for s in "abcd"] == [0, 1, 2, 3]
    assert [nav.number(s) for s in "abcd"] == [1, 2, 3, 4]
    assert "c" in nav and "a-q" not in nav and "e" not in nav


@pytest.mark.parametrize(
    ("step", "previous", "following"),
    [("a", None, "b"), ("b", "a", "c"), ("c", "b", "d"), ("d", "c", None)],
)
def test_previous_and_next(step, previous, following):
    assert steps().previous(step) == previous
    assert steps().next(step) == following


@pytest.mark.parametrize("method", ["index", "number", "next", "previous", "after_save"])
def test_a_step_not_in_the_questionnaire_is_refused(method):
    with pytest.raises(ValueError, match="tuple.index"):
        getattr(steps(), method)("e")


@pytest.mark.parametrize(
    ("completed", "first_incomplete", "openable"),
    [
        ("", "a", "a"),
        ("a", "b", "ab"),
        ("ab", "c", "abc"),
        ("abc", "d", "abcd"),
        ("abcd", None, "abcd"),
        # Completed out of order (the admin, an import): nothing past the first gap opens.
        ("b", "a", "a"),
        ("acd", "b", "ab"),
        ("bcd", "a", "a"),
    ],
)
def test_nobody_opens_a_page_beyond_the_first_incomplete(completed, first_incomplete, openable):
    nav = steps(completed)
    assert nav.first_incomplete == first_incomplete
    assert nav.is_complete is (first_incomplete is None)
    assert [s for s in "abcd" if nav.may_open(s)] == list(openable)
    assert nav.may_open("e") is False


@pytest.mark.parametrize(
    ("completed", "saved", "goes_to"),
    [
        ("a", "a", "b"),  # the next page
        ("ab", "b", "c"),
        ("abcd", "d", None),  # the last page: the review page
        ("abcd", "a", None),  # back to change the first page: every page done, review
        ("abd", "b", "c"),  # the next one still to do
        ("acd", "c", "b"),  # nothing after it to do: where they resume
        ("abc", "a", "d"),  # the next page is done: the first after it still to do
    ],
)
def test_after_saving_a_page(completed, saved, goes_to):
    assert steps(completed).after_save(saved) == goes_to


@pytest.mark.parametrize(
    ("completed", "resume"), [("", "a"), ("a", "b"), ("abd", "c"), ("abcd", None)]
)
def test_where_a_returning_patient_resumes(completed, resume):
    assert steps(completed).resume == resume


def test_completing_a_step_keeps_the_questionnaires_order():
    nav = steps("c").completing("a").completing("b").completing("a")
    assert nav.completed_in_order == ("a", "b", "c")
    assert steps("c").completed_in_order == ("c",)  # the navigator itself is unchanged
    with pytest.raises(ValueError, match="tuple.index"):
        steps().completing("e")


def test_completed_ids_that_are_not_steps_are_ignored():
    # A group of an older questionnaire version, or a question's linkId.
    nav = steps(("a", "retired-group", "b-q"))
    assert nav.completed == {"a"}
    assert nav.first_incomplete == "b"


def test_the_active_questionnaire_is_read_when_a_navigator_is_made(monkeypatch):
    real = [page.slug for page in questionnaire.TWITCH_INTAKE.pages()]
    assert Steps.of(()).all == tuple(real)
    monkeypatch.setattr(questionnaire, "TWITCH_INTAKE", FOUR)
    assert Steps.of(["a"]).all == ("a", "b", "c", "d")
    assert Steps.of(["a"]).first_incomplete == "b"


# --- Pages within a group -------------------------------------------------------------------


def _required(link_id: str, *, starts_page: bool = False) -> Question:
    return Question(link_id, link_id, ItemType.BOOLEAN, required=True, starts_page=starts_page)


#: The emergency page, then a group of three pages (named after the group, then after the
#: first question of each later page), then a group of one.
PAGED = Questionnaire(
    version="t",
    title="test",
    groups=(
        Group("a", "a", "", (_required("a-q"),)),
        Group(
            "b",
            "b",
            "",
            (
                _required("b-q"),
                _required("b-2", starts_page=True),
                _required("b-3", starts_page=True),
            ),
        ),
        Group("c", "c", "", (_required("c-q"),)),
    ),
)


def test_the_steps_are_pages_not_groups():
    nav = Steps.of((), PAGED)
    assert nav.all == ("a", "b", "b-2", "b-3", "c")
    assert nav.count == 5  # the progress bar: "Step n of 5"
    assert nav.page("b-2").group.link_id == "b"
    assert [nav.page_of(q) for q in ("a-q", "b-q", "b-2", "b-3", "c-q", "nowhere")] == [
        "a",
        "b",
        "b-2",
        "b-3",
        "c",
        None,
    ]


def test_the_real_form_is_eleven_pages_emergency_first():
    nav = Steps.of(())
    assert nav.count == 11
    assert nav.first == "emergency"


ALL_ANSWERED = {"a-q": True, "b-q": True, "b-2": False, "b-3": True, "c-q": True}


@pytest.mark.parametrize(
    ("stored", "answers", "completed"),
    [
        # Stored as pages: read as they are.
        (["a", "b", "b-2"], ALL_ANSWERED, ("a", "b", "b-2")),
        # Stored as groups before the group had pages: a gap ("c" after "b-2"), so the other
        # pages of the groups named count when their answers are complete.
        (["a", "b", "c"], ALL_ANSWERED, ("a", "b", "b-2", "b-3", "c")),
        # ... and only those whose answers are: the patient resumes at the first missing one.
        (["a", "b", "c"], {**ALL_ANSWERED, "b-3": None}, ("a", "b", "b-2", "c")),
        # A group never named adds nothing, whatever its answers.
        (["a", "c"], ALL_ANSWERED, ("a", "c")),
    ],
)
def test_a_stored_list_that_names_groups_is_read_as_pages(stored, answers, completed):
    answers = {k: v for k, v in answers.items() if v is not None}
    assert Steps.stored(stored, answers, PAGED).completed_in_order == completed


def test_a_list_of_pages_with_a_gap_is_read_as_it_is():
    # Pages of a group named (not only groups): stored as pages, after a move to a newer
    # version left a page to do before them.
    nav = Steps.stored(["a", "b-2", "c"], ALL_ANSWERED, PAGED)
    assert nav.completed_in_order == ("a", "b-2", "c")
    assert nav.resume == "b"


def _added_in_1_1(question: Question) -> Question:
    return dataclasses.replace(question, since="1.1.0")


#: PAGED as 1.1.0 has it: the last page of "b" asks a question 1.0.0 never asked, and the
#: first page offers an answer 1.0.0 never offered.
VERSIONED = dataclasses.replace(
    PAGED,
    version="1.1.0",
    groups=(
        Group(
            "a",
            "a",
            "",
            (
                Question(
                    "a-q",
                    "a",
                    ItemType.CHOICE,
                    required=True,
                    options=(Option("old", "old"), Option("new", "new", since="1.1.0")),
                ),
            ),
        ),
        dataclasses.replace(
            PAGED.groups[1],
            questions=(*PAGED.groups[1].questions[:2], _added_in_1_1(PAGED.groups[1].questions[2])),
        ),
        PAGED.groups[2],
    ),
)


@pytest.mark.parametrize(
    ("since", "completed", "resume"),
    [
        # Under 1.0.0, every page was done; since then the first page offers a new answer and
        # the last page of "b" a new question: both are to be shown, the rest stays done.
        ("1.0.0", ("b", "b-2", "c"), "a"),
        ("1.1.0", ("a", "b", "b-2", "b-3", "c"), None),
    ],
)
def test_an_intake_of_an_older_version_is_shown_what_was_added_since(since, completed, resume):
    answers = {**ALL_ANSWERED, "a-q": "old"}
    nav = Steps.stored(["a", "b", "c"], answers, VERSIONED, since=since)
    assert nav.completed_in_order == completed
    assert nav.resume == resume
