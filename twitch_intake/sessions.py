"""A session engine: Django's database sessions, read with one plain query.

``SESSION_ENGINE = "twitch_intake.sessions"`` is Django's ``db`` engine in everything it
stores and where (the same ``django_session`` table and rows, the same signing and expiry), so
it reads sessions the stock engine wrote and the other way round, and a site can switch either
way at any time. Only the read that every request of a signed-in patient or clinician makes is
cheaper: the stock engine builds and compiles an ORM query for it each time, which costs more
CPU than PostgreSQL spends answering it; this one sends the same ``SELECT`` as written once.
Writes (rare: a sign-in, the idle limit's once-a-minute touch) are Django's own.

The server-side engine the app requires (system check ``twitch_intake.E035``): a patient's
session can be ended by the server, after ``IDLE_TIMEOUT`` or when a new link is issued.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Any:
        key = self.session_key  # None for a key Django refused (too short, say)
        if key is None:
            self._session_key = None
            return None
        model = self.model
        alias = router.db_for_read(model)
        connection = connections[alias]
        quote = connection.ops.quote_name
        meta = model._meta
        data, expires, key_column = (
            quote(getattr(meta.get_field(name), "column", None) or name)
            for name in ("session_data", "expire_date", "session_key")
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {data}, {expires} FROM {quote(meta.db_table)} "
                f"WHERE {key_column} = %s AND {expires} > %s",
                [key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model.from_db(alias, ["session_key", "session_data", "expire_date"], [key, *row])
