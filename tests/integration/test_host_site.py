"""The README's install instructions, applied verbatim to a fresh ``startproject`` site.

Builds the sdist and wheel once (``python -m build``, checked with ``twine check --strict``),
installs the wheel into a new virtualenv with the Django this run uses (so ``.ci/run`` runs it
on 5.2 and on the newest 6.x), makes a site with ``django-admin startproject``, appends the
README's blocks marked ``host-site-test`` to its ``settings.py`` and ``urls.py``, runs the
README's commands (``check``, ``migrate``) on a PostgreSQL database of its own on the
``DATABASE_URL`` server, and drives one intake through with ``drive_intake.py`` in that venv.

What the test adds to the site is only what a host already has: a database, its own page with
an inline script, and DEBUG off. pip's cache makes the second run quick.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import uuid
import zipfile
from pathlib import Path

import dj_database_url
import django
import psycopg
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("drive_intake.py")
MARKED = re.compile(r"<!-- host-site-test: (?P<target>\S+) -->\s*```\w*\n(?P<code>.*?)```", re.S)
HOST_PAGE = "/host-page/"
INLINE_SCRIPT = "<script>document.title = 'the host page ran its inline script';</script>"
#: What the test site has before the README's blocks: a host site's own page, and no DEBUG.
HOST_URLS = f"""
from django.http import HttpResponse


def host_page(request):
    return HttpResponse("<!doctype html><title>Host</title>{INLINE_SCRIPT}")


urlpatterns += [path("{HOST_PAGE.strip("/")}/", host_page)]
"""


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
    )
    return result


def readme_blocks() -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    for match in MARKED.finditer((ROOT / "README.md").read_text()):
        blocks.setdefault(match["target"], []).append(match["code"])
    return blocks


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)])
    return out


@pytest.fixture(scope="session")
def wheel(dist) -> Path:
    (found,) = dist.glob("twitch_intake-*.whl")
    return found


@pytest.fixture
def database():
    """A database of its own on the run's server, dropped afterwards."""
    url = os.environ["DATABASE_URL"]
    name = f"twitch_host_{uuid.uuid4().hex[:10]}"
    admin = dj_database_url.parse(url)
    conninfo = psycopg.conninfo.make_conninfo(
        dbname=admin["NAME"] or "postgres",
        user=admin["USER"] or None,
        password=admin["PASSWORD"] or None,
        host=admin["HOST"] or None,
        port=admin["PORT"] or None,
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield {**admin, "NAME": name}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_readme_marks_the_blocks_the_test_applies():
    blocks = readme_blocks()
    assert set(blocks) == {"settings.py", "urls.py", "commands"}
    assert "from django.urls import include" in blocks["urls.py"][0]
    settings_block = blocks["settings.py"][0]
    # Every snippet adds to the host's settings; none assigns a list or dict of the host's anew.
    for name in ("INSTALLED_APPS", "MIDDLEWARE"):
        assert not re.search(rf"^{name} = ", settings_block, re.M), name
    assert "SESSION_COOKIE_AGE" not in settings_block and "CACHES" not in settings_block


def test_the_distributions_are_ready_for_pypi(dist):
    run([sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())])
    (sdist,) = dist.glob("twitch_intake-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {Path(n).name for n in archive.getnames() if n.count("/") == 1}
    assert {"LICENSE", "CHANGELOG.md", "README.pypi.md", "pyproject.toml"} <= names
    (wheel,) = dist.glob("twitch_intake-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(
            next(n for n in archive.namelist() if n.endswith("METADATA"))
        ).decode()
        assert any(n.endswith("licenses/LICENSE") for n in archive.namelist())
    assert "License-Expression: MIT" in metadata
    assert "Requires-Dist: dj-database-url" not in metadata  # only the demo and tests use it
    assert "Requires-Dist: psycopg>=" in metadata
    assert "Requires-Dist: psycopg[binary]" in metadata and 'extra == "binary"' in metadata
    description = metadata.split("\n\n", 1)[1]
    links = re.findall(r"\]\(([^)]+)\)", description)
    assert links and all(link.startswith("https://") for link in links), links


def test_a_startproject_site_that_follows_the_readme_runs_an_intake(tmp_path, wheel, database):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"{wheel}[binary]",
            f"Django=={django.get_version()}",  # the Django this run is testing
        ]
    )
    site = tmp_path / "site"
    site.mkdir()
    run([str(venv / "bin" / "django-admin"), "startproject", "hostsite", str(site)])

    blocks = readme_blocks()
    settings_py = site / "hostsite" / "settings.py"
    host = f"\nDEBUG = False\nALLOWED_HOSTS = ['testserver']\nDATABASES = {{'default': {database!r}}}\n"
    settings_py.write_text(settings_py.read_text() + host + "\n".join(blocks["settings.py"]))
    urls_py = site / "hostsite" / "urls.py"
    urls_py.write_text(urls_py.read_text() + "\n".join(blocks["urls.py"]) + HOST_URLS)

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hostsite.settings",
        "HOST_PAGE": HOST_PAGE,
        "INLINE_SCRIPT": INLINE_SCRIPT,
        "PYTHONPATH": str(site),
    }
    env.pop("DATABASE_URL")  # the site has its own DATABASES, as a host would
    for line in "\n".join(blocks["commands"]).splitlines():
        if line.strip():
            command = line.split()
            assert command[:2] == ["python", "manage.py"], line
            run([str(python), "manage.py", *command[2:]], cwd=site, env=env)

    result = run([str(python), str(DRIVER)], cwd=site, env=env)
    print(result.stdout)
    assert "host site: every step passed" in result.stdout
