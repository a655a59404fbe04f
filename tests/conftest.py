"""Shared fixtures. Builders for test data are in ``tests/factories.py``.

Rate-limit counters live in the database cache table, so each test's rollback (or a
transactional test's flush) already starts the next test with none.
"""
