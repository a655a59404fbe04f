"""Finding 8: staff who read health data need a second factor, not a password alone.

Clinicians (anyone with ``twitch_intake.view_summary``, superusers included) must confirm a code
from an authenticator app (django-otp's TOTP) or a one-use backup code before the app's admin
shows them a summary, the queue's levels and flags, or a print, text or FHIR view. It is the
app's rule for the app's views, switched by ``TWITCH_INTAKE["REQUIRE_MFA"]`` (default on); the
host's other admin pages are the host's business. Passwords are at least 12 characters.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User
from django.test import Client, override_settings
from django.urls import reverse
from django_otp.oath import TOTP, totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import make_submitted
from twitch_intake.checks import check_mfa
from twitch_intake.conf import DEFAULTS, app_settings
from twitch_intake.models import AccessEvent

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = "a long and correct staff password"
SETUP = "/intake/staff/two-factor/setup/"
VERIFY = "/intake/staff/two-factor/verify/"
QUEUE = "/admin/twitch_intake/encounter/"


def mfa(required: bool):
    return override_settings(TWITCH_INTAKE={**settings.TWITCH_INTAKE, "REQUIRE_MFA": required})


@pytest.fixture(autouse=True)
def _mfa_required():
    with mfa(True):
        yield


def staff(username: str, group: str | None = None, **fields) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True, **fields)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def signed_in(username: str) -> Client:
    """A client that signed in the way staff do: the admin's login form, password only."""
    client = Client()
    response = client.post(
        "/admin/login/", {"username": username, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/", response
    return client


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """What the clinician's authenticator app shows now (or ``steps_ahead`` periods later)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0 - steps_ahead * device.step):06d}"


def code_at(device: TOTPDevice, time_step: int) -> str:
    """The code the app showed in period ``time_step``, whatever the clock reads now.

    A test that asks for "the code now" twice can straddle a 30-second boundary and get two
    different codes; the device's ``last_t`` names the period of the code it last accepted.
    """
    oath = TOTP(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    oath.time = device.t0 + time_step * device.step
    return f"{oath.token():0{device.digits}d}"


def summary_urls(encounter) -> list[str]:
    base = f"/admin/twitch_intake/encounter/{encounter.pk}"
    return [f"{base}/change/", f"{base}/print/", f"{base}/text/", f"{base}/fhir/", QUEUE]


def enrol(client: Client, user: User) -> list[str]:
    """Sets up the authenticator through the pages; returns the backup codes shown."""
    assert client.get(SETUP).status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(SETUP, {"code": code_for(device)})
    assert response.status_code == 200
    return re.findall(
        r'<li class="ti-backup-code"><code>([a-z0-9]+)</code>', response.content.decode()
    )


@pytest.fixture
def encounter():
    return make_submitted(patient_name="Mfa Patient")


@pytest.fixture
def clinician() -> User:
    return staff("doctor", "Clinicians")


# --- who is asked for a second factor -----------------------------------------------------------


def test_the_app_setting_is_on_by_default(settings):
    assert DEFAULTS["REQUIRE_MFA"] is True
    settings.TWITCH_INTAKE = {"CLINIC_NAME": "A clinic"}
    assert app_settings.REQUIRE_MFA is True


def test_a_clinician_with_only_a_password_is_sent_to_set_up_a_second_factor(clinician, encounter):
    client = signed_in("doctor")
    for url in summary_urls(encounter):
        response = client.get(url)
        assert response.status_code == 302, url
        target = urlsplit(response["Location"])
        assert target.path == SETUP
        assert parse_qs(target.query)["next"] == [urlsplit(url).path]
        assert "Mfa Patient" not in response.content.decode()
    review = client.post(f"/admin/twitch_intake/encounter/{encounter.pk}/review/")
    assert review.status_code == 302 and urlsplit(review["Location"]).path == SETUP
    encounter.refresh_from_db()
    assert encounter.reviewed_at is None
    assert not AccessEvent.objects.exists()


def test_a_superuser_is_asked_too(encounter):
    User.objects.create_superuser("root", "root@clinic.test", PASSWORD)
    response = signed_in("root").get(summary_urls(encounter)[0])
    assert response.status_code == 302 and urlsplit(response["Location"]).path == SETUP


def test_front_desk_is_not_forced(encounter):
    staff("front", "Front desk")
    client = signed_in("front")
    assert client.get(QUEUE).status_code == 200
    assert client.get(summary_urls(encounter)[0]).status_code == 200


def test_with_the_setting_off_a_clinician_is_not_forced(clinician, encounter):
    with mfa(False):
        response = signed_in("doctor").get(summary_urls(encounter)[0])
        assert response.status_code == 200
        assert response.context["summary"].encounter_id == encounter.pk


# --- enrolling ----------------------------------------------------------------------------------


def test_a_clinician_enrols_with_a_real_code_then_reads_the_summary(clinician, encounter):
    client = signed_in("doctor")
    page = client.get(f"{SETUP}?next={summary_urls(encounter)[0]}")
    content = page.content.decode()
    assert page.status_code == 200
    assert page["Cache-Control"].startswith("no-store") or "no-store" in page["Cache-Control"]
    device = TOTPDevice.objects.get(user=clinician, confirmed=False)
    # The QR code is an SVG made on the server (no image library, no outside service) ...
    assert re.search(r'<img[^>]+src="data:image/svg\+xml', content)
    # ... and the secret is there in text for an app that cannot scan.
    secret = device.config_url.split("secret=")[1].split("&")[0]
    assert secret in content.replace(" ", "")

    response = client.post(f"{SETUP}?next={summary_urls(encounter)[0]}", {"code": code_for(device)})
    content = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    codes = re.findall(r'<li class="ti-backup-code"><code>([a-z0-9]+)</code>', content)
    assert len(codes) == 10
    assert sorted(codes) == sorted(
        StaticDevice.objects.get(user=clinician).token_set.values_list("token", flat=True)
    )
    assert f'href="{summary_urls(encounter)[0]}"' in content
    device.refresh_from_db()
    assert device.confirmed

    for url in summary_urls(encounter):
        assert client.get(url).status_code == 200, url
    assert client.get(summary_urls(encounter)[0]).context["summary"].encounter_id == encounter.pk
    # Shown once: the setup page does not show them (or a new secret) again.
    again = client.get(SETUP)
    assert again.status_code == 302
    assert TOTPDevice.objects.filter(user=clinician).count() == 1


def test_a_wrong_code_is_refused_with_a_message(clinician, encounter):
    client = signed_in("doctor")
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=clinician, confirmed=False)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"

    response = client.post(SETUP, {"code": wrong})

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert device.throttling_failure_count == 1  # django-otp's throttle counts the guess
    assert client.get(summary_urls(encounter)[0]).status_code == 302


@pytest.mark.parametrize("code", ["", "12345", "abcdef", "1" * 200, "１２３４５６"])
def test_a_malformed_code_is_a_message_not_a_500(clinician, code):
    client = signed_in("doctor")
    client.get(SETUP)
    response = client.post(SETUP, {"code": code})
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()


def test_guesses_are_throttled_so_even_the_right_code_waits(clinician, encounter):
    client = signed_in("doctor")
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=clinician, confirmed=False)
    with override_settings(OTP_TOTP_THROTTLE_FACTOR=600):
        client.post(SETUP, {"code": "000000" if code_for(device) != "000000" else "111111"})
        response = client.post(SETUP, {"code": code_for(device)})
    assert "Too many wrong codes" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed


# --- signing in again ---------------------------------------------------------------------------


def test_next_time_a_code_from_the_app_is_asked_for_after_the_password(clinician, encounter):
    enrol(signed_in("doctor"), clinician)
    client = signed_in("doctor")
    change = summary_urls(encounter)[0]

    response = client.get(change)
    assert response.status_code == 302
    assert response["Location"] == f"{VERIFY}?next={change.replace('/', '%2F')}"

    device = TOTPDevice.objects.get(user=clinician)
    used = code_at(device, device.last_t)
    assert used in {code_for(device), code_for(device, steps_ahead=-1)}, "a real, recent code"
    refused = client.post(f"{VERIFY}?next={change}", {"code": used})
    assert "That code is not right" in refused.content.decode(), "a code is good once"
    # That wrong guess made the next one wait a second (django-otp's throttle): let it pass.
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)

    # The period after enrolment's: now's, or the next one (within the one step of drift the
    # device allows) if the clock has not yet rolled over.
    response = client.post(f"{VERIFY}?next={change}", {"code": code_at(device, device.last_t + 1)})
    assert response.status_code == 302 and response["Location"] == change
    assert client.get(change).status_code == 200


def test_a_backup_code_works_once(clinician, encounter):
    codes = enrol(signed_in("doctor"), clinician)
    first = signed_in("doctor")
    assert first.post(VERIFY, {"code": codes[0].upper()}).status_code == 302
    assert first.get(summary_urls(encounter)[0]).status_code == 200

    second = signed_in("doctor")
    response = second.post(VERIFY, {"code": codes[0]})
    assert "That code is not right" in response.content.decode()
    assert second.get(summary_urls(encounter)[0]).status_code == 302


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/admin/", "javascript:alert(1)"]
)
def test_next_never_leaves_the_site(clinician, next_url):
    codes = enrol(signed_in("doctor"), clinician)
    client = signed_in("doctor")
    response = client.post(f"{VERIFY}?next={next_url}", {"code": codes[0]})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:twitch_intake_encounter_changelist")


def test_the_pages_are_for_signed_in_staff_only():
    for url in (SETUP, VERIFY):
        response = Client().get(url)
        assert response.status_code == 302
        assert urlsplit(response["Location"]).path == reverse("admin:login")


# --- wiring and passwords -----------------------------------------------------------------------


def test_check_refuses_a_setting_that_is_not_a_bool(settings):
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "REQUIRE_MFA": "yes"}
    assert [m.id for m in check_mfa()] == ["twitch_intake.E030"]


def test_check_wants_the_otp_middleware_after_authentication_when_required(settings):
    assert check_mfa() == []
    middleware = [m for m in settings.MIDDLEWARE if m != "django_otp.middleware.OTPMiddleware"]
    settings.MIDDLEWARE = middleware
    assert [m.id for m in check_mfa()] == ["twitch_intake.E031"]
    settings.MIDDLEWARE = ["django_otp.middleware.OTPMiddleware", *middleware]
    assert [m.id for m in check_mfa()] == ["twitch_intake.E031"]
    settings.TWITCH_INTAKE = {**settings.TWITCH_INTAKE, "REQUIRE_MFA": False}
    settings.MIDDLEWARE = middleware
    assert check_mfa() == []


def test_check_wants_the_otp_apps_when_required(settings, monkeypatch):
    # Set without override_settings, which would rebuild the app registry.
    apps = [a for a in settings.INSTALLED_APPS if "otp_static" not in a]
    monkeypatch.setattr(django_settings, "INSTALLED_APPS", apps)
    assert [m.id for m in check_mfa()] == ["twitch_intake.E032"]


def clinic_settings(script: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in {"DJANGO_DEBUG"}}
    environment.update(
        DJANGO_SETTINGS_MODULE="clinic.settings",
        SECRET_KEY="x" * 64,
        ALLOWED_HOSTS="intake.clinic.example",
        **env,
    )
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + script],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


PASSWORD_SCRIPT = """
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from clinic.demo import DEMO_USERS
from twitch_intake.conf import app_settings
tries = [("someone", "kq7vzr2mwpx"), ("someone", "kq7vzr2mwpxa")]
for username, password in tries + [(u, p) for u, p, _, _ in DEMO_USERS]:
    try:
        validate_password(password, User(username=username))
        print(password, "ok")
    except ValidationError as error:
        print(password, "refused", *error.messages)
print("REQUIRE_MFA", app_settings.REQUIRE_MFA)
"""


def test_the_clinic_refuses_a_password_of_11_characters_and_requires_mfa_in_production():
    lines = clinic_settings(PASSWORD_SCRIPT).splitlines()
    assert lines[0].startswith("kq7vzr2mwpx refused") and "at least 12 characters" in lines[0]
    assert lines[1] == "kq7vzr2mwpxa ok"
    assert all(line.endswith(" ok") for line in lines[2:-1]), "the demo's own passwords pass"
    assert lines[-1] == "REQUIRE_MFA True"


def test_the_demo_does_not_require_mfa_unless_asked():
    assert (
        clinic_settings(PASSWORD_SCRIPT, DJANGO_DEBUG="1").splitlines()[-1] == "REQUIRE_MFA False"
    )
    on = clinic_settings(PASSWORD_SCRIPT, DJANGO_DEBUG="1", REQUIRE_MFA="1")
    assert on.splitlines()[-1] == "REQUIRE_MFA True"


def test_who_can_edit_accounts_of_a_custom_user_model_owes_a_code(monkeypatch, settings):
    """On a site with its own user model (``accounts.User``), editing accounts is
    ``accounts.change_user``: that user can put anyone into Clinicians, so they confirm a code."""
    from types import SimpleNamespace

    from twitch_intake import mfa

    custom = SimpleNamespace(_meta=SimpleNamespace(app_label="accounts", model_name="user"))
    monkeypatch.setattr(mfa, "get_user_model", lambda: custom)

    class Manager:
        is_authenticated, is_superuser = True, False

        def __init__(self, perms: set[str]) -> None:
            self.perms = perms

        def has_perm(self, perm: str) -> bool:
            return perm in self.perms

    assert mfa.mfa_required(Manager({"accounts.change_user"}))
    assert mfa.mfa_required(Manager({"accounts.add_user"}))
    assert not mfa.mfa_required(Manager({"auth.view_user"}))
    assert not mfa.mfa_required(Manager(set()))


@pytest.mark.parametrize(
    "perm",
    ["otp_totp.view_totpdevice", "otp_static.view_staticdevice", "otp_static.view_statictoken"],
)
def test_who_can_view_second_factor_devices_owes_a_code(perm):
    from types import SimpleNamespace

    from twitch_intake import mfa

    viewer = SimpleNamespace(
        is_authenticated=True, is_superuser=False, has_perm=lambda p: p == perm
    )
    assert mfa.mfa_required(viewer)
