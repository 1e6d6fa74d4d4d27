# Opsdesk: `make run` starts everything on one machine; `make test` runs the whole suite.
SHELL := /bin/bash
PY := .venv/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
LLM_DEV_PORT ?= 8001
export LLM_DEV_PORT
export OPSDESK_CACHE ?= $(HOME)/.cache/opsdesk

# The test environment (real PostgreSQL, Redis, slapd, vLLM) is in deploy/dev/test.env.
WITH_TEST_ENV := set -a && . deploy/dev/test.env && set +a &&
# The `make run` set (SQLite, no Redis), for the tests marked both_engines.
WITH_EMBEDDED_ENV := set -a && . deploy/dev/test.env && . deploy/dev/test-embedded.env && set +a &&

.PHONY: run test venv system-packages llm llm-stop lint messages static migrate test-db

venv:
	@bash deploy/dev/venv.sh

# Debian packages: python-ldap's build headers, slapd for the tests, Chromium for browser
# tests, gettext for translations, an English-Russian dictionary for Russian
# questions over English pages. Installed only when missing.
system-packages:
	@bash deploy/dev/system-packages.sh

messages: venv
	@$(PY) manage.py compilemessages -v0 --ignore '.venv/*'

static: venv
	@$(PY) manage.py collectstatic --noinput -v0

migrate: venv
	@$(PY) manage.py migrate --noinput -v0

llm:
	@bash deploy/dev/llm.sh start

llm-stop:
	@bash deploy/dev/llm.sh stop

# The steps after the environment is built are in deploy/dev/run.sh, which the newcomer test
# (deploy/tests/test_newcomer.py) runs too.
run: system-packages venv
	@PORT=$(PORT) HOST=$(HOST) bash deploy/dev/run.sh

# The test settings point at database "opsdesk" (opsdesk_N for OPSDESK_TEST_SLOT=N); pytest
# makes its own test_ database beside it, and `makemigrations --check` reads the migration
# history from it.
test-db:
	@$(WITH_TEST_ENV) psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$$OPSDESK_TEST_DB'" | grep -q 1 \
		|| ($(WITH_TEST_ENV) createdb -h 127.0.0.1 -U postgres "$$OPSDESK_TEST_DB")

lint: venv test-db
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .
	@# Every translation keeps its source's placeholders, plural forms included.
	for po in locale/*/LC_MESSAGES/*.po; do msgfmt --check-format --check-domain -o /dev/null "$$po" || exit 1; done
	$(WITH_TEST_ENV) $(PY) manage.py check
	$(WITH_TEST_ENV) $(PY) manage.py makemigrations --check --dry-run

test: system-packages venv messages llm lint
	$(WITH_TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)
	@# The tests marked both_engines once more, on the `make run` set; exit 5 means that
	@# PYTEST_ARGS selected none of them.
	$(WITH_EMBEDDED_ENV) $(PY) -m pytest -m both_engines $(PYTEST_ARGS) || [ $$? = 5 ]
