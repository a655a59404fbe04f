"""Shared fixtures. Builders for test data are in ``tests/factories.py``.

Rate-limit counters are rows of a model now, emptied with every other table between tests (a
rollback, or a transactional test's flush), so no fixture clears them.
"""
