"""Answers, dates and times in words: the patient's review page and the clinician's screens share
this. Staff read times in the clinic's time zone (``TIME_ZONE``) as "1 Dec 2026, 14:05": a day
month year and a 24-hour clock, with no a.m./p.m. and no zone to misread (the admin's stock
``DATETIME_FORMAT`` writes "Dec. 1, 2026, 2:05 p.m.", and the summary used to add "EST")."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django.utils import dateformat, timezone
from django.utils.dates import MONTHS, MONTHS_3
from django.utils.translation import gettext, override

from . import questionnaire, triage, validation
from .questionnaire import ItemType, Question, Questionnaire


def display_answer(question: Question, value: Any) -> str:
    if validation.is_blank(value):
        return gettext("Not answered")
    if question.type is ItemType.BOOLEAN:
        return gettext("Yes") if value else gettext("No")
    if question.type is ItemType.CHOICE:
        codes = triage.ticked_codes({question.link_id: value}, question.link_id)
        return ", ".join(str(question.label(c)) for c in codes)
    return str(value)


def answer_sections(
    answers: Mapping[str, Any], intake: Questionnaire | None = None
) -> list[dict[str, Any]]:
    """Each group with its shown questions and answers, in the questionnaire's order: the
    questionnaire as the intake's version asked it (``intake``; default the current one), so an
    old intake lists what it was asked."""
    sections = []
    for group in (intake or questionnaire.TWITCH_INTAKE).groups:
        rows = [
            {
                "link_id": q.link_id,
                "question": q.text,
                "answer": display_answer(q, answers.get(q.link_id)),
                "free_text": q.type in (ItemType.STRING, ItemType.TEXT),
            }
            for q in group.questions
            if q.is_enabled(answers)
        ]
        sections.append({"group": group, "rows": rows})
    return sections


#: How staff screens write a moment and a date (Django's ``date`` filter's format characters;
#: ``M`` is the active language's month abbreviation).
STAFF_DATETIME = "j M Y, H:i"
STAFF_DATE = "j M Y"


def local_datetime(moment: dt.datetime | None) -> str:
    """A moment as staff read it: the clinic's time zone, "1 Dec 2026, 14:05"; "–" for none."""
    if moment is None:
        return "–"
    return dateformat.format(timezone.localtime(moment), STAFF_DATETIME)


def local_date(day: dt.date | None) -> str:
    """A date as staff read it: "27 Mar 1980"; "–" for none."""
    if day is None:
        return "–"
    return dateformat.format(day, STAFF_DATE)


#: A date typed into the queue's search box: day, month and year with ``/``, ``-``, ``.`` or a
#: space between ("27/3/1980", "27-03-1980", "27 Mar 1980", "27 March 1980"), or ISO
#: ("1980-03-27"). Day first, as the clinic's staff write it; the year in full.
_DAY_FIRST = re.compile(r"([0-9]{1,2})[/.\- ]+([0-9]{1,2}|[^\W\d_]{3,12}\.?)[/.\- ]+([0-9]{4})")
_ISO = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
#: Longest text read as a date: nothing longer is one, and nothing longer is worth a regex.
_TYPED_DATE_MAX = 40


def _month_names() -> dict[str, int]:
    """Month names and abbreviations, in English and in the active language, lower case."""
    names: dict[str, int] = {}
    with override("en"):
        english = [(str(MONTHS[n]), str(MONTHS_3[n]), n) for n in range(1, 13)]
    active = [(str(MONTHS[n]), str(MONTHS_3[n]), n) for n in range(1, 13)]
    for full, short, number in english + active:
        names[full.lower()] = number
        names[short.lower().rstrip(".")] = number
        names[full.lower()[:4]] = number  # "Sept"
    return names


def parse_typed_date(text: str) -> dt.date | None:
    """The date a person typed, or ``None`` when the text is not one (or not a real day).

    For searching by date of birth: the text comes from a request, so anything may arrive;
    this never raises, whatever it is given.
    """
    text = text.strip()
    if not text or len(text) > _TYPED_DATE_MAX:
        return None
    if iso := _ISO.fullmatch(text):
        year, month, day = (int(part) for part in iso.groups())
    elif typed := _DAY_FIRST.fullmatch(text):
        day_text, month_text, year_text = typed.groups()
        day, year = int(day_text), int(year_text)
        if month_text.isdigit():
            month = int(month_text)
        else:
            found = _month_names().get(month_text.lower().rstrip("."))
            if found is None:
                return None
            month = found
    else:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:  # 31 February, month 13, year 0
        return None
