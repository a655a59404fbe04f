"""The app's own name on its staff screens, in place of "Django administration".

The app is a guest in the host's admin (issue 17): the host's own pages keep the host's
header, so the title is given only to the app's pages, as the context Django's admin templates
already read (``site_header``, ``site_title``), never by changing the host's ``AdminSite``.
"""

from __future__ import annotations

from .conf import app_settings


def site_context() -> dict[str, str]:
    """``SITE_TITLE`` (default ``CLINIC_NAME``) as the admin's header and ``<title>``; nothing
    when neither is set, so the host's own title stays."""
    title = app_settings.SITE_TITLE
    return {"site_header": title, "site_title": title} if title else {}
