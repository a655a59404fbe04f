"""The app's headers, 503 and idle limit act on its own pages and sessions, never the host's.

``tests/host_urls.py`` is a host site: a page of its own with an inline script, the admin at
another prefix and the intake under ``patients/`` with an instance namespace of its own.
"""

from __future__ import annotations

import datetime as dt

import django
import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from tests.factories import make_encounter, page_data, routine_answers
from twitch_intake import headers, idle
from twitch_intake.views import SESSION_KEY

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.host_urls")]

HOST_POLICY = "default-src 'self' https://cdn.example; script-src 'self' 'unsafe-inline'"


class HostPolicyMiddleware:
    """A host's own site-wide CSP, set on every response (as django-csp or a hand-made one)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response["Content-Security-Policy"] = HOST_POLICY
        response["X-Frame-Options"] = "SAMEORIGIN"
        return response


def bound_client(encounter, client: Client) -> Client:
    token = encounter.issue_link()
    encounter.save()
    page = client.get(f"/patients/link/{token}/")
    assert page.status_code == 200
    response = client.post(
        f"/patients/link/{token}/",
        {
            "date_of_birth": encounter.date_of_birth.isoformat(),
            "csrfmiddlewaretoken": page.context["csrf_token"],
        },
    )
    assert response.status_code == 302, response.status_code
    assert response["Location"].startswith("/patients/")
    return client


def test_the_hosts_page_keeps_its_inline_script_and_has_no_app_policy():
    response = Client().get("/")
    assert response.status_code == 200
    assert b"<script>document.title" in response.content
    assert "Content-Security-Policy" not in response


def test_the_apps_pages_under_another_prefix_and_namespace_carry_its_headers():
    for url in ("/patients/start/", "/patients/link/not-a-token/", "/patients/"):
        response = Client().get(url)
        assert response.status_code < 500, url
        assert response["Content-Security-Policy"] == headers.CONTENT_SECURITY_POLICY, url
        assert response["X-Frame-Options"] == "DENY", url
        assert response["Referrer-Policy"] == "same-origin", url
        assert response["X-Content-Type-Options"] == "nosniff", url


def test_the_app_admin_pages_carry_its_headers_and_the_hosts_admin_does_not(admin_client):
    assert "Content-Security-Policy" not in admin_client.get("/staff/")
    for url in ("/staff/twitch_intake/", "/staff/twitch_intake/encounter/"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Security-Policy"] == headers.CONTENT_SECURITY_POLICY, url


@pytest.mark.parametrize("where", ["first", "last"])
def test_a_hosts_site_wide_policy_stays_on_its_pages_and_ours_on_ours(settings, where):
    ours = "twitch_intake.middleware.SecurityHeadersMiddleware"
    host = f"{__name__}.HostPolicyMiddleware"
    middleware = [m for m in settings.MIDDLEWARE if m != ours]
    # Ours outermost, as the README says, with the host's anywhere inside it.
    middleware = [ours, *middleware, host] if where == "last" else [ours, host, *middleware]
    settings.MIDDLEWARE = middleware

    assert Client().get("/")["Content-Security-Policy"] == HOST_POLICY
    assert Client().get("/")["X-Frame-Options"] == "SAMEORIGIN"
    app_page = Client().get("/patients/start/")
    assert app_page["Content-Security-Policy"] == headers.CONTENT_SECURITY_POLICY
    assert app_page["X-Frame-Options"] == "DENY"


@pytest.mark.skipif(django.VERSION < (6, 0), reason="Django's own CSP arrived in 6.0")
def test_djangos_own_csp_keeps_the_hosts_policy_and_report_only_on_its_pages(settings):
    from django.utils.csp import CSP

    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.middleware.csp.ContentSecurityPolicyMiddleware",
    ]
    settings.SECURE_CSP = {
        "default-src": [CSP.SELF, "https://cdn.example"],
        "script-src": [CSP.UNSAFE_INLINE],
    }
    settings.SECURE_CSP_REPORT_ONLY = {"default-src": [CSP.SELF], "report-uri": "/csp-report/"}

    host = Client().get("/")
    assert (
        host["Content-Security-Policy"]
        == "default-src 'self' https://cdn.example; script-src 'unsafe-inline'"
    )
    app_page = Client().get("/patients/start/")
    assert app_page["Content-Security-Policy"] == headers.CONTENT_SECURITY_POLICY
    # The host's report-only policy is the host's business, on every page.
    assert "report-uri /csp-report/" in app_page["Content-Security-Policy-Report-Only"]


def test_patient_posts_pass_csrf_under_another_namespace():
    client = bound_client(make_encounter(), Client(enforce_csrf_checks=True))
    first = client.get("/patients/", follow=True)
    assert first.status_code == 200
    page_url = first.redirect_chain[-1][0]
    group = page_url.rstrip("/").rsplit("/", 1)[-1]
    data = page_data(group, routine_answers())
    data["csrfmiddlewaretoken"] = first.context["csrf_token"]

    response = client.post(page_url, data)

    assert response.status_code == 302, response.status_code
    assert response["Location"].startswith("/patients/")


def test_a_database_outage_on_a_host_page_is_the_hosts_to_answer():
    response = Client(raise_request_exception=False).get("/reports/")
    assert response.status_code == 500
    assert "Retry-After" not in response


def _expiry_age(client: Client) -> float:
    row = Session.objects.get(session_key=client.session.session_key)
    return (row.expire_date - dt.datetime.now(dt.UTC)).total_seconds()


def test_a_patient_session_ends_after_the_apps_idle_limit_not_the_sites(settings):
    settings.SESSION_COOKIE_AGE = 14 * 24 * 3600  # Django's default: the host's choice
    client = bound_client(make_encounter(), Client())
    response = client.get("/patients/", follow=True)

    assert SESSION_KEY in client.session
    assert response.status_code == 200
    # The pages close at the idle limit (tests/test_idle.py); the session outlives it by
    # idle.KEEP_FOR only to keep what was typed, never the host's two weeks.
    lasts = 30 * 60 + int(idle.KEEP_FOR.total_seconds())
    assert lasts - 60 < _expiry_age(client) <= lasts
    assert client.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == lasts


def test_the_idle_limit_follows_the_setting(settings):
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "IDLE_TIMEOUT": dt.timedelta(minutes=10)}
    client = bound_client(make_encounter(), Client())
    client.get("/patients/", follow=True)
    lasts = 10 * 60 + int(idle.KEEP_FOR.total_seconds())
    assert lasts - 60 < _expiry_age(client) <= lasts


def test_staff_sessions_are_the_hosts_unless_it_opts_in(settings, admin_user):
    settings.SESSION_COOKIE_AGE = 14 * 24 * 3600
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "STAFF_IDLE_TIMEOUT": None}
    client = Client()
    client.force_login(admin_user)
    client.get("/staff/")
    assert _expiry_age(client) > 13 * 24 * 3600

    settings.TWITCH_INTAKE = {
        **settings.TWITCH_INTAKE,
        "STAFF_IDLE_TIMEOUT": dt.timedelta(minutes=30),
    }
    client.get("/staff/")
    assert 29 * 60 < _expiry_age(client) <= 30 * 60


def test_a_signed_in_site_user_who_is_not_staff_keeps_the_sites_session(
    settings, django_user_model
):
    settings.SESSION_COOKIE_AGE = 14 * 24 * 3600
    member = django_user_model.objects.create_user("member", password="long-enough-pw")
    client = Client()
    client.force_login(member)
    client.get("/")
    assert _expiry_age(client) > 13 * 24 * 3600
    assert "_twitch_intake_seen" not in client.session


# --- After an outside attack: the idle limit and the second factor in an outage ------------------


def test_a_host_page_that_never_reads_its_session_costs_no_query(client, django_assert_num_queries):
    encounter = make_encounter()
    bound_client(encounter, client)
    with django_assert_num_queries(0):
        assert client.get("/").status_code == 200


def _session_store_down(monkeypatch):
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import OperationalError

    def down(self):
        raise OperationalError("connection to server failed")

    monkeypatch.setattr(SessionStore, "load", down)


def test_a_database_outage_never_turns_an_app_response_into_a_500(client, monkeypatch):
    """A CSRF refusal on the app's language switch is answered before any view: reading the
    session afterwards for the idle limit must not turn the 403 into a 500."""
    encounter = make_encounter()
    strict = Client(enforce_csrf_checks=True)
    bound_client(encounter, strict)
    _session_store_down(monkeypatch)
    response = strict.post("/patients/language/", {"language": "es"})
    assert response.status_code == 403


def test_the_second_factor_check_in_an_outage_is_a_503_not_a_500(client, monkeypatch):
    from django.contrib.auth.models import User
    from django.db import OperationalError

    from twitch_intake import mfa

    client.force_login(User.objects.create_superuser("outage", "o@clinic.test", "x" * 20))

    def down(request):
        raise OperationalError("connection to server failed")

    monkeypatch.setattr(mfa, "needs_second_factor", down)
    response = client.get("/staff/twitch_intake/encounter/")
    assert response.status_code == 503 and response["Retry-After"].isdigit()
    assert "Traceback" not in response.content.decode()
