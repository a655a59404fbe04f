from django.urls import path

from . import staff_views, views

app_name = "twitch_intake"

urlpatterns = [
    path("start/", views.self_start, name="self_start"),
    path("link/<str:token>/", views.open_link, name="link"),
    path("", views.resume, name="resume"),
    path("continue/", views.welcome_back, name="welcome_back"),
    path("page/<slug:slug>/", views.page, name="page"),
    path("get-care-now/", views.get_care, name="get_care"),
    path("review/", views.review, name="review"),
    path("submit/", views.submit, name="submit"),
    path("thanks/", views.thanks, name="thanks"),
    path("language/", views.language, name="language"),
    path("staff/two-factor/setup/", staff_views.mfa_setup, name="mfa-setup"),
    path("staff/two-factor/verify/", staff_views.mfa_verify, name="mfa-verify"),
]
