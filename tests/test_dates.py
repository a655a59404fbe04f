"""Reading a date typed in day, month and year boxes (``twitch_intake.dates``): no HTTP, no
database, GOV.UK's rules for what is wrong and in which box."""

from __future__ import annotations

import datetime as dt

import pytest

from twitch_intake import dates


@pytest.mark.parametrize(
    ("day", "month", "year", "expected"),
    [
        ("3", "3", "1980", dt.date(1980, 3, 3)),
        ("03", "03", "1980", dt.date(1980, 3, 3)),
        (" 27 ", "3", "1980", dt.date(1980, 3, 27)),
        ("27", "mar", "1980", dt.date(1980, 3, 27)),
        ("27", "March", "1980", dt.date(1980, 3, 27)),
        ("27", "Mar.", "1980", dt.date(1980, 3, 27)),
        ("29", "2", "2000", dt.date(2000, 2, 29)),
    ],
)
def test_the_boxes_read_as_a_date(day, month, year, expected):
    assert dates.read(day, month, year) == dates.Reading(date=expected, parts=())


@pytest.mark.parametrize(
    ("day", "month", "year", "problem", "parts"),
    [
        ("", "", "", dates.Problem.EMPTY, dates.PARTS),
        ("3", "", "1980", dates.Problem.INCOMPLETE, ("month",)),
        ("", "", "1980", dates.Problem.INCOMPLETE, ("day", "month")),
        ("3", "3", "80", dates.Problem.YEAR_DIGITS, ("year",)),
        ("3", "13", "1980", dates.Problem.NOT_REAL, ("month",)),
        ("32", "3", "1980", dates.Problem.NOT_REAL, ("day",)),
        ("x", "3", "1980", dates.Problem.NOT_REAL, ("day",)),
        ("3", "smarch", "1980", dates.Problem.NOT_REAL, ("month",)),
        ("31", "2", "1980", dates.Problem.NOT_REAL, dates.PARTS),  # which box? both
        ("29", "2", "1981", dates.Problem.NOT_REAL, dates.PARTS),
        ("-1", "3", "1980", dates.Problem.NOT_REAL, ("day",)),
        ("3", "3", "0000", dates.Problem.NOT_REAL, dates.PARTS),
    ],
)
def test_what_is_wrong_and_where(day, month, year, problem, parts):
    reading = dates.read(day, month, year)
    assert (reading.date, reading.problem, reading.parts) == (None, problem, parts)
