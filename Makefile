# Opsdesk: `make run` starts everything on one machine; `make test` runs the whole suite.
SHELL := /bin/bash
PY := .venv/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
LLM_DEV_PORT ?= 8001
export LLM_DEV_PORT
export OPSDESK_CACHE ?= $(HOME)/.cache/opsdesk

# The dev LLM serves both tiers on a laptop; production lists real fast and heavy replicas.
DEV_LLM_BACKENDS := [{"name":"dev-fast","url":"http://127.0.0.1:$(LLM_DEV_PORT)/v1","model":"gemma-3-270m","tier":"fast"},{"name":"dev-heavy","url":"http://127.0.0.1:$(LLM_DEV_PORT)/v1","model":"gemma-3-270m","tier":"heavy"}]

# The test environment (real PostgreSQL, Redis, slapd, vLLM) is in deploy/dev/test.env.
WITH_TEST_ENV := set -a && . deploy/dev/test.env && set +a &&

.PHONY: run test venv system-packages llm llm-stop lint messages static migrate test-db

venv:
	@bash deploy/dev/venv.sh

# Debian packages: python-ldap's build headers, slapd for the tests, Chromium for browser
# tests, gettext for translations. Installed only when missing.
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

run: system-packages venv messages static migrate
	@$(PY) manage.py ensure_admin
	@mkdir -p var/log
	@# The model server takes a minute or more to come up; the portal starts meanwhile and
	@# shows the backend as not ready until it answers.
	@nohup bash deploy/dev/llm.sh start > var/log/llm-start.log 2>&1 &
	@LLM_BACKENDS='$(DEV_LLM_BACKENDS)' $(PY) manage.py demo_knowledge
	@# Separate Celery workers need Redis and a Qdrant server; with local-mode Qdrant (one
	@# process only) the portal runs index jobs itself.
	@if [ -n "$$REDIS_URL" ] && [ -n "$$QDRANT_URL" ]; then \
		nohup $(PY) -m celery -A portal worker -l warning > var/log/celery.log 2>&1 & \
		echo "Celery worker started (log: var/log/celery.log)"; fi
	@echo "Opsdesk on http://$(HOST):$(PORT)/  (Ctrl-C stops the portal; 'make llm-stop' stops the model server)"
	LLM_BACKENDS='$(DEV_LLM_BACKENDS)' $(PY) -m uvicorn portal.asgi:application --host $(HOST) --port $(PORT) --ws websockets-sansio --log-level warning

# The test settings point at database "opsdesk"; pytest makes its own test_opsdesk beside it,
# and `makemigrations --check` reads the migration history from it.
test-db:
	@psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'opsdesk'" | grep -q 1 \
		|| createdb -h 127.0.0.1 -U postgres opsdesk

lint: venv test-db
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .
	$(WITH_TEST_ENV) $(PY) manage.py check
	$(WITH_TEST_ENV) $(PY) manage.py makemigrations --check --dry-run

test: system-packages venv messages llm lint
	$(WITH_TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)
