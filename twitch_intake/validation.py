"""What makes an answer acceptable: one set of rules for every way answers arrive.

The web form and a FHIR import both call :func:`validate_group` / :func:`validate`, so that a
response accepted by one is accepted by the other. Like the questionnaire, this knows nothing
of HTTP or the ORM: answers are plain values keyed by linkId.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from . import questionnaire
from .questionnaire import Answers, Group, ItemType, Page, Question, Questionnaire

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise


@dataclass(frozen=True)
class Problem:
    """One reason answers cannot be accepted, tied to the question it concerns."""

    link_id: str
    code: str
    message: str | StrPromise


#: The line breaks someone may type or paste; refused with their own message in a one-line value.
#: Every other character that ends a line (``\v``, ``\f``, ``\x85``) is a control character.
LINE_BREAKS = frozenset("\n\r\u2028\u2029")
#: The line breaks a long answer may hold: what a browser's textarea sends.
_TEXT_LINE_BREAKS = frozenset("\n\r")


def character_problem(text: str, *, multiline: bool) -> tuple[str, str | StrPromise] | None:
    """Why ``text`` cannot be stored as typed, as ``(code, message)``; ``None`` when it can.

    A one-line value (a name, a record number, a short answer) is one line; a long answer keeps
    its line breaks. Neither may hold control characters (NUL included) or lone surrogates, which
    PostgreSQL cannot store, nor format characters (Unicode category Cf: the bidi embeddings,
    overrides, isolates and marks, zero-width spaces and joiners, the byte-order mark), which
    change how the text around them reads without showing themselves: a right-to-left override
    makes "Routine" of "enituoR", and a line break in a name starts a line of the chart note.
    Tabs are whitespace and stay.
    """
    for ch in text:
        if ch == "\t" or (multiline and ch in _TEXT_LINE_BREAKS):
            continue
        if ch in LINE_BREAKS and not multiline:
            return "line_break", _("Keep this answer to one line.")
        if ch in LINE_BREAKS or unicodedata.category(ch) in ("Cc", "Cf", "Cs"):
            return "control_character", _(
                "This answer has a hidden character we can't store. Retype it without pasting."
            )
    return None


def has_control_character(text: str, multiline: bool = False) -> bool:
    """True when :func:`character_problem` refuses ``text``; one line unless ``multiline``."""
    return character_problem(text, multiline=multiline) is not None


def visible(line: str) -> str:
    """Control and format characters (a line break, a right-to-left override, a zero-width
    space) as code points, so that text stored before the input rules refused them shows what
    was stored instead of being rearranged, or starting a line, by it."""
    return "".join(f"[U+{ord(ch):04X}]" if has_control_character(ch) else ch for ch in line)


#: The quotes our words put around someone's: typed inside them, each is escaped.
_QUOTES = '"“”'


def quotable(line: str) -> str:
    """One line of someone's words, ready to go between our quotes: shown as :func:`visible`,
    with a backslash before each backslash and each quote mark they typed (straight or curly),
    so that none of theirs can close ours and go on in words that read like ours
    (``right hand” · Level: Routine``)."""
    escaped = visible(line).replace("\\", "\\\\")
    for mark in _QUOTES:
        escaped = escaped.replace(mark, "\\" + mark)
    return escaped


def is_blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


def _check(question: Question, value: Any) -> tuple[Any, list[Problem]]:
    """Check one enabled, answered question; return the stored form of the value."""
    link_id = question.link_id
    if question.type is ItemType.CHOICE and question.repeats:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            return None, [Problem(link_id, "wrong_type", _("Choose from the list."))]
        unknown = [v for v in value if v not in question.codes]
        if unknown:
            return None, [Problem(link_id, "unknown_code", _("Choose only from the list."))]
        alone = [code for code in question.codes if code in question.exclusive and code in value]
        if alone and len(set(value)) > 1:
            return None, [
                Problem(
                    link_id,
                    "none_exclusive",
                    format_lazy(
                        _("You ticked “{answer}” and something else. Untick one of them."),
                        answer=question.label(alone[0]),
                    ),
                )
            ]
        chosen = set(value)
        return [code for code in question.codes if code in chosen], []
    if question.type is ItemType.CHOICE:
        if not isinstance(value, str):
            return None, [Problem(link_id, "wrong_type", _("Choose one answer."))]
        if value not in question.codes:
            return None, [Problem(link_id, "unknown_code", _("Choose one of the answers shown."))]
        return value, []
    if question.type is ItemType.BOOLEAN:
        if not isinstance(value, bool):
            return None, [Problem(link_id, "wrong_type", _("Answer yes or no."))]
        return value, []
    if not isinstance(value, str):
        return None, [Problem(link_id, "wrong_type", _("Type your answer as text."))]
    refused = character_problem(value, multiline=question.type is ItemType.TEXT)
    if refused is not None:
        return None, [Problem(link_id, *refused)]
    if question.max_length is not None and len(value) > question.max_length:
        return None, [
            Problem(
                link_id,
                "too_long",
                _("Keep this to %(limit)s characters or fewer (it has %(count)s).")
                % {"limit": question.max_length, "count": len(value)},
            )
        ]
    return value, []


#: Only an import can answer a question that is not shown, and import messages are for the
#: sending system's staff, in English like the rest of them: not a patient-facing string.
_NOT_APPLICABLE = "This question does not apply to the answers given."


def _required_message(question: Question) -> str | StrPromise:
    if question.required_message:
        # A gettext_lazy label, typed as the Promise it is declared as.
        return cast("StrPromise", question.required_message)
    if question.repeats:
        alone = [code for code in question.codes if code in question.exclusive]
        if not alone:
            return _("Tick at least one answer.")
        return format_lazy(
            _("Tick at least one answer, or “{answer}”."), answer=question.label(alone[0])
        )
    if question.type is ItemType.CHOICE or question.type is ItemType.BOOLEAN:
        return _("Choose an answer.")
    return _("Answer this question.")


def validate_group(
    group: Group | Page, values: Answers, *, refuse_inapplicable: bool = False
) -> tuple[dict[str, Any], list[Problem]]:
    """Check the answers of a group, or of one page of it; return what to store for them and
    every problem found.

    Questions whose show-when condition does not hold are dropped, so that changing
    ``pattern`` to ``constant`` clears a stored ``episode-length``. Blank text is not stored.
    A response that arrives whole (an import) was never shown the question, so an answer to
    it is the sender's mistake: with ``refuse_inapplicable`` it is a problem, not dropped.
    """
    cleaned: dict[str, Any] = {}
    problems: list[Problem] = []
    refused: set[str] = set()
    for question in group.questions:
        value = values.get(question.link_id)
        if isinstance(value, str) and not has_control_character(
            value, multiline=question.type is ItemType.TEXT
        ):
            value = value.strip()  # after the check: strip() would eat some control characters
        if question.show_when and question.show_when.question in refused:
            continue  # its condition is unknown until the question it depends on is fixed
        if not question.is_enabled({**values, **cleaned}):
            if refuse_inapplicable and not is_blank(value):
                problems.append(Problem(question.link_id, "not_applicable", _NOT_APPLICABLE))
            continue
        if is_blank(value):
            if question.required:
                problems.append(Problem(question.link_id, "required", _required_message(question)))
            continue
        stored, found = _check(question, value)
        problems.extend(found)
        if found:
            refused.add(question.link_id)
        else:
            cleaned[question.link_id] = stored
    return cleaned, problems


def validate(
    answers: Answers,
    intake: Questionnaire | None = None,
    *,
    refuse_inapplicable: bool = False,
) -> tuple[dict[str, Any], list[Problem]]:
    """Check a whole response: unknown linkIds, then every group as the form checks it.

    ``refuse_inapplicable`` is for imports (see :func:`validate_group`); the web form and a
    submit keep clearing such answers.
    """
    intake = intake or questionnaire.TWITCH_INTAKE
    problems = [
        _unknown(link_id, intake) for link_id in answers if not intake.has_question(link_id)
    ]
    cleaned: dict[str, Any] = {}
    for group in intake.groups:
        group_cleaned, group_problems = validate_group(
            group, answers, refuse_inapplicable=refuse_inapplicable
        )
        cleaned.update(group_cleaned)
        problems.extend(group_problems)
    return cleaned, problems


def _unknown(link_id: str, intake: Questionnaire) -> Problem:
    """An answer to no question of ``intake``; when a later version asks it, saying so (the
    sender named the wrong version, or answered a question that version never asked)."""
    current = questionnaire.TWITCH_INTAKE
    if intake.version != current.version and current.has_question(link_id):
        since = current.question(link_id).since
        return Problem(
            link_id,
            "not_in_version",
            f"This question was added in questionnaire version {since}; a version "
            f"{intake.version} response cannot answer it.",
        )
    return Problem(link_id, "unknown_question", _("This question is not part of the intake."))


def answered_pages(answers: Answers, intake: Questionnaire | None = None) -> list[str]:
    """The pages whose answers, as stored, are complete and valid."""
    pages = (intake or questionnaire.TWITCH_INTAKE).pages()
    return [page.slug for page in pages if not validate_group(page, answers)[1]]


def answered_groups(answers: Answers, intake: Questionnaire | None = None) -> list[str]:
    """The groups whose answers, as stored, are complete and valid."""
    groups = (intake or questionnaire.TWITCH_INTAKE).groups
    return [g.link_id for g in groups if not validate_group(g, answers)[1]]
