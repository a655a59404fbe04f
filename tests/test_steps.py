"""The step navigator, a row per case, on a throw-away questionnaire of four pages.

``a`` stands for the emergency page: first, and never skipped.
"""

from __future__ import annotations

import pytest

from twitch_intake import questionnaire
from twitch_intake.questionnaire import Group, ItemType, Question, Questionnaire
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
    real = [group.link_id for group in questionnaire.TWITCH_INTAKE.groups]
    assert Steps.of(()).all == tuple(real)
    monkeypatch.setattr(questionnaire, "TWITCH_INTAKE", FOUR)
    assert Steps.of(["a"]).all == ("a", "b", "c", "d")
    assert Steps.of(["a"]).first_incomplete == "b"
