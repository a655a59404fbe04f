"""Validators for model fields, so that every form built on the model (the admin's) applies the
questionnaire's character rules without restating them."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import validation


def validate_one_line(value: str) -> None:
    """A name or record number is one line of visible text: a line break or a bidi control in it
    would let it pass for another line of the chart note (see ``validation.character_problem``)."""
    refused = validation.character_problem(value, multiline=False)
    if refused is not None:
        raise ValidationError(
            _(
                "Enter this on one line, without hidden characters such as line breaks or "
                "text-direction marks."
            ),
            code=refused[0],
        )
