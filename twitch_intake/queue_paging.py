"""The queue at a health system's volume: a page count and a visit-date filter that never scan.

At a million encounters the admin's own ``COUNT(*)`` for the paginator reads every row (about
as long as the rest of the page together), and its date hierarchy runs a ``SELECT DISTINCT
date_trunc(...)`` over every row on each page view. Neither says anything a clinician needs
exactly: "about 1,000,000 encounters" is as useful as the exact figure.

- :class:`EstimatedCountPaginator` counts exactly up to :data:`EXACT_BELOW` rows, and above that
  takes PostgreSQL's own estimate: the table's ``pg_class.reltuples`` (kept by ANALYZE and
  autovacuum) for the unfiltered queue, the planner's row estimate (``EXPLAIN``) for a filtered
  one. Either way it is one query for the unfiltered queue, whatever its size, so the queue
  costs the same number of queries at a thousand rows as at a million.
- :class:`VisitDateFilter` offers fixed visit ranges (today, tomorrow, this week, ...), each a
  range on the indexed ``visit_at``, and no counts.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    _Paginator = Paginator[Any]
else:  # not generic at run time
    _Paginator = Paginator

#: Below this many rows the count shown is exact; from here on, PostgreSQL's estimate.
EXACT_BELOW = 10_000


def _bounded_count(queryset: QuerySet[Any], limit: int) -> int:
    """The rows ``queryset`` holds, counted no further than ``limit`` (reads at most that many)."""
    return queryset.order_by().values("pk")[:limit].count()


def _table_estimate(queryset: QuerySet[Any]) -> int | None:
    """The exact count while the table is small, else ``pg_class.reltuples``: in one query.

    ``reltuples`` is -1 for a table never analyzed (PostgreSQL 14+), 0 on older servers: both
    read as small, so counted.
    """
    table = queryset.model._meta.db_table
    connection = connections[queryset.db]
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CASE WHEN c.reltuples >= %s THEN c.reltuples::bigint"
            f" ELSE (SELECT count(*) FROM {quoted}) END"
            " FROM pg_class c WHERE c.oid = %s::regclass",
            [EXACT_BELOW, quoted],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _planner_estimate(queryset: QuerySet[Any]) -> int | None:
    """The planner's estimate of the rows ``queryset`` returns (``EXPLAIN``, nothing is run)."""
    sql, params = queryset.order_by().query.sql_with_params()
    connection = connections[queryset.db]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        row = cursor.fetchone()
    if row is None:
        return None
    plan = row[0]
    if isinstance(plan, str):  # a driver that does not decode json
        import json

        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(_Paginator):
    """Exact counts while they are cheap, PostgreSQL's estimate beyond :data:`EXACT_BELOW`.

    ``estimated`` says which the count is, so the page can say "about".
    """

    estimated = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet) or connections[queryset.db].vendor != "postgresql":
            return super().count
        if not queryset.query.where and not queryset.query.distinct:
            found = _table_estimate(queryset)
            if found is not None:
                self.estimated = found >= EXACT_BELOW
                return found
        counted = _bounded_count(queryset, EXACT_BELOW + 1)
        if counted <= EXACT_BELOW:
            return counted
        estimate = _planner_estimate(queryset)
        self.estimated = True
        # Never fewer than were just counted: the planner may guess low for a narrow filter.
        return max(estimate or 0, counted)

    @cached_property
    def num_pages(self) -> int:
        """Pages reached by number: with an estimated count, the first :data:`EXACT_BELOW` rows'
        worth. A page deep in a million rows is an ``OFFSET`` that reads every row before it
        (seconds); beyond these pages a filter or a search narrows the queue instead, and a
        page number past them is the admin's calm "?e=1" page, as any page past the end."""
        pages: int = super().num_pages
        if self.estimated:
            return min(pages, max(1, -(-EXACT_BELOW // self.per_page)))
        return pages


class VisitDateFilter(admin.DateFieldListFilter):
    """Visit dates the front desk and clinicians ask for, each a range on ``visit_at``.

    The choices are fixed (nothing is read from the rows to make them, unlike the date
    hierarchy); a hand-made range (``visit_at__gte`` / ``visit_at__lt``) works as before.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        now = timezone.localtime() if timezone.is_aware(timezone.now()) else timezone.now()
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        day = dt.timedelta(days=1)
        week = today - today.weekday() * day

        def span(start: dt.datetime, end: dt.datetime) -> dict[str, bool | dt.date | dt.datetime]:
            return {self.lookup_kwarg_since: start, self.lookup_kwarg_until: end}

        # Django's own "Any date", "Today" and "Past 7 days" (and their translations), first in
        # its list; the rest are the queue's.
        any_date, today_title, past_week = (title for title, _params in self.links[:3])
        self.links = (
            (any_date, {}),
            (today_title, span(today, today + day)),
            (_("Tomorrow"), span(today + day, today + 2 * day)),
            (_("This week"), span(week, week + 7 * day)),
            (_("Next 7 days"), span(today, today + 7 * day)),
            (past_week, span(today - 6 * day, today + day)),
        )
