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
from .conf import app_settings
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


#: A date typed into the queue's search box: day and month in the order the clinic's staff
#: write them, then the year in full, with ``/``, ``-``, ``.`` or a space between
#: ("27/3/1980", "27-03-1980", "3/27/1980", "27 Mar 1980", "27 March 1980"); a month's name
#: first ("Mar 27 1980", "March 27, 1980"); or ISO ("1980-03-27").
_DAY_MONTH = re.compile(r"([0-9]{1,2})[/.\- ]+([0-9]{1,2}|[^\W\d_]{3,12}\.?)[/.\- ]+([0-9]{4})")
_NAME_FIRST = re.compile(r"([^\W\d_]{3,12}\.?) +([0-9]{1,2}),? +([0-9]{4})")
_ISO = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
#: Longest text read as a date: nothing longer is one, and nothing longer is worth a regex.
_TYPED_DATE_MAX = 40
#: Where staff write a date month first, so that "5/4/1980" is the 4th of May: the United
#: States and its territories, the Philippines, Belize and the Pacific states of the Compact of
#: Free Association (by ``PHONE_REGION``, the clinic's region). Day first everywhere else.
MONTH_FIRST_REGIONS = frozenset(
    {"US", "PR", "GU", "VI", "AS", "MP", "UM", "FM", "MH", "PW", "PH", "BZ"}
)


def month_first() -> bool:
    """Whether this clinic's staff write the month before the day (``MONTH_FIRST_REGIONS``)."""
    return str(app_settings.PHONE_REGION).upper() in MONTH_FIRST_REGIONS


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

    Two numbers for day and month are read in the clinic's order (``month_first``); if that
    is no real day ("27/3/1980" typed in the United States), the other order is tried, so a
    date that can only be read one way is found everywhere. For searching by date of birth:
    the text comes from a request, so anything may arrive; this never raises.
    """
    text = text.strip()
    if not text or len(text) > _TYPED_DATE_MAX:
        return None
    if iso := _ISO.fullmatch(text):
        year, month, day = (int(part) for part in iso.groups())
        return _real_day(year, month, day)
    if named := _NAME_FIRST.fullmatch(text):
        month_text, day_text, year_text = named.groups()
        found = _month_names().get(month_text.lower().rstrip("."))
        return None if found is None else _real_day(int(year_text), found, int(day_text))
    typed = _DAY_MONTH.fullmatch(text)
    if typed is None:
        return None
    first, second, year_text = typed.groups()
    year = int(year_text)
    if not second.isdigit():
        found = _month_names().get(second.lower().rstrip("."))
        return None if found is None else _real_day(year, found, int(first))
    one, other = int(first), int(second)
    day, month = (other, one) if month_first() else (one, other)
    return _real_day(year, month, day) or _real_day(year, day, month)


def _real_day(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:  # 31 February, month 13, year 0
        return None
