"""The outside review after finding 8: a second factor on the app's views alone was not enough.

A superuser with a password alone added a backup-code device for themselves in django-otp's own
admin, confirmed it, and read every summary; the same session could set a clinician's password,
read the access log, and see the patient list through the admin's autocomplete and an
encounter's history page. The setup page showed the same secret to anyone with the password
until the clinician confirmed it. Staff who must confirm a code now reach no admin page without
it, and each sign-in session that sets up an authenticator gets a secret of its own.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import make_submitted
from tests.security.test_staff_mfa import SETUP, VERIFY, code_for, enrol, signed_in, staff
from twitch_intake.mfa import mfa_required

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mfa_required():
    from tests.security.test_staff_mfa import mfa

    with mfa(True):
        yield


def admin_pages(encounter, user: User) -> list[str]:
    return [
        "/admin/",
        "/admin/otp_static/staticdevice/add/",
        "/admin/otp_totp/totpdevice/add/",
        f"/admin/auth/user/{user.pk}/password/",
        "/admin/twitch_intake/accessevent/",
        f"/admin/twitch_intake/encounter/{encounter.pk}/history/",
        "/admin/autocomplete/?app_label=twitch_intake&model_name=accessevent&field_name=encounter",
    ]


def test_a_superuser_with_a_password_alone_cannot_give_themselves_a_second_factor():
    root = staff("root", is_superuser=True)
    encounter = make_submitted(patient_name="Maria Alvarez")
    client = signed_in("root")

    response = client.post(
        "/admin/otp_static/staticdevice/add/",
        {
            "user": root.pk,
            "name": "mine",
            "confirmed": "on",
            "token_set-TOTAL_FORMS": "1",
            "token_set-INITIAL_FORMS": "0",
            "token_set-0-token": "chosen1code",
        },
    )

    assert response.status_code == 302
    assert response["Location"].startswith(SETUP)
    assert not StaticDevice.objects.exists()
    assert client.post(VERIFY, {"code": "chosen1code"})["Location"].startswith(SETUP)
    text = client.get(f"/admin/twitch_intake/encounter/{encounter.pk}/text/")
    assert "Maria Alvarez" not in text.content.decode()


@pytest.mark.parametrize("role", ["superuser", "clinician"])
def test_no_admin_page_is_served_before_the_second_factor(role):
    if role == "superuser":
        user = staff("root", is_superuser=True)
    else:
        user = staff("doctor", "Clinicians")
    encounter = make_submitted(patient_name="Maria Alvarez")
    client = signed_in(user.username)

    for url in admin_pages(encounter, user):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith((SETUP, VERIFY)), url
        assert "Maria Alvarez" not in response.content.decode()


def test_signing_in_and_out_still_works_before_the_second_factor():
    staff("doctor", "Clinicians")
    client = signed_in("doctor")

    assert client.get("/admin/logout/").status_code in (200, 302, 405)
    assert client.post("/admin/logout/").status_code in (200, 302)
    assert client.get("/admin/login/").status_code == 200


def test_with_the_second_factor_the_admin_is_served():
    doctor = staff("doctor", "Clinicians")
    client = signed_in("doctor")
    enrol(client, doctor)

    assert client.get("/admin/").status_code == 200


def test_front_desk_is_not_asked():
    staff("desk", "Front desk")
    client = signed_in("desk")

    assert client.get("/admin/").status_code == 200


def test_who_manages_accounts_or_devices_must_confirm_a_code_too():
    from django.contrib.auth.models import Permission

    manager = staff("it-admin")
    manager.user_permissions.add(Permission.objects.get(codename="change_user"))
    assert mfa_required(User.objects.get(pk=manager.pk))
    desk = staff("devices")
    desk.user_permissions.add(Permission.objects.get(codename="add_totpdevice"))
    assert mfa_required(User.objects.get(pk=desk.pk))
    assert not mfa_required(User.objects.get(pk=staff("plain").pk))


def _secret_shown(client: Client) -> str:
    page = client.get(SETUP).content.decode()
    import re

    return re.search(r"([A-Z2-7]{4}(?: [A-Z2-7]{4}){5,})", page).group(1)


def test_a_secret_seen_in_one_session_is_not_the_one_the_clinician_confirms():
    doctor = staff("doctor", "Clinicians")
    someone = signed_in("doctor")  # had the password once, before the clinician enrolled
    seen = _secret_shown(someone)
    clinician = signed_in("doctor")

    assert _secret_shown(clinician) != seen
    device = TOTPDevice.objects.get(user=doctor, confirmed=False)
    assert clinician.post(SETUP, {"code": code_for(device)}).status_code == 200
    assert TOTPDevice.objects.filter(user=doctor, confirmed=True).count() == 1
    assert not TOTPDevice.objects.filter(user=doctor, confirmed=False).exists()


def test_the_same_session_keeps_its_secret_between_visits():
    staff("doctor", "Clinicians")
    client = signed_in("doctor")

    assert _secret_shown(client) == _secret_shown(client)
