from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TwitchIntakeConfig(AppConfig):
    name = "twitch_intake"
    verbose_name = _("Twitching intake")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, logs  # noqa: F401  (importing checks registers them)

        logs.install()  # no link token or searched patient in the request loggers' lines
