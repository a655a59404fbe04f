"""Keep finding 1 from coming back: no template source or markup is built from anything but a
literal, in the app's Python (``template_sources``) and in its templates (``|safe``,
``{% autoescape off %}`` only where listed below, with the reason)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security import template_sources
from tests.security.template_sources import APP, check_source, find_problems

TEMPLATES = APP / "templates"

#: (template, what it switches off) -> why that is safe there. Keep this short.
ALLOWED_UNESCAPED = {
    (
        "twitch_intake/summary/summary.txt",
        "{% autoescape off %}",
    ): "plain text for a chart note, served as text/plain with nosniff: HTML escaping would "
    "corrupt it, and free text in it is quoted (finding 10)",
    (
        "twitch_intake/messages/invitation_email.txt",
        "{% autoescape off %}",
    ): "a plain-text message to the patient (email or text): HTML escaping would corrupt it; "
    "it holds only the clinic's settings, dates and the app's own link, no request data",
    (
        "twitch_intake/messages/invitation_sms.txt",
        "{% autoescape off %}",
    ): "a plain-text message to the patient (email or text): HTML escaping would corrupt it; "
    "it holds only the clinic's settings, dates and the app's own link, no request data",
    (
        "twitch_intake/messages/invitation_subject.txt",
        "{% autoescape off %}",
    ): "a plain-text message to the patient (email or text): HTML escaping would corrupt it; "
    "it holds only the clinic's settings, dates and the app's own link, no request data",
    (
        "twitch_intake/messages/reminder_email.txt",
        "{% autoescape off %}",
    ): "a plain-text message to the patient (email or text): HTML escaping would corrupt it; "
    "it holds only the clinic's settings, dates and the app's own link, no request data",
    (
        "twitch_intake/messages/reminder_sms.txt",
        "{% autoescape off %}",
    ): "a plain-text message to the patient (email or text): HTML escaping would corrupt it; "
    "it holds only the clinic's settings, dates and the app's own link, no request data",
    (
        "twitch_intake/messages/reminder_subject.txt",
        "{% autoescape off %}",
    ): "a plain-text message to the patient (email or text): HTML escaping would corrupt it; "
    "it holds only the clinic's settings, dates and the app's own link, no request data",
}
UNESCAPING = re.compile(r"\|\s*safe(seq)?\b|{%-?\s*autoescape\s+off\s*-?%}")


def test_the_app_builds_no_template_source_from_data():
    assert [str(f) for f in find_problems()] == []


def test_the_command_line_exits_1_with_file_and_line(tmp_path):
    bad = tmp_path / "forms.py"
    bad.write_text(
        "from crispy_forms.layout import HTML\n\ndef f(value):\n    return HTML(value)\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "tests.security.template_sources", str(bad)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert run.returncode == 1
    assert f"{bad}:4: HTML()" in run.stdout
    good = tmp_path / "good.py"
    good.write_text("from crispy_forms.layout import HTML\nLINE = HTML('<hr>')\n")
    assert template_sources.main([str(good)]) == 0
    assert template_sources.main([str(tmp_path / "missing")]) == 2  # a typo never passes


@pytest.mark.parametrize(
    "source",
    [
        "HTML(f'<input value=\"{value}\">')",
        "HTML('<p>' + value + '</p>')",
        "Template(request.POST['t'])",
        "engines['django'].from_string(text)",
        "mark_safe(answer)",
        "SafeString(answer)",
        "format_html(text, 1)",
        "format_html_join(' ', row, rows)",
        "Hidden('state', value)",
        "Submit('go', label)",
        "Button(name='b', value=value)",
        "Reset('r', '{{ x }}' + value)",
        "Raw(value)",
        "HTML(*parts)",
        "HTML(**kwargs)",
        "HTML(SHADOWED)",
        "HTML(LATER)",
    ],
)
def test_a_non_literal_source_is_found(source):
    module = (
        "from crispy_forms.layout import HTML as Raw\n"
        "SHADOWED = '<p>'\n"
        "LATER = '<p>'\n"
        "LATER += data\n"
        "def view(value, SHADOWED):\n"
        f"    return {source}\n"
    )
    assert [f.line for f in check_source(module, Path("m.py"))] == [6]


@pytest.mark.parametrize(
    "source",
    [
        "HTML('<hr>')",
        "HTML('<p>' '</p>')",
        "HTML('<p>' + '</p>')",
        "HTML(CONSTANT)",
        "HTML(html=CONSTANT)",
        "format_html('<b>{}</b>', value)",
        "format_html_join(' ', '<i>{}</i>', rows)",
        "Submit('save', _('Save'))",
        "Hidden('step', 'two')",
        "mark_safe(gettext_lazy('<br>'))",
        "Template(CONSTANT + '<hr>')",
    ],
)
def test_a_literal_source_passes(source):
    module = (
        f"CONSTANT: str = '<p>{{{{ form }}}}</p>'\ndef view(value, rows):\n    return {source}\n"
    )
    assert check_source(module, Path("m.py")) == []


def _unescaping_lines(root: Path) -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in UNESCAPING.finditer(line):
                found.append((path.relative_to(root).as_posix(), number, match.group()))
    return found


def test_templates_switch_escaping_off_only_where_allowed():
    unexplained = [
        f"{TEMPLATES / name}:{number}: {what}"
        for name, number, what in _unescaping_lines(TEMPLATES)
        if (name, what) not in ALLOWED_UNESCAPED
    ]
    assert unexplained == []


def test_the_template_check_sees_safe_and_autoescape(tmp_path):
    (tmp_path / "a.html").write_text("{{ x|safe }}\n{{ y | safeseq }}\n{% autoescape  off %}\n")
    (tmp_path / "b.html").write_text("{{ safe }} {{ unsafe_name }} {% autoescape on %}\n")
    assert [(n, line) for n, line, _ in _unescaping_lines(tmp_path)] == [
        ("a.html", 1),
        ("a.html", 2),
        ("a.html", 3),
    ]


def test_every_allowed_exception_is_still_there():
    """An exception no template needs any more is removed from the list, not left to hide one."""
    used = {(name, what) for name, _, what in _unescaping_lines(TEMPLATES)}
    assert set(ALLOWED_UNESCAPED) <= used
