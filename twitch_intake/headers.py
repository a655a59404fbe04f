"""The app's security headers, on the app's own pages only: the host's pages keep the host's.

The intake shows health data to patients on their phones, so its pages promise a strict
Content Security Policy (no inline script, nothing from another origin, no framing),
``X-Frame-Options: DENY``, ``Referrer-Policy: same-origin`` and ``nosniff``. A host site has its
own policy, often with inline scripts or a CDN: putting ours on every page would break it. So
the headers are set only on responses whose URL resolves into the app: its URLs under whatever
prefix and instance namespace the host includes them (matched by the application namespace,
``twitch_intake``), and the admin's pages for its models.

On the app's pages the app's policy wins wherever the host's middleware sits: it is written in
Django's own form (``SECURE_CSP``'s dict, built with ``django.utils.csp.build_policy`` on
Django 6), handed to Django's ``ContentSecurityPolicyMiddleware`` as a per-view override (what
``csp_override`` does) and set on the response, which Django's and django-csp's middleware leave
alone when a view has set it. A host's report-only policy is never touched.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseBase

APP_NAMESPACE = "twitch_intake"

#: No inline script or style anywhere: the few lines of JavaScript live in static files.
POLICY: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "form-action": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
}


def build_policy(config: dict[str, list[str]]) -> str:
    """The header's text: Django's own builder where it has one (6.0 and later)."""
    try:
        from django.utils.csp import build_policy as django_build_policy
    except ImportError:  # Django 5.2: the same format, by hand
        return "; ".join(f"{directive} {' '.join(values)}" for directive, values in config.items())
    text: str = django_build_policy(config)
    return text


CONTENT_SECURITY_POLICY = build_policy(POLICY)

#: Every header the app's pages carry, whatever the host's defaults.
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def is_ours(request: HttpRequest) -> bool:
    """The request is for one of the app's pages: its URLs under any prefix and instance
    namespace, or the admin's pages for its models (``admin:twitch_intake_*`` and the app's
    index in the admin)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        from django.urls import Resolver404, resolve

        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return False
    if APP_NAMESPACE in match.app_names:
        return True
    if "admin" not in match.app_names:
        return False
    return (match.url_name or "").startswith(f"{APP_NAMESPACE}_") or (
        match.url_name == "app_list" and match.kwargs.get("app_label") == APP_NAMESPACE
    )


def apply(response: HttpResponseBase) -> None:
    """Give ``response`` the app's headers, in place of any the host's middleware set."""
    response_any: Any = response
    response_any._csp_config = POLICY  # Django 6's per-view policy, as csp_override sets it
    for header, value in HEADERS.items():
        response[header] = value
