"""Page weight: each patient page with what it links, fetched as a first-time visitor would.

For every page: the document, then each stylesheet, script and image it links (and anything a
stylesheet pulls in with ``url()``/``@import``). Sizes are the bodies' bytes: as this server sent
them with ``Accept-Encoding: gzip``, and gzipped (what a compressing proxy or WhiteNoise's
compressed storage would send; the same number when the server already compressed). Any URL on
another host is a third-party request.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from .client import Browser, Response, expect

_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.hints: list[str] = []  # connections the browser opens early, fetched or not

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "link" and a.get("href"):
            rel = set((a.get("rel") or "").lower().split())
            if {"stylesheet", "preload", "modulepreload", "icon", "manifest"} & rel:
                self.urls.append(a["href"] or "")
            elif {"preconnect", "dns-prefetch", "prefetch"} & rel:
                self.hints.append(a["href"] or "")
        elif tag in {"script", "img", "iframe", "source", "video", "audio", "embed"} and a.get(
            "src"
        ):
            self.urls.append(a["src"] or "")
        elif tag == "object" and a.get("data"):
            self.urls.append(a["data"] or "")


@dataclass
class Resource:
    url: str
    kind: str
    wire: int
    gzipped: int
    compressed_by_server: bool


@dataclass
class PageWeight:
    name: str
    path: str
    resources: list[Resource] = field(default_factory=list)
    third_party: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.resources) + len(self.third_party)

    @property
    def wire(self) -> int:
        return sum(r.wire for r in self.resources)

    @property
    def gzipped(self) -> int:
        return sum(r.gzipped for r in self.resources)

    def as_dict(self) -> dict[str, object]:
        return {
            "page": self.name,
            "path": self.path,
            "requests": self.requests,
            "bytes_gzip": self.gzipped,
            "bytes_as_served": self.wire,
            "third_party": self.third_party,
            "resources": [r.__dict__ for r in self.resources],
        }


def _sizes(response: Response) -> tuple[int, int, bool]:
    compressed = response.headers.get("Content-Encoding", "") == "gzip"
    if compressed:
        return response.wire_bytes, response.wire_bytes, True
    return response.wire_bytes, len(gzip.compress(response.body, 6)), False


def measure(browser: Browser, name: str, document: Response, path: str) -> PageWeight:
    """``document`` was fetched (GET ``path``) by ``browser``; fetch what it links, cold cache."""
    weight = PageWeight(name, path)
    wire, gzipped, by_server = _sizes(document)
    weight.resources.append(Resource(path, "document", wire, gzipped, by_server))
    parser = _Links()
    parser.feed(document.text)
    for hint in parser.hints:
        parts = urlsplit(urljoin(path, hint))
        if parts.netloc and parts.netloc != f"{browser.host}:{browser.port}":
            weight.third_party.append(hint)
    pending = [(urljoin(path, u), "linked") for u in parser.urls]
    seen: set[str] = set()
    while pending:
        url, kind = pending.pop(0)
        if url.startswith("data:") or url in seen:
            continue
        seen.add(url)
        parts = urlsplit(url)
        if parts.netloc and parts.netloc != f"{browser.host}:{browser.port}":
            weight.third_party.append(url)
            continue
        local = parts.path + (f"?{parts.query}" if parts.query else "")
        response = expect(browser.get(local, accept="*/*"), 200)
        wire, gzipped, by_server = _sizes(response)
        weight.resources.append(Resource(local, kind, wire, gzipped, by_server))
        if local.endswith(".css"):
            for found in _CSS_URL.finditer(response.text):
                ref = (found.group(1) or found.group(2) or "").strip()
                if ref and not ref.startswith(("data:", "#")):
                    pending.append((urljoin(local, ref), "from css"))
    return weight
