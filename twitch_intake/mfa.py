"""A second factor for staff who read health data, on the app's own admin views only.

The app is a guest in the host's admin: it does not replace the host's login or ``AdminSite``.
Instead every app view that shows a summary, the answers, or the queue's levels and flags asks
:func:`needs_second_factor` first, and sends a clinician who signed in with a password alone
to the app's own pages (``twitch_intake:mfa-setup`` and ``twitch_intake:mfa-verify``). The
codes come from django-otp: TOTP devices (an authenticator app) and static backup codes, both
with django-otp's throttling of wrong guesses.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django_otp import devices_for_user, user_has_device
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .conf import app_settings

if TYPE_CHECKING:
    # request.user's type: the host's user model (AUTH_USER_MODEL) or AnonymousUser.
    from django.contrib.auth.models import _AnyUser

#: The permission that shows health data (the Clinicians group has it, superusers have all).
PERM_SUMMARY = "twitch_intake.view_summary"
BACKUP_CODES = 10


def mfa_required(user: _AnyUser) -> bool:
    return bool(app_settings.REQUIRE_MFA and user.is_authenticated and user.has_perm(PERM_SUMMARY))


def is_verified(user: Any) -> bool:
    # Without OTPMiddleware there is no is_verified(): nobody counts as verified (E031 says why).
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def needs_second_factor(request: HttpRequest) -> bool:
    return mfa_required(request.user) and not is_verified(request.user)


def second_factor_page(request: HttpRequest) -> HttpResponse:
    """To setup (no device yet) or verify, coming back here afterwards.

    Only the path comes back, not the query: a queue search holds patients' names, which must
    not travel on into another request line.
    """
    name = (
        "twitch_intake:mfa-verify" if user_has_device(request.user) else "twitch_intake:mfa-setup"
    )
    url = reverse(name)
    if request.method in ("GET", "HEAD"):
        url += "?" + urlencode({"next": request.path})
    return HttpResponseRedirect(url)


def requires_second_factor(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For a ModelAdmin method that shows health data: no second factor, no data."""

    @wraps(view)
    def wrapper(model_admin: Any, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if needs_second_factor(request):
            return second_factor_page(request)
        return view(model_admin, request, *args, **kwargs)

    return wrapper


def safe_next(request: HttpRequest) -> str:
    """Where to go after the code: a path on this site, else the queue."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:twitch_intake_encounter_changelist")


def normalized(code: str) -> str:
    return "".join(code.split()).lower()


def check_code(devices: list[Device], code: str) -> Device:
    """The device that accepts ``code``; otherwise a ValidationError saying why none did.

    Each device is locked while it checks (so two requests cannot both spend one backup code or
    one time step) and keeps django-otp's count of wrong guesses, which makes each next guess
    wait twice as long.
    """
    throttled = False
    for device in devices:
        with transaction.atomic():
            locked = type(device).objects.select_for_update().get(pk=device.pk)
            allowed, _ = locked.verify_is_allowed()
            if not allowed:
                throttled = True
                continue
            if locked.verify_token(code):
                return locked
    if throttled:
        raise ValidationError(
            gettext(
                "Too many wrong codes. Wait a moment, then try again: each wrong code makes the next wait longer."
            ),
            code="throttled",
        )
    raise ValidationError(
        gettext("That code is not right. Check the code and try again."), code="wrong_code"
    )


def devices_for_code(user: Any, code: str) -> list[Device]:
    """Six digits are from the authenticator app; anything else can only be a backup code."""
    kind: type[Device] = TOTPDevice if code.isascii() and code.isdigit() else StaticDevice
    return [device for device in devices_for_user(user) if isinstance(device, kind)]


def pending_device(user: Any) -> TOTPDevice:
    """The authenticator being set up: the same secret on every visit until it is confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(
            user=user, name=gettext("Authenticator app"), confirmed=False
        )
    return device


@transaction.atomic
def new_backup_codes(user: Any) -> list[str]:
    """Fresh one-use codes, replacing any earlier set: for a lost phone."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=gettext("Backup codes"), confirmed=True)
    codes: list[str] = []
    while len(codes) < BACKUP_CODES:
        code = StaticToken.random_token()
        if not code.isdigit():  # all digits would be read as an authenticator code
            codes.append(code)
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes
