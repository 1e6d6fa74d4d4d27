"""Opsdesk settings: one module, read from the environment only.

Every variable is documented in docs/configuration.md. Defaults run the embedded
single-machine setup (SQLite, local Qdrant, in-memory channel layer); production sets
DATABASE_URL, REDIS_URL, QDRANT_URL, LLM_BACKENDS and the LDAP variables.
"""

from __future__ import annotations

import contextlib
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from common import database
from common.env import (
    env_bool,
    env_float,
    env_int,
    env_json,
    env_list,
    env_networks,
    env_paths,
    env_secret,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("OPSDESK_VAR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)
# var/ holds the secret key and the SQLite database: only the portal's own user may enter it
# (the scenario checkers run as another user; apps/scenarios/engine/runner.py). A mounted
# volume owned by someone else keeps its mode.
with contextlib.suppress(PermissionError):
    VAR_DIR.chmod(0o700)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_secret("SECRET_KEY")
    if key:
        return key
    # A local run gets a key generated once and kept in var/ (never committed), so sessions
    # survive restarts without anyone having to invent a secret.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Reverse proxies (addresses or networks) whose X-Forwarded-For and X-Forwarded-Proto are
# believed (common/proxies.py); from anyone else those headers are dropped. Empty: none.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES", [])
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
)
if SECURE_PROXY_SSL_HEADER and not TRUSTED_PROXIES:
    raise ImproperlyConfigured(
        "BEHIND_TLS_PROXY needs TRUSTED_PROXIES: the addresses of the proxies whose "
        "X-Forwarded-Proto may be believed"
    )
# /metrics: served only to these networks and/or with this bearer token (each enforced when
# set); both empty, it is open like a plain Prometheus target (keep it off public listeners).
METRICS_ALLOWED_NETWORKS = env_networks("METRICS_ALLOWED_NETWORKS", [])
METRICS_TOKEN = env_secret("METRICS_TOKEN")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=60)

# Content-Security-Policy (Django's own middleware): scripts only from this origin or with
# the per-response nonce, so injected markup cannot run script (no inline handlers, no
# eval, no foreign origin). Style attributes stay allowed: progress bars set their width in
# the markup, and an attribute cannot run script; <style> elements need the nonce too.
# Websockets are same-origin ('self' covers ws:/wss: in CSP 3 browsers).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "script-src-attr": [CSP.NONE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "style-src-attr": [CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "channels",
    "django_htmx",
    "axes",
    "apps.accounts",
    "apps.inference",
    "apps.knowledge",
    "apps.chat",
    "apps.openai_api",
    "apps.scenarios",
    "apps.capacity",
]

MIDDLEWARE = [
    "common.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Serves /static/ from the ASGI process, so one command runs the whole portal.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.locale.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    # A scenario page's form over DATA_UPLOAD_MAX_MEMORY_SIZE gets the page and the limit,
    # not the bare 400 the CSRF check's read of the body would end in.
    "apps.scenarios.views.TooLargeInputMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.accounts.context.portal",
            ],
        },
    }
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'opsdesk.sqlite3'}")
try:
    _database = dict(dj_database_url.parse(DATABASE_URL, conn_max_age=0))
except Exception as exc:  # dj_database_url raises several types for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
# SQLite (the `make run` default) gets its concurrency settings: see common/database.py.
DATABASES = {"default": database.configure(_database, str(VAR_DIR))}
# PostgreSQL connections one portal process may have open at once, and how long a request
# waits for one when all are busy (portal/pgbounded). Pods x this stays under max_connections.
DATABASE_MAX_CONNECTIONS = env_int("DATABASE_MAX_CONNECTIONS", 20, minimum=2)
DATABASE_CONNECTION_WAIT = env_float("DATABASE_CONNECTION_WAIT", 10.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, Celery broker, shared cache ---------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.backoff import ExponentialWithJitterBackoff
    from redis.retry import Retry

    # A lost connection is retried twice within a few tenths of a second, not redis-py's
    # default three times over up to 14 s: while Redis is down (restarted, failing over)
    # callers fall back at once (common/layers.py, apps/inference/limits.py and state.py).
    REDIS_BACKOFF = ExponentialWithJitterBackoff(base=0.05, cap=0.2)
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "common.layers.ResilientRedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "retry": AsyncRetry(REDIS_BACKOFF, 2)}],
                "capacity": 5000,
                "expiry": 60,
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_PREFIX", "opsdesk"),
            "OPTIONS": {
                "socket_connect_timeout": 2,
                "socket_timeout": 2,
                "retry": Retry(REDIS_BACKOFF, 2),
            },
        }
    }
else:
    # One process only: fine for a laptop, and the reason production must set REDIS_URL.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL or env_bool("CELERY_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
# A pool process killed mid-task (OOM) gives its task back at once; tasks are idempotent.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 5
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- vectors ---------------------------------------------------------------------------------
QDRANT_URL = env_str("QDRANT_URL")
QDRANT_API_KEY = env_secret("QDRANT_API_KEY")
QDRANT_PATH = env_str("QDRANT_PATH", str(VAR_DIR / "qdrant"))
# Embedded engine at QDRANT_PATH: "local" (qdrant-client's local mode) or "edge" (Qdrant Edge,
# the Rust engine in-process: fast past ~10k chunks). Ignored when QDRANT_URL is set.
QDRANT_ENGINE = env_str("QDRANT_ENGINE", "edge")
if QDRANT_ENGINE not in ("local", "edge"):
    raise ImproperlyConfigured("QDRANT_ENGINE must be local or edge")
QDRANT_COLLECTION = env_str("QDRANT_COLLECTION", "opsdesk")
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL", "")  # empty: the packaged all-MiniLM-L6-v2
# With EMBEDDING_MODEL=all-minilm-l6-v2+use-multilingual-v3: MiniLM's share (0..1) of an
# English and of a Russian question's vector, the multilingual model having the rest
# (docs/benchmarks.md, "Each language to its model").
EMBEDDING_MINILM_SHARE_EN = env_float("EMBEDDING_MINILM_SHARE_EN", 1.0)
EMBEDDING_MINILM_SHARE_RU = env_float("EMBEDDING_MINILM_SHARE_RU", 0.5)
if not (0 <= EMBEDDING_MINILM_SHARE_EN <= 1 and 0 <= EMBEDDING_MINILM_SHARE_RU <= 1):
    raise ImproperlyConfigured("EMBEDDING_MINILM_SHARE_EN and _RU must be between 0 and 1")
RERANKER_MODEL = env_str("RERANKER_MODEL", "")  # empty: no cross-encoder reranking
KNOWLEDGE_SECRET_KEY = env_secret("KNOWLEDGE_SECRET_KEY")
KNOWLEDGE_MAX_FILE_MB = env_int("KNOWLEDGE_MAX_FILE_MB", 50, minimum=1)
# An uploaded chat export (zip or .jsonl) is read up to this many megabytes inflated.
KNOWLEDGE_MAX_ARCHIVE_MB = env_int("KNOWLEDGE_MAX_ARCHIVE_MB", 1024, minimum=1)
# torch | onnx | onnx-int8 (an ONNX export of the same model, made once under var/models/)
EMBEDDING_BACKEND = env_str("EMBEDDING_BACKEND", "onnx-int8")
if EMBEDDING_BACKEND not in ("torch", "onnx", "onnx-int8"):
    raise ImproperlyConfigured("EMBEDDING_BACKEND must be torch, onnx or onnx-int8")
# The relevance gate: below these the search page says nothing relevant was found and no
# grounded answer calls the model. Russian questions have their own threshold (calibrated on
# bench/eval/blind.jsonl with the default model; apps/knowledge/search/answering.py).
# Russian question words matched to the knowledge base's English words by the packaged
# multilingual model (apps/knowledge/search/crosslingual.py).
KNOWLEDGE_CROSSLINGUAL = env_bool("KNOWLEDGE_CROSSLINGUAL", True)
# Mueller's English-Russian dictionary (Debian mueller7-dict), read backwards for the Russian
# words the encoder cannot match (apps/knowledge/search/dictionary.py); empty: none.
KNOWLEDGE_DICTIONARY = env_str("KNOWLEDGE_DICTIONARY", "/usr/share/dictd/mueller7.dict.dz")
# Russian questions translated into English by the fast tier before the search, within
# KNOWLEDGE_TRANSLATION_SECONDS (apps/knowledge/search/english.py).
KNOWLEDGE_TRANSLATION = env_bool("KNOWLEDGE_TRANSLATION", True)
KNOWLEDGE_TRANSLATION_SECONDS = env_float("KNOWLEDGE_TRANSLATION_SECONDS", 6.0)
KNOWLEDGE_MIN_RELEVANCE = env_float("KNOWLEDGE_MIN_RELEVANCE", 0.55)
KNOWLEDGE_MIN_RELEVANCE_RU = env_float("KNOWLEDGE_MIN_RELEVANCE_RU", 0.4)
# Run index jobs in the calling process and wait (commands, tests); see apps/knowledge/tasks.py.
KNOWLEDGE_JOBS_INLINE = env_bool("KNOWLEDGE_JOBS_INLINE", False)
# A running index job whose heartbeat (written every quarter of this) is older has lost its
# process; workers and the scheduler send it again (apps/knowledge/ingest/recovery.py).
KNOWLEDGE_JOB_STALE_SECONDS = env_int("KNOWLEDGE_JOB_STALE_SECONDS", 60, minimum=2)
# Web, Confluence and Git sources never fetch from loopback, link-local (cloud metadata),
# private or reserved addresses, except in these networks (an intranet wiki, a local Gitea).
KNOWLEDGE_FETCH_ALLOWED_NETWORKS = env_networks("KNOWLEDGE_FETCH_ALLOWED_NETWORKS", [])
# Directory sources and local Git repositories must lie under one of these directories.
KNOWLEDGE_DIRECTORY_ROOTS = env_paths(
    "KNOWLEDGE_DIRECTORY_ROOTS", [str(BASE_DIR / "samples" / "knowledge")]
)
# Transports a Git source may use (git's protocol.allow); "file" is a path on the server.
KNOWLEDGE_GIT_PROTOCOLS = env_list("KNOWLEDGE_GIT_PROTOCOLS", ["https", "ssh", "file"])
if unknown := set(KNOWLEDGE_GIT_PROTOCOLS) - {"https", "http", "ssh", "file"}:
    raise ImproperlyConfigured(
        f"KNOWLEDGE_GIT_PROTOCOLS accepts https, http, ssh and file; got {', '.join(sorted(unknown))}"
    )
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- LLM backends ----------------------------------------------------------------------------
LLM_BACKENDS = env_json("LLM_BACKENDS", [])
if not isinstance(LLM_BACKENDS, list):
    raise ImproperlyConfigured("LLM_BACKENDS must be a JSON list of backend objects")
LLM_CONNECT_TIMEOUT = env_float("LLM_CONNECT_TIMEOUT", 3.0)
LLM_READ_TIMEOUT = env_float("LLM_READ_TIMEOUT", 60.0)
# The smallest context window (vLLM's --max-model-len) among the backends, in tokens: chat,
# the search answer and scenario explanations trim history and sources to fit in it.
LLM_CONTEXT_TOKENS = env_int("LLM_CONTEXT_TOKENS", 4096)
LLM_POLL_INTERVAL = env_float("LLM_POLL_INTERVAL", 5.0)
LLM_COOLDOWN_SECONDS = env_float("LLM_COOLDOWN_SECONDS", 30.0)
# Encrypts backend API keys at rest; empty: a key derived from SECRET_KEY.
LLM_SECRET_KEY = env_secret("LLM_SECRET_KEY")
# Poll backends from the ASGI process; off when a dedicated `manage.py llm_poller` runs.
LLM_POLL_IN_WEB = env_bool("LLM_POLL_IN_WEB", True)
# Per user, over every model answer (chat, /v1, search answers, scenarios): answers being
# written at once, and requests per minute. The CHAT_ names are the settings' former names,
# still read so that an existing configuration keeps its limits.
LLM_USER_MAX_STREAMS = env_int(
    "LLM_USER_MAX_STREAMS", env_int("CHAT_MAX_CONCURRENT_STREAMS", 3, minimum=1), minimum=1
)
LLM_USER_REQUESTS_PER_MINUTE = env_int(
    "LLM_USER_REQUESTS_PER_MINUTE", env_int("CHAT_MESSAGES_PER_MINUTE", 20, minimum=1), minimum=1
)
PROMETHEUS_URL = env_str("PROMETHEUS_URL")
# --- scenario checkers (apps/scenarios/engine/runner.py) --------------------------------------
# A portal running as root runs nginx -t, haproxy -c, ansible-lint… as this user instead.
SCENARIO_TOOL_USER = env_str("SCENARIO_TOOL_USER", "nobody")
SCENARIO_TOOL_TMP = env_str("SCENARIO_TOOL_TMP", "")  # empty: the system's temporary directory
# The longest explanation of a run's findings the model may write (tokens).
SCENARIO_EXPLANATION_MAX_TOKENS = env_int("SCENARIO_EXPLANATION_MAX_TOKENS", 700, minimum=16)
# An OpenTelemetry Collector binary (otelcol or otelcol-contrib) for `otelcol validate` in the
# telemetry pipeline scenario; empty: the structural checker alone.
OTELCOL_BINARY = env_str("OTELCOL_BINARY", "")
DCGM_EXPORTER_URL = env_str("DCGM_EXPORTER_URL")
# --- OpenSearch queries scenario (apps/scenarios/opensearch_dsl, docs/opensearch-dsl.md) -------
# The OpenSearch the page reads mappings from and checks queries against (_validate/query,
# _count; read-only calls). Empty: mappings are pasted and queries are checked offline only.
OPENSEARCH_URL = env_str("OPENSEARCH_URL", "").rstrip("/")
OPENSEARCH_USERNAME = env_str("OPENSEARCH_USERNAME", "")
OPENSEARCH_PASSWORD = env_secret("OPENSEARCH_PASSWORD")
# A CA bundle for OpenSearch's certificate (on-premise CAs); empty: the system's CAs.
OPENSEARCH_CA_FILE = env_str("OPENSEARCH_CA_FILE", "")
# --- alert triage (apps/scenarios/alert_triage, docs/alert-triage.md) ------------------------
# The portal's address as people reach it: links back in chat messages. Empty: the address
# Alertmanager used to reach the webhook.
PORTAL_URL = env_str("PORTAL_URL", "").rstrip("/")
ALERT_WEBHOOK_MAX_BYTES = env_int("ALERT_WEBHOOK_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)
ALERT_TRIAGE_LANGUAGE = env_str("ALERT_TRIAGE_LANGUAGE", "ru")
if ALERT_TRIAGE_LANGUAGE not in ("ru", "en"):
    raise ImproperlyConfigured("ALERT_TRIAGE_LANGUAGE must be ru or en")
# Groups whose sources the triage may quote (it reads as the service account alert-triage).
ALERT_TRIAGE_GROUPS = env_list("ALERT_TRIAGE_GROUPS", [])
# Sources whose every document is a runbook (besides paths and titles naming runbooks).
ALERT_RUNBOOK_SOURCES = env_list("ALERT_RUNBOOK_SOURCES", [])
# Groups who may open the alerts page; empty: every signed-in user.
ALERT_VIEWER_GROUPS = env_list("ALERT_VIEWER_GROUPS", [])
ALERT_REOPEN_HOURS = env_float("ALERT_REOPEN_HOURS", 24.0)
ALERT_DELIVERY_ATTEMPTS = env_int("ALERT_DELIVERY_ATTEMPTS", 6, minimum=1)
ALERT_DELIVERY_BACKOFF_SECONDS = env_float("ALERT_DELIVERY_BACKOFF_SECONDS", 5.0)
ALERT_DELIVERY_TIMEOUT_SECONDS = env_float("ALERT_DELIVERY_TIMEOUT_SECONDS", 10.0)
# Encrypts chat webhook URLs at rest; empty: a key derived from SECRET_KEY.
ALERT_SECRET_KEY = env_secret("ALERT_SECRET_KEY")
# Process alerts in the calling thread (commands, tests) instead of a worker.
ALERT_JOBS_INLINE = env_bool("ALERT_JOBS_INLINE", False)
# Post-mortems (apps/scenarios/postmortem, docs/postmortem.md): the alert triage chat
# destinations (by name) a new post-mortem's summary and the weekly digest go to, and the
# channel they are posted in (the destination's own channel when empty).
POSTMORTEM_DESTINATIONS = env_list("POSTMORTEM_DESTINATIONS", [])
POSTMORTEM_CHANNEL = env_str("POSTMORTEM_CHANNEL", "leadership")
# A published post-mortem is also a Confluence page when POSTMORTEM_CONFLUENCE_SOURCE names a
# Confluence knowledge source (its URL and encrypted token are used): in the space below
# (default: the source's first space), under the parent page id (default: the space's top).
POSTMORTEM_CONFLUENCE_SOURCE = env_str("POSTMORTEM_CONFLUENCE_SOURCE", "")
POSTMORTEM_CONFLUENCE_SPACE = env_str("POSTMORTEM_CONFLUENCE_SPACE", "")
POSTMORTEM_CONFLUENCE_PARENT = env_str("POSTMORTEM_CONFLUENCE_PARENT", "")
if POSTMORTEM_CONFLUENCE_PARENT and not POSTMORTEM_CONFLUENCE_PARENT.isdigit():
    raise ImproperlyConfigured("POSTMORTEM_CONFLUENCE_PARENT must be a page id (digits)")
# The onboarding assistant in the messenger (apps/scenarios/messenger, docs/configuration.md):
# a Slack app (slash command and Events API) and a Mattermost bot (slash command and outgoing
# webhook). A messenger is on when its secrets are set.
SLACK_SIGNING_SECRET = env_secret("SLACK_SIGNING_SECRET")
SLACK_BOT_TOKEN = env_secret("SLACK_BOT_TOKEN")
SLACK_API_URL = env_str("SLACK_API_URL", "https://slack.com/api").rstrip("/")
# response_url of a slash command is followed only when it starts with one of these.
SLACK_RESPONSE_URL_PREFIXES = env_list("SLACK_RESPONSE_URL_PREFIXES", ["https://hooks.slack.com/"])
MATTERMOST_URL = env_str("MATTERMOST_URL", "").rstrip("/")
MATTERMOST_BOT_TOKEN = env_secret("MATTERMOST_BOT_TOKEN")
MATTERMOST_COMMAND_TOKEN = env_secret("MATTERMOST_COMMAND_TOKEN")
MATTERMOST_WEBHOOK_TOKEN = env_secret("MATTERMOST_WEBHOOK_TOKEN")
for _name, _url in (("SLACK_API_URL", SLACK_API_URL), ("MATTERMOST_URL", MATTERMOST_URL)):
    if _url and not _url.startswith(("https://", "http://")):
        raise ImproperlyConfigured(f"{_name} must be an http(s):// URL, got {_url!r}")
MESSENGER_LANGUAGE = env_str("MESSENGER_LANGUAGE", "ru")
if MESSENGER_LANGUAGE not in ("ru", "en"):
    raise ImproperlyConfigured("MESSENGER_LANGUAGE must be ru or en")
MESSENGER_LINK_MINUTES = env_int("MESSENGER_LINK_MINUTES", 30, minimum=1)
MESSENGER_MAX_BODY_BYTES = env_int("MESSENGER_MAX_BODY_BYTES", 64 * 1024, minimum=4096)
MESSENGER_TIMEOUT_SECONDS = env_float("MESSENGER_TIMEOUT_SECONDS", 10.0)
# Cluster dashboard (apps/capacity, docs/capacity.md): how Prometheus series map to backends,
# the HA requirement per tier, and the planned deployment to compare measurements with.
PROMETHEUS_BACKEND_SELECTOR = env_str("PROMETHEUS_BACKEND_SELECTOR", 'instance="{hostport}"')
CAPACITY_HA_SPARES = env_int("CAPACITY_HA_SPARES", 1, minimum=0)
CAPACITY_TIER_REPLICAS = env_json("CAPACITY_TIER_REPLICAS", {})
CAPACITY_PLANNED = env_json("CAPACITY_PLANNED", {})

# --- accounts, LDAP, lockout -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

LDAP_SERVER_URI = env_str("LDAP_SERVER_URI")
LDAP_ADMIN_GROUPS = env_list("LDAP_ADMIN_GROUPS", [])
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend"]
if LDAP_SERVER_URI:
    from portal.ldap_settings import ldap_settings

    globals().update(ldap_settings())
    AUTHENTICATION_BACKENDS.append("django_auth_ldap.backend.LDAPBackend")
AUTHENTICATION_BACKENDS.append("django.contrib.auth.backends.ModelBackend")

# Single sign-on through OpenID Connect (apps/accounts/oidc, docs/configuration.md): on when
# OIDC_ISSUER is set, beside LDAP and local accounts.
OIDC_ISSUER = env_str("OIDC_ISSUER")
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_CLIENT_SECRET = env_secret("OIDC_CLIENT_SECRET")
OIDC_SCOPES = env_str("OIDC_SCOPES", "openid email profile groups").replace(",", " ").split()
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_ADMIN_GROUPS = env_list("OIDC_ADMIN_GROUPS", [])
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "SSO")
OIDC_CLOCK_SKEW_SECONDS = env_int("OIDC_CLOCK_SKEW_SECONDS", 60, minimum=0)
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10, minimum=1)
if OIDC_ISSUER:
    if not (OIDC_CLIENT_ID and OIDC_CLIENT_SECRET):
        raise ImproperlyConfigured(
            "OIDC_ISSUER is set, so OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (or "
            "OIDC_CLIENT_SECRET_FILE) are required"
        )
    if "openid" not in OIDC_SCOPES:
        raise ImproperlyConfigured(f"OIDC_SCOPES must include openid, got {OIDC_SCOPES}")
    if not OIDC_ISSUER.startswith(("https://", "http://127.", "http://localhost", "http://[::1]")):
        raise ImproperlyConfigured(
            f"OIDC_ISSUER must be an https:// URL (plain http only on loopback), got {OIDC_ISSUER!r}"
        )
AUTHENTICATION_BACKENDS.append("apps.accounts.oidc.backend.OIDCBackend")

AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
# REMOTE_ADDR as common/proxies.py set it: the proxy-appended client address or the peer.
AXES_CLIENT_IP_CALLABLE = "apps.accounts.audit.client_ip"

# --- i18n --------------------------------------------------------------------------------------
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env_str("TIME_ZONE", "Europe/Moscow")
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "portal.staticfiles.StaticFilesStorage"},
}
# Tests and a DEBUG run serve static files from the source tree without collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django_auth_ldap": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}
