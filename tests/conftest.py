import pytest


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters live in the shared database cache; start every test with none."""
    from django.core.cache import cache

    yield
    try:
        cache.clear()
    except Exception:  # noqa: BLE001 - a test without database access has nothing to clear
        pass
