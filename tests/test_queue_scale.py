"""The queue at a health system's volume (issue #20): no query that reads every row.

The paginator counts exactly while that is cheap and takes PostgreSQL's estimate beyond (the
page says "about"); the date hierarchy's ``SELECT DISTINCT date_trunc`` over every row is gone,
and the visit filter offers fixed ranges instead; no filter counts its rows. The threshold is
lowered here so that a handful of rows stands in for a million; the bench times the real thing.
"""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_encounter
from twitch_intake import queue_paging

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/twitch_intake/encounter/"


@pytest.fixture
def clinician(client):
    user = User.objects.create_user("doctor", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Clinicians"))
    client.force_login(user)
    return client


def _analyze() -> None:
    """What autovacuum does on a live table: ``pg_class.reltuples`` then holds the row count."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE twitch_intake_encounter")


def _counts_every_row(queries: list[dict[str, str]]) -> list[str]:
    """Queries that count the encounter table with no bound (no LIMIT inside)."""
    return [
        q["sql"]
        for q in queries
        if re.search(r'COUNT\(\*\).*FROM "twitch_intake_encounter"', q["sql"])
        and "LIMIT" not in q["sql"]
        and "WHERE" not in q["sql"]
    ]


def _paginator_text(response) -> str:
    # Django 5.2's pagination is a <p>, 6.1's a <nav> with a hidden heading.
    found = re.search(
        r'<(p|nav) class="paginator"[^>]*>(.*?)</(p|nav)>', response.content.decode(), re.S
    )
    assert found, "no paginator on the page"
    shown = re.sub(
        r'<h2 [^>]*class="visually-hidden"[^>]*>.*?</h2>', " ", found.group(2), flags=re.S
    )
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", shown)).split())


def test_a_large_queue_shows_an_estimated_count_without_counting_every_row(clinician, monkeypatch):
    monkeypatch.setattr(queue_paging, "EXACT_BELOW", 5)
    for i in range(8):
        make_encounter(patient_name=f"Patient {i}")
    _analyze()

    with CaptureQueriesContext(connection) as queries:
        response = clinician.get(CHANGELIST)

    assert response.status_code == 200
    assert response.context["cl"].paginator.estimated
    assert response.context["cl"].result_count == 8
    assert _paginator_text(response) == "about 8 encounters"
    assert _counts_every_row(queries.captured_queries) == []
    assert not any("DATE_TRUNC" in q["sql"].upper() for q in queries.captured_queries)


def test_a_small_queue_is_counted_exactly(clinician):
    for i in range(3):
        make_encounter(patient_name=f"Patient {i}")
    _analyze()

    response = clinician.get(CHANGELIST)

    assert not response.context["cl"].paginator.estimated
    assert _paginator_text(response) == "3 encounters"


def test_a_filtered_queue_is_counted_exactly_up_to_the_threshold_then_estimated(
    clinician, monkeypatch
):
    monkeypatch.setattr(queue_paging, "EXACT_BELOW", 3)
    for i in range(6):
        make_encounter(patient_name=f"Invited {i}")
    make_encounter(patient_name="In progress", status="in_progress")
    _analyze()

    few = clinician.get(f"{CHANGELIST}?status__exact=in_progress")
    many = clinician.get(f"{CHANGELIST}?status__exact=invited")

    assert _paginator_text(few) == "1 encounter"
    assert [e.patient_name for e in few.context["cl"].result_list] == ["In progress"]
    assert many.context["cl"].paginator.estimated
    # Never fewer than were counted before the estimate was taken.
    assert many.context["cl"].result_count >= 4
    assert _paginator_text(many).startswith("about ")
    assert len(many.context["cl"].result_list) == 6


def test_pages_deep_in_an_estimated_queue_are_not_offered_and_never_a_server_error(
    clinician, monkeypatch
):
    monkeypatch.setattr(queue_paging, "EXACT_BELOW", 50)
    for i in range(120):
        make_encounter(patient_name=f"Patient {i:03}")
    _analyze()

    first = clinician.get(CHANGELIST)
    deep = clinician.get(f"{CHANGELIST}?p=3")

    # 120 rows are 3 pages of 50; with an estimate only the first 50 rows' worth are offered.
    assert first.context["cl"].paginator.num_pages == 1
    assert deep.status_code == 302
    assert deep["Location"] == f"{CHANGELIST}?e=1"


def _choice_links(response) -> dict[str, str]:
    """The visit filter's choices, by their text: the URL each one opens."""
    html = response.content.decode()
    section = html[html.index("By visit") :]
    section = section[: section.index("</ul>")]
    return {
        unescape(text.strip()): unescape(href)
        for href, text in re.findall(r'<a href="([^"]*)"[^>]*>([^<]+)</a>', section)
    }


def test_the_visit_filter_offers_fixed_ranges_that_find_the_right_rows(clinician):
    today = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    make_encounter(patient_name="today", visit_at=today)
    make_encounter(patient_name="tomorrow", visit_at=today + dt.timedelta(days=1))
    make_encounter(patient_name="in three days", visit_at=today + dt.timedelta(days=3))
    make_encounter(patient_name="in ten days", visit_at=today + dt.timedelta(days=10))

    with CaptureQueriesContext(connection) as queries:
        page = clinician.get(CHANGELIST)
    links = _choice_links(page)

    assert {"Any date", "Today", "Tomorrow", "This week", "Next 7 days", "Past 7 days"} <= set(
        links
    )
    # No hierarchy of years, months and days read from the rows.
    assert not any("DATE_TRUNC" in q["sql"].upper() for q in queries.captured_queries)

    def names(link: str) -> set[str]:
        response = clinician.get(f"{CHANGELIST}{links[link]}")
        assert response.status_code == 200
        return {e.patient_name for e in response.context["cl"].result_list}

    assert names("Today") == {"today"}
    assert names("Tomorrow") == {"tomorrow"}
    assert names("Next 7 days") == {"today", "tomorrow", "in three days"}
    assert names("Any date") == {"today", "tomorrow", "in three days", "in ten days"}


@pytest.mark.parametrize(
    "query",
    [
        "visit_at__gte=tomorrow",
        "visit_at__gte=2031-03-10&visit_at__lt=%00",
        "visit_at__lt=2031-02-30",
        "_facets=True&visit_at__gte=2031-13-01",
    ],
)
def test_a_bad_visit_range_is_calm_and_no_filter_counts_its_rows(clinician, query):
    make_encounter(patient_name="Patient")

    with CaptureQueriesContext(connection) as queries:
        response = clinician.get(f"{CHANGELIST}?{query}")
        faceted = clinician.get(f"{CHANGELIST}?_facets=True")

    assert response.status_code in (200, 302, 400), response.status_code
    assert faceted.status_code == 200
    # Facets would count every filter's choices over the whole table on each view.
    assert not faceted.context["cl"].add_facets
    assert not any("FILTER (WHERE" in q["sql"] for q in queries.captured_queries)
