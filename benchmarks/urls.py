"""The clinic's URLs plus what exists only in the benchmark: the floor view and the peer wizard."""

from django.urls import path

from clinic.urls import urlpatterns as clinic_urlpatterns
from twitch_intake.views import intake_view, unlogged

from .floor import floor
from .wizard import PeerWizard

# The same headers as ours (never cached, Referrer-Policy), and the link's URL unlogged.
wizard = intake_view(PeerWizard.as_view())

urlpatterns = [
    path("bench/floor/", floor, name="bench_floor"),
    path("bench/wizard/link/<str:token>/", unlogged(wizard), name="bench_wizard_link"),
    path("bench/wizard/", wizard, name="bench_wizard"),
    *clinic_urlpatterns,
]
