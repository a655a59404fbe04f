"""Shared fixtures. Builders for test data are in ``tests/factories.py``."""

import contextlib

import pytest


@pytest.fixture(autouse=True)
def _clear_rate_limits():
    """Rate-limit counters live in the database cache table, which a transactional test's
    flush does not empty (it is not a model): start every test with none."""
    yield
    from django.core.cache import cache

    with contextlib.suppress(Exception):  # a test without database access has none to clear
        cache.clear()


@pytest.fixture
def queue(transactional_db):
    """Committed rows, which a queue worker needs, and an empty queue afterwards: the queue's
    tables are not Django models to flush, so one test's jobs would outlive it."""
    yield
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers, "
            "procrastinate_workers"
        )
