"""The session engine (``twitch_intake.sessions``): Django's database sessions, read cheaply."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore as StockStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import PAGE_IDS, issue, make_encounter, page_data, routine_answers
from twitch_intake.sessions import SessionStore

ENGINE = "twitch_intake.sessions"


@pytest.fixture
def engine(settings: Any) -> None:
    settings.SESSION_ENGINE = ENGINE


@pytest.mark.django_db
def test_it_reads_what_the_stock_engine_wrote_and_the_other_way_round():
    stock = StockStore()
    stock["twitch_intake"] = {"id": 7, "link": "abc"}
    stock.save()
    assert SessionStore(stock.session_key).load() == {"twitch_intake": {"id": 7, "link": "abc"}}
    ours = SessionStore()
    ours["seen"] = 1
    ours.save()
    assert StockStore(ours.session_key)["seen"] == 1


@pytest.mark.django_db
def test_an_expired_unknown_or_malformed_key_reads_as_an_empty_new_session():
    stock = StockStore()
    stock["x"] = 1
    stock.save()
    Session.objects.filter(pk=stock.session_key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )
    for key in (stock.session_key, "no-such-session-key-at-all", "short", None):
        store = SessionStore(key)
        assert store.load() == {}
        assert store.session_key is None  # a new key is made when it is saved, never this one


@pytest.mark.django_db
def test_a_load_is_one_query_of_the_session_table():
    stock = StockStore()
    stock["x"] = 1
    stock.save()
    with CaptureQueriesContext(connection) as queries:
        assert SessionStore(stock.session_key).load() == {"x": 1}
    assert len(queries) == 1
    assert "django_session" in queries[0]["sql"]


@pytest.mark.django_db
def test_a_patient_walks_the_intake_on_it(engine):
    encounter = make_encounter()
    client = Client()
    response = client.post(f"/intake/link/{issue(encounter)}/", {"date_of_birth": "1980-05-17"})
    assert response.status_code == 302
    assert client.session.__class__.__module__ == ENGINE
    answers = routine_answers()
    for slug in PAGE_IDS:
        assert client.get(f"/intake/page/{slug}/").status_code == 200
        saved = client.post(f"/intake/page/{slug}/", page_data(slug, answers))
        assert saved.status_code == 302, slug
    assert client.get("/intake/review/").status_code == 200
    assert client.post("/intake/submit/").status_code == 302
    encounter.refresh_from_db()
    assert encounter.is_submitted


@pytest.mark.django_db
def test_a_page_read_costs_two_queries_and_writes_no_session(engine):
    """The session and the encounter, each one plain query; a GET that changes nothing saves
    nothing (the idle limit's touch is at most once a minute)."""
    encounter = make_encounter()
    client = Client()
    client.post(f"/intake/link/{issue(encounter)}/", {"date_of_birth": "1980-05-17"})
    client.get(f"/intake/page/{PAGE_IDS[0]}/")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/intake/page/{PAGE_IDS[0]}/")
    assert response.status_code == 200
    tables = [q["sql"].split(" FROM ", 1)[1].split()[0] for q in queries]
    assert tables == ['"django_session"', '"twitch_intake_encounter"']
    assert all(q["sql"].startswith("SELECT") for q in queries)
