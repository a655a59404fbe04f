"""Finding 7: behind a proxy, wrong passwords must lock one user from one address, not everyone.

Axes used to see every sign-in as coming from the proxy (``AXES_IPWARE_PROXY_COUNT`` needs
django-ipware, which is not installed), so five wrong passwords from anywhere locked a clinician
out from everywhere. Axes now reads the client address by the same rule as the app's own rate
limits (``TWITCH_INTAKE["TRUSTED_PROXY_COUNT"]``).
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

PASSWORD = "a long and correct staff password"
PROXY = "10.0.0.2"
ATTACKER = "203.0.113.9"
CLINIC = "198.51.100.7"
LOGIN = "/admin/login/"


def behind_proxy(count: int = 1):
    return override_settings(TWITCH_INTAKE={**settings.TWITCH_INTAKE, "TRUSTED_PROXY_COUNT": count})


def sign_in(username: str, password: str, forwarded_for: str, remote: str = PROXY):
    return Client().post(
        LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=remote,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


@pytest.fixture
def staff() -> list[User]:
    return [
        User.objects.create_user(name, password=PASSWORD, is_staff=True)
        for name in ("doctor", "nurse")
    ]


def test_wrong_passwords_lock_one_user_from_one_address_only(staff):
    with behind_proxy(1):
        for _ in range(settings.AXES_FAILURE_LIMIT + 1):
            assert not signed_in(sign_in("doctor", "wrong password", ATTACKER))

        assert not signed_in(sign_in("doctor", PASSWORD, ATTACKER)), "locked from that address"
        assert signed_in(sign_in("doctor", PASSWORD, CLINIC)), (
            "the clinic's own address still works"
        )
        assert signed_in(sign_in("nurse", PASSWORD, ATTACKER)), "another user is not locked"


def test_the_proxy_appended_address_counts_not_what_the_client_claims(staff):
    """A client may send its own X-Forwarded-For; with one proxy only the last entry is true."""
    with behind_proxy(1):
        for n in range(settings.AXES_FAILURE_LIMIT + 1):
            sign_in("doctor", "wrong password", f"192.0.2.{n}, {ATTACKER}")
        assert not signed_in(sign_in("doctor", PASSWORD, f"192.0.2.200, {ATTACKER}"))
        assert signed_in(sign_in("doctor", PASSWORD, f"192.0.2.1, {CLINIC}"))


def test_without_a_trusted_proxy_a_forged_header_does_not_escape_the_lockout(staff):
    with behind_proxy(0):
        for n in range(settings.AXES_FAILURE_LIMIT + 1):
            sign_in("doctor", "wrong password", f"192.0.2.{n}", remote=ATTACKER)
        assert not signed_in(sign_in("doctor", PASSWORD, "192.0.2.250", remote=ATTACKER))
        assert signed_in(sign_in("doctor", PASSWORD, "", remote=CLINIC))


def test_a_forwarded_value_that_is_no_address_is_not_a_500(staff):
    with behind_proxy(1):
        response = sign_in("doctor", "wrong password", "not-an-address")
        assert response.status_code == 200
        assert signed_in(sign_in("doctor", PASSWORD, "also <not> one"))


def test_lockout_is_by_user_and_address_together_with_a_cool_off():
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.AXES_COOLOFF_TIME
