"""The questionnaire against ``shared/CLINICAL.md``: "Questions" and "Bad answers".

The contract is spelled out here, code by code, rather than read from the module under test, so
that a question changed in the code without the contract fails a test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from tests.factories import answers_1_0_0, rich_answers, routine_answers
from twitch_intake import questionnaire, validation
from twitch_intake.questionnaire import (
    TWITCH_INTAKE,
    Group,
    ItemType,
    Question,
    Questionnaire,
)
from twitch_intake.validation import validate, validate_group


class Spec(NamedTuple):
    group: str
    link_id: str
    type: ItemType
    required: bool
    repeats: bool = False
    codes: tuple[str, ...] = ()
    max_length: int | None = None
    #: (linkId, code): shown only when that answer is, or includes, that code.
    show_when: tuple[str, str | bool] | None = None
    #: With show_when: shown when that question is answered with anything but that code.
    other_than: bool = False
    #: The version that added it (CLINICAL.md marks them "(1.1.0)").
    since: str = "1.0.0"
    #: The codes that cannot be ticked with anything else.
    exclusive: frozenset[str] = frozenset()


CHOICE, BOOLEAN, STRING, TEXT = ItemType.CHOICE, ItemType.BOOLEAN, ItemType.STRING, ItemType.TEXT

#: Every question of the contract, in the order the patient meets them.
CONTRACT = [
    Spec(
        "emergency",
        "emergency-signs",
        CHOICE,
        required=True,
        repeats=True,
        codes=(
            "diminished-pulse",
            "consciousness-change",
            "mental-status-change",
            "thinking-difficulty",
            "high-fever",
            "coordination-loss",
            "paralysis",
            "seizure",
            "severe-headache",
            "speech-difficulty",
            "vision-change",
            "vomiting",
            "breathing-difficulty",
            "none",
        ),
        exclusive=frozenset({"none"}),
    ),
    Spec(
        "emergency",
        "emergency-action",
        CHOICE,
        required=True,
        codes=("getting-care-now", "already-seen", "long-standing"),
        show_when=("emergency-signs", "none"),
        other_than=True,
        since="1.1.0",
    ),
    Spec(
        "history", "duration", CHOICE, required=True, codes=("days", "weeks", "months", "long-term")
    ),
    Spec(
        "history",
        "onset",
        CHOICE,
        required=True,
        codes=("sudden", "over-days", "gradual", "not-sure"),
        since="1.1.0",
    ),
    Spec(
        "history",
        "course",
        CHOICE,
        required=True,
        codes=("better", "same", "worse", "spreading"),
        since="1.1.0",
    ),
    Spec("history", "severity", CHOICE, required=True, codes=("mild", "moderate", "severe")),
    Spec(
        "history",
        "frequency",
        CHOICE,
        required=True,
        codes=("many-times-a-day", "daily", "weekly", "rarely"),
        since="1.1.0",
    ),
    Spec(
        "history",
        "movement",
        CHOICE,
        required=True,
        repeats=True,
        codes=("flicker", "jerk", "shaking", "tightening", "urge", "not-sure"),
        since="1.1.0",
        exclusive=frozenset({"not-sure"}),
    ),
    Spec(
        "history",
        "locations",
        CHOICE,
        required=True,
        repeats=True,
        codes=(
            "eyelid",
            "face",
            "tongue",
            "neck",
            "shoulder",
            "upper-arm",
            "forearm",
            "hand",
            "chest",
            "abdomen",
            "back",
            "thigh",
            "calf",
            "foot",
            "other",
        ),
    ),
    Spec(
        "history",
        "locations-other",
        STRING,
        required=True,
        max_length=200,
        show_when=("locations", "other"),
    ),
    Spec(
        "history",
        "side",
        CHOICE,
        required=True,
        codes=("left", "right", "both", "not-sure"),
        since="1.1.0",
    ),
    Spec("history", "more-than-one-location", BOOLEAN, required=True),
    Spec("history", "pattern", CHOICE, required=True, codes=("constant", "comes-and-goes")),
    Spec(
        "history",
        "episode-length",
        CHOICE,
        required=True,
        codes=("seconds", "minutes", "hours", "days"),
        show_when=("pattern", "comes-and-goes"),
    ),
    Spec(
        "symptoms",
        "other-symptoms",
        CHOICE,
        required=True,
        repeats=True,
        codes=(
            "weakness",
            "muscle-loss",
            "cramps",
            "stiffness",
            "numbness-tingling",
            "pain",
            "fatigue",
            "trouble-swallowing",
            "speech-change",
            "breathless",
            "tics-or-vocal-outbursts",
            "none",
        ),
        exclusive=frozenset({"none"}),
    ),
    Spec(
        "symptoms",
        "weakness-where",
        STRING,
        required=False,
        max_length=200,
        show_when=("other-symptoms", "weakness"),
    ),
    Spec("symptoms", "recent-emergency", BOOLEAN, required=True, since="1.1.0"),
    Spec(
        "symptoms",
        "recent-emergency-signs",
        CHOICE,
        required=True,
        repeats=True,
        codes=(
            "diminished-pulse",
            "consciousness-change",
            "mental-status-change",
            "thinking-difficulty",
            "high-fever",
            "coordination-loss",
            "paralysis",
            "seizure",
            "severe-headache",
            "speech-difficulty",
            "vision-change",
            "vomiting",
            "breathing-difficulty",
        ),
        show_when=("recent-emergency", True),
        since="1.1.0",
    ),
    Spec(
        "symptoms",
        "family-history",
        CHOICE,
        required=True,
        codes=("yes", "no", "not-sure"),
        since="1.1.0",
    ),
    Spec("background", "medications", TEXT, required=False, max_length=2000),
    Spec(
        "background",
        "medication-flags",
        CHOICE,
        required=True,
        repeats=True,
        codes=(
            "stimulant",
            "corticosteroid",
            "estrogen",
            "diuretic",
            "benzodiazepine-withdrawal",
            "none",
        ),
        exclusive=frozenset({"none"}),
    ),
    Spec("background", "conditions", TEXT, required=False, max_length=2000),
    Spec(
        "background",
        "condition-flags",
        CHOICE,
        required=True,
        repeats=True,
        codes=(
            "als",
            "multiple-sclerosis",
            "muscular-dystrophy",
            "tourette",
            "nerve-damage",
            "kidney-disease",
            "brain-injury",
            "thyroid-disease",
            "none",
        ),
        exclusive=frozenset({"none"}),
    ),
    Spec(
        "background",
        "pregnancy",
        CHOICE,
        required=False,
        codes=("yes", "no", "not-applicable"),
        since="1.1.0",
    ),
    Spec(
        "background",
        "triggers",
        CHOICE,
        required=True,
        repeats=True,
        codes=("caffeine", "exertion", "stress-anxiety", "poor-sleep", "none"),
        exclusive=frozenset({"none"}),
    ),
    Spec("closing", "notes", TEXT, required=False, max_length=2000),
    Spec(
        "closing",
        "answered-by",
        CHOICE,
        required=True,
        codes=("patient", "with-help", "parent-or-carer"),
        since="1.1.0",
    ),
]
GROUPS = ["emergency", "history", "symptoms", "background", "closing"]
BY_ID = {spec.link_id: spec for spec in CONTRACT}
TEXTS = [spec for spec in CONTRACT if spec.max_length is not None]
#: Repeating choices whose "none" cannot be ticked with anything else.
WITH_NONE = [spec for spec in CONTRACT if spec.repeats and "none" in spec.codes]
#: Required questions that are always shown.
ALWAYS_REQUIRED = [spec for spec in CONTRACT if spec.required and spec.show_when is None]


def problems_of(answers: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.link_id, p.code) for p in validate(answers)[1]]


def cleaned_of(answers: dict[str, Any]) -> dict[str, Any]:
    cleaned, problems = validate(answers)
    assert problems == []
    return cleaned


def group(link_id: str) -> Group:
    return TWITCH_INTAKE.group(link_id)


# --- The questions are the contract's ---------------------------------------------------------


def test_groups_in_the_contracts_order_emergency_first() -> None:
    assert [g.link_id for g in TWITCH_INTAKE.groups] == GROUPS


def test_every_question_in_its_group_in_order() -> None:
    assert [(g.link_id, q.link_id) for g in TWITCH_INTAKE.groups for q in g.questions] == [
        (spec.group, spec.link_id) for spec in CONTRACT
    ]


@pytest.mark.parametrize("spec", CONTRACT, ids=[spec.link_id for spec in CONTRACT])
def test_question_matches_the_contract(spec: Spec) -> None:
    question = TWITCH_INTAKE.question(spec.link_id)
    assert TWITCH_INTAKE.group_of(spec.link_id).link_id == spec.group
    assert question.type is spec.type
    assert question.required is spec.required
    assert question.repeats is spec.repeats
    assert question.codes == spec.codes
    assert question.max_length == spec.max_length
    show_when = question.show_when and (question.show_when.question, question.show_when.code)
    assert show_when == spec.show_when
    assert bool(question.show_when and question.show_when.other_than) is spec.other_than
    assert question.since == spec.since


@pytest.mark.parametrize("spec", CONTRACT, ids=[spec.link_id for spec in CONTRACT])
def test_question_and_its_answers_have_words_for_the_patient(spec: Spec) -> None:
    question = TWITCH_INTAKE.question(spec.link_id)
    assert str(question.text).strip()
    labels = [str(option.label).strip() for option in question.options]
    assert all(labels)
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize("spec", CONTRACT, ids=[spec.link_id for spec in CONTRACT])
def test_exclusive_codes_are_the_contracts(spec: Spec) -> None:
    assert TWITCH_INTAKE.question(spec.link_id).exclusive == spec.exclusive


#: The options 1.1.0 added to questions 1.0.0 already asked.
NEW_OPTIONS = {
    ("emergency-signs", "breathing-difficulty"),
    ("other-symptoms", "speech-change"),
    ("other-symptoms", "breathless"),
    ("recent-emergency-signs", "breathing-difficulty"),
}


def test_options_added_in_1_1_0_say_so_and_no_other() -> None:
    added = {
        (question.link_id, option.code)
        for question in TWITCH_INTAKE.questions()
        if question.since == "1.0.0" or question.link_id == "recent-emergency-signs"
        for option in question.options
        if option.since != "1.0.0"
    }
    assert added == NEW_OPTIONS
    assert all(
        option.since == "1.1.0"
        for question in TWITCH_INTAKE.questions()
        for option in question.options
        if (question.link_id, option.code) in NEW_OPTIONS
    )


def test_link_ids_are_distinct_across_groups_and_questions() -> None:
    ids = [g.link_id for g in TWITCH_INTAKE.groups] + [q.link_id for q in TWITCH_INTAKE.questions()]
    assert len(ids) == len(set(ids)) == len(GROUPS) + len(CONTRACT)


@pytest.mark.parametrize(
    "groups",
    [
        # A question that shares its group's linkId.
        (Group("history", "", "", (Question("history", "", ItemType.BOOLEAN),)),),
        # The same question in two groups.
        (
            Group("one", "", "", (Question("same", "", ItemType.BOOLEAN),)),
            Group("two", "", "", (Question("same", "", ItemType.BOOLEAN),)),
        ),
    ],
    ids=["group-and-question", "two-questions"],
)
def test_a_questionnaire_with_a_repeated_link_id_is_refused(groups: tuple[Group, ...]) -> None:
    with pytest.raises(ValueError, match="distinct"):
        Questionnaire("0", "", groups)


# --- Good answers --------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [routine_answers, rich_answers])
def test_complete_answers_are_stored_as_given(build: Callable[[], dict[str, Any]]) -> None:
    """As given, but ticks in questionnaire order (the factory ticks some out of order)."""
    given = build()
    in_order = {
        link_id: [code for code in BY_ID[link_id].codes if code in value]
        for link_id, value in given.items()
        if BY_ID[link_id].repeats
    }
    assert cleaned_of(given) == {**given, **in_order}


@pytest.mark.parametrize("spec", [s for s in CONTRACT if not s.required], ids=lambda s: s.link_id)
def test_optional_questions_may_be_left_out(spec: Spec) -> None:
    given = {**rich_answers()}
    del given[spec.link_id]
    assert spec.link_id not in cleaned_of(given)


@pytest.mark.parametrize(
    "spec", [s for s in CONTRACT if not s.repeats and s.codes], ids=lambda s: s.link_id
)
def test_each_code_of_a_single_choice_is_accepted(spec: Spec) -> None:
    for code in spec.codes:
        given = {**rich_answers(), spec.link_id: code}
        assert cleaned_of(given)[spec.link_id] == code


@pytest.mark.parametrize("spec", [s for s in CONTRACT if s.repeats], ids=lambda s: s.link_id)
def test_each_code_of_a_repeating_choice_is_accepted_alone(spec: Spec) -> None:
    shown = {spec.show_when[0]: spec.show_when[1]} if spec.show_when else {}
    for code in spec.codes:
        given = {**rich_answers(), **shown, spec.link_id: [code]}
        assert cleaned_of(given)[spec.link_id] == [code]


@pytest.mark.parametrize("value", [True, False])
def test_yes_and_no_are_both_answers(value: bool) -> None:
    assert (
        cleaned_of(routine_answers(**{"more-than-one-location": value}))["more-than-one-location"]
        is value
    )


def test_ticks_are_stored_in_questionnaire_order_once_each() -> None:
    given = routine_answers(
        locations=("calf", "eyelid", "calf", "thigh", "eyelid"),
        triggers=["poor-sleep", "caffeine", "poor-sleep"],
    )
    cleaned = cleaned_of(given)
    assert cleaned["locations"] == ["eyelid", "thigh", "calf"]
    assert cleaned["triggers"] == ["caffeine", "poor-sleep"]


def test_none_ticked_twice_is_still_none_alone() -> None:
    assert cleaned_of(routine_answers(triggers=["none", "none"]))["triggers"] == ["none"]


def test_text_is_trimmed_and_blank_text_not_stored() -> None:
    given = routine_answers(notes="  Worse at night.  ", conditions="   ")
    cleaned = cleaned_of(given)
    assert cleaned["notes"] == "Worse at night."
    assert "conditions" not in cleaned


@pytest.mark.parametrize(
    "text", ["Line one\nline two", "Line one\r\nline two", "Dose:\t50 mg", "a\rb"]
)
def test_line_breaks_and_tabs_are_ordinary_text(text: str) -> None:
    assert cleaned_of(routine_answers(medications=text))["medications"] == text


@pytest.mark.parametrize("spec", TEXTS, ids=lambda s: s.link_id)
def test_text_at_its_limit_is_accepted(spec: Spec) -> None:
    assert spec.max_length is not None
    text = "x" * spec.max_length
    assert cleaned_of({**rich_answers(), spec.link_id: text})[spec.link_id] == text


# --- Shown only when ---------------------------------------------------------------------------


def test_changing_the_pattern_to_constant_clears_the_episode_length() -> None:
    given = routine_answers(pattern="constant", **{"episode-length": "minutes"})
    assert "episode-length" not in cleaned_of(given)


def test_constant_pattern_needs_no_episode_length() -> None:
    given = routine_answers(pattern="constant", **{"episode-length": None})
    assert "episode-length" not in cleaned_of(given)


def test_comes_and_goes_keeps_the_episode_length() -> None:
    assert cleaned_of(routine_answers(pattern="comes-and-goes"))["episode-length"] == "seconds"


@pytest.mark.parametrize(
    ("overrides", "dropped"),
    [
        ({"locations": ["eyelid"], "locations-other": "left toe"}, "locations-other"),
        ({"other-symptoms": ["cramps"], "weakness-where": "right hand"}, "weakness-where"),
        ({"pattern": "constant", "episode-length": "hours"}, "episode-length"),
    ],
)
def test_an_answer_to_a_hidden_question_is_dropped(overrides: dict[str, Any], dropped: str) -> None:
    assert dropped not in cleaned_of(routine_answers(**overrides))


def test_validate_group_clears_on_the_pages_own_answers() -> None:
    page = {k: v for k, v in routine_answers(pattern="constant").items() if k in _ids("history")}
    cleaned, problems = validate_group(group("history"), {**page, "episode-length": "hours"})
    assert problems == []
    assert "episode-length" not in cleaned
    assert cleaned["pattern"] == "constant"


def _ids(group_id: str) -> set[str]:
    return {q.link_id for q in group(group_id).questions}


# --- Bad answers -------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ALWAYS_REQUIRED, ids=lambda s: s.link_id)
@pytest.mark.parametrize("blank", ["absent", "", "   ", []])
def test_a_required_question_left_blank(spec: Spec, blank: Any) -> None:
    given = routine_answers()
    given.pop(spec.link_id)
    if blank != "absent":
        given[spec.link_id] = blank
    assert problems_of(given) == [(spec.link_id, "required")]


def test_episode_length_is_required_when_it_comes_and_goes() -> None:
    given = routine_answers(pattern="comes-and-goes", **{"episode-length": None})
    assert problems_of(given) == [("episode-length", "required")]


@pytest.mark.parametrize("where", [None, "", "   "])
def test_other_location_without_where_else(where: str | None) -> None:
    given = routine_answers(locations=["eyelid", "other"], **{"locations-other": where})
    assert problems_of(given) == [("locations-other", "required")]


@pytest.mark.parametrize("spec", WITH_NONE, ids=lambda s: s.link_id)
def test_none_with_another_code(spec: Spec) -> None:
    for other in spec.codes[:-1]:
        for ticks in (["none", other], [other, "none"]):
            assert problems_of(routine_answers(**{spec.link_id: ticks})) == [
                (spec.link_id, "none_exclusive")
            ]


@pytest.mark.parametrize("spec", TEXTS, ids=lambda s: s.link_id)
def test_text_over_its_length(spec: Spec) -> None:
    assert spec.max_length is not None
    given = {**rich_answers(), spec.link_id: "x" * (spec.max_length + 1)}
    assert problems_of(given) == [(spec.link_id, "too_long")]
    message = str(validate(given)[1][0].message)
    assert str(spec.max_length) in message


@pytest.mark.parametrize("spec", TEXTS, ids=lambda s: s.link_id)
@pytest.mark.parametrize(
    "character",
    ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\x9f"],
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_control_characters_in_text(spec: Spec, character: str) -> None:
    given = {**rich_answers(), spec.link_id: f"left{character}toe"}
    assert problems_of(given) == [(spec.link_id, "control_character")]


@pytest.mark.parametrize("spec", TEXTS, ids=lambda s: s.link_id)
def test_a_lone_surrogate_in_text_is_refused_like_a_control_character(spec: Spec) -> None:
    """JSON can carry "\\ud800"; it is not text PostgreSQL can store."""
    given = {**rich_answers(), spec.link_id: "left\ud800toe"}
    assert problems_of(given) == [(spec.link_id, "control_character")]


@pytest.mark.parametrize(
    ("link_id", "value"),
    [
        ("emergency-signs", ["fainting"]),
        ("emergency-signs", ["seizure", "Seizure"]),
        ("duration", "forever"),
        ("duration", "Days"),
        ("severity", "very-severe"),
        ("locations", ["eyelid", "knee"]),
        ("pattern", "sometimes"),
        ("episode-length", "weeks"),
        ("other-symptoms", ["weakness", "dizziness"]),
        ("medication-flags", ["insulin"]),
        ("condition-flags", ["parkinson"]),
        ("triggers", ["alcohol"]),
    ],
)
def test_unknown_code(link_id: str, value: Any) -> None:
    assert problems_of(routine_answers(**{link_id: value})) == [(link_id, "unknown_code")]


@pytest.mark.parametrize(
    ("link_id", "value"),
    [
        ("more-than-one-location", "yes"),
        ("more-than-one-location", "false"),
        ("more-than-one-location", 1),
        ("more-than-one-location", ["true"]),
        ("duration", ["days"]),
        ("duration", 3),
        ("duration", True),
        ("locations", "eyelid"),
        ("locations", [1, 2]),
        ("locations", {"eyelid": True}),
        ("triggers", [None]),
        ("medications", 42),
        ("medications", ["aspirin"]),
        ("notes", True),
        ("weakness-where", {"side": "left"}),
    ],
)
def test_wrong_type(link_id: str, value: Any) -> None:
    given = routine_answers(**{link_id: value})
    if link_id == "weakness-where":
        given["other-symptoms"] = ["weakness"]
    assert problems_of(given) == [(link_id, "wrong_type")]


@pytest.mark.parametrize("link_id", ["history", "sleep-hours", "Duration", "episode_length", ""])
def test_unknown_question(link_id: str) -> None:
    assert problems_of({**routine_answers(), link_id: "x"}) == [(link_id, "unknown_question")]


def test_every_problem_is_listed_and_nothing_bad_is_kept() -> None:
    given = {
        **routine_answers(),
        "emergency-signs": ["none", "seizure"],
        "duration": "forever",
        "locations": ["eyelid", "other"],
        "more-than-one-location": "yes",
        "notes": "a\x00b",
        "unknown": 1,
    }
    del given["severity"]
    cleaned, problems = validate(given)
    assert sorted((p.link_id, p.code) for p in problems) == sorted(
        [
            ("unknown", "unknown_question"),
            ("emergency-signs", "none_exclusive"),
            ("duration", "unknown_code"),
            ("severity", "required"),
            ("locations-other", "required"),
            ("more-than-one-location", "wrong_type"),
            ("notes", "control_character"),
        ]
    )
    for link_id in [
        "emergency-signs",
        "duration",
        "severity",
        "more-than-one-location",
        "notes",
        "unknown",
    ]:
        assert link_id not in cleaned
    assert all(str(p.message).strip() for p in problems)


@pytest.mark.parametrize("group_id", GROUPS)
def test_validate_group_checks_its_own_questions_only(group_id: str) -> None:
    _, problems = validate_group(group(group_id), {})
    expected = [s.link_id for s in ALWAYS_REQUIRED if s.group == group_id]
    assert [(p.link_id, p.code) for p in problems] == [
        (link_id, "required") for link_id in expected
    ]


def test_answered_groups_are_the_complete_and_valid_ones() -> None:
    given = routine_answers(severity="very")
    assert validation.answered_groups(given) == [
        "emergency",
        "symptoms",
        "background",
        "closing",
    ]


def test_a_refused_question_does_not_also_blame_its_follow_up():
    group = questionnaire.TWITCH_INTAKE.group("history")
    _, problems = validation.validate_group(group, {"locations": ["other", "knee"]})
    by_question = {p.link_id: p.code for p in problems}
    assert by_question["locations"] == "unknown_code"
    assert "locations-other" not in by_question


@pytest.mark.parametrize("text", ["abc\x1f", "\x1cabc", "abc\x85"])
def test_control_characters_at_the_ends_are_refused_not_stripped(text):
    group = questionnaire.TWITCH_INTAKE.group("closing")
    cleaned, problems = validation.validate_group(group, {"notes": text, "answered-by": "patient"})
    assert [p.code for p in problems] == ["control_character"]
    assert "notes" not in cleaned


@pytest.mark.parametrize(
    ("show_when", "details_option"),
    [
        (questionnaire.ShowWhen("no-such-question", "yes"), False),
        (questionnaire.ShowWhen("parent", "no-such-code"), False),
        (None, True),
    ],
    ids=["unknown question", "unknown code", "details without a condition"],
)
def test_a_follow_up_must_name_a_question_and_code_that_exist(
    show_when: questionnaire.ShowWhen | None, details_option: bool
) -> None:
    """A dangling show-when would hide its question for ever, or export an enableWhen that
    no form filler can satisfy: refused when the questionnaire is defined."""
    parent = Question(
        "parent", "Parent?", ItemType.CHOICE, options=(questionnaire.Option("yes", "Yes"),)
    )
    child = Question(
        "child", "Child?", ItemType.STRING, show_when=show_when, details_option=details_option
    )
    with pytest.raises(ValueError, match="child"):
        Questionnaire("0", "Test", (Group("g", "G", "", (parent, child)),))


# --- The get-care page's question and what the patient is told (CLINICAL.md 1.1.0) -----------

#: "What the patient is told": call the emergency number now for these ...
CALL_NOW_SIGNS = {
    "diminished-pulse",
    "consciousness-change",
    "mental-status-change",
    "paralysis",
    "seizure",
    "speech-difficulty",
    "vision-change",
    "severe-headache",
    "breathing-difficulty",
    "coordination-loss",
}
#: ... and for these alone: get emergency care now, call if you cannot get there safely.
GET_THERE_SIGNS = {"high-fever", "vomiting", "thinking-difficulty"}


def test_every_sign_declares_what_the_get_care_page_says() -> None:
    signs = TWITCH_INTAKE.question("emergency-signs")
    declared = {o.code: o.urgency for o in signs.options}
    assert declared == {
        **dict.fromkeys(CALL_NOW_SIGNS, questionnaire.Urgency.CALL_NOW),
        **dict.fromkeys(GET_THERE_SIGNS, questionnaire.Urgency.GET_CARE_NOW),
        "none": None,
    }


@pytest.mark.parametrize(
    ("signs", "expected"),
    [
        (["vomiting"], questionnaire.Urgency.GET_CARE_NOW),
        (["high-fever", "thinking-difficulty"], questionnaire.Urgency.GET_CARE_NOW),
        (["vomiting", "seizure"], questionnaire.Urgency.CALL_NOW),
        (["breathing-difficulty"], questionnaire.Urgency.CALL_NOW),
        (["none"], None),
    ],
)
def test_the_most_urgent_sign_decides(signs: list[str], expected: Any) -> None:
    got = TWITCH_INTAKE.urgency({"emergency-signs": signs}, {"emergency-signs"})
    assert got is expected
    # Only the questions named are read.
    assert TWITCH_INTAKE.urgency({"emergency-signs": signs}, set()) is None


def test_the_get_care_question_is_the_emergency_response() -> None:
    assert [q.link_id for q in TWITCH_INTAKE.emergency_responses()] == ["emergency-action"]
    assert [q.link_id for q in TWITCH_INTAKE.questions() if q.emergency_response] == [
        "emergency-action"
    ]


def test_the_emergency_page_says_why_it_comes_first() -> None:
    assert "need care now" in str(group("emergency").intro)


@pytest.mark.parametrize(
    ("signs", "shown"),
    [(["seizure"], True), (["none"], False), ([], False), (None, False), ("   ", False)],
)
def test_other_than_holds_for_any_answer_but_the_code(signs: Any, shown: bool) -> None:
    given = {} if signs is None else {"emergency-signs": signs}
    assert TWITCH_INTAKE.question("emergency-action").is_enabled(given) is shown


def test_a_sign_needs_what_the_patient_is_doing_about_it() -> None:
    given = routine_answers(**{"emergency-signs": ["seizure"]})
    assert problems_of(given) == [("emergency-action", "required")]
    given["emergency-action"] = "not-a-code"
    assert problems_of(given) == [("emergency-action", "unknown_code")]
    given["emergency-action"] = "already-seen"
    assert cleaned_of(given)["emergency-action"] == "already-seen"


def test_the_action_is_cleared_when_no_sign_is_left() -> None:
    given = routine_answers(**{"emergency-action": "already-seen"})
    assert "emergency-action" not in cleaned_of(given)
    assert problems_of(given) == []


def test_benzodiazepine_withdrawal_declares_the_thanks_page_advice() -> None:
    flags = TWITCH_INTAKE.question("medication-flags")
    advised = [o.code for o in flags.options if o.after_advice]
    assert advised == ["benzodiazepine-withdrawal"]
    advice = TWITCH_INTAKE.after_advice(
        routine_answers(**{"medication-flags": ["benzodiazepine-withdrawal"]})
    )
    assert len(advice) == 1
    assert "Do not stop, restart or change" in str(advice[0])
    assert TWITCH_INTAKE.after_advice(routine_answers()) == []


def test_the_page_tells_intake_js_about_an_other_than_condition() -> None:
    from twitch_intake.forms import _show_when_attribute

    assert _show_when_attribute(questionnaire.ShowWhen("q", "none", other_than=True)) == "q:!none"
    assert _show_when_attribute(questionnaire.ShowWhen("q", "other")) == "q:other"


# --- Versions (CLINICAL.md, "Versions") ---------------------------------------------------------

V1_0 = TWITCH_INTAKE.as_of("1.0.0")


def test_the_current_version_is_the_contracts() -> None:
    assert TWITCH_INTAKE.version == questionnaire.VERSION == "1.1.0"
    assert TWITCH_INTAKE.versions == ("1.0.0", "1.1.0")
    assert questionnaire.current_version() == "1.1.0"


def test_version_1_0_0_asks_exactly_the_questions_and_codes_1_0_0_had() -> None:
    expected = {spec.link_id: spec for spec in CONTRACT if spec.since == "1.0.0"}
    assert [q.link_id for q in V1_0.questions()] == list(expected)
    for question in V1_0.questions():
        added = {code for link_id, code in NEW_OPTIONS if link_id == question.link_id}
        assert question.codes == tuple(
            c for c in expected[question.link_id].codes if c not in added
        )
    assert V1_0.version == "1.0.0"
    assert V1_0.asked("duration") and not V1_0.asked("onset")


def test_a_version_is_made_once_and_the_current_is_itself() -> None:
    assert TWITCH_INTAKE.as_of("1.0.0") is V1_0
    assert TWITCH_INTAKE.as_of("1.1.0") is TWITCH_INTAKE
    assert questionnaire.for_version("") is questionnaire.for_version(None) is TWITCH_INTAKE
    assert questionnaire.for_version("1.0.0") is V1_0


@pytest.mark.parametrize("version", ["2.0.0", "1.0", "1.0.0.0", "one", "0", "1.0.0 "])
def test_an_unknown_version_is_refused(version: str) -> None:
    with pytest.raises(ValueError):
        TWITCH_INTAKE.as_of(version)


@pytest.mark.parametrize(
    ("earlier", "later"), [("1.0.0", "1.1.0"), ("1.9.0", "1.10.0"), ("1.1.0", "2.0.0")]
)
def test_versions_compare_as_numbers(earlier: str, later: str) -> None:
    assert questionnaire.version_key(earlier) < questionnaire.version_key(later)


def test_a_complete_1_0_0_intake_is_valid_under_1_0_0_and_not_under_1_1_0() -> None:
    answers = answers_1_0_0()
    assert "onset" not in answers and "duration" in answers
    cleaned, problems = validate(answers, V1_0)
    assert problems == [] and cleaned == answers
    missing = {p.link_id for p in validate(answers)[1]}
    assert missing == {
        spec.link_id
        for spec in CONTRACT
        if spec.since == "1.1.0" and spec.required and spec.show_when is None
    }


def test_a_1_0_0_intake_answering_a_1_1_0_question_is_told_which_version_asks_it() -> None:
    problems = validate({**answers_1_0_0(), "onset": "sudden"}, V1_0)[1]
    assert [(p.link_id, p.code) for p in problems] == [("onset", "not_in_version")]
    assert "1.1.0" in str(problems[0].message) and "1.0.0" in str(problems[0].message)


def test_a_1_0_0_intake_cannot_tick_an_option_1_1_0_added() -> None:
    answers = answers_1_0_0(**{"other-symptoms": ["breathless"]})
    assert [(p.link_id, p.code) for p in validate(answers, V1_0)[1]] == [
        ("other-symptoms", "unknown_code")
    ]


# --- Pages: a group may be more than one page --------------------------------------------------


def test_every_question_is_on_exactly_one_page_in_the_patients_order() -> None:
    pages = TWITCH_INTAKE.pages()
    assert [q.link_id for page in pages for q in page.questions] == [
        q.link_id for q in TWITCH_INTAKE.questions()
    ]
    assert [page.slug for page in pages if page.part == 0] == GROUPS
    slugs = [page.slug for page in pages]
    assert len(set(slugs)) == len(slugs)
    assert all(page.slug == page.questions[0].link_id for page in pages if page.part)


def test_a_follow_up_is_on_the_page_of_the_question_that_shows_it() -> None:
    for page in TWITCH_INTAKE.pages():
        on_page = {q.link_id for q in page.questions}
        for question in page.questions:
            if question.show_when is not None:
                assert question.show_when.question in on_page, question.link_id


def test_only_a_groups_first_page_has_its_introduction() -> None:
    history = TWITCH_INTAKE.group("history").pages
    assert len(history) > 1
    assert history[0].intro == TWITCH_INTAKE.group("history").intro
    assert all(page.intro == "" and page.title == history[0].title for page in history[1:])


def test_a_page_is_validated_on_its_own_questions() -> None:
    page = TWITCH_INTAKE.page("locations")
    cleaned, problems = validate_group(page, {"locations": ["eyelid"], "duration": "days"})
    assert "duration" not in cleaned
    assert {p.link_id for p in problems} == {"side", "more-than-one-location"}
    assert set(validation.answered_pages(routine_answers())) == {
        p.slug for p in TWITCH_INTAKE.pages()
    }


# --- 1.1.0's bad answers -------------------------------------------------------------------


def test_not_sure_with_another_way_it_looks_is_refused_by_name() -> None:
    problems = validate(routine_answers(movement=["not-sure", "jerk"]))[1]
    assert [(p.link_id, p.code) for p in problems] == [("movement", "none_exclusive")]
    assert "Not sure" in str(problems[0].message)
    assert "None of these" not in str(problems[0].message)


def test_a_missing_way_it_looks_names_not_sure_as_the_way_out() -> None:
    answers = routine_answers()
    del answers["movement"]
    (problem,) = validate(answers)[1]
    assert problem.link_id == "movement" and "“Not sure”" in str(problem.message)


def test_recent_signs_are_asked_only_after_a_yes() -> None:
    shown = routine_answers(**{"recent-emergency": True, "recent-emergency-signs": ["seizure"]})
    assert cleaned_of(shown)["recent-emergency-signs"] == ["seizure"]
    missing = routine_answers(**{"recent-emergency": True})
    assert problems_of(missing) == [("recent-emergency-signs", "required")]
    said_no = routine_answers(**{"recent-emergency": False, "recent-emergency-signs": ["seizure"]})
    assert "recent-emergency-signs" not in cleaned_of(said_no)
    assert [(p.link_id, p.code) for p in validate(said_no, refuse_inapplicable=True)[1]] == [
        ("recent-emergency-signs", "not_applicable")
    ]


def test_recent_signs_offer_every_sign_but_none_with_the_same_words() -> None:
    now = TWITCH_INTAKE.question("emergency-signs")
    recent = TWITCH_INTAKE.question("recent-emergency-signs")
    assert recent.codes == tuple(c for c in now.codes if c != "none")
    assert [str(recent.label(c)) for c in recent.codes] == [str(now.label(c)) for c in recent.codes]
    assert all(option.urgency is None for option in recent.options)


@pytest.mark.parametrize("link_id", ["locations-other", "weakness-where"])
def test_a_short_answer_is_one_line(link_id: str) -> None:
    spec = BY_ID[link_id]
    shown = {spec.show_when[0]: [spec.show_when[1]]} if spec.show_when else {}
    problems = validate(routine_answers(**shown, **{link_id: "left\nfoot"}))[1]
    assert [(p.link_id, p.code) for p in problems] == [(link_id, "line_break")]


def test_answered_by_is_required_and_pregnancy_is_not() -> None:
    answers = routine_answers()
    del answers["answered-by"], answers["pregnancy"]
    assert problems_of(answers) == [("answered-by", "required")]


def test_a_yes_no_follow_up_must_name_a_yes_no_question() -> None:
    asks = Question("asks", "Shaking?", ItemType.CHOICE, options=questionnaire._options(("a", "A")))
    follow = Question(
        "follow", "Which?", ItemType.STRING, show_when=questionnaire.ShowWhen("asks", True)
    )
    with pytest.raises(ValueError):
        Questionnaire("9.9.9", "t", (Group("g", "G", "", (asks, follow)),))


@pytest.mark.parametrize("version", ["9.0.0", "", None, "garbage"])
def test_a_stored_row_of_a_version_not_known_is_read_with_the_current_one(version: Any) -> None:
    assert questionnaire.stored_under(version) is TWITCH_INTAKE
    assert questionnaire.stored_under("1.0.0") is V1_0


def test_the_pages_are_worked_out_once_per_definition():
    """Every patient request asks for the pages many times: one tuple, one lookup per slug."""
    from twitch_intake.questionnaire import TWITCH_INTAKE

    pages = TWITCH_INTAKE.pages()
    assert TWITCH_INTAKE.pages() is pages
    for index, page in enumerate(pages):
        assert TWITCH_INTAKE.page(page.slug) is page
        assert TWITCH_INTAKE.page_index(page.slug) == index
        assert TWITCH_INTAKE.has_page(page.slug)
    assert not TWITCH_INTAKE.has_page("no-such-page")
    with pytest.raises(KeyError):
        TWITCH_INTAKE.page("no-such-page")
