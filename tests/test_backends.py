"""The sign-in lockout backend: counts sign-ins over HTTP, lets a host's own calls through."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import authenticate
from django.test import RequestFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-password"
BACKENDS = ["twitch_intake.backends.AxesBackend", "django.contrib.auth.backends.ModelBackend"]


@pytest.fixture
def user(settings, django_user_model):
    settings.AUTHENTICATION_BACKENDS = BACKENDS
    return django_user_model.objects.create_user("member", password=PASSWORD)


def test_authenticate_without_a_request_reaches_the_next_backend(user):
    # axes' own backend raises AxesBackendRequestParameterRequired here: a host's scripts,
    # commands and API code that call authenticate() this way would break.
    assert authenticate(username="member", password=PASSWORD) == user
    assert authenticate(username="member", password="wrong") is None
    assert not AccessAttempt.objects.exists()  # not a sign-in over HTTP: nothing counted


def test_sign_ins_over_http_are_still_counted_and_locked(settings, user):
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR="203.0.113.9")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert authenticate(request, username="member", password="wrong") is None
    attempt = AccessAttempt.objects.get(username="member")
    assert attempt.failures_since_start == settings.AXES_FAILURE_LIMIT
    # Locked: even the right password is refused from that address.
    assert authenticate(request, username="member", password=PASSWORD) is None
