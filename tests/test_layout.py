"""The app's forms are drawn with its own crispy pack whatever the host's default is."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template

from twitch_intake import forms, questionnaire
from twitch_intake.layout import TEMPLATE_PACK


@pytest.fixture
def host_on_bootstrap4(settings):
    # A host whose own forms use Bootstrap 4: its pack is not even installed here, so a form
    # that followed the host's default would fail to find its templates.
    settings.CRISPY_TEMPLATE_PACK = "bootstrap4"
    settings.CRISPY_ALLOWED_TEMPLATE_PACKS = ("bootstrap4", "bootstrap5")


def every_form():
    for page in questionnaire.TWITCH_INTAKE.pages():
        yield forms.form_class(page)()
    yield forms.ConfirmBirthDateForm()
    yield forms.SelfStartForm()


def test_every_form_names_the_apps_pack():
    for form in every_form():
        assert form.helper.template_pack == TEMPLATE_PACK == "bootstrap5", type(form)


def test_forms_render_with_bootstrap5_on_a_host_that_uses_another_pack(host_on_bootstrap4):
    template = Template("{% load crispy_forms_tags %}{% crispy form %}")
    for form in every_form():
        html = template.render(Context({"form": form}))
        assert "form-control" in html or "form-check-input" in html, type(form)


def _draw(form, language="en"):
    from django.utils import translation

    with translation.override(language):
        return Template("{% load crispy_forms_tags %}{% crispy form %}").render(
            Context({"form": form})
        )


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_blank_form_is_drawn_once_and_then_handed_out_as_drawn(language):
    from django.test.signals import template_rendered

    from twitch_intake import layout

    def fields_drawn(form):
        drawn: list[str] = []

        def record(sender, template, **kwargs):
            drawn.append(template.name)

        template_rendered.connect(record)  # the test run instruments templates
        try:
            html = _draw(form, language)
        finally:
            template_rendered.disconnect(record)
        return html, [name for name in drawn if name and "field" in name]

    layout._BLANK.clear()
    for form in every_form():
        first, drawn = fields_drawn(form)
        assert drawn, type(form)  # a question's own template, the first time
        again, drawn = fields_drawn(type(form)())
        assert again == first, type(form)
        assert not drawn, (type(form), drawn)  # only crispy's thin wrapper, the second time


def test_the_kept_html_is_that_of_a_fresh_drawing_in_each_language(settings):
    from twitch_intake import layout

    layout._BLANK.clear()
    for language in ("en", "es", "en"):
        for form in every_form():
            kept = _draw(form, language)
            settings.DEBUG = True  # nothing kept: drawn afresh, by crispy's own wrapper
            stock = type(form)()
            stock.helper.template = None
            fresh = _draw(stock, language)
            settings.DEBUG = False
            assert kept == fresh, (type(form), language)


def test_a_form_with_an_answer_is_drawn_afresh_and_shows_it():
    from twitch_intake import layout

    layout._BLANK.clear()
    page = questionnaire.TWITCH_INTAKE.page("history")
    Form = forms.form_class(page)
    blank = _draw(Form())
    answered = _draw(Form(initial={"duration": "weeks"}))
    assert answered != blank
    assert re.search(r'value="weeks"[^>]*checked', answered)
    assert _draw(Form()) == blank  # and the blank one is still blank
    bound = _draw(Form({"duration": "nonsense"}))
    assert bound != blank and len(layout._BLANK) == 1  # neither the answer nor the post kept


def test_a_prefix_or_other_ids_get_a_drawing_of_their_own():
    from twitch_intake import layout

    layout._BLANK.clear()
    Form = forms.form_class(questionnaire.TWITCH_INTAKE.page("history"))
    plain = _draw(Form())
    prefixed = _draw(Form(prefix="other"))
    assert 'name="other-duration"' in prefixed and 'name="duration"' in plain
    assert _draw(Form(auto_id="x_%s")) != plain
