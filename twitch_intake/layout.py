"""The crispy-forms helper the app's forms use: always the app's own template pack.

A host site may draw its own forms with another pack (``CRISPY_TEMPLATE_PACK = "bootstrap4"``);
the intake's pages are built for Bootstrap 5 and the app's static files, so its forms name
their pack themselves instead of following the host's default. The host only has to allow it
(``CRISPY_ALLOWED_TEMPLATE_PACKS``, system check ``twitch_intake.E023``).
"""

from __future__ import annotations

from crispy_forms.helper import FormHelper as CrispyFormHelper

TEMPLATE_PACK = "bootstrap5"


class FormHelper(CrispyFormHelper):  # type: ignore[misc]
    template_pack = TEMPLATE_PACK
