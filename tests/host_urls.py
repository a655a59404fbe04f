"""A host site's URLs: its own pages (one with an inline script) and the app under another
prefix and instance namespace, as a clinic's site might include it."""

from django.contrib import admin
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

INLINE_SCRIPT_PAGE = "<!doctype html><title>Host</title><script>document.title = 'ran';</script>"


def host_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(INLINE_SCRIPT_PAGE)


def host_page_without_database(request: HttpRequest) -> HttpResponse:
    raise OperationalError("connection to server failed")


urlpatterns = [
    path("", host_page, name="home"),
    path("reports/", host_page_without_database, name="reports"),
    path("staff/", admin.site.urls),
    path("patients/", include("twitch_intake.urls", namespace="clinic_intake")),
]
