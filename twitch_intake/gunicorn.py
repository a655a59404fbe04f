"""gunicorn settings for a site that runs the app: ``gunicorn mysite.wsgi -c python:twitch_intake.gunicorn``.

gunicorn writes its access log itself: the request line (``%(r)s``), path and query (``%(U)s``,
``%(q)s``), ``Referer`` (``%(f)s``) and any header or environ atom a host's
``access_log_format`` names. A patient's link token is in the link's path and in the
``Referer`` of the link page's own requests; an admin search names a patient. ``Logger`` redacts
every atom before formatting, whatever the format, and filters gunicorn's error log too. A
host with its own gunicorn config sets ``logger_class = "twitch_intake.gunicorn.Logger"`` there.

(The app also puts its filter on ``gunicorn.access`` when Django starts in a worker; this covers
the master process, and a host whose access log format shows atoms one by one.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

# gunicorn ships no type information and types-gunicorn is not a dependency: its logger is Any.
from gunicorn.glogging import Logger as GunicornLogger  # type: ignore[import-untyped]

from .logs import REDACTED, install, private_query, redact

_QUERY_ATOMS = ("q", "{query_string}e")


class Logger(GunicornLogger):  # type: ignore[misc]  # the base is Any: gunicorn is untyped
    """gunicorn's logger, with every access-log atom redacted and the app's filter installed."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        install(["gunicorn.access", "gunicorn.error"])

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: dt.timedelta
    ) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        query = environ.get("QUERY_STRING") or ""
        private = bool(query) and private_query(environ.get("PATH_INFO") or "", query)
        for key, value in atoms.items():
            if private and key in _QUERY_ATOMS:
                atoms[key] = REDACTED
            elif isinstance(value, str):
                atoms[key] = redact(value)
        return atoms


logger_class = Logger
