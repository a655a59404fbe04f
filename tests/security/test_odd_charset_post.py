"""Finding 14 (charset): a body in a charset other than UTF-8 is a calm 400, not a 500.

Browsers post forms as UTF-8 and name no charset; only a misbehaving or hostile client sends
``charset=utf-7``. Django refuses that from ``request.POST`` with ``BadRequest``, but its error
views run the CSRF check, which reads ``request.POST`` again, so the refusal escaped the handler
and gunicorn answered with its own bare 500 (no security headers). A codec that is no text
encoding (``base64``) failed in ``bytes.decode`` with a ``LookupError``; an unknown name was
silently read as UTF-8.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import issue, make_encounter
from twitch_intake.models import Encounter

pytestmark = pytest.mark.django_db

CHARSETS = ["utf-7", "x-no-such-charset", "base64", "utf-16", "UTF8"]


def assert_calm_400(response) -> None:
    assert response.status_code == 400
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]
    assert b"Traceback" not in response.content


def post(client: Client, url: str, body: str, charset: str):
    """A form post as curl would send it: the real Origin, the CSRF cookie and token, raw bytes."""
    csrf = client.cookies[settings.CSRF_COOKIE_NAME].value
    return client.generic(
        "POST",
        url,
        f"{body}&csrfmiddlewaretoken={csrf}".encode(),
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
        HTTP_ORIGIN="http://testserver",
    )


@pytest.mark.parametrize("charset", CHARSETS)
def test_the_link_page_refuses_an_odd_charset(charset):
    encounter = make_encounter()
    token = issue(encounter)
    client = Client(enforce_csrf_checks=True)
    client.get(f"/intake/link/{token}/")
    response = post(client, f"/intake/link/{token}/", "date_of_birth=1980-05-17", charset)
    assert_calm_400(response)
    assert "twitch_intake" not in client.session


@pytest.mark.parametrize("charset", CHARSETS)
def test_a_group_page_refuses_an_odd_charset_and_saves_nothing(charset):
    encounter = make_encounter()
    token = issue(encounter)
    client = Client(enforce_csrf_checks=True)
    client.get(f"/intake/link/{token}/")
    assert (
        post(client, f"/intake/link/{token}/", "date_of_birth=1980-05-17", "utf-8").status_code
        == 302
    )
    client.get("/intake/page/emergency/")
    response = post(client, "/intake/page/emergency/", "emergency-signs=none", charset)
    assert_calm_400(response)
    assert Encounter.objects.get(pk=encounter.pk).answers == {}
    # The same client, in UTF-8, still saves: nothing was locked or half-read.
    response = post(client, "/intake/page/emergency/", "emergency-signs=none", "utf-8")
    assert response.status_code == 302
    assert Encounter.objects.get(pk=encounter.pk).answers == {"emergency-signs": ["none"]}


def test_the_apps_admin_pages_refuse_an_odd_charset(admin_user):
    staff = Client(enforce_csrf_checks=True)
    staff.force_login(admin_user)
    staff.get("/admin/twitch_intake/encounter/")
    response = post(staff, "/admin/twitch_intake/encounter/?q=x", "action=&index=0", "utf-7")
    assert_calm_400(response)


def test_a_host_page_is_left_to_the_host(client):
    """A guest in the host's house: only the app's own URLs are answered this way."""
    response = client.generic(
        "POST",
        "/no-such-page/",
        b"a=1",
        content_type="application/x-www-form-urlencoded; charset=utf-7",
    )
    assert response.status_code == 404
