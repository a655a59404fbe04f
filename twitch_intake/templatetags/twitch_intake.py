"""Template helpers for the intake pages."""

from __future__ import annotations

from typing import Any, cast

from django import template
from django.forms import (
    BoundField,
    CheckboxSelectMultiple,
    ChoiceField,
    MultiWidget,
    RadioSelect,
)

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


def _described_by(field: BoundField) -> str:
    """The ids that describe a question: its hint, then its error message (GOV.UK's order)."""
    ids = []
    if field.help_text:
        ids.append(f"{field.auto_id}_helptext")
    if field.errors:
        ids.append(f"{field.auto_id}_error")
    return " ".join(ids)


@register.simple_tag
def described_by(field: BoundField) -> str:
    return _described_by(field)


@register.simple_tag
def text_input(field: BoundField) -> str:
    """A text box drawn by its widget, told which hint and error describe it.

    No red class on the box: the question's group carries the error's mark (intake.css).
    """
    attrs: dict[str, str | bool] = {"class": "form-control"}
    described = _described_by(field)
    if described:
        attrs["aria-describedby"] = described
    return field.as_widget(attrs=attrs)


@register.filter
def error_target(field: BoundField) -> str:
    """The id an error summary's link goes to: the field's own input, and for a group of
    radios, checkboxes or boxes (a fieldset) its first one, as GOV.UK's error summary does."""
    widget = field.field.widget
    if isinstance(widget, MultiWidget | CheckboxSelectMultiple | RadioSelect):
        return f"{field.auto_id}_0"
    return str(field.auto_id)
