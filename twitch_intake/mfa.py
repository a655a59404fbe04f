"""A second factor for staff who read health data or can reach it by managing accounts.

The app does not replace the host's login or ``AdminSite``. Every app view that shows a
summary, the answers, or the queue's levels and flags asks :func:`needs_second_factor` first,
and :class:`SecondFactorMiddleware` does the same for every other admin page: a password alone
must not reach django-otp's own device admin (to add a device for oneself), a user's password
form, the access log or the admin's autocomplete. Such a user is sent to the app's own pages
(``twitch_intake:mfa-setup`` and ``twitch_intake:mfa-verify``); staff the rule does not apply
to (front desk) see the admin as before. The codes come from django-otp: TOTP devices (an
authenticator app) and static backup codes, both with django-otp's throttling of wrong guesses.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
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


#: Who can change accounts or second-factor devices can make themselves (or anyone) a
#: clinician: they confirm a code as clinicians do.
PERMS_OVER_ACCOUNTS = (
    "auth.change_group",
    "auth.change_permission",
    "otp_totp.add_totpdevice",
    "otp_totp.change_totpdevice",
    # Viewing a device shows its secret unless OTP_ADMIN_HIDE_SENSITIVE_DATA (check E037).
    "otp_totp.view_totpdevice",
    "otp_static.view_staticdevice",
    "otp_static.view_statictoken",
    "otp_static.add_staticdevice",
    "otp_static.change_staticdevice",
    "otp_static.add_statictoken",
    "otp_static.change_statictoken",
)


def mfa_required(user: _AnyUser) -> bool:
    if not (app_settings.REQUIRE_MFA and user.is_authenticated):
        return False
    return bool(
        user.is_superuser
        or user.has_perm(PERM_SUMMARY)
        or any(user.has_perm(perm) for perm in perms_over_accounts())
    )


def perms_over_accounts() -> tuple[str, ...]:
    """:data:`PERMS_OVER_ACCOUNTS` and the add and change permissions of the site's user
    model, whatever it is (``AUTH_USER_MODEL``): whoever can edit accounts can put one into
    Clinicians, on a custom user model as on Django's own."""
    meta = get_user_model()._meta
    users = tuple(f"{meta.app_label}.{action}_{meta.model_name}" for action in ("change", "add"))
    return (*users, *PERMS_OVER_ACCOUNTS)


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


#: Admin pages a user who still owes a code may open: signing in and out.
_OPEN_ADMIN_PAGES = frozenset({"login", "logout", "jsi18n"})


class SecondFactorMiddleware:
    """No admin page for a user who owes a second factor, but signing in and out.

    After ``AuthenticationMiddleware`` and django-otp's ``OTPMiddleware``; it acts only on the
    views of the ``admin`` namespace, so the host's other pages are untouched.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        if match is None or "admin" not in match.namespaces or match.url_name in _OPEN_ADMIN_PAGES:
            return None
        from django.db import DatabaseError

        from .middleware import is_outage, unavailable

        try:
            owes = needs_second_factor(request)
        except DatabaseError as error:
            if not is_outage(error):
                raise
            return unavailable(error)  # before the view: no process_exception would see it
        if owes:
            return second_factor_page(request)
        return None


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


PENDING_DEVICE = "_twitch_intake_pending_device"


def pending_device(request: HttpRequest) -> TOTPDevice:
    """The authenticator being set up, with a secret of this sign-in session's own.

    The same secret on every visit of this session (a reload shows the QR code already
    scanned); a new session makes a new one and drops the old, so a secret seen by whoever
    once had the password is not the one the clinician confirms.
    """
    user = request.user
    device = TOTPDevice.objects.filter(
        user=user, confirmed=False, pk=request.session.get(PENDING_DEVICE)
    ).first()
    if device is None:
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(
            user=user, name=gettext("Authenticator app"), confirmed=False
        )
        request.session[PENDING_DEVICE] = device.pk
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
