"""A small browser for the benchmark: stdlib http.client, cookies, CSRF tokens, timings.

One :class:`Browser` per simulated patient thread. It does what a browser does that matters to
the server (cookies, the form's CSRF token, ``Origin`` on a POST, gzip accepted) and records,
for every request, the client-side latency and the ``Server-Timing`` the benchmark middleware
adds.
"""

from __future__ import annotations

import gzip
import http.client
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_TIMING = re.compile(r"(\w+);dur=([0-9.]+)")


@dataclass
class Sample:
    """One request as the benchmark keeps it."""

    key: str  # "GET page/history"
    status: int
    latency_ms: float
    server_ms: float | None = None
    cpu_ms: float | None = None
    db_ms: float | None = None
    queries: int | None = None


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes  # as received on the wire (gzip when the server compressed it)
    wire_bytes: int
    sample: Sample

    @property
    def text(self) -> str:
        data = self.body
        if self.headers.get("Content-Encoding", "") == "gzip":
            data = gzip.decompress(data)
        return data.decode("utf-8", "replace")

    @property
    def location(self) -> str:
        return urlsplit(self.headers.get("Location", "")).path

    @property
    def shown_at(self) -> str:
        """The path of the page a POST of intake.js's was answered with (``follow``)."""
        return self.headers.get("X-Intake-Location", "")

    def csrf(self) -> str:
        found = _CSRF.search(self.text)
        if not found:
            raise UnexpectedResponse(self, "no CSRF token in the page")
        return found.group(1)


class UnexpectedResponse(Exception):
    def __init__(self, response: Response | None, message: str) -> None:
        key = response.sample.key if response is not None else "?"
        status = response.status if response is not None else 0
        super().__init__(f"{key}: {message} (HTTP {status})")
        self.key = key
        self.status = status


def page_name(path: str) -> str:
    """A path as a per-page key: tokens and ids left out."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["intake"]:
        parts = parts[1:]
        if parts[:1] == ["link"]:
            return "link"
        return "/".join(parts) or "resume"
    return "/".join(parts) or "/"


@dataclass
class Browser:
    host: str
    port: int
    accept_gzip: bool = False
    samples: list[Sample] = field(default_factory=list)
    cookies: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.origin = f"http://{self.host}:{self.port}"

    def forget(self) -> None:
        """A new patient: no cookies (a fresh phone)."""
        self.cookies.clear()

    def close(self) -> None:
        self._conn.close()

    def get(self, path: str, *, accept: str = "text/html") -> Response:
        return self._request("GET", path, None, accept)

    def post(
        self, path: str, form: list[tuple[str, str]] | dict[str, str], *, follow: bool = False
    ) -> Response:
        """POST ``form``; with ``follow``, as intake.js posts it (the answer is the next page)."""
        extra = {"X-Intake-Follow": "1"} if follow else {}
        body = urlencode(form, doseq=True).encode()
        return self._request("POST", path, body, "text/html", extra)

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        accept: str,
        extra: dict[str, str] | None = None,
    ) -> Response:
        headers = {
            **(extra or {}),
            "User-Agent": "twitch-intake-bench/1",
            "Accept": accept,
            "Accept-Language": "en-US,en;q=0.9",
            "Accept-Encoding": "gzip" if self.accept_gzip else "identity",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = self.origin
        start = time.perf_counter()
        try:
            self._conn.request(method, path, body=body, headers=headers)
            raw = self._conn.getresponse()
            data = raw.read()
        except (OSError, http.client.HTTPException):
            # A stale connection: one fresh try for a GET, as browsers do. A POST is not retried
            # (it may have been processed): it counts as an error.
            self._conn.close()
            if method != "GET":
                raise
            self._conn.request(method, path, body=body, headers=headers)
            raw = self._conn.getresponse()
            data = raw.read()
        latency = (time.perf_counter() - start) * 1000
        if raw.will_close:
            self._conn.close()
        for header in raw.headers.get_all("Set-Cookie") or []:
            self._store_cookie(header)
        timing = dict(_TIMING.findall(raw.headers.get("Server-Timing", "")))
        queries = raw.headers.get("X-Bench-Queries")
        sample = Sample(
            key=f"{method} {page_name(path)}",
            status=raw.status,
            latency_ms=latency,
            server_ms=float(timing["app"]) if "app" in timing else None,
            cpu_ms=float(timing["cpu"]) if "cpu" in timing else None,
            db_ms=float(timing["db"]) if "db" in timing else None,
            queries=int(queries) if queries else None,
        )
        self.samples.append(sample)
        return Response(raw.status, raw.headers, data, len(data), sample)

    def _store_cookie(self, header: str) -> None:
        first, *attributes = header.split(";")
        name, _, value = first.strip().partition("=")
        attrs = {a.strip().lower() for a in attributes}
        if "max-age=0" in attrs or value in ('""', ""):
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value


def expect(response: Response, *statuses: int) -> Response:
    if response.status not in statuses:
        raise UnexpectedResponse(response, f"expected {' or '.join(map(str, statuses))}")
    return response
