# The two commands a newcomer needs: `make demo` and `make test`. Each builds what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Pin another Django for one run, e.g. make test VENV=.venv-dj52 DJANGO="Django>=5.2,<5.3"
DJANGO ?=
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Coverage of twitch_intake on every run; its floor (pyproject.toml) applies to the whole suite only.
COV ?= --cov --cov-report=term:skip-covered $(if $(PYTEST_ARGS),--cov-fail-under=0)
HOST ?= 127.0.0.1
PORT ?= 8000

# DATABASE_URL when set, otherwise the embedded PostgreSQL (started or reused).
DB_URL = if [ -n "$${DATABASE_URL:-}" ]; then echo "$$DATABASE_URL"; else $(PY) -m clinic.devdb; fi

.PHONY: demo test test-integration manage bench load screenshots lint browser db-stop messages clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
	@$(PY) -m pip install --quiet --disable-pip-version-check -e . --group dev $(if $(DJANGO),"$(DJANGO)")
	@$(PY) -c "import django; print('installed: Django', django.get_version(), 'in $(VENV)')"
	@touch $@

demo: $(STAMP)
	@url=$$($(DB_URL)) || exit 1; \
	export DATABASE_URL="$$url" DJANGO_DEBUG=1; \
	$(PY) manage.py migrate --noinput -v 0 && \
	$(PY) manage.py createcachetable && \
	$(PY) manage.py loaddata -v 0 fixtures/demo.json || exit 1; \
	$(PY) manage.py procrastinate worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; trap 'exit 130' INT TERM; \
	$(PY) -m clinic.demo --host $(HOST) --port $(PORT) && \
	$(PY) manage.py runserver --noreload $(HOST):$(PORT)

browser:
	@$(PY) -m tests.browser_setup

test: $(STAMP) browser
	@url=$$($(DB_URL)) || exit 1; \
	DATABASE_URL="$$url" $(PY) -m pytest $(COV) $(PYTEST_ARGS)

# The host-site integration test alone (a wheel, a fresh venv, a startproject site); .ci/run runs
# it on Django 5.2 and the newest 6.x. e.g. make test-integration DJANGO="Django>=6.1,<6.2"
test-integration: $(STAMP)
	@url=$$($(DB_URL)) || exit 1; \
	DATABASE_URL="$$url" $(PY) -m pytest tests/integration -m integration -p no:cacheprovider

# Any manage.py command against the same database as demo, e.g. make manage ARGS="createsuperuser"
manage: $(STAMP)
	@url=$$($(DB_URL)) || exit 1; \
	export DATABASE_URL="$$url" DJANGO_DEBUG=1; \
	$(PY) manage.py migrate --noinput -v 0 && $(PY) manage.py $(ARGS)

bench: $(STAMP)
	@url=$$($(DB_URL)) || exit 1; \
	DATABASE_URL="$$url" $(PY) -m benchmarks.run

load: $(STAMP)
	@url=$$($(DB_URL)) || exit 1; \
	DATABASE_URL="$$url" $(PY) -m benchmarks.load

screenshots: $(STAMP) browser
	@url=$$($(DB_URL)) || exit 1; \
	DATABASE_URL="$$url" TWITCH_SCREENSHOTS=docs/screenshots $(PY) -m pytest tests/browser -k screenshots

lint: $(STAMP)
	@$(VENV)/bin/ruff check .

messages: $(STAMP)
	@cd twitch_intake && DJANGO_SETTINGS_MODULE=tests.settings DATABASE_URL=postgres://unused/unused \
		../$(PY) ../manage.py makemessages -l es --no-obsolete && msgfmt --check -o locale/es/LC_MESSAGES/django.mo locale/es/LC_MESSAGES/django.po

db-stop:
	@test ! -x $(PY) || $(PY) -m clinic.devdb stop

# Never deletes the data of a server that is still running (db-stop failed, or no venv to stop it).
clean: db-stop
	@if [ -f .pgdata/postmaster.pid ] && kill -0 "$$(head -n 1 .pgdata/postmaster.pid)" 2>/dev/null; then \
		echo "make clean: the embedded PostgreSQL still runs on .pgdata (pid $$(head -n 1 .pgdata/postmaster.pid)); not deleting its data" >&2; \
		exit 1; \
	fi
	rm -rf $(VENV) .pgdata .pgdata.secret
