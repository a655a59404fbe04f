"""A date typed as day, month and year boxes, read the way GOV.UK's date input asks.

The patient types their date of birth in three boxes (GOV.UK Design System, "Date input"):
"3" and "03" are the same day, a month may be a number or a name ("mar", "March"), and the year
has four digits. When the date cannot be read, the problem names the boxes that are wrong, so
only those are marked; a problem of the whole date (not a real date, in the future) marks all
three. No HTTP and no ORM here: ``forms.DateBoxesField`` turns a problem into a message.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

PARTS = ("day", "month", "year")

#: English month names and their usual short forms; the form adds the active language's.
ENGLISH_MONTHS: Mapping[str, int] = {
    name: number
    for number, full in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )
    for name in {full, full[:3], full[:4]}
}

_NUMBER = re.compile(r"[0-9]{1,4}")


class Problem(StrEnum):
    """Why the boxes do not make a date, in GOV.UK's order of checking."""

    #: Every box is empty.
    EMPTY = "required"
    #: One or two boxes are empty (``parts`` says which).
    INCOMPLETE = "incomplete"
    #: The year is not four digits.
    YEAR_DIGITS = "year_digits"
    #: A box holds something that is not a number (or a month's name), or the numbers do not
    #: make a day of the calendar (31 February).
    NOT_REAL = "invalid"


@dataclass(frozen=True)
class Reading:
    """What the three boxes say: a date, or a problem and the boxes it lies in."""

    date: dt.date | None = None
    problem: Problem | None = None
    parts: tuple[str, ...] = PARTS


def read(
    day: str, month: str, year: str, month_names: Mapping[str, int] = ENGLISH_MONTHS
) -> Reading:
    """The date the boxes hold, or why not. Spaces around a value are ignored, and a full stop
    after a month's short name ("Mar.")."""
    values = {"day": day.strip(), "month": month.strip(), "year": year.strip()}
    missing = tuple(part for part in PARTS if not values[part])
    if len(missing) == len(PARTS):
        return Reading(problem=Problem.EMPTY)
    if missing:
        return Reading(problem=Problem.INCOMPLETE, parts=missing)
    numbers: dict[str, int] = {}
    wrong: list[str] = []
    for part in PARTS:
        value = values[part]
        if _NUMBER.fullmatch(value):
            numbers[part] = int(value)
        elif part == "month" and value.lower().rstrip(".") in month_names:
            numbers[part] = month_names[value.lower().rstrip(".")]
        else:
            wrong.append(part)
    if not wrong and len(values["year"]) != 4:
        return Reading(problem=Problem.YEAR_DIGITS, parts=("year",))
    if "day" in numbers and not 1 <= numbers["day"] <= 31:
        wrong.append("day")
    if "month" in numbers and not 1 <= numbers["month"] <= 12:
        wrong.append("month")
    if wrong:
        return Reading(problem=Problem.NOT_REAL, parts=tuple(p for p in PARTS if p in wrong))
    try:
        date = dt.date(numbers["year"], numbers["month"], numbers["day"])
    except ValueError:  # 31 April, 29 February of a common year, year 0
        return Reading(problem=Problem.NOT_REAL)
    return Reading(date=date, parts=())
