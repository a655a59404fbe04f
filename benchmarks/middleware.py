"""Per-request server time, reported in a ``Server-Timing`` header the benchmark client reads.

``app`` is wall time inside Django (every middleware included), ``cpu`` the worker's CPU time
for the request (a sync worker runs one request at a time, so the process's CPU time is the
request's), ``db`` the time spent in SQL; ``X-Bench-Queries`` counts the queries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse


class _QueryMeter:
    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - start
            self.count += 1


class ServerTimingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meter = _QueryMeter()
        wall = time.perf_counter()
        cpu = time.process_time()
        with connection.execute_wrapper(meter):
            response = self.get_response(request)
        cpu = time.process_time() - cpu
        wall = time.perf_counter() - wall
        response["Server-Timing"] = (
            f"app;dur={wall * 1000:.3f}, cpu;dur={cpu * 1000:.3f}, db;dur={meter.seconds * 1000:.3f}"
        )
        response["X-Bench-Queries"] = str(meter.count)
        return response
