"""The host-site test runs only when asked for (``-m integration``: ``make test-integration``
and ``.ci/run``), so ``make test`` stays quick; it is deselected, not skipped, otherwise."""

from __future__ import annotations


def pytest_collection_modifyitems(config, items):
    expression = config.getoption("markexpr") or ""
    if "integration" in expression and "not integration" not in expression:
        return
    chosen = [item for item in items if item.get_closest_marker("integration") is None]
    if len(chosen) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in chosen])
        items[:] = chosen
