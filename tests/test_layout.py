"""The app's forms are drawn with its own crispy pack whatever the host's default is."""

from __future__ import annotations

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
