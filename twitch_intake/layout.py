"""The crispy-forms helper the app's forms use: always the app's own template pack.

A host site may draw its own forms with another pack (``CRISPY_TEMPLATE_PACK = "bootstrap4"``);
the intake's pages are built for Bootstrap 5 and the app's static files, so its forms name
their pack themselves instead of following the host's default. The host only has to allow it
(``CRISPY_ALLOWED_TEMPLATE_PACKS``, system check ``twitch_intake.E023``).

A blank form is drawn once. Drawing a page's questions is most of the CPU a patient's request
costs (a template per question, a loop per option, every label translated), and most pages are
first shown blank, so the helper keeps the HTML of each form drawn with nothing in it, per form
(its class and its page), language and pack, and hands it out again. "Blank" is strict: not
bound to a POST, no errors, and no visible field with a value; hidden fields (the show-when
state) are part of the key. So what is kept holds no patient's answer, only the questionnaire's
words, and a page drawn with any answer in it is drawn afresh. The helper's template
(``twitch_intake/_crispy_form.html``) hands out the whole drawing of a blank form, crispy's own
wrapper included (drawn once too); any other form goes through crispy's wrapper as before. In ``DEBUG`` nothing is kept,
so an edited template shows at once.
"""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper as CrispyFormHelper
from django.conf import settings
from django.template.loader import get_template
from django.utils.translation import get_language

TEMPLATE_PACK = "bootstrap5"

#: The HTML of each blank form, by :func:`blank_key`, with the page it was drawn for (kept
#: alive, so that no other page can take its ``id()``). Bounded by the forms of the code (pages
#: times languages times packs), never by the patients.
_BLANK: dict[tuple[Any, ...], tuple[Any, Any, str]] = {}

_EMPTY: tuple[Any, ...] = (None, "", (), [])


def blank_key(form: Any, template_pack: str, helper: Any = None) -> tuple[Any, ...] | None:
    """The key a blank ``form``'s HTML is kept under; ``None`` when it is not blank.

    Besides the form and the language, everything of the form and its helper that changes
    the HTML drawn: its prefix and ids, and how the helper draws labels and fields.
    """
    if settings.DEBUG or form.is_bound:
        return None
    hidden = []
    for name, field in form.fields.items():
        value = form.get_initial_for_field(field, name)
        if field.widget.is_hidden:
            hidden.append((name, str(value)))
        elif value not in _EMPTY:
            return None
    # A form whose fields are made per page (the get-care form) keeps one entry per page.
    page = getattr(form, "page", None)
    drawing = (
        form.prefix,
        form.auto_id,
        form.label_suffix,
        form.use_required_attribute,
        *(
            (
                helper.field_template,
                helper.label_class,
                helper.field_class,
                helper.form_show_labels,
                helper.form_show_errors,
            )
            if helper is not None
            else ()
        ),
    )
    return (type(form), id(page), get_language(), template_pack, tuple(hidden), drawing)


class FormHelper(CrispyFormHelper):  # type: ignore[misc]
    template_pack = TEMPLATE_PACK
    #: crispy's own wrapper (``bootstrap5/whole_uni_form.html``), except for a blank form,
    #: whose whole drawing, wrapper included, is kept (``form.blank_html``).
    template = "twitch_intake/_crispy_form.html"

    def render_layout(self, form: Any, context: Any, template_pack: str = TEMPLATE_PACK) -> Any:
        key = blank_key(form, template_pack, self)
        form.blank_html = None
        if key is None:
            return super().render_layout(form, context, template_pack=template_pack)
        page = getattr(form, "page", None)
        kept: tuple[Any, Any, str] | None = _BLANK.get(key)
        if kept is None or kept[0] is not page:
            html = super().render_layout(form, context, template_pack=template_pack)
            # And the whole drawing, by crispy's own wrapper, as its tag would make it.
            form.form_html = html
            whole = get_template(f"{template_pack}/whole_uni_form.html").render(
                {**context.flatten(), "form": form}
            )
            kept = _BLANK[key] = (page, html, whole)
        form.blank_html = kept[2]
        return kept[1]
