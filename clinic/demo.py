"""After ``loaddata fixtures/demo.json``: make the demo logins and print where to go.

Run by ``make demo``; safe to run again (it resets the demo passwords, nothing else).
"""

from __future__ import annotations

import argparse
import os

import django

DEMO_USERS = [
    # username, password, group, superuser. At least 12 characters: clinic/settings.py's
    # AUTH_PASSWORD_VALIDATORS (tests/security/test_staff_mfa.py checks them).
    ("clinician", "twitch-demo-clinician", "Clinicians", False),
    ("frontdesk", "twitch-demo-frontdesk", "Front desk", False),
    ("admin", "twitch-demo-admin", None, True),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="8000")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    django.setup()

    from django.contrib.auth.models import Group, User
    from django.urls import reverse

    from twitch_intake.conf import app_settings
    from twitch_intake.models import Encounter

    for username, password, group, superuser in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username)
        user.is_staff = True
        user.is_superuser = superuser
        user.set_password(password)
        user.save()
        if group:
            user.groups.set([Group.objects.get(name=group)])

    # One invited demo patient whose link is printed below (a new link each run).
    patient = Encounter.objects.filter(record_number="DEMO-LINK").first()
    link = ""
    if patient is not None and not patient.is_submitted:
        token = patient.issue_link()
        patient.save()
        link = reverse("twitch_intake:link", args=[token])

    base = f"http://{args.host}:{args.port}"
    lines = [
        "",
        "twitch-intake demo",
        f"  Patient start (walk-in): {base}{reverse('twitch_intake:self_start')}",
    ]
    if link:
        lines.append(f"  Patient link (date of birth 1975-03-02): {base}{link}")
    lines += [
        f"  Clinician admin:         {base}{reverse('admin:index')}",
        "  Logins (user / password):",
        *(f"    {u:<10} {p:<24} {'superuser' if s else g}" for u, p, g, s in DEMO_USERS),
        "  Two-factor sign-in for clinicians: "
        + ("on" if app_settings.REQUIRE_MFA else "off in the demo (REQUIRE_MFA=1 turns it on)"),
        f"  Encounters loaded: {Encounter.objects.count()}   (Ctrl-C stops the server)",
        "  Queue: a worker is running beside the server (manage.py procrastinate worker);",
        "    emergency alerts, and the invitations and reminders front desk sends (email and",
        "    text message, console backends), print here.",
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
