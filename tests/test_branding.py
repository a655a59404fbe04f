"""A host brands the patient's pages by overriding blocks and colours, not by copying base.html."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

CSS = Path(__file__).resolve().parent.parent / "twitch_intake/static/twitch_intake/intake.css"

OVERRIDE = """{% extends "twitch_intake/base.html" %}
{% block logo %}<img src="/static/clinic/logo.svg" alt="Riverside Neurology">{% endblock %}
{% block extra_css %}<link rel="stylesheet" href="/static/clinic/colours.css">{% endblock %}
{% block footer %}<p>Riverside Neurology, 12 River Street</p>{% endblock %}
"""


@pytest.fixture
def host_override(settings, tmp_path):
    folder = tmp_path / "twitch_intake"
    folder.mkdir()
    (folder / "base.html").write_text(OVERRIDE)
    engine = {**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}
    settings.TEMPLATES = [engine]


def test_a_host_overrides_logo_stylesheet_and_footer_and_keeps_the_emergency_line(host_override):
    html = Client().get("/intake/start/").content.decode()
    assert '<img src="/static/clinic/logo.svg" alt="Riverside Neurology">' in html
    assert html.index("twitch_intake/intake.css") < html.index("/static/clinic/colours.css")
    assert "Riverside Neurology, 12 River Street" in html
    # Never overridden away, and tap-to-call.
    assert 'In an emergency, call <strong><a href="tel:911">911</a></strong>.' in html
    assert "<form" in html  # the page itself is still the app's


def test_without_an_override_the_clinic_name_is_the_logo():
    html = Client().get("/intake/start/").content.decode()
    assert '<span class="intake-clinic">Test Clinic</span>' in html


def test_colours_are_custom_properties_a_host_can_set():
    css = CSS.read_text()
    root = re.search(r":root \{(.*?)\}", css, re.S)
    assert root is not None
    declared = set(re.findall(r"(--ti-[a-z-]+):", root[1]))
    used = set(re.findall(r"var\((--ti-[a-z-]+)\)", css))
    assert {"--ti-primary", "--ti-primary-contrast", "--ti-emergency"} <= declared
    assert used == declared  # each one declared is used, and none used is undeclared
    rules = css[root.end() :]
    # The header band and the get-care page take their colours from the properties only.
    assert re.search(r"\.intake-header \{[^}]*background: var\(--ti-primary\)", rules)
    assert re.search(r"\.get-care \{[^}]*background: var\(--ti-emergency\)", rules)
