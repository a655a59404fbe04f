from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="twitch_intake:self_start", permanent=False)),
    path("admin/", admin.site.urls),
    path("intake/", include("twitch_intake.urls")),
]
