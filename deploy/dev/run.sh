#!/usr/bin/env bash
# Start Opsdesk on this machine: what `make run` does once the environment is built (Debian
# packages, the portal venv). The newcomer test (deploy/tests/test_newcomer.py) starts the
# portal through this same script, so the two cannot drift apart.
#
# Environment: PORT (8000), HOST (127.0.0.1), OPSDESK_VAR (<repo>/var), LLM_DEV_PORT (8001),
# and any portal setting (docs/configuration.md). Without DATABASE_URL, REDIS_URL and
# QDRANT_URL this is the embedded set: a SQLite file, the in-memory channel layer, tasks run
# in the portal process, Qdrant on disk under OPSDESK_VAR. Without LLM_BACKENDS, the dev
# model server serves both tiers, with no spare replica expected (CAPACITY_HA_SPARES=0).
#
# Output is the portal's log, on the terminal: Ctrl-C stops the portal (the model server
# keeps running; `make llm-stop` stops it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

PY=.venv/bin/python
PORT="${PORT:-8000}"
HOST="${HOST:-127.0.0.1}"
LLM_DEV_PORT="${LLM_DEV_PORT:-8001}"
export LLM_DEV_PORT
VAR="${OPSDESK_VAR:-$PWD/var}"
dev_llm="http://127.0.0.1:$LLM_DEV_PORT/v1"
# gemma-3-270m is a base model (asked in plain completion style, not chat) and a development
# model: every answer's footer says so.
dev_model='"model":"gemma-3-270m","base_model":true,"development":true'
dev_backends='[{"name":"dev-fast","url":"'$dev_llm'",'$dev_model',"tier":"fast"},'
dev_backends+='{"name":"dev-heavy","url":"'$dev_llm'",'$dev_model',"tier":"heavy"}]'
export LLM_BACKENDS="${LLM_BACKENDS:-$dev_backends}"
# One dev model server has no spare replica to keep: the Cluster page's N+1 check applies
# to real clusters (set CAPACITY_HA_SPARES there, default 1).
export CAPACITY_HA_SPARES="${CAPACITY_HA_SPARES:-0}"
# The dev model on a CPU reads a fresh prompt at ~20 tokens/s: a grounded answer's prompt of
# 2,000-3,000 tokens stays silent for 100-150 s before its first token, past the production
# 60 s that would end it as "timed out".
export LLM_READ_TIMEOUT="${LLM_READ_TIMEOUT:-240}"

"$PY" manage.py compilemessages -v0 --ignore '.venv/*'
"$PY" manage.py collectstatic --noinput -v0
"$PY" manage.py migrate --noinput -v0
"$PY" manage.py ensure_admin
mkdir -p "$VAR/log"
# The model server takes a minute or more to come up; the portal starts meanwhile and shows
# the backend as not ready until it answers.
nohup bash deploy/dev/llm.sh start > "$VAR/log/llm-start.log" 2>&1 &
"$PY" manage.py demo_knowledge
# Separate Celery workers need Redis and a Qdrant server; with embedded Qdrant (one process
# only) the portal runs index jobs itself.
if [[ -n "${REDIS_URL:-}" && -n "${QDRANT_URL:-}" ]]; then
    nohup "$PY" -m celery -A portal worker -l warning > "$VAR/log/celery.log" 2>&1 &
    echo "Celery worker started (log: $VAR/log/celery.log)"
fi
echo "Opsdesk on http://$HOST:$PORT/  (Ctrl-C stops the portal; 'make llm-stop' stops the model server)"
exec "$PY" -m uvicorn portal.asgi:application --host "$HOST" --port "$PORT" \
    --ws websockets-sansio --no-proxy-headers --log-level warning
