"""The staff's second-factor pages: set up an authenticator app, then confirm a code per sign-in.

They sit under the app's own URLs and look like the admin (they extend ``admin/base_site.html``),
so a host need not change its admin site. Both are for signed-in staff only and never cached;
the code is a sensitive parameter, kept out of error reports.
"""

from __future__ import annotations

from base64 import b32encode
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import django_otp
import segno
from django import forms
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp.models import Device

from . import mfa
from .admin import in_clinic_language
from .branding import site_context


class CodeForm(forms.Form):
    """One code, checked against the devices that could have made it."""

    code = forms.CharField(
        label=_("Sign-in code"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )

    def __init__(self, *args: Any, devices: Callable[[str], list[Device]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.devices = devices
        self.device: Device | None = None

    def clean_code(self) -> str:
        code = mfa.normalized(self.cleaned_data["code"])
        self.device = mfa.check_code(self.devices(code), code)
        return code


def _secret(device: Any) -> str:
    """The base32 secret an app without a camera is given, in groups of four to copy."""
    text = b32encode(device.bin_key).decode()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _page(request: HttpRequest, template: str, title: Any, **context: Any) -> TemplateResponse:
    return TemplateResponse(
        request,
        f"twitch_intake/staff/{template}",
        {**admin.site.each_context(request), **site_context(), "title": title, **context},
    )


def _go(name: str, next_url: str) -> HttpResponse:
    return HttpResponseRedirect(f"{reverse(name)}?{urlencode({'next': next_url})}")


def _signed_in(request: HttpRequest, device: Any) -> None:
    # A new session key for the raised privilege, as Django does at login.
    request.session.cycle_key()
    django_otp.login(request, device)


def staff_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in staff only, GET and POST only, never cached, the code kept out of reports."""
    view = in_clinic_language(view)
    view = require_http_methods(["GET", "POST"])(view)
    view = staff_member_required(view)
    view = never_cache(view)
    return sensitive_post_parameters("code")(view)


@staff_page
def mfa_setup(request: HttpRequest) -> HttpResponse:
    next_url = mfa.safe_next(request)
    if django_otp.user_has_device(request.user):
        if mfa.is_verified(request.user):
            return HttpResponseRedirect(next_url)
        return _go("twitch_intake:mfa-verify", next_url)
    device = mfa.pending_device(request)
    form = CodeForm(request.POST or None, devices=lambda code: [device])
    if request.method == "POST" and form.is_valid() and form.device is not None:
        confirmed = form.device
        confirmed.confirmed = True
        confirmed.save(update_fields=["confirmed"])
        codes = mfa.new_backup_codes(request.user)
        _signed_in(request, confirmed)
        return _page(
            request,
            "mfa_backup_codes.html",
            _("Your backup codes"),
            codes=codes,
            next_url=next_url,
        )
    qr = segno.make(device.config_url, error="m")
    return _page(
        request,
        "mfa_setup.html",
        _("Set up two-factor sign-in"),
        form=form,
        next_url=next_url,
        qr_code=qr.svg_data_uri(scale=5, border=2),
        secret=_secret(device),
    )


@staff_page
def mfa_verify(request: HttpRequest) -> HttpResponse:
    next_url = mfa.safe_next(request)
    if not django_otp.user_has_device(request.user):
        return _go("twitch_intake:mfa-setup", next_url)
    if request.method == "GET" and mfa.is_verified(request.user):
        return HttpResponseRedirect(next_url)
    form = CodeForm(
        request.POST or None, devices=lambda code: mfa.devices_for_code(request.user, code)
    )
    if request.method == "POST" and form.is_valid() and form.device is not None:
        _signed_in(request, form.device)
        return HttpResponseRedirect(next_url)
    return _page(
        request,
        "mfa_verify.html",
        _("Confirm it is you"),
        form=form,
        next_url=next_url,
    )
