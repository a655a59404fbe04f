"""The rules of ``shared/CLINICAL.md``, "Rules: from answers to the pre-visit summary", a row each.

The contract's flag codes, answer codes and table order are spelled out here rather than read
from ``triage``, so that a rule changed in the code fails a test here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polib
import pytest
from django.utils import translation
from django.utils.autoreload import file_changed

from tests.factories import (
    answers_1_0_0,
    emergency_answers,
    every_flag_answers,
    rich_answers,
    routine_answers,
)
from twitch_intake import triage
from twitch_intake.questionnaire import TWITCH_INTAKE
from twitch_intake.triage import Kind, Level, assess
from twitch_intake.validation import validate

RED_FLAGS = [
    "emergency-signs",
    "weakness",
    "multifocal",
    "muscle-loss",
    "bulbar",
    "breathing",
    "recent-emergency-signs",
    "severe",
    "persistent",
]
CONTEXT_FLAGS = [
    "lifestyle-triggers",
    "medication-link",
    "medicine-mentioned",
    "neuro-history",
    "metabolic-history",
    "sensory-change",
    "progressing",
    "family-history",
    "pregnancy",
]

EMERGENCY_SIGNS = [
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
]
LIFESTYLE = ["caffeine", "exertion", "stress-anxiety", "poor-sleep"]
MEDICATIONS = ["stimulant", "corticosteroid", "estrogen", "diuretic", "benzodiazepine-withdrawal"]
NEURO = [
    "als",
    "multiple-sclerosis",
    "muscular-dystrophy",
    "tourette",
    "nerve-damage",
    "brain-injury",
]
METABOLIC = ["kidney-disease", "thyroid-disease"]
#: Other symptoms that are worth recording but raise no flag of their own.
QUIET_SYMPTOMS = ["cramps", "stiffness", "pain", "fatigue", "tics-or-vocal-outbursts"]


def answers(**overrides: Any) -> dict[str, Any]:
    """A routine intake with answers replaced; keys use the linkIds' own spelling. With a sign
    ticked, the patient's answer on the get-care page too (required then)."""
    given = routine_answers(**{key.replace("_", "-"): value for key, value in overrides.items()})
    if given["emergency-signs"] != ["none"]:
        given.setdefault("emergency-action", "getting-care-now")
    return given


def label(link_id: str, code: str) -> str:
    """How the evidence names an answer: the option's short name where it has one ("Weakness",
    not the sentence that explains it to the patient), else its label."""
    question = TWITCH_INTAKE.question(link_id)
    option = question.option(code)
    return str((option.brief if option is not None else "") or question.label(code))


def raised(given: dict[str, Any], code: str) -> triage.Flag:
    flag = assess(given).flag(code)
    assert flag is not None, f"{code} was not raised"
    return flag


# --- The flag list is the contract's ---------------------------------------------------------


def test_flag_codes_are_the_contracts_in_table_order() -> None:
    assert isinstance(triage.flag_codes(), tuple)
    assert list(triage.flag_codes()) == RED_FLAGS + CONTEXT_FLAGS


def test_red_and_context_rules_are_the_contracts() -> None:
    red = [r for r in triage.rules() if r.is_red]
    context = [r for r in triage.rules() if not r.is_red]
    assert [r.code for r in red] == RED_FLAGS
    assert [r.code for r in context] == CONTEXT_FLAGS
    assert {r.kind for r in red} == {Kind.RED}
    assert {r.kind for r in context} == {Kind.CONTEXT}
    # Red rules set a level above routine; context rules never move it.
    assert {r.level for r in red} == {Level.EMERGENCY, Level.PRIORITY}
    assert {r.level for r in context} == {Level.ROUTINE}
    assert [r.code for r in triage.rules() if r.is_emergency] == ["emergency-signs"]
    assert [r.code for r in triage.highlighted_rules()] == [
        "weakness",
        "multifocal",
        "bulbar",
        "breathing",
    ]


def test_each_rule_reads_only_the_questions_it_declares() -> None:
    """The summary trusts ``reads`` to say "not answered"; a rule reading more would lie."""
    for given in (every_flag_answers(), rich_answers(), routine_answers()):
        for rule in triage.rules():
            own = {k: v for k, v in given.items() if k in rule.reads}
            assert rule.test(own, TWITCH_INTAKE) == rule.test(given, TWITCH_INTAKE), rule.code
            assert all(TWITCH_INTAKE.has_question(link_id) for link_id in rule.reads)


def test_emergency_questions_are_those_the_emergency_rule_reads() -> None:
    assert triage.emergency_questions() == {"emergency-signs"}


def test_levels_sort_in_clinical_order() -> None:
    assert sorted(Level) == [Level.EMERGENCY, Level.PRIORITY, Level.ROUTINE]


@pytest.mark.parametrize("action", ["getting-care-now", "already-seen", "long-standing"])
def test_what_the_patient_is_doing_never_lowers_the_level(action: str) -> None:
    given = answers(emergency_signs=["vomiting"], emergency_action=action)
    assert validate(given)[1] == []
    assert assess(given).level is Level.EMERGENCY
    assert "emergency-action" not in triage.emergency_questions()


# --- Each rule, both sides of each boundary --------------------------------------------------

#: (answers, the flags raised, the level): a routine intake with one thing changed per row.
CASES: list[tuple[dict[str, Any], list[str], Level]] = [
    # Nothing ticked but "none": nothing raised.
    (answers(), [], Level.ROUTINE),
    # emergency-signs: any sign; "none" alone is no sign.
    *[
        (answers(emergency_signs=[sign]), ["emergency-signs"], Level.EMERGENCY)
        for sign in EMERGENCY_SIGNS
    ],
    (answers(emergency_signs=EMERGENCY_SIGNS), ["emergency-signs"], Level.EMERGENCY),
    (answers(emergency_signs=["none"]), [], Level.ROUTINE),
    # weakness and muscle-loss: their own symptom only.
    (answers(other_symptoms=["weakness"]), ["weakness"], Level.PRIORITY),
    (answers(other_symptoms=["muscle-loss"]), ["muscle-loss"], Level.PRIORITY),
    (
        answers(other_symptoms=["weakness", "muscle-loss"]),
        ["weakness", "muscle-loss"],
        Level.PRIORITY,
    ),
    *[(answers(other_symptoms=[symptom]), [], Level.ROUTINE) for symptom in QUIET_SYMPTOMS],
    (answers(other_symptoms=QUIET_SYMPTOMS), [], Level.ROUTINE),
    # multifocal: a yes, or two or more locations ("other" is one).
    (answers(locations=["eyelid"], more_than_one_location=False), [], Level.ROUTINE),
    (
        answers(locations=["other"], locations_other="toe", more_than_one_location=False),
        [],
        Level.ROUTINE,
    ),
    (answers(locations=["eyelid"], more_than_one_location=True), ["multifocal"], Level.PRIORITY),
    (
        answers(locations=["other"], locations_other="toe", more_than_one_location=True),
        ["multifocal"],
        Level.PRIORITY,
    ),
    (
        answers(locations=["thigh", "calf"], more_than_one_location=True),
        ["multifocal"],
        Level.PRIORITY,
    ),
    (
        answers(locations=["thigh", "calf"], more_than_one_location=False),
        ["multifocal"],
        Level.PRIORITY,
    ),
    (
        answers(locations=["eyelid", "other"], locations_other="toe", more_than_one_location=False),
        ["multifocal"],
        Level.PRIORITY,
    ),
    # severe: severe only.
    (answers(severity="mild"), [], Level.ROUTINE),
    (answers(severity="moderate"), [], Level.ROUTINE),
    (answers(severity="severe"), ["severe"], Level.PRIORITY),
    # persistent: a month or more.
    (answers(duration="days"), [], Level.ROUTINE),
    (answers(duration="weeks"), [], Level.ROUTINE),
    (answers(duration="months"), ["persistent"], Level.PRIORITY),
    (answers(duration="long-term"), ["persistent"], Level.PRIORITY),
    # Context flags: each code, and never a change of level.
    *[(answers(triggers=[code]), ["lifestyle-triggers"], Level.ROUTINE) for code in LIFESTYLE],
    (answers(triggers=["none"]), [], Level.ROUTINE),
    *[
        (answers(medication_flags=[code]), ["medication-link"], Level.ROUTINE)
        for code in MEDICATIONS
    ],
    (answers(medication_flags=["none"]), [], Level.ROUTINE),
    *[(answers(condition_flags=[code]), ["neuro-history"], Level.ROUTINE) for code in NEURO],
    *[
        (answers(condition_flags=[code]), ["metabolic-history"], Level.ROUTINE)
        for code in METABOLIC
    ],
    (
        answers(condition_flags=["tourette", "kidney-disease"]),
        ["neuro-history", "metabolic-history"],
        Level.ROUTINE,
    ),
    (answers(condition_flags=["none"]), [], Level.ROUTINE),
    # bulbar: swallowing or speech, or the tongue.
    (answers(other_symptoms=["trouble-swallowing"]), ["bulbar"], Level.PRIORITY),
    (answers(other_symptoms=["speech-change"]), ["bulbar"], Level.PRIORITY),
    (answers(locations=["tongue"]), ["bulbar"], Level.PRIORITY),
    (
        answers(other_symptoms=["trouble-swallowing", "speech-change"], locations=["tongue"]),
        ["bulbar"],
        Level.PRIORITY,
    ),
    (answers(locations=["face"]), [], Level.ROUTINE),
    # bulbar with weakness: both raised, each with its own evidence.
    (
        answers(other_symptoms=["weakness", "trouble-swallowing"], weakness_where="both hands"),
        ["weakness", "bulbar"],
        Level.PRIORITY,
    ),
    # breathing: breathless only.
    (answers(other_symptoms=["breathless"]), ["breathing"], Level.PRIORITY),
    # recent-emergency-signs: a yes and a sign; a no raises nothing.
    *[
        (
            answers(recent_emergency=True, recent_emergency_signs=[sign]),
            ["recent-emergency-signs"],
            Level.PRIORITY,
        )
        for sign in EMERGENCY_SIGNS
    ],
    (answers(recent_emergency=False), [], Level.ROUTINE),
    # Recent and current signs together: the current one makes it an emergency.
    (
        answers(
            emergency_signs=["vomiting"], recent_emergency=True, recent_emergency_signs=["seizure"]
        ),
        ["emergency-signs", "recent-emergency-signs"],
        Level.EMERGENCY,
    ),
    # 1.1.0's context flags.
    (answers(other_symptoms=["numbness-tingling"]), ["sensory-change"], Level.ROUTINE),
    (answers(course="worse"), ["progressing"], Level.ROUTINE),
    (answers(course="spreading"), ["progressing"], Level.ROUTINE),
    (answers(course="same"), [], Level.ROUTINE),
    (answers(course="better"), [], Level.ROUTINE),
    (answers(family_history="yes"), ["family-history"], Level.ROUTINE),
    (answers(family_history="not-sure"), [], Level.ROUTINE),
    (answers(family_history="no"), [], Level.ROUTINE),
    (answers(pregnancy="yes"), ["pregnancy"], Level.ROUTINE),
    (answers(pregnancy="no"), [], Level.ROUTINE),
    (answers(pregnancy="not-applicable"), [], Level.ROUTINE),
    (answers(medications="Xanax 0.5 mg at night"), ["medicine-mentioned"], Level.ROUTINE),
    (
        answers(medications="Xanax", medication_flags=["benzodiazepine-withdrawal"]),
        ["medication-link"],
        Level.ROUTINE,
    ),
    (
        answers(medications="Xanax", medication_flags=["stimulant"]),
        ["medication-link", "medicine-mentioned"],
        Level.ROUTINE,
    ),
    (answers(medications="Vitamin D"), [], Level.ROUTINE),
]


def _case_id(case: tuple[dict[str, Any], list[str], Level]) -> str:
    changed = {k: v for k, v in case[0].items() if routine_answers().get(k) != v}
    return ",".join(f"{k}={v}" for k, v in changed.items()) or "routine"


@pytest.mark.parametrize(("given", "codes", "level"), CASES, ids=[_case_id(c) for c in CASES])
def test_rule(given: dict[str, Any], codes: list[str], level: Level) -> None:
    stored, problems = validate(given)
    assert problems == [], "each row is an intake the form would store"
    assessment = assess(stored)
    assert assessment.codes == codes
    assert assessment.level is level


@pytest.mark.parametrize(
    "link_id",
    ["emergency-signs", "other-symptoms", "medication-flags", "condition-flags", "triggers"],
)
def test_none_ticked_alone_raises_nothing(link_id: str) -> None:
    assert assess({link_id: ["none"]}).codes == []


def test_no_answers_at_all_is_routine_with_nothing_raised() -> None:
    assessment = assess({})
    assert (assessment.level, assessment.flags, assessment.notes) == (Level.ROUTINE, (), ())


# --- The level -------------------------------------------------------------------------------


def test_emergency_beats_every_other_red_flag() -> None:
    assessment = assess(every_flag_answers())
    assert set(RED_FLAGS) <= set(assessment.codes)
    assert assessment.level is Level.EMERGENCY


def test_emergency_alone_is_emergency() -> None:
    assert assess(emergency_answers()).level is Level.EMERGENCY


@pytest.mark.parametrize("code", RED_FLAGS[1:])
def test_any_other_red_flag_without_emergency_signs_is_priority(code: str) -> None:
    given = {**every_flag_answers(), "emergency-signs": ["none"]}
    assessment = assess(given)
    assert assessment.level is Level.PRIORITY
    assert code in assessment.codes


CONTEXT_ANSWERS = {
    "triggers": LIFESTYLE,
    "medication-flags": MEDICATIONS[:-1],
    "medications": "Valium when needed",
    "condition-flags": NEURO + METABOLIC,
    "other-symptoms": ["numbness-tingling"],
    "course": "spreading",
    "family-history": "yes",
    "pregnancy": "yes",
}


@pytest.mark.parametrize(
    ("red", "level"),
    [
        ({"emergency-signs": ["seizure"]}, Level.EMERGENCY),
        ({"severity": "severe"}, Level.PRIORITY),
        ({}, Level.ROUTINE),
    ],
)
def test_context_flags_never_change_the_level(red: dict[str, Any], level: Level) -> None:
    without = assess(routine_answers(**red))
    with_context = assess(routine_answers(**red, **CONTEXT_ANSWERS))
    assert [f.code for f in with_context.context_flags] == CONTEXT_FLAGS
    assert without.context_flags == ()
    assert without.level is with_context.level is level


# --- What each flag carries ------------------------------------------------------------------


def test_every_flag_raised_in_table_order_with_kind_label_and_source() -> None:
    assessment = assess(every_flag_answers())
    assert assessment.codes == RED_FLAGS + CONTEXT_FLAGS
    assert [f.code for f in assessment.red_flags] == RED_FLAGS
    assert [f.code for f in assessment.context_flags] == CONTEXT_FLAGS
    for flag in assessment.flags:
        rule = triage.rule(flag.code)
        assert flag.kind is rule.kind
        assert str(flag.label).strip()
        assert str(flag.source).strip()
        assert flag.source == rule.source
        assert assessment.flag(flag.code) is flag
    assert assessment.flag("not-a-flag") is None


@pytest.mark.parametrize(
    ("code", "cites"),
    [
        ("emergency-signs", ["When should you see a doctor"]),
        ("weakness", ["weakness"]),
        ("multifocal", ["more than one area"]),
        ("muscle-loss", ["neurological conditions", "muscle wasting"]),
        ("bulbar", ["NICE NG42", "speech or swallowing", "tongue", "weakness"]),
        ("breathing", ["NICE NG42", "breathlessness lying flat"]),
        ("recent-emergency-signs", ["emergency signs", "NHS", "even if it has passed"]),
        ("severe", ["severe"]),
        ("persistent", ["severe or persistent", "a month or more"]),
        ("lifestyle-triggers", ["common causes"]),
        ("medication-link", ["benzodiazepine", "MedlinePlus"]),
        ("medicine-mentioned", ["benzodiazepine", "MedlinePlus"]),
        ("neuro-history", ["neurological"]),
        ("metabolic-history", ["kidney", "thyroid"]),
        ("sensory-change", ["MedlinePlus", "sensation"]),
        ("progressing", ["NICE NG42", "progressive"]),
        ("family-history", ["inherited", "NICE NG42", "family history"]),
        ("pregnancy", ["NHS", "tests and medicines"]),
    ],
)
def test_source_cites_the_contracts_section(code: str, cites: list[str]) -> None:
    source = str(raised(every_flag_answers(), code).source)
    for words in cites:
        assert words in source


#: Diseases a patient may not have: a source names a section or guideline, never one of these.
DISEASES = ["ALS", "amyotrophic", "motor neuron disease", "multiple sclerosis", "dystrophy ", "MND"]


@pytest.mark.parametrize("code", RED_FLAGS + CONTEXT_FLAGS)
def test_a_source_names_no_disease_the_patient_may_not_have_and_gives_no_advice(
    code: str,
) -> None:
    source = str(triage.rule(code).source)
    allowed = {"family-history": ["MND", "dystrophy "]}.get(
        code, []
    )  # the family's, as the contract words it
    for word in DISEASES:
        if word not in allowed:
            assert word not in source, (code, word)
    assert "self-care" not in source.lower()


#: (answers, flag, the (linkId, code) pairs whose labels the evidence names, in this order).
EVIDENCE: list[tuple[dict[str, Any], str, list[tuple[str, str]]]] = [
    (
        answers(emergency_signs=["seizure", "severe-headache"]),
        "emergency-signs",
        [("emergency-signs", "seizure"), ("emergency-signs", "severe-headache")],
    ),
    (
        answers(emergency_signs=EMERGENCY_SIGNS),
        "emergency-signs",
        [("emergency-signs", sign) for sign in EMERGENCY_SIGNS],
    ),
    (answers(other_symptoms=["weakness", "cramps"]), "weakness", [("other-symptoms", "weakness")]),
    (
        answers(other_symptoms=["muscle-loss", "pain"]),
        "muscle-loss",
        [("other-symptoms", "muscle-loss")],
    ),
    (
        answers(locations=["thigh", "calf"], more_than_one_location=False),
        "multifocal",
        [("locations", "thigh"), ("locations", "calf")],
    ),
    (
        answers(locations=["eyelid", "other"], locations_other="toe", more_than_one_location=True),
        "multifocal",
        [("locations", "eyelid"), ("locations", "other")],
    ),
    (answers(severity="severe"), "severe", [("severity", "severe")]),
    (answers(duration="months"), "persistent", [("duration", "months")]),
    (answers(duration="long-term"), "persistent", [("duration", "long-term")]),
    (
        answers(triggers=["caffeine", "poor-sleep"]),
        "lifestyle-triggers",
        [("triggers", "caffeine"), ("triggers", "poor-sleep")],
    ),
    (
        answers(medication_flags=["estrogen", "benzodiazepine-withdrawal"]),
        "medication-link",
        [("medication-flags", "estrogen"), ("medication-flags", "benzodiazepine-withdrawal")],
    ),
    (
        answers(condition_flags=["als", "kidney-disease"]),
        "neuro-history",
        [("condition-flags", "als")],
    ),
    (
        answers(condition_flags=["als", "kidney-disease", "thyroid-disease"]),
        "metabolic-history",
        [("condition-flags", "kidney-disease"), ("condition-flags", "thyroid-disease")],
    ),
]


@pytest.mark.parametrize(
    ("given", "code", "named"), EVIDENCE, ids=[f"{e[1]}-{len(e[2])}" for e in EVIDENCE]
)
def test_evidence_names_the_ticked_answers_as_the_patient_read_them(
    given: dict[str, Any], code: str, named: list[tuple[str, str]]
) -> None:
    evidence = str(raised(given, code).evidence)
    position = -1
    for link_id, answer in named:
        text = label(link_id, answer)
        assert text != answer, "a label that is its own code proves nothing"
        assert text in evidence
        assert evidence.index(text) > position, "answers are named in the order ticked"
        position = evidence.index(text)
        assert answer not in evidence.replace(text, ""), "the patient's words, not our codes"


@pytest.mark.parametrize(
    ("given", "code", "not_named"),
    [
        (answers(other_symptoms=["weakness", "cramps"]), "weakness", ("other-symptoms", "cramps")),
        (
            answers(condition_flags=["als", "kidney-disease"]),
            "neuro-history",
            ("condition-flags", "kidney-disease"),
        ),
        (
            answers(condition_flags=["als", "kidney-disease"]),
            "metabolic-history",
            ("condition-flags", "als"),
        ),
    ],
)
def test_evidence_names_only_what_raised_the_flag(
    given: dict[str, Any], code: str, not_named: tuple[str, str]
) -> None:
    assert label(*not_named) not in raised(given, code).evidence


def test_evidence_reads_ticked_then_the_labels() -> None:
    given = answers(locations=["thigh", "calf"], more_than_one_location=False)
    assert raised(given, "multifocal").evidence == "ticked: Thigh, Calf (the back of the lower leg)"


def test_multifocal_evidence_names_the_yes_to_more_than_one_place() -> None:
    said_yes = raised(answers(locations=["eyelid"], more_than_one_location=True), "multifocal")
    both = raised(answers(locations=["eyelid", "hand"], more_than_one_location=True), "multifocal")
    assert "more than one place" in said_yes.evidence
    assert label("locations", "eyelid") not in said_yes.evidence
    assert "more than one place" in both.evidence
    assert label("locations", "hand") in both.evidence


# --- Answers that disagree -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locations", "count"),
    [(["thigh", "calf"], 2), (["eyelid", "other"], 2), (["face", "hand", "foot"], 3)],
)
def test_a_no_to_more_than_one_place_with_several_ticked_is_noted(
    locations: list[str], count: int
) -> None:
    given = answers(locations=locations, locations_other="toe", more_than_one_location=False)
    assessment = assess(given)
    assert "multifocal" in assessment.codes
    assert len(assessment.notes) == 1
    assert "disagree" in assessment.notes[0]
    assert f"{count} places" in assessment.notes[0]


@pytest.mark.parametrize(
    ("locations", "said_yes"),
    [(["thigh", "calf"], True), (["eyelid"], False), (["eyelid"], True), (["other"], False)],
)
def test_no_note_when_the_answers_agree(locations: list[str], said_yes: bool) -> None:
    given = answers(locations=locations, locations_other="toe", more_than_one_location=said_yes)
    assert assess(given).notes == ()


# --- The patient's language ------------------------------------------------------------------


def _compile(path: Path, messages: dict[str, str]) -> None:
    """Write ``messages`` as the catalog ``compilemessages`` would make of them."""
    po = polib.POFile()
    po.metadata = {"Language": "es", "Content-Type": "text/plain; charset=UTF-8"}
    for msgid, msgstr in messages.items():
        po.append(polib.POEntry(msgid=msgid, msgstr=msgstr))
    path.parent.mkdir(parents=True, exist_ok=True)
    po.save_as_mofile(str(path))


@pytest.fixture
def spanish(tmp_path: Path, settings: Any) -> Path:
    """A Spanish catalog for three of the evidence's words, found through ``LOCALE_PATHS``."""
    mo = tmp_path / "es" / "LC_MESSAGES" / "django.mo"
    _compile(
        mo,
        {
            "ticked: %(answers)s": "marcó: %(answers)s",
            "Thigh": "Muslo",
            "Calf (the back of the lower leg)": "Pantorrilla",
        },
    )
    settings.LOCALE_PATHS = [str(tmp_path)]
    return mo


def test_evidence_is_worded_in_the_active_language(spanish: Path) -> None:
    given = answers(locations=["thigh", "calf"], more_than_one_location=False)
    with translation.override("en"):
        assert (
            raised(given, "multifocal").evidence
            == "ticked: Thigh, Calf (the back of the lower leg)"
        )
    with translation.override("es"):
        assert raised(given, "multifocal").evidence == "marcó: Muslo, Pantorrilla"
    with translation.override("en"):
        assert (
            raised(given, "multifocal").evidence
            == "ticked: Thigh, Calf (the back of the lower leg)"
        )


def test_evidence_is_worded_when_read_even_after_a_recompiled_catalog(spanish: Path) -> None:
    """Evidence holds no words of its own: a flag raised in one language reads in the reader's,
    from the catalog as it is when read, after the development server reloads a recompiled one."""
    given = answers(locations=["thigh", "calf"], more_than_one_location=False)
    with translation.override("en"):
        raised_in_english = raised(given, "multifocal")
    with translation.override("es"):
        raised_in_spanish = raised(given, "multifocal")
        assert raised_in_english.evidence == "marcó: Muslo, Pantorrilla"
        assert raised_in_spanish.evidence == "marcó: Muslo, Pantorrilla"
    _compile(
        spanish,
        {
            "ticked: %(answers)s": "marcado: %(answers)s",
            "Thigh": "Muslo",
            "Calf (the back of the lower leg)": "Gemelo",
        },
    )
    file_changed.send(sender=None, file_path=spanish)  # what runserver's reloader sends
    with translation.override("es"):
        assert raised_in_english.evidence == "marcado: Muslo, Gemelo"
        assert raised_in_spanish.evidence == "marcado: Muslo, Gemelo"
        assert raised(given, "multifocal").evidence == "marcado: Muslo, Gemelo"
    with translation.override("en"):
        assert raised_in_spanish.evidence == "ticked: Thigh, Calf (the back of the lower leg)"


def test_a_rules_test_alone_gives_the_same_evidence_as_assess() -> None:
    given = every_flag_answers()
    for rule in triage.rules():
        found = rule.test(given, TWITCH_INTAKE)
        assert found is not None
        assert found.evidence == raised(given, rule.code).evidence
    for rule in triage.rules():
        assert rule.test(routine_answers(), TWITCH_INTAKE) is None


# --- 1.1.0's rules: evidence in the patient's terms ----------------------------------------


def test_bulbar_evidence_names_the_symptoms_and_the_tongue() -> None:
    given = answers(other_symptoms=["speech-change"], locations=["tongue", "hand"])
    flag = raised(given, "bulbar")
    assert label("other-symptoms", "speech-change") in flag.evidence
    assert label("locations", "tongue") in flag.evidence
    assert label("locations", "hand") not in flag.evidence
    full = TWITCH_INTAKE.question("other-symptoms").label("speech-change")
    assert flag.answers == (full, TWITCH_INTAKE.question("locations").label("tongue"))


def test_recent_signs_evidence_names_the_signs_and_is_not_an_emergency() -> None:
    given = answers(recent_emergency=True, recent_emergency_signs=["seizure", "vomiting"])
    assessment = assess(given)
    flag = raised(given, "recent-emergency-signs")
    assert label("recent-emergency-signs", "seizure") in flag.evidence
    assert label("recent-emergency-signs", "vomiting") in flag.evidence
    assert not assessment.is_emergency and assessment.emergency_signs == ()


def test_recent_signs_left_after_a_no_raise_nothing() -> None:
    """Stored by an older save or sent by an import that was refused: a "no" is a no."""
    assert assess({"recent-emergency": False, "recent-emergency-signs": ["seizure"]}).codes == []


@pytest.mark.parametrize(
    ("typed", "ticked", "evidence"),
    [
        (
            "Xanax 0.5 mg",
            ["none"],
            "typed “xanax”, a benzodiazepine; the checklist does not say it was stopped or cut "
            "down: ask",
        ),
        ("LORAZEPAM", ["none"], "typed “lorazepam”, a benzodiazepine;"),
        (
            "ritalin, lasix",
            ["none"],
            "typed “ritalin”, a stimulant; not ticked in the checklist: ask",
        ),
        ("ritalin, lasix", ["none"], "typed “lasix”, a diuretic; not ticked in the checklist: ask"),
        ("Prednisolone 5mg", ["estrogen"], "typed “prednisolone”, a corticosteroid;"),
        ("estradiol patch", ["none"], "typed “estradiol”, an estrogen;"),
        ("Rivotril (clonazepam)", ["none"], "typed “clonazepam”, a benzodiazepine;"),
    ],
)
def test_a_medicine_typed_but_not_ticked_is_a_question_to_ask(
    typed: str, ticked: list[str], evidence: str
) -> None:
    flag = raised(answers(medications=typed, medication_flags=ticked), "medicine-mentioned")
    assert evidence in flag.evidence
    assert flag.rule.kind is Kind.CONTEXT


@pytest.mark.parametrize(
    "typed", ["xanaxine", "prednisone-free diet", "Vitamin D", "valiumx", "my ativan2 pills"]
)
def test_a_medicine_word_counts_only_as_a_whole_word(typed: str) -> None:
    flag = assess(answers(medications=typed)).flag("medicine-mentioned")
    if typed == "prednisone-free diet":
        assert flag is not None  # "prednisone" is a whole word there: ask, do not conclude
    else:
        assert flag is None, typed


def test_a_medicine_of_a_kind_ticked_is_not_asked_again() -> None:
    given = answers(medications="Lasix and Adderall", medication_flags=["diuretic"])
    evidence = str(raised(given, "medicine-mentioned").evidence)
    assert "adderall" in evidence and "lasix" not in evidence


@pytest.mark.parametrize(
    ("given", "code", "named"),
    [
        (
            answers(other_symptoms=["numbness-tingling"]),
            "sensory-change",
            ("other-symptoms", "numbness-tingling"),
        ),
        (answers(course="spreading"), "progressing", ("course", "spreading")),
        (answers(family_history="yes"), "family-history", ("family-history", "yes")),
        (answers(pregnancy="yes"), "pregnancy", ("pregnancy", "yes")),
        (answers(other_symptoms=["breathless"]), "breathing", ("other-symptoms", "breathless")),
    ],
)
def test_new_flags_quote_the_answer(
    given: dict[str, Any], code: str, named: tuple[str, str]
) -> None:
    assert label(*named) in raised(given, code).evidence


# --- Versions: the current rules on a 1.0.0 intake -----------------------------------------

V1_0 = TWITCH_INTAKE.as_of("1.0.0")
#: The red rules that read only questions 1.0.0 never asked.
ONLY_NEW = ["recent-emergency-signs"]


def test_a_1_0_0_intake_gets_the_current_rules_on_the_answers_it_has() -> None:
    given = answers_1_0_0(**{"other-symptoms": ["trouble-swallowing"], "locations": ["tongue"]})
    assessment = assess(given, V1_0)
    assert assessment.codes == ["bulbar"]
    assert assessment.level is Level.PRIORITY


def test_rules_that_read_only_new_questions_are_silent_and_say_not_asked() -> None:
    assessment = assess(answers_1_0_0(), V1_0)
    assert assessment.codes == []
    negatives = {n.code: str(n.shows) for n in assessment.negatives}
    for code in ONLY_NEW:
        assert negatives[code] == "not asked (form version 1.0.0)"
    assert negatives["weakness"] == "no (answered “None of these”)"


def test_an_option_1_0_0_never_offered_is_not_asked_not_no() -> None:
    given = answers_1_0_0(**{"other-symptoms": ["weakness"]})
    negatives = {n.code: str(n.shows) for n in assess(given, V1_0).negatives}
    assert negatives["breathing"] == "not asked (form version 1.0.0)"
    # Swallowing and the tongue were asked; speech change was not: both are said.
    assert negatives["bulbar"] == (
        "no (swallowing and speech problems not ticked; tongue not ticked); "
        "not asked in form version 1.0.0: " + label("other-symptoms", "speech-change")
    )
    assert negatives["emergency-signs"].endswith(
        "not asked in form version 1.0.0: " + label("emergency-signs", "breathing-difficulty")
    )
    current = {n.code: str(n.shows) for n in assess(answers(other_symptoms=["weakness"])).negatives}
    assert current["breathing"] == "no (not ticked)"


def test_the_same_blank_in_1_1_0_is_not_answered() -> None:
    given = answers()
    del given["recent-emergency"]
    negatives = {n.code: str(n.shows) for n in assess(given).negatives}
    assert negatives["recent-emergency-signs"] == "not answered"


# --- Pertinent negatives, worded as answers -----------------------------------------------


@pytest.mark.parametrize(
    ("given", "code", "shows"),
    [
        (answers(), "weakness", "no (answered “None of these”)"),
        (answers(), "emergency-signs", "no (answered “None of these”)"),
        (answers(other_symptoms=["cramps", "pain"]), "weakness", "no (not ticked)"),
        (answers(other_symptoms=["weakness", "pain"]), "breathing", "no (not ticked)"),
        (answers(movement=["not-sure"]), "weakness", "no (answered “None of these”)"),
        (answers(locations=["eyelid"]), "multifocal", "no (one place: Eyelid)"),
        (
            answers(severity="mild"),
            "severe",
            "no (answered “Mild: I notice them, but they don't bother me”)",
        ),
        (answers(duration="days"), "persistent", "no (answered “Less than 1 week”)"),
        (
            answers(recent_emergency=False),
            "recent-emergency-signs",
            "no (answered no)",
        ),
        (
            answers(other_symptoms=["cramps"], locations=["eyelid"]),
            "bulbar",
            "no (swallowing and speech problems not ticked; tongue not ticked)",
        ),
        ({}, "weakness", "not answered"),
        ({}, "multifocal", "not answered"),
    ],
)
def test_a_red_flag_not_raised_says_what_was_answered(
    given: dict[str, Any], code: str, shows: str
) -> None:
    negatives = {n.code: str(n.shows) for n in assess(given).negatives}
    assert negatives[code] == shows


def test_weakness_evidence_says_where_as_typed_and_shows_a_stored_line_break() -> None:
    given = answers(other_symptoms=["weakness"], weakness_where="right hand")
    assert raised(given, "weakness").evidence == "ticked: Weakness; where: “right hand”"
    stored = {**given, "weakness-where": "hand\nLevel: Routine"}  # stored before the rules
    assert "\n" not in str(assess(stored).flag("weakness").evidence)
