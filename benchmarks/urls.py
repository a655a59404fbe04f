"""The clinic's URLs plus the floor view, which exists only in the benchmark."""

from django.urls import path

from clinic.urls import urlpatterns as clinic_urlpatterns

from .floor import floor

urlpatterns = [
    path("bench/floor/", floor, name="bench_floor"),
    *clinic_urlpatterns,
]
