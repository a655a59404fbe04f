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
