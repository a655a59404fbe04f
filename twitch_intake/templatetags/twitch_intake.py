"""Template helpers for the intake pages."""

from __future__ import annotations

from typing import Any, cast

from django import template
from django.forms import BoundField, ChoiceField

register = template.Library()


@register.simple_tag
def choice_options(field: BoundField) -> list[dict[str, Any]]:
    """The options of a radio or checkbox group as plain values, ticked where chosen.

    Rendering each option through Django's widget templates was most of a page's cost
    (see the benchmarks); one loop in the field's own template gives the same markup.
    """
    value = field.value()
    chosen = {str(v) for v in value} if isinstance(value, list | tuple) else {str(value)}
    base = field.auto_id
    # Only the choices template calls this, for the choice questions forms.py builds: a
    # ChoiceField given a list of (code, label) pairs, which Django keeps as such a list
    # (django-stubs types the getter as everything the setter accepts).
    choices = cast("list[tuple[str, Any]]", cast(ChoiceField, field.field).choices)
    # The answers that cannot be ticked with others ("None of these"), marked for intake.js.
    exclusive: frozenset[str] = getattr(field.field, "exclusive", frozenset())
    return [
        {
            "value": code,
            "label": label,
            "id": f"{base}_{index}",
            "checked": str(code) in chosen,
            "exclusive": code in exclusive,
        }
        for index, (code, label) in enumerate(choices)
    ]
