"""Template helpers for the staff screens: times as staff read them, the app's own title."""

from __future__ import annotations

import datetime as dt

from django import template

from .. import display
from ..conf import app_settings

register = template.Library()


@register.filter
def staff_datetime(moment: dt.datetime | None) -> str:
    """``{{ encounter.visit_at|staff_datetime }}``: "1 Dec 2026, 14:05", the clinic's time."""
    return display.local_datetime(moment)


@register.filter
def staff_date(day: dt.date | None) -> str:
    """``{{ encounter.date_of_birth|staff_date }}``: "27 Mar 1980"."""
    return display.local_date(day)


@register.simple_tag
def staff_site_title() -> str:
    """The app's title (``SITE_TITLE``, default ``CLINIC_NAME``), for pages whose context the
    app does not make (the admin's app index)."""
    return app_settings.SITE_TITLE
