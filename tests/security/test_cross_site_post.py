"""Finding 13: a form posted from another site is refused, even with a planted CSRF cookie.

The intake's pages used to send ``Referrer-Policy: no-referrer``, which makes browsers send
``Origin: null`` with the page's own posts, and ``NullOriginMiddleware`` read ``null`` as the
site's own origin on the intake's URLs. A page of any other site can send ``Origin: null`` too (a
sandboxed frame does), so the origin check was gone there and only the CSRF token stood. With
``same-origin`` the patient's own posts carry the real Origin and Django's check stays whole.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client, override_settings

from tests.factories import issue, make_encounter
from twitch_intake.models import Encounter

pytestmark = pytest.mark.django_db

SITE = "http://testserver"
FOREIGN = [
    {"HTTP_ORIGIN": "null"},
    {"HTTP_ORIGIN": "null", "HTTP_SEC_FETCH_SITE": "cross-site"},
    {"HTTP_ORIGIN": "https://evil.example", "HTTP_SEC_FETCH_SITE": "cross-site"},
]


def planted(client: Client, url: str) -> str:
    """The CSRF cookie and its token, as an attacker who planted the cookie would know them."""
    client.get(url)
    return client.cookies[settings.CSRF_COOKIE_NAME].value


def bound(encounter: Encounter) -> Client:
    client = Client(enforce_csrf_checks=True)
    token = issue(encounter)
    csrf = planted(client, f"/intake/link/{token}/")
    response = client.post(
        f"/intake/link/{token}/",
        {"date_of_birth": "1980-05-17", "csrfmiddlewaretoken": csrf},
        HTTP_ORIGIN=SITE,
    )
    assert response.status_code == 302
    return client


@pytest.mark.parametrize("headers", FOREIGN, ids=["null", "null-cross-site", "evil"])
def test_a_cross_site_post_to_a_group_page_is_refused(headers):
    encounter = make_encounter()
    client = bound(encounter)
    csrf = planted(client, "/intake/page/emergency/")
    response = client.post(
        "/intake/page/emergency/",
        {"emergency-signs": ["none"], "csrfmiddlewaretoken": csrf},
        **headers,
    )
    assert response.status_code == 403
    assert Encounter.objects.get(pk=encounter.pk).answers == {}


@pytest.mark.parametrize("headers", FOREIGN, ids=["null", "null-cross-site", "evil"])
def test_a_cross_site_post_to_the_link_page_is_refused(headers):
    encounter = make_encounter()
    token = issue(encounter)
    client = Client(enforce_csrf_checks=True)
    csrf = planted(client, f"/intake/link/{token}/")
    response = client.post(
        f"/intake/link/{token}/",
        {"date_of_birth": "1980-05-17", "csrfmiddlewaretoken": csrf},
        **headers,
    )
    assert response.status_code == 403
    assert "twitch_intake" not in client.session


def test_a_same_origin_post_with_the_real_origin_works():
    encounter = make_encounter()
    client = bound(encounter)
    csrf = planted(client, "/intake/page/emergency/")
    response = client.post(
        "/intake/page/emergency/",
        {"emergency-signs": ["none"], "csrfmiddlewaretoken": csrf},
        HTTP_ORIGIN=SITE,
        HTTP_SEC_FETCH_SITE="same-origin",
    )
    assert response.status_code == 302
    assert Encounter.objects.get(pk=encounter.pk).answers == {"emergency-signs": ["none"]}


def test_intake_pages_send_same_origin_referrers():
    encounter = make_encounter()
    token = issue(encounter)
    client = Client()
    urls = [f"/intake/link/{token}/", "/intake/start/", "/intake/link/not-a-token/"]
    for url in urls:
        assert client.get(url)["Referrer-Policy"] == "same-origin", url
    client.post(f"/intake/link/{token}/", {"date_of_birth": "1980-05-17"})
    for url in ("/intake/page/emergency/", "/intake/review/", "/intake/"):
        assert client.get(url)["Referrer-Policy"] == "same-origin", url


def test_a_site_that_still_lists_null_origin_middleware_keeps_the_origin_check():
    """The old class is a deprecated no-op: listing it warns and lets nothing through."""
    middleware = list(settings.MIDDLEWARE)
    if "twitch_intake.middleware.NullOriginMiddleware" not in middleware:
        csrf_at = middleware.index("django.middleware.csrf.CsrfViewMiddleware")
        middleware.insert(csrf_at, "twitch_intake.middleware.NullOriginMiddleware")
    encounter = make_encounter()
    with override_settings(MIDDLEWARE=middleware), pytest.warns(DeprecationWarning):
        client = Client(enforce_csrf_checks=True)  # a new handler loads the new MIDDLEWARE
        client.cookies = bound(encounter).cookies
        csrf = planted(client, "/intake/page/emergency/")
        response = client.post(
            "/intake/page/emergency/",
            {"emergency-signs": ["none"], "csrfmiddlewaretoken": csrf},
            HTTP_ORIGIN="null",
        )
    assert response.status_code == 403
    assert Encounter.objects.get(pk=encounter.pk).answers == {}
